/*
 * workerio.h — the real process side of a worker (worker_io_ops_t): fork/exec with
 * proc.c, the stdin/stdout/stderr pipes and the exec-failure pipe as sockets on the
 * h2o event loop, and the reap through the reaper.
 */
#ifndef UHW_WORKERIO_H
#define UHW_WORKERIO_H

#include <h2o.h>

#include "reaper.h"
#include "worker.h"

typedef struct workerio_ctx {
    h2o_loop_t *loop;
    reaper_t *reaper;
} workerio_ctx_t;

/* The ops; their `ctx` (worker_spec_t.io_ctx) is a workerio_ctx_t. */
extern const worker_io_ops_t workerio_ops;

#endif
