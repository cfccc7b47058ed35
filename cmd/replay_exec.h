/*
 * replay_exec.h — a victim's request fed to a worker started alone (`uhw replay --exec`):
 * the crash reproduced outside production, ready for gdb or valgrind.
 *
 * The worker gets what uhw would give it (own pipes and process group, UHW_POOL,
 * UHW_WORKER, UHW_PROTOCOL, UHW_MAX_FRAME, uhw's directory first on PATH), must send Ready
 * within ready_timeout, then gets the Request frame. Every step is bounded; the worker's
 * process group is killed before this returns.
 */
#ifndef UHW_REPLAY_EXEC_H
#define UHW_REPLAY_EXEC_H

#include <stddef.h>
#include <stdio.h>

#include "frame.h"
#include "victim_record.h"

/* What the replay found (also the process exit code of `uhw replay`). */
enum { REPLAY_ANSWERED = 0, REPLAY_FAILED = 1, REPLAY_USAGE = 2, REPLAY_CANNOT = 3 };

typedef struct replay_exec_opts {
    unsigned timeout_ms;        /* for the answer, from when the request is sent */
    unsigned ready_timeout_ms;  /* for Ready */
    const char *self_dir;       /* put first on the worker's PATH (NULL: no change) */
} replay_exec_opts_t;

/* Appends v's request as one ToWorker{Request} frame (timeout_ms in it). Redacted headers
 * are left out. 0, or -1 on ENOMEM. */
int replay_request_frame(const victim_record_t *v, unsigned timeout_ms, frame_buf_t *out);

/* Starts argv as a worker, replays v into it, prints the story to `out`. Returns
 * REPLAY_ANSWERED, REPLAY_FAILED or REPLAY_CANNOT. */
int replay_exec(const victim_record_t *v, char *const *argv, const replay_exec_opts_t *o, FILE *out);

/* Prints a body: as text when it is short text, else a summary ("(N bytes, binary)"). */
void replay_print_body(FILE *out, const void *body, size_t len);

#endif
