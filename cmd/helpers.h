/*
 * helpers.h — the worker-side verbs of the `uhw` CLI, which let a shell script be a
 * worker (DESIGN.md §7), in two forms:
 *
 *   bash, fast:  `. uhw.sh` (cmd/sh/uhw.sh) starts one `uhw coproc` per worker that holds
 *                the protocol pipes; uhw_recv/uhw_reply/... talk to it, no process per request.
 *   POSIX sh:    one helper process per step:
 *                    uhw ready
 *                    while req=$(uhw recv); do eval "$req"; uhw reply "hello"; done
 *
 * Each verb is `int helper_VERB(const helper_io_t *io, int argc, char **argv)` with argv[0]
 * the verb's name; it returns an exit status: 0 done, 1 runtime failure (EOF, Shutdown,
 * protocol or I/O error; a message on stderr except for EOF and Shutdown), 2 bad usage
 * (message on stderr, nothing sent). Every verb takes -h/--help. The verbs that answer a
 * request take its id from -i ID, else from $UHW_REQUEST_ID. A sending verb writes its
 * frames to io->out in one write each (only `stream data`/`sse` input over 1 MiB is cut into
 * several frames).
 *
 * Where each concern lives:
 *   helpers.c        this table: names, usage texts, the `uhw VERB` entry points
 *   helper_args.[ch] command lines: options, ids, payload operands, usage errors
 *   helper_send.c    ready, reply, stream, sse, ndjson, log, keepalive
 *   helper_recv.c    recv: frames in, sh code out (recv_print.[ch]), body file (workdir.[ch])
 *   reqvars.[ch]     a Request as CGI-style variables: names, header filtering and joining
 *   shquote.[ch]     POSIX sh single quoting
 *   coproc.c         the persistent helper of the bash fast path; its exchange: fields.[ch]
 *   json.c           uhw json: a JSON object from key=value arguments
 */
#ifndef UHW_HELPERS_H
#define UHW_HELPERS_H

#include <stddef.h>

/* Where a verb reads and writes. */
typedef struct helper_io {
    int in;  /* `uhw recv` reads frames here; "-" operands read their data here; -1: refused */
    int out; /* sending verbs write frames here; `uhw recv` prints its sh code here */
} helper_io_t;

/* The worker's own stdin and stdout: what `uhw VERB` uses. */
extern const helper_io_t helper_stdio;

/* uhw ready [-c N] [-i INFO] — Ready{protocol 1, concurrency N (default 1), info}. */
int helper_ready(const helper_io_t *io, int argc, char **argv);
/* uhw recv — see recv_print.h for what it prints and workdir.h for the body file. */
int helper_recv(const helper_io_t *io, int argc, char **argv);
/* uhw reply [-i ID] [-s STATUS] [-t TYPE] [-H 'Name: value']... [BODY | -f FILE | -] */
int helper_reply(const helper_io_t *io, int argc, char **argv);
/* uhw stream start [-i ID] [-s STATUS] [-t TYPE] [-H ...] | data [-i ID] [DATA | -f FILE | -]
 *            | end [-i ID] [--error MSG] */
int helper_stream(const helper_io_t *io, int argc, char **argv);
/* uhw sse [-i ID] [--event E] [--id I] [--retry MS] DATA — one SSE event as StreamData. */
int helper_sse(const helper_io_t *io, int argc, char **argv);
/* uhw ndjson [-i ID] JSON — validates JSON, sends it compacted on one line + "\n". */
int helper_ndjson(const helper_io_t *io, int argc, char **argv);
/* uhw log LEVEL MESSAGE... — Log frame, with the id of $UHW_REQUEST_ID when set. */
int helper_log(const helper_io_t *io, int argc, char **argv);
/* uhw keepalive [-i ID] — KeepAlive (id 0 when neither -i nor $UHW_REQUEST_ID). */
int helper_keepalive(const helper_io_t *io, int argc, char **argv);
/* uhw json [--] KEY=VALUE | KEY:=JSON ... — prints one JSON object (json.c). */
int helper_json(const helper_io_t *io, int argc, char **argv);
/* uhw coproc — the helper process of the bash fast path (coproc.c); started by uhw.sh. */
int helper_coproc(const helper_io_t *io, int argc, char **argv);

/* One row of the verb table. */
typedef struct helper_verb {
    const char *name;
    int (*run)(const helper_io_t *io, int argc, char **argv);
    const char *summary; /* one line, for `uhw help` */
    const char *usage;   /* the full text of `uhw VERB --help` */
} helper_verb_t;

/* The verb called `name`, or NULL. */
const helper_verb_t *helpers_find(const char *name);

/* The usage text of a helper verb, or NULL if `verb` is not one. For `uhw help VERB`. */
const char *helpers_usage(const char *verb);

/* One line per helper verb ("  recv        read one request ...\n"), for `uhw help`. */
const char *helpers_summary(void);

/* The `uhw VERB` entry points of cmd/uhw.c's table: helper_VERB with helper_stdio. */
int cmd_ready(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_reply(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_sse(int argc, char **argv);
int cmd_ndjson(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_keepalive(int argc, char **argv);
int cmd_json(int argc, char **argv);
int cmd_coproc(int argc, char **argv);

#endif
