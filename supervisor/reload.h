/*
 * reload.h — what a reload of pools.yaml changes, for the server that applies it, and
 * the result the operator gets (SIGHUP, `uhw reload`).
 *
 * The new file is loaded and validated first (off the event loop: reading YAML, checking
 * commands and resolving users block); if anything is wrong the server keeps its current
 * configuration and the errors are returned. Otherwise: new pools start, removed pools
 * drain (no new requests; queued and in-flight ones finish) and stop, pools whose
 * command/env/cwd/user/concurrency changed replace their workers one by one (each new worker
 * Ready before its predecessor gets Shutdown), a change to `settings` alone is sent as
 * Configure, and everything else (routes, timeouts, limits) applies to the next request.
 * What cannot change without a restart (listeners, control socket, static, access_log) is
 * reported, not ignored.
 */
#ifndef UHW_RELOAD_H
#define UHW_RELOAD_H

#include "config.h"

typedef struct reload_result {
    int applied;          /* 1: the new configuration is in use */
    cfg_errors_t errors;  /* why it was refused ("FILE:LINE:COL: message") */
    cfg_errors_t notes;   /* what changed, and what needs a restart (plain messages) */
} reload_result_t;

void reload_result_init(reload_result_t *res);
void reload_result_free(reload_result_t *res);
/* Adds a line to the notes (logged at INFO as "reload: ...") or to the errors. */
void reload_note(reload_result_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reload_refusal(reload_result_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Notes what differs between `oc` and `nc` in the front end, which h2o fixed at start-up. */
void reload_compare_front(const uhw_config_t *oc, const uhw_config_t *nc, reload_result_t *res);

/* Loads and validates the file of `current` as a reload would, keeping the `--listen` addresses
 * uhw was started with (blocking: reading YAML, checking commands, resolving users). NULL with
 * the errors in res, or the new config. */
uhw_config_t *reload_load(const uhw_config_t *current, const char *self_dir, reload_result_t *res);

#endif
