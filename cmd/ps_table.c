/*
 * ps_table.c — see ps_table.h.
 */
#include "ps_table.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"

#define SGR_GOOD "32"
#define SGR_BUSY "33"     /* on its way somewhere: starting, stopping, retiring */
#define SGR_BAD "31"
#define SGR_DEGRADED "1;31"
#define SGR_HEAD "1"

const char *ps_fmt_duration(uint64_t ms, char buf[PS_TIME_MAX])
{
    static const struct {
        uint64_t s;
        const char *unit;
    } units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    uint64_t s = ms / 1000;
    for (size_t i = 0; i + 1 < sizeof(units) / sizeof(units[0]); ++i) {
        if (s >= units[i].s) {
            uint64_t big = s / units[i].s, small = s % units[i].s / units[i + 1].s;
            if (small == 0)
                snprintf(buf, PS_TIME_MAX, "%" PRIu64 "%s", big, units[i].unit);
            else
                snprintf(buf, PS_TIME_MAX, "%" PRIu64 "%s%02" PRIu64 "%s", big, units[i].unit, small, units[i + 1].unit);
            return buf;
        }
    }
    snprintf(buf, PS_TIME_MAX, "%" PRIu64 "s", s);
    return buf;
}

const char *ps_fmt_ago(uint64_t ms, char buf[PS_TIME_MAX])
{
    uint64_t s = ms / 1000;
    if (s >= 86400)
        snprintf(buf, PS_TIME_MAX, "%" PRIu64 "d", s / 86400);
    else if (s >= 3600)
        snprintf(buf, PS_TIME_MAX, "%" PRIu64 "h", s / 3600);
    else if (s >= 60)
        snprintf(buf, PS_TIME_MAX, "%" PRIu64 "m", s / 60);
    else
        snprintf(buf, PS_TIME_MAX, "%" PRIu64 "s", s);
    return buf;
}

int ps_parse_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    unsigned frac = 0;
    int n = 0, fn = 0;
    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                            &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
        return -1;
    const char *p = s + n;
    if (*p == '.') {
        if (sscanf(p, ".%3u%n", &frac, &fn) != 1 || fn != 4)
            return -1;
        p += fn;
    }
    if (strcmp(p, "Z") != 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

/* ---------------------------------------------------------------- cells from JSON */

static void cell_int(table_t *t, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        table_cellf(t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        table_cell(t, NULL, NULL);
}

/* The time since `key` (an ISO 8601 instant), or "-" when either end is unknown. */
static void cell_age(table_t *t, const json_t *o, const char *key, int64_t now)
{
    int64_t at;
    char buf[PS_TIME_MAX];
    if (now < 0 || ps_parse_time(json_string_value(json_object_get(o, key)), &at) != 0)
        table_cell(t, NULL, NULL);
    else
        table_cell(t, ps_fmt_duration(now > at ? (uint64_t)(now - at) : 0, buf), NULL);
}

/* The server's clock when it wrote the document: its start plus its uptime; -1 if unknown. */
static int64_t server_now(const json_t *status)
{
    int64_t started;
    const json_t *up = json_object_get(status, "uptime_s");
    if (ps_parse_time(json_string_value(json_object_get(status, "started_at")), &started) != 0 || !json_is_number(up))
        return -1;
    return started + (int64_t)(json_number_value(up) * 1000.0 + 0.5);
}

static const char *pool_sgr(const char *state)
{
    if (strcmp(state, "running") == 0)
        return SGR_GOOD;
    if (strcmp(state, "degraded") == 0)
        return SGR_DEGRADED;
    return SGR_BUSY;
}

static const char *worker_sgr(const char *state)
{
    if (strcmp(state, "ready") == 0)
        return SGR_GOOD;
    if (strcmp(state, "backoff") == 0 || strcmp(state, "exited") == 0)
        return SGR_BAD;
    return SGR_BUSY;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "-";
}

/* ---------------------------------------------------------------- the tables */

static void pools_table(table_t *t, const json_t *pools)
{
    static const char *const head[] = {"POOL",     "STATE",    "WORKERS",  "READY", "BUSY",
                                       "QUEUED",   "REQUESTS", "RESTARTS", "IN WINDOW"};
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); ++i)
        table_cell(t, head[i], SGR_HEAD);
    table_row_end(t);
    size_t i;
    const json_t *p;
    json_array_foreach(pools, i, p)
    {
        const char *state = str(p, "state");
        table_cell(t, str(p, "name"), NULL);
        if (json_is_true(json_object_get(p, "draining")))
            table_cellf(t, "%s (draining)", state);
        else
            table_cell(t, state, pool_sgr(state));
        cell_int(t, p, "size");
        cell_int(t, p, "ready");
        cell_int(t, p, "busy");
        cell_int(t, p, "queued");
        cell_int(t, p, "requests");
        const json_t *r = json_object_get(p, "restarts");
        cell_int(t, r, "total");
        const json_t *in = json_object_get(r, "in_window"), *max = json_object_get(r, "max"),
                     *win = json_object_get(r, "window_s");
        char span[PS_TIME_MAX];
        if (!json_is_integer(in) || !json_is_number(win))
            table_cell(t, NULL, NULL);
        else if (json_integer_value(max) > 0) /* max 0: the pool never degrades */
            table_cellf(t, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " in %s", json_integer_value(in),
                        json_integer_value(max), ps_fmt_duration((uint64_t)(json_number_value(win) * 1000.0), span));
        else
            table_cellf(t, "%" JSON_INTEGER_FORMAT " in %s", json_integer_value(in),
                        ps_fmt_duration((uint64_t)(json_number_value(win) * 1000.0), span));
        table_row_end(t);
    }
}

