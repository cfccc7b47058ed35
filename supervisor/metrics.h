/*
 * metrics.h — GET /metrics on the control socket: Prometheus text exposition format
 * (version 0.0.4). Every series is prefixed uhw_; per-pool series carry pool="NAME".
 */
#ifndef UHW_METRICS_H
#define UHW_METRICS_H

#include <stddef.h>

#include "types.h"

/* The whole exposition as a malloc'd NUL-terminated string. */
char *metrics_text(server_t *srv, size_t *len);

#endif
