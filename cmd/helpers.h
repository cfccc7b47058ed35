/*
 * helpers.h — the worker-side verbs of the `uhw` CLI, which let a shell script be a
 * worker (DESIGN.md §7):
 *
 *     #!/bin/sh
 *     uhw ready
 *     while req=$(uhw recv); do
 *         eval "$req"
 *         uhw reply -s 200 -t text/plain "hello $QUERY_STRING"
 *     done
 *
 * Each verb is `int cmd_VERB(int argc, char **argv)` with argv[0] the verb's name; it
 * returns the process exit status: 0 done, 1 runtime failure (EOF, Shutdown, protocol
 * or I/O error; a message on stderr except for EOF and Shutdown), 2 bad usage (message
 * on stderr, nothing sent). Every verb takes -h/--help.
 *
 * stdout (fd 1) is the response pipe: each sending verb writes exactly one frame to it,
 * in one write (only `stream data`/`sse` input over 1 MiB is cut into several frames).
 * Usage text therefore goes to stderr, or to stdout when that is a terminal.
 *
 * The verbs that answer a request take its id from -i ID, else from $UHW_REQUEST_ID
 * (which `uhw recv` exports).
 */
#ifndef UHW_HELPERS_H
#define UHW_HELPERS_H

#include <stddef.h>

/* uhw ready [-c N] [-i INFO] — Ready{protocol 1, concurrency N (default 1), info}. */
int cmd_ready(int argc, char **argv);

/* uhw recv — reads frames from fd 0, one at a time and never a byte past the one it
 * needs, until a Request; prints sh code that sets the CGI-style variables (every value
 * single-quoted) and writes the body to $UHW_BODY_FILE (default
 * ${TMPDIR:-/tmp}/uhw-body.<parent pid>). Configure frames on the way are printed as
 * `export UHW_SETTING_<KEY>=...`; Cancel frames are skipped. Exit 1 and print nothing on
 * EOF or Shutdown. */
int cmd_recv(int argc, char **argv);

/* uhw reply [-i ID] [-s STATUS] [-t TYPE] [-H 'Name: value']... [BODY | -f FILE | -] */
int cmd_reply(int argc, char **argv);

/* uhw stream start [-i ID] [-s STATUS] [-t TYPE] [-H ...] | data [-i ID] [DATA | -f FILE | -]
 *            | end [-i ID] [--error MSG] */
int cmd_stream(int argc, char **argv);

/* uhw sse [-i ID] [--event E] [--id I] [--retry MS] DATA — one SSE event as StreamData
 * (after `uhw stream start -t text/event-stream`). */
int cmd_sse(int argc, char **argv);

/* uhw ndjson [-i ID] JSON — validates JSON, sends it compacted on one line + "\n". */
int cmd_ndjson(int argc, char **argv);

/* uhw log LEVEL MESSAGE... — Log frame (debug|info|warning|error|critical), with the id
 * of $UHW_REQUEST_ID when set. */
int cmd_log(int argc, char **argv);

/* uhw keepalive [-i ID] — KeepAlive (id 0 when neither -i nor $UHW_REQUEST_ID). */
int cmd_keepalive(int argc, char **argv);

/* The usage text of a helper verb ("recv", "stream", ...), or NULL if `verb` is not one.
 * For `uhw help VERB`. */
const char *helpers_usage(const char *verb);

/* One line per helper verb ("  recv        read one request ...\n"), for `uhw help`. */
const char *helpers_summary(void);

/* `p` as one single-quoted POSIX sh word ('it'\''s'), NUL bytes dropped; malloc'd,
 * NULL on ENOMEM. Evaluating it yields the bytes of `p` and runs nothing. */
char *helpers_sh_quote(const void *p, size_t n);

#endif
