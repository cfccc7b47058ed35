/*
 * metrics.c — see metrics.h.
 *
 * Families are written one at a time (HELP, TYPE, then every sample), as the format
 * requires; pool names are [a-z0-9_-] so label values need no escaping.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "pool.h"
#include "server.h"
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
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
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
static void per_pool(out_t *o, server_t *srv, const char *name, const char *type, const char *help,
                     double (*value)(pool_t *))
{
    family(o, name, type, help);
    for (size_t i = 0; i < srv->npools; ++i)
        put(o, "%s{pool=\"%s\"} %.17g\n", name, srv->pools[i]->cfg->name, value(srv->pools[i]));
}

static double v_queued(pool_t *p) { return (double)p->queued; }
static double v_alive(pool_t *p) { return pool_alive(p); }
static double v_ready(pool_t *p) { return pool_ready(p); }
static double v_busy(pool_t *p) { return pool_busy(p); }
static double v_size(pool_t *p) { return p->nslots; }
static double v_restarts(pool_t *p) { return (double)p->restarts_total; }
static double v_recycles(pool_t *p) { return (double)p->recycles; }
static double v_victims(pool_t *p) { return (double)p->stats.victims; }
static double v_timeouts(pool_t *p) { return (double)p->stats.timeouts; }
static double v_rejected(pool_t *p) { return (double)p->stats.rejected; }
static double v_degraded(pool_t *p) { return p->state == PS_DEGRADED; }

static size_t count_list(h2o_linklist_t *anchor)
{
    size_t n = 0;
    for (h2o_linklist_t *l = anchor->next; l != anchor; l = l->next)
        ++n;
    return n;
}

char *metrics_text(server_t *srv, size_t *len)
{
    out_t o = {NULL, 0, 0};
    put(&o, "%s", "");

    family(&o, "uhw_requests_total", "counter", "HTTP responses sent for requests routed to a pool, by status class.");
    static const char *const classes[] = {NULL, "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t i = 0; i < srv->npools; ++i)
        for (int c = 1; c <= 5; ++c)
            put(&o, "uhw_requests_total{pool=\"%s\",code=\"%s\"} %llu\n", srv->pools[i]->cfg->name, classes[c],
                (unsigned long long)srv->pools[i]->stats.by_class[c]);

    family(&o, "uhw_request_duration_seconds", "histogram",
           "Time from admission to the end of the response, for requests that reached the queue.");
    for (size_t i = 0; i < srv->npools; ++i) {
        const pool_stats_t *st = &srv->pools[i]->stats;
        const char *name = srv->pools[i]->cfg->name;
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

    per_pool(&o, srv, "uhw_queue_length", "gauge", "Requests waiting for a worker of the pool.", v_queued);
    per_pool(&o, srv, "uhw_workers", "gauge", "Configured worker slots of the pool.", v_size);
    per_pool(&o, srv, "uhw_workers_alive", "gauge", "Worker processes starting or ready.", v_alive);
    per_pool(&o, srv, "uhw_workers_ready", "gauge", "Worker processes ready for requests.", v_ready);
    per_pool(&o, srv, "uhw_workers_busy", "gauge", "Ready workers with at least one request in flight.", v_busy);
    per_pool(&o, srv, "uhw_worker_restarts_total", "counter", "Unplanned worker exits that were restarted or counted.",
             v_restarts);
    per_pool(&o, srv, "uhw_worker_recycles_total", "counter", "Workers replaced for max_requests or max_rss.",
             v_recycles);
    per_pool(&o, srv, "uhw_victims_total", "counter", "Requests whose worker died, was killed or broke the protocol.",
             v_victims);
    per_pool(&o, srv, "uhw_timeouts_total", "counter", "Requests answered 504 after the pool's timeout.", v_timeouts);
    per_pool(&o, srv, "uhw_rejected_total", "counter", "Requests refused at admission (503 or 413).", v_rejected);
    per_pool(&o, srv, "uhw_pool_degraded", "gauge", "1 while the pool is degraded (no respawns, 503).", v_degraded);

    family(&o, "uhw_pending_requests", "gauge", "Requests admitted and not yet answered, all pools.");
    put(&o, "uhw_pending_requests %zu\n", srv->pending);
    family(&o, "uhw_open_connections", "gauge", "Client connections open (HTTP/1 and HTTP/2, control socket included).");
    put(&o, "uhw_open_connections %zu\n",
        count_list(&srv->front.ctx.http1._conns) + count_list(&srv->front.ctx.http2._conns));
    family(&o, "uhw_uptime_seconds", "gauge", "Seconds since uhw started.");
    put(&o, "uhw_uptime_seconds %.3f\n", (double)(now_ms() - srv->started_mono_ms) / 1000.0);
    family(&o, "uhw_build_info", "gauge", "Always 1; the version is a label.");
    put(&o, "uhw_build_info{version=\"%s\"} 1\n", UHW_VERSION);
    *len = o.len;
    return o.buf;
}
