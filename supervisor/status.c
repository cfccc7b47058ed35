/*
 * status.c — see status.h.
 */
#include "status.h"

#include <unistd.h>

#include "front.h"
#include "pool.h"
#include "proc.h"
#include "server.h"
#include "version.h"
#include "worker.h"

static json_t *time_json(uint64_t wall)
{
    char buf[40];
    return wall ? json_string(iso8601(wall, buf, sizeof(buf))) : json_null();
}

static json_t *exit_json(const exit_info_t *ei)
{
    char sig[32];
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "reason", ei->reason, "detail", ei->detail, "code",
                     ei->code >= 0 ? json_integer(ei->code) : json_null(), "signal",
                     ei->signal ? json_string(proc_signal_name(ei->signal, sig, sizeof(sig))) : json_null(), "at",
                     time_json(ei->at_wall_ms));
}

static json_t *worker_json(const worker_t *w, unsigned restarts, const exit_info_t *last_exit, const char *state)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(w != NULL ? w->slot_id : 0));
    json_object_set_new(o, "pid", w != NULL ? json_integer(w->pid) : json_null());
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "in_flight", json_integer(w != NULL ? w->ninflight : 0));
    json_object_set_new(o, "requests", json_integer(w != NULL ? (json_int_t)w->requests : 0));
    json_object_set_new(o, "started_at", w != NULL ? time_json(w->spawned_wall) : json_null());
    json_object_set_new(o, "restarts", json_integer(restarts));
    json_object_set_new(o, "last_exit", last_exit != NULL ? exit_json(last_exit) : json_null());
    if (w != NULL && w->state == WS_READY)
        json_object_set_new(o, "concurrency", json_integer(w->capacity < w->concurrency ? w->capacity : w->concurrency));
    return o;
}

json_t *slot_status_json(slot_t *slot)
{
    json_t *o = worker_json(slot->current, slot->restarts, slot->has_exit ? &slot->last_exit : NULL,
                            slot_state_name(slot));
    json_object_set_new(o, "id", json_integer(slot->id));
    return o;
}

json_t *pool_status_json(pool_t *pool)
{
    const cfg_pool_t *pc = pool->cfg;
    json_t *routes = json_array();
    for (size_t i = 0; i < pc->nroutes; ++i)
        json_array_append_new(routes, json_string(pc->routes[i].text));
    json_t *workers = json_array();
    for (unsigned i = 0; i < pool->nslots; ++i) {
        slot_t *slot = &pool->slots[i];
        json_array_append_new(workers, slot_status_json(slot));
        if (slot->retiring != NULL) {
            json_t *r = worker_json(slot->retiring, slot->restarts, NULL, worker_state_name(slot->retiring->state));
            json_object_set_new(r, "retiring", json_true());
            json_array_append_new(workers, r);
        }
    }
    json_t *restarts =
        json_pack("{s:I, s:I, s:i, s:f}", "in_window",
                  (json_int_t)window_count(&pool->window, now_ms(), pc->restart_window_ms), "total",
                  (json_int_t)pool->restarts_total, "max", (int)pc->max_restarts, "window_s",
                  (double)pc->restart_window_ms / 1000.0);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(pc->name));
    json_object_set_new(o, "state", json_string(pool_state_name(pool->state)));
    json_object_set_new(o, "routes", routes);
    json_object_set_new(o, "size", json_integer(pool->nslots));
    json_object_set_new(o, "alive", json_integer(pool_alive(pool)));
    json_object_set_new(o, "ready", json_integer(pool_ready(pool)));
    json_object_set_new(o, "busy", json_integer(pool_busy(pool)));
    json_object_set_new(o, "queued", json_integer((json_int_t)pool->queued));
    json_object_set_new(o, "requests", json_integer((json_int_t)pool->requests));
    json_object_set_new(o, "restarts", restarts);
    json_object_set_new(o, "recycles", json_integer((json_int_t)pool->recycles));
    json_object_set_new(o, "workers", workers);
    return o;
}

json_t *status_json(server_t *srv)
{
    static const char *const phases[] = {"starting", "running", "stopping", "stopping"};
    const counters_t *c = &srv->counters;
    json_t *listen = json_array();
    const listener_t *ls;
    size_t n = front_public_listeners(srv, &ls);
    for (size_t i = 0; i < n; ++i)
        json_array_append_new(listen, json_string(ls[i].addr));
    json_t *pools = json_array();
    for (size_t i = 0; i < srv->npools; ++i)
        json_array_append_new(pools, pool_status_json(srv->pools[i]));
    for (size_t i = 0; i < srv->ndraining; ++i) { /* removed by a reload, finishing */
        json_t *p = pool_status_json(srv->draining[i]);
        json_object_set_new(p, "draining", json_true());
        json_array_append_new(pools, p);
    }
    json_t *counters = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t)c->requests, "2xx",
                                 (json_int_t)c->s2xx, "3xx", (json_int_t)c->s3xx, "4xx", (json_int_t)c->s4xx, "5xx",
                                 (json_int_t)c->s5xx, "rejected", (json_int_t)c->rejected, "timeouts",
                                 (json_int_t)c->timeouts, "victims", (json_int_t)c->victims);
    json_t *o = json_object();
    json_object_set_new(o, "uhw", json_string(UHW_VERSION));
    json_object_set_new(o, "pid", json_integer(getpid()));
    json_object_set_new(o, "state", json_string(phases[srv->phase]));
    json_object_set_new(o, "config", json_string(srv->cfg->path));
    json_object_set_new(o, "started_at", time_json(srv->started_wall_ms));
    json_object_set_new(o, "uptime_s", json_real((double)(now_ms() - srv->started_mono_ms) / 1000.0));
    json_object_set_new(o, "listen", listen);
    json_object_set_new(o, "pending", json_integer((json_int_t)srv->pending));
    json_object_set_new(o, "counters", counters);
    json_object_set_new(o, "pools", pools);
    return o;
}
