/*
 * timer.c — see timer.h.
 */
#include "timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

char *iso8601(uint64_t wall, char *buf, size_t bufsz)
{
    time_t secs = (time_t)(wall / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (unsigned)(wall % 1000));
    return buf;
}

static uint64_t real_clock(void *ctx)
{
    (void)ctx;
    return now_ms();
}

void timers_init(timers_t *ts, uint64_t (*clock)(void *ctx), void *clock_ctx)
{
    ts->heap = NULL;
    ts->len = ts->cap = 0;
    ts->seq = 0;
    ts->clock = clock != NULL ? clock : real_clock;
    ts->clock_ctx = clock_ctx;
}

void timers_dispose(timers_t *ts)
{
    for (size_t i = 0; i < ts->len; ++i)
        ts->heap[i]->idx = 0;
    free(ts->heap);
    ts->heap = NULL;
    ts->len = ts->cap = 0;
}

static void place(timers_t *ts, size_t i, utimer_t *t)
{
    ts->heap[i] = t;
    t->idx = i + 1;
}

static void sift_up(timers_t *ts, size_t i)
{
    utimer_t *t = ts->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ts->heap[parent]->at <= t->at)
            break;
        place(ts, i, ts->heap[parent]);
        i = parent;
    }
    place(ts, i, t);
}

static void sift_down(timers_t *ts, size_t i)
{
    utimer_t *t = ts->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= ts->len)
            break;
        if (child + 1 < ts->len && ts->heap[child + 1]->at < ts->heap[child]->at)
            ++child;
        if (ts->heap[child]->at >= t->at)
            break;
        place(ts, i, ts->heap[child]);
        i = child;
    }
    place(ts, i, t);
}

void timers_schedule(timers_t *ts, utimer_t *t, uint64_t at)
{
    t->seq = ++ts->seq;
    if (t->idx != 0) {
        size_t i = t->idx - 1;
        uint64_t old = t->at;
        t->at = at;
        if (at < old)
            sift_up(ts, i);
        else
            sift_down(ts, i);
        return;
    }
    if (ts->len == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 64;
        utimer_t **h = realloc(ts->heap, cap * sizeof(*h));
        if (h == NULL)
            abort(); /* a lost deadline would leave a request or a process hanging forever */
        ts->heap = h;
        ts->cap = cap;
    }
    t->at = at;
    place(ts, ts->len++, t);
    sift_up(ts, ts->len - 1);
}

void timers_defer(timers_t *ts, utimer_t *t)
{
    if (t->idx == 0)
        timers_schedule(ts, t, 0);
}

void timers_cancel(timers_t *ts, utimer_t *t)
{
    if (t->idx == 0)
        return;
    size_t i = t->idx - 1;
    t->idx = 0;
    utimer_t *last = ts->heap[--ts->len];
    if (i == ts->len)
        return;
    place(ts, i, last);
    if (i > 0 && ts->heap[(i - 1) / 2]->at > last->at)
        sift_up(ts, i);
    else
        sift_down(ts, i);
}

int32_t timers_wait(const timers_t *ts, int32_t cap)
{
    if (ts->len == 0)
        return cap;
    uint64_t now = timers_now(ts);
    uint64_t at = ts->heap[0]->at;
    if (at <= now)
        return 0;
    return at - now < (uint64_t)cap ? (int32_t)(at - now) : cap;
}

void timers_run(timers_t *ts)
{
    uint64_t now = timers_now(ts), last = ts->seq;
    /* Timers scheduled by the callbacks of this run wait for the next one (a callback that
     * re-arms for now would otherwise loop forever). `t` is not touched after its callback:
     * the callback may have freed the object that contains it. */
    while (ts->len != 0 && ts->heap[0]->at <= now && ts->heap[0]->seq <= last) {
        utimer_t *t = ts->heap[0];
        timers_cancel(ts, t);
        t->cb(t);
    }
}
