/*
 * fields.h — the exchange between `uhw coproc` (coproc.c) and the bash library uhw.sh
 * (cmd/sh/uhw.sh). Fields are NUL-terminated both ways: bash writes them with
 * `printf '%s\0'` and reads them with `mapfile -d ''` from a regular file (bash reads a
 * file in blocks, a pipe one byte per system call). No field is ever evaluated.
 *
 * bash → coprocess (its fd 3), one command after another:
 *     CWD \0 ARGC \0 ARG0 \0 ... ARG{ARGC-1} \0
 *   CWD is the script's working directory (a relative -f FILE is relative to it); ARG0 is a
 *   helper verb (helpers.h) or one of the coprocess's own: recv, json.
 *
 * coprocess → bash (its fd 4): first FIELDS_HELLO \0 DIR \0 (DIR: the private directory,
 *   workdir.h); then one byte for each recv or json command: 'R' (DIR/request holds a
 *   request), 'J' (DIR/json holds the JSON), 'E' (json failed; the log says why). At end
 *   of input or Shutdown the coprocess exits, and bash reads end of file.
 *
 * DIR/request, as written by fields_request:
 *     the REQVARS_FIXED values of reqvars.h, in order
 *     UHW_BODY_FILE's value
 *     "1" if the pool's settings changed (bash unsets every UHW_SETTING_* first), else "0"
 *     NAME \0 VALUE \0 pairs: HTTP_* of this request, then UHW_SETTING_* if they changed.
 *   Every NAME is a valid shell variable name starting with HTTP_ or UHW_SETTING_.
 */
#ifndef UHW_FIELDS_H
#define UHW_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "uhw.pb-c.h"

#define FIELDS_HELLO "uhw.sh 1" /* the exchange's version: uhw.sh checks it */
#define FIELDS_MAX_ARGS 100000  /* more in one command is a broken writer */

/* Appends DIR/request's content for `q`; `settings` is the Configure received since the
 * last request, or NULL. 0, or -1 on ENOMEM. */
int fields_request(frame_buf_t *out, const Uhw__V1__Request *q, const char *body_file,
                   const Uhw__V1__Configure *settings);

/* One command from bash. Its strings point into the buffer it was parsed from. */
typedef struct fields_cmd {
    const char *cwd;
    int argc;
    char **argv; /* argc strings and a NULL; the array is malloc'd */
} fields_cmd_t;

/* Parses the command at the front of [p, p+n): 1 with *cmd and *used (its bytes) set,
 * 0 when more bytes are needed, -1 when the bytes are not a command (ARGC not a decimal
 * in 1..FIELDS_MAX_ARGS) or on ENOMEM. */
int fields_command(char *p, size_t n, size_t *used, fields_cmd_t *cmd);

void fields_command_free(fields_cmd_t *cmd);

#endif
