/*
 * control.h — the control API served by h2o on the UNIX socket named by
 * `control` (mode 0600): GET /status, GET /metrics, POST /reload, POST /stop,
 * POST /pools/NAME/restart. The CLI verbs status/reload/stop/restart use it.
 */
#ifndef UHW_CONTROL_H
#define UHW_CONTROL_H

#include <h2o.h>

#include "types.h"

/* Registers the control handlers on `host` (the control socket's hostconf). */
void control_register(server_t *srv, h2o_hostconf_t *host);

#endif
