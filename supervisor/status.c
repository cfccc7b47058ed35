/*
 * status.c — see status.h.
 */
#include "status.h"

#include <math.h>
#include <unistd.h>

#include "timer.h"
#include "version.h"

/* Durations are seconds rounded to the millisecond. */
static json_t *seconds_json(uint64_t ms)
{
    return json_real((double)ms / 1000.0);
}

json_t *status_json(const status_view_t *v)
{
    const counters_t *c = v->counters;
    char at[40];
    json_t *listen = json_array();
    for (size_t i = 0; i < v->nlisten; ++i)
        json_array_append_new(listen, json_string(v->listen[i]));
    json_t *pools = json_array();
    for (size_t i = 0; i < v->npools; ++i)
        json_array_append_new(pools, pool_status_json(v->pools[i]));
    json_t *counters = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t)c->requests, "2xx",
                                 (json_int_t)c->s2xx, "3xx", (json_int_t)c->s3xx, "4xx", (json_int_t)c->s4xx, "5xx",
                                 (json_int_t)c->s5xx, "rejected", (json_int_t)c->rejected, "timeouts",
                                 (json_int_t)c->timeouts, "victims", (json_int_t)c->victims);
    json_t *o = json_object();
    json_object_set_new(o, "uhw", json_string(UHW_VERSION));
    json_object_set_new(o, "pid", json_integer(getpid()));
    json_object_set_new(o, "state", json_string(v->state));
    json_object_set_new(o, "config", json_string(v->config));
    json_object_set_new(o, "started_at", json_string(iso8601(v->started_wall_ms, at, sizeof(at))));
    json_object_set_new(o, "uptime_s", seconds_json(v->uptime_ms));
    json_object_set_new(o, "listen", listen);
    json_object_set_new(o, "pending", json_integer((json_int_t)v->pending));
    json_object_set_new(o, "counters", counters);
    json_object_set_new(o, "pools", pools);
    return o;
}
