/*
 * policy.h — the restart policy as pure functions: time and randomness in,
 * decisions out. No processes, no clocks; unit tested in test/unit/test_policy.c.
 */
#ifndef UHW_POLICY_H
#define UHW_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Delay before respawning a slot after an unplanned exit.
 * `failures` counts consecutive failures of the slot including this one (>= 1):
 * initial * multiplier^(failures-1), capped at max, then scaled by (1 + 0.1 * jitter)
 * where `jitter` is a random number in [-1, 1] chosen by the caller. */
uint64_t policy_backoff_ms(const cfg_backoff_t *b, unsigned failures, double jitter);

/* Consecutive-failure count after an exit: an exit after more than reset_after of uptime
 * starts over (returns 0: restart immediately); otherwise the count grows by one. */
unsigned policy_next_failures(const cfg_backoff_t *b, unsigned failures, uint64_t uptime_ms);

/* The restart window: times of the pool's recent restarts, oldest first. */
typedef struct restart_window {
    uint64_t *times;
    size_t len, cap;
} restart_window_t;

void window_init(restart_window_t *w);
void window_free(restart_window_t *w);
void window_clear(restart_window_t *w);
/* Forgets restarts at or before now - window_ms; returns how many remain. */
size_t window_count(restart_window_t *w, uint64_t now, uint64_t window_ms);
/* Records a restart at `now`. */
void window_record(restart_window_t *w, uint64_t now);

/* Whether a pool that has restarted `in_window` times within its window may restart again.
 * max_restarts == 0 means no limit. When this says no, the pool becomes degraded. */
int policy_may_restart(size_t in_window, unsigned max_restarts);

/* How a worker's end counts (DESIGN.md §4). */
typedef enum exit_class {
    EXIT_PLANNED, /* the supervisor asked it to stop and did not kill it for a fault: not a restart */
    EXIT_RETIRED, /* exited 0 on its own, nothing in flight, after answering: respawn now, a recycle */
    EXIT_STARTUP, /* ended before Ready (exit 0 included): a startup failure */
    EXIT_CRASH,   /* any other end: a restart, with backoff */
} exit_class_t;

/* What is known about a worker when its process has ended. */
typedef struct exit_facts {
    int ever_ready;     /* it sent Ready */
    int planned;        /* the supervisor asked it to stop (Shutdown, SIGTERM) */
    int faulted;        /* the supervisor killed it for a fault: stuck, protocol, ready_timeout, stdout closed */
    int code;           /* exit status, or -1 when a signal ended it */
    int signal;         /* the signal that ended it, or 0 */
    unsigned in_flight; /* requests it had read and not answered */
    uint64_t answered;  /* requests it answered */
} exit_facts_t;

exit_class_t policy_classify_exit(const exit_facts_t *f);
const char *policy_exit_class_name(exit_class_t c);

/* Requests after which a worker is recycled: max_requests plus a jitter in [0, max_jitter],
 * `r` being a random number in [0, 1). 0 means never. */
uint64_t policy_recycle_after(uint64_t max_requests, uint64_t max_jitter, double r);

#endif