/* "killed by SIGSEGV 2m ago"; red unless the worker was asked to go or retired itself. */
static void cell_last_exit(table_t *t, const json_t *e, int64_t now)
{
    if (!json_is_object(e)) {
        table_cell(t, NULL, NULL);
        return;
    }
    const char *reason = str(e, "reason");
    const char *what = json_string_value(json_object_get(e, "detail"));
    if (what == NULL || *what == '\0')
        what = reason;
    int64_t at;
    char ago[PS_TIME_MAX], *text = NULL;
    if (now >= 0 && ps_parse_time(json_string_value(json_object_get(e, "at")), &at) == 0)
        ps_fmt_ago(now > at ? (uint64_t)(now - at) : 0, ago);
    else
        ago[0] = '\0';
    if (asprintf(&text, "%s%s%s%s", what, ago[0] ? " " : "", ago, ago[0] ? " ago" : "") < 0)
        abort();
    int calm = strcmp(reason, "retired") == 0 || strcmp(reason, "stopped") == 0;
    table_cell(t, text, calm ? NULL : SGR_BAD);
    free(text);
}

static void workers_table(table_t *t, const json_t *pools, int64_t now)
{
    static const char *const head[] = {"POOL",     "SLOT",      "PID",      "STATE",    "UPTIME",
                                       "REQUESTS", "IN FLIGHT", "RESTARTS", "LAST EXIT"};
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); ++i)
        table_cell(t, head[i], SGR_HEAD);
    table_row_end(t);
    size_t i, j;
    const json_t *p, *w;
    json_array_foreach(pools, i, p)
    {
        json_array_foreach(json_object_get(p, "workers"), j, w)
        {
            int retiring = json_is_true(json_object_get(w, "retiring"));
            const char *state = retiring ? "retiring" : str(w, "state");
            int alive = json_is_integer(json_object_get(w, "pid"));
            table_cell(t, str(p, "name"), NULL);
            cell_int(t, w, "id");
            cell_int(t, w, "pid");
            table_cell(t, state, worker_sgr(state));
            if (alive)
                cell_age(t, w, "started_at", now);
            else
                table_cell(t, NULL, NULL);
            cell_int(t, w, "requests");
            cell_int(t, w, "in_flight");
            cell_int(t, w, "restarts"); /* a retiring worker's slot is counted on the row of its successor */
            cell_last_exit(t, json_object_get(w, "last_exit"), now);
            table_row_end(t);
        }
    }
}

int ps_table_write(FILE *out, const json_t *status, int color)
{
    const json_t *pools = json_object_get(status, "pools");
    if (!json_is_array(pools))
        return -1;
    table_t *t = table_new();
    pools_table(t, pools);
    table_row_end(t); /* a blank line between the tables keeps each one's columns its own */
    table_write(t, out, color);
    table_free(t);
    t = table_new();
    workers_table(t, pools, server_now(status));
    table_write(t, out, color);
    table_free(t);
    return 0;
}
