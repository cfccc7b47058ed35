/*
 * status.h — the status document of `uhw status` and GET /status (DESIGN.md §6), and
 * the /metrics text, composed from what each module says of itself (pool_status_json,
 * worker_status_json, dispatch counters) and a view of the server given by its owner.
 */
#ifndef UHW_STATUS_H
#define UHW_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dispatch.h"
#include "pool.h"

typedef struct status_view {
    const char *state;            /* starting | running | stopping */
    const char *config;           /* the file in use */
    uint64_t started_wall_ms;
    uint64_t uptime_ms;
    const char *const *listen;    /* bound addresses */
    size_t nlisten;
    size_t pending;
    size_t connections;           /* open client connections */
    const counters_t *counters;
    pool_t *const *pools;         /* configured pools, then those draining after a reload */
    size_t npools;
    size_t nrouted;               /* how many of `pools` are configured (the rest drain) */
} status_view_t;

json_t *status_json(const status_view_t *v);
/* The Prometheus text exposition (version 0.0.4), malloc'd. */
char *metrics_text(const status_view_t *v, size_t *len);

#endif
