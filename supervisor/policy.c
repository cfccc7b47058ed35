/*
 * policy.c — see policy.h.
 */
#include "policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t policy_backoff_ms(const cfg_backoff_t *b, unsigned failures, double jitter)
{
    if (failures == 0)
        return 0;
    double d = (double)b->initial_ms * pow(b->multiplier, (double)(failures - 1));
    if (d > (double)b->max_ms || isinf(d) || isnan(d))
        d = (double)b->max_ms;
    if (jitter < -1)
        jitter = -1;
    if (jitter > 1)
        jitter = 1;
    d *= 1.0 + 0.1 * jitter;
    return d < 0 ? 0 : (uint64_t)llround(d);
}

unsigned policy_next_failures(const cfg_backoff_t *b, unsigned failures, uint64_t uptime_ms)
{
    if (uptime_ms > b->reset_after_ms)
        return 0;
    return failures + 1;
}

void window_init(restart_window_t *w)
{
    memset(w, 0, sizeof(*w));
}

void window_free(restart_window_t *w)
{
    free(w->times);
    window_init(w);
}

void window_clear(restart_window_t *w)
{
    w->len = 0;
}

size_t window_count(restart_window_t *w, uint64_t now, uint64_t window_ms)
{
    size_t drop = 0;
    while (drop < w->len && now >= window_ms && w->times[drop] <= now - window_ms)
        ++drop;
    if (drop != 0) {
        memmove(w->times, w->times + drop, (w->len - drop) * sizeof(*w->times));
        w->len -= drop;
    }
    return w->len;
}

void window_record(restart_window_t *w, uint64_t now)
{
    if (w->len == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        uint64_t *t = realloc(w->times, cap * sizeof(*t));
        if (t == NULL)
            abort();
        w->times = t;
        w->cap = cap;
    }
    w->times[w->len++] = now;
}

int policy_may_restart(size_t in_window, unsigned max_restarts)
{
    return max_restarts == 0 || in_window < max_restarts;
}

uint64_t policy_recycle_after(uint64_t max_requests, uint64_t max_jitter, double r)
{
    if (max_requests == 0)
        return 0;
    if (r < 0)
        r = 0;
    uint64_t jitter = (uint64_t)(r * ((double)max_jitter + 1));
    return max_requests + (jitter > max_jitter ? max_jitter : jitter);
}

exit_class_t policy_classify_exit(const exit_facts_t *f)
{
    if (f->faulted)
        return f->ever_ready ? EXIT_CRASH : EXIT_STARTUP;
    if (f->planned)
        return EXIT_PLANNED;
    if (!f->ever_ready)
        return EXIT_STARTUP;
    if (f->code == 0 && f->signal == 0 && f->in_flight == 0 && f->answered != 0)
        return EXIT_RETIRED;
    return EXIT_CRASH;
}

const char *policy_exit_class_name(exit_class_t c)
{
    switch (c) {
    case EXIT_PLANNED:
        return "planned";
    case EXIT_RETIRED:
        return "retired";
    case EXIT_STARTUP:
        return "startup failure";
    case EXIT_CRASH:
        return "crash";
    }
    return "unknown";
}
