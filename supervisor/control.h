/*
 * control.h — the control API served by h2o on the UNIX socket named by `control`
 * (mode 0600): GET /status, GET /metrics, POST /reload, POST /stop,
 * POST /pools/NAME/restart, POST /pools/NAME/scale?workers=N. The CLI verbs use it.
 *
 * This module speaks HTTP; what each endpoint does is up to the server, which hands
 * it a table of operations (it never calls the server otherwise).
 */
#ifndef UHW_CONTROL_H
#define UHW_CONTROL_H

#include <stddef.h>

#include <h2o.h>
#include <jansson.h>

#include "timer.h"

typedef struct control_ops {
    json_t *(*status)(void *ctx);
    char *(*metrics)(void *ctx, size_t *len);
    /* Begins a graceful stop. With `done`, calls it when the server is about to exit, with
     * {"result": "stopped", "exit_code": N} (POST /stop?wait=1). */
    void (*stop)(void *ctx, void (*done)(void *arg, int status, json_t *result), void *arg);
    /* Reloads, and calls done(arg, status, result) once it is applied or refused, later (the new
     * file is validated off the loop): {"result": "reloaded", "changes": [...]} with 200, or an
     * error object with "errors": [...] and 422. */
    void (*reload)(void *ctx, void (*done)(void *arg, int status, json_t *result), void *arg);
    /* 0 done, -1 no such pool, -2 refused (the server is starting or stopping), -3 bad argument. */
    int (*restart)(void *ctx, const char *pool);
    int (*scale)(void *ctx, const char *pool, unsigned workers);
    /* `uhw tail`: a cursor over the stderr lines of POOL's workers (slot -1: every slot), from
     * `last` lines back; NULL with *status 404 when there is no such pool or slot. tail_read calls
     * emit() for each line written since (as "[pool#slot pid=N] line") and returns 0, or -1
     * once the pool is gone or the server is stopping and its workers have exited. */
    void *(*tail_open)(void *ctx, const char *pool, int slot, unsigned last, int *status);
    int (*tail_read)(void *ctx, void *cursor, void (*emit)(void *arg, const char *line), void *arg);
    void (*tail_close)(void *ctx, void *cursor);
} control_ops_t;

/* Registers the control handlers on `host` (the control socket's hostconf). `timers` paces
 * `uhw tail -f`. */
void control_register(h2o_hostconf_t *host, const control_ops_t *ops, void *ctx, timers_t *timers);

#endif
