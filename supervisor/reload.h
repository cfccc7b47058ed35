/*
 * reload.h — applying a changed pools.yaml to a running server (SIGHUP, `uhw reload`).
 *
 * The new file is loaded and validated first; if anything is wrong the server keeps
 * its current configuration and the errors are returned. Otherwise: new pools start,
 * removed pools drain (no new requests; queued and in-flight ones finish) and stop,
 * pools whose command/env/cwd/user/concurrency changed replace their workers one by
 * one (each new worker Ready before its predecessor gets Shutdown), a change to
 * `settings` alone is sent as Configure, and everything else (routes, timeouts,
 * limits) applies to the next request. What cannot change without a restart
 * (listeners, control socket, static, access_log) is reported, not ignored.
 */
#ifndef UHW_RELOAD_H
#define UHW_RELOAD_H

#include "config.h"
#include "types.h"

typedef struct reload_result {
    int applied;          /* 1: the new configuration is in use */
    cfg_errors_t errors;  /* why it was refused ("FILE:LINE:COL: message") */
    cfg_errors_t notes;   /* what changed, and what needs a restart (plain messages) */
} reload_result_t;

/* Reloads the file the server was started with. Logs the outcome. */
void server_reload(server_t *srv, reload_result_t *res);
void reload_result_free(reload_result_t *res);

#endif
