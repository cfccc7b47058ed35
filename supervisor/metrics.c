/*
 * metrics.c — see metrics.h.
 *
 * Families are written one at a time (HELP, TYPE, then every sample), as the format
 * requires; pool names are [a-z0-9_-] so label values need no escaping.
 */
#include "log.h"
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

typedef struct out {
    char *buf;
    size_t len, cap;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        /* vsnprintf(NULL, 0, ...) measures; NULL + 0 would be undefined (clang's UBSan says so) */
        int n = vsnprintf(o->buf != NULL ? o->buf + o->len : NULL, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
        char *b = realloc(o->buf, o->cap);
        if (b == NULL)
            abort();
        o->buf = b;
    }
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One per-pool family: `value` picks the number out of a pool. */
/* Pools that routes reach (the configured ones; draining pools are left out). */
static void per_pool(out_t *o, const status_view_t *v, const char *name, const char *type, const char *help,
                     double (*value)(pool_t *))
{
    family(o, name, type, help);
    for (size_t i = 0; i < v->nrouted; ++i)
        put(o, "%s{pool=\"%s\"} %.17g\n", name, pool_name(v->pools[i]), value(v->pools[i]));
}

static double v_queued(pool_t *p) { return (double)pool_queue(p)->len; }
static double v_alive(pool_t *p) { return pool_alive(p); }
static double v_ready(pool_t *p) { return pool_ready(p); }
static double v_busy(pool_t *p) { return pool_busy(p); }
static double v_size(pool_t *p) { return pool_size(p); }
static double v_restarts(pool_t *p) { return (double)pool_restarts_total(p); }
static double v_recycles(pool_t *p) { return (double)pool_recycles(p); }
static double v_victims(pool_t *p) { return (double)pool_stats(p)->victims; }
static double v_timeouts(pool_t *p) { return (double)pool_stats(p)->timeouts; }
static double v_slow(pool_t *p) { return (double)pool_stats(p)->slow; }
static double v_rejected(pool_t *p) { return (double)pool_stats(p)->rejected; }
static double v_degraded(pool_t *p) { return pool_state(p) == PS_DEGRADED; }

char *metrics_text(const status_view_t *v, size_t *len)
{
    out_t o = {NULL, 0, 0};
    put(&o, "%s", "");

    family(&o, "uhw_requests_total", "counter", "HTTP responses sent for requests routed to a pool, by status class.");
    static const char *const classes[] = {NULL, "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t i = 0; i < v->nrouted; ++i)
        for (int c = 1; c <= 5; ++c)
            put(&o, "uhw_requests_total{pool=\"%s\",code=\"%s\"} %llu\n", pool_name(v->pools[i]), classes[c],
                (unsigned long long)pool_stats(v->pools[i])->by_class[c]);

    family(&o, "uhw_request_duration_seconds", "histogram",
           "Time from admission to the end of the response, for requests that reached the queue.");
    for (size_t i = 0; i < v->nrouted; ++i) {
        const pool_stats_t *st = pool_stats(v->pools[i]);
        const char *name = pool_name(v->pools[i]);
        uint64_t cumulative = 0;
        for (int b = 0; b < POOL_DURATION_BUCKETS; ++b) {
            cumulative += st->duration_buckets[b];
            put(&o, "uhw_request_duration_seconds_bucket{pool=\"%s\",le=\"%g\"} %llu\n", name, pool_duration_bounds[b],
                (unsigned long long)cumulative);
        }
        put(&o, "uhw_request_duration_seconds_bucket{pool=\"%s\",le=\"+Inf\"} %llu\n", name,
            (unsigned long long)st->duration_count);
        put(&o, "uhw_request_duration_seconds_sum{pool=\"%s\"} %.9g\n", name, st->duration_sum);
        put(&o, "uhw_request_duration_seconds_count{pool=\"%s\"} %llu\n", name, (unsigned long long)st->duration_count);
    }

    per_pool(&o, v, "uhw_queue_length", "gauge", "Requests waiting for a worker of the pool.", v_queued);
    per_pool(&o, v, "uhw_workers", "gauge", "Configured worker slots of the pool.", v_size);
    per_pool(&o, v, "uhw_workers_alive", "gauge", "Worker processes starting or ready.", v_alive);
    per_pool(&o, v, "uhw_workers_ready", "gauge", "Worker processes ready for requests.", v_ready);
    per_pool(&o, v, "uhw_workers_busy", "gauge", "Ready workers with at least one request in flight.", v_busy);
    per_pool(&o, v, "uhw_worker_restarts_total", "counter", "Unplanned worker exits that were restarted or counted.",
             v_restarts);
    per_pool(&o, v, "uhw_worker_recycles_total", "counter", "Workers replaced for max_requests or max_rss.",
             v_recycles);
    per_pool(&o, v, "uhw_victims_total", "counter", "Requests whose worker died, was killed or broke the protocol.",
             v_victims);
    per_pool(&o, v, "uhw_timeouts_total", "counter", "Requests answered 504 after the pool's timeout.", v_timeouts);
    per_pool(&o, v, "uhw_slow_requests_total", "counter", "Requests logged by slow_log: still unanswered after it.",
             v_slow);
    per_pool(&o, v, "uhw_rejected_total", "counter", "Requests refused at admission (503 or 413).", v_rejected);
    per_pool(&o, v, "uhw_pool_degraded", "gauge", "1 while the pool is degraded (no respawns, 503).", v_degraded);

    family(&o, "uhw_pending_requests", "gauge", "Requests admitted and not yet answered, all pools.");
    put(&o, "uhw_pending_requests %zu\n", v->pending);
    family(&o, "uhw_open_connections", "gauge", "Client connections open (HTTP/1 and HTTP/2, control socket included).");
    put(&o, "uhw_open_connections %zu\n", v->connections);
    family(&o, "uhw_log_dropped_total", "counter", "Log lines dropped because uhw's stderr was not read fast enough.");
    put(&o, "uhw_log_dropped_total %llu\n", (unsigned long long)log_dropped_total());
    family(&o, "uhw_uptime_seconds", "gauge", "Seconds since uhw started.");
    put(&o, "uhw_uptime_seconds %.3f\n", (double)v->uptime_ms / 1000.0);
    family(&o, "uhw_build_info", "gauge", "Always 1; the version is a label.");
    put(&o, "uhw_build_info{version=\"%s\"} 1\n", UHW_VERSION);
    *len = o.len;
    return o.buf;
}
