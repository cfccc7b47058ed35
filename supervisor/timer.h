/*
 * timer.h — deadlines for the event loop: a binary min-heap of timers on the
 * monotonic clock, in milliseconds.
 *
 * h2o's own timeouts are fixed-duration queues; uhw's deadlines have many
 * durations (backoff, per-pool timeouts, kill escalation), so the main loop
 * asks timers_wait() how long h2o may block and runs timers_run() after it.
 */
#ifndef UHW_TIMER_H
#define UHW_TIMER_H

#include <stddef.h>
#include <stdint.h>

typedef struct utimer utimer_t;
typedef void (*utimer_cb)(utimer_t *t);

struct utimer {
    uint64_t at;     /* deadline, monotonic ms */
    size_t idx;      /* position in the heap + 1; 0 when not scheduled */
    utimer_cb cb;    /* called once when the deadline passes */
};

typedef struct timers {
    utimer_t **heap;
    size_t len, cap;
} timers_t;

/* Monotonic milliseconds. */
uint64_t now_ms(void);
/* Wall-clock milliseconds since the epoch (for status and logs only). */
uint64_t wall_ms(void);

/* Formats wall-clock ms as "2026-11-21T10:00:00.123Z" into buf (at least 32 bytes). */
char *iso8601(uint64_t wall, char *buf, size_t bufsz);

void timers_init(timers_t *ts);
void timers_dispose(timers_t *ts);
static inline void utimer_init(utimer_t *t, utimer_cb cb)
{
    t->at = 0;
    t->idx = 0;
    t->cb = cb;
}
static inline int utimer_active(const utimer_t *t) { return t->idx != 0; }
/* Schedules (or moves) `t` to fire at `at`. */
void timers_schedule(timers_t *ts, utimer_t *t, uint64_t at);
void timers_cancel(timers_t *ts, utimer_t *t);
/* Milliseconds until the earliest deadline (0 if due), capped at `cap`. */
int32_t timers_wait(const timers_t *ts, uint64_t now, int32_t cap);
/* Fires every timer whose deadline is <= now, earliest first. A callback may schedule or cancel
 * any timer; a timer rescheduled into the past fires on the next call, not in this one. */
void timers_run(timers_t *ts, uint64_t now);

#endif
