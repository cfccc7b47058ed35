/*
 * timer.h — deadlines for the event loop: a binary min-heap of timers on a
 * monotonic clock, in milliseconds.
 *
 * h2o's own timeouts are fixed-duration queues; uhw's deadlines have many
 * durations (backoff, per-pool timeouts, kill escalation), so the main loop
 * asks timers_wait() how long h2o may block and runs timers_run() after it.
 *
 * The heap carries its clock: the server uses the real monotonic clock, the
 * simulation (test/unit/test_sim.c) a virtual one it advances itself. Code that
 * schedules reads the time with timers_now(), never the system clock directly.
 *
 * A zero-delay timer (timers_defer) is how work moves to the next turn of the
 * loop: a callback never runs inside the code that scheduled it.
 */
#ifndef UHW_TIMER_H
#define UHW_TIMER_H

#include <stddef.h>
#include <stdint.h>

typedef struct utimer utimer_t;
typedef void (*utimer_cb)(utimer_t *t);

struct utimer {
    uint64_t at;     /* deadline, monotonic ms */
    uint64_t seq;    /* when it was scheduled (the heap's counter): a run fires only older timers */
    size_t idx;      /* position in the heap + 1; 0 when not scheduled */
    utimer_cb cb;    /* called once when the deadline passes */
};

typedef struct timers {
    utimer_t **heap;
    size_t len, cap;
    uint64_t seq;                    /* bumped by every schedule */
    uint64_t (*clock)(void *ctx);    /* monotonic ms */
    void *clock_ctx;
} timers_t;

/* The real monotonic clock, in ms. */
uint64_t now_ms(void);
/* Wall-clock milliseconds since the epoch (for status and logs only). */
uint64_t wall_ms(void);

/* Formats wall-clock ms as "2026-11-21T10:00:00.123Z" into buf (at least 32 bytes). */
char *iso8601(uint64_t wall, char *buf, size_t bufsz);

/* `clock` NULL means now_ms(). */
void timers_init(timers_t *ts, uint64_t (*clock)(void *ctx), void *clock_ctx);
void timers_dispose(timers_t *ts);
static inline uint64_t timers_now(const timers_t *ts) { return ts->clock(ts->clock_ctx); }
static inline void utimer_init(utimer_t *t, utimer_cb cb)
{
    t->at = 0;
    t->seq = 0;
    t->idx = 0;
    t->cb = cb;
}
static inline int utimer_active(const utimer_t *t) { return t->idx != 0; }
/* Schedules (or moves) `t` to fire at `at`. */
void timers_schedule(timers_t *ts, utimer_t *t, uint64_t at);
/* Schedules `t` for the next turn of the loop (if it is not scheduled already, earlier or not). */
void timers_defer(timers_t *ts, utimer_t *t);
void timers_cancel(timers_t *ts, utimer_t *t);
/* Milliseconds until the earliest deadline (0 if due), capped at `cap`. */
int32_t timers_wait(const timers_t *ts, int32_t cap);
/* Fires every timer that is due now and was scheduled before this call, earliest first.
 * A callback may schedule, cancel or free any timer, its own included: the heap never looks
 * at a timer again after calling it. What a callback schedules for now fires on the next call. */
void timers_run(timers_t *ts);

#endif
