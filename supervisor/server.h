/*
 * server.h — `uhw serve`: the top of the supervisor. It owns the event loop, the
 * signals, the configuration, the pools and the dispatch layer, wires them together
 * (pool events → dispatch, control operations → pools), and runs start-up, stop and
 * reload. Nothing below includes this header.
 */
#ifndef UHW_SERVER_H
#define UHW_SERVER_H

#include "config.h"

/* Runs `uhw serve` with a loaded config (takes ownership). Returns the process exit code:
 * 0 stopped, 1 runtime error (e.g. a port in use), 3 startup failure. */
int server_run(uhw_config_t *cfg, const char *self_dir);

#endif
