/*
 * pool.h — a pool: numbered slots of worker processes, the restart policy applied
 * to them (backoff, restart window, degraded state, probes, recycling, one-by-one
 * replacement), and the choice of a worker for a request.
 *
 * A pool knows workers, not requests. It tells its owner what the owner must act on
 * through pool_events_t (the dispatch layer pumps queues and settles requests; the
 * server follows start-up and stops). It keeps two things for the dispatch layer
 * without looking into them: the FIFO of requests waiting for one of its workers,
 * and its request counters.
 */
#ifndef UHW_POOL_H
#define UHW_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <h2o/linklist.h>
#include <jansson.h>

#include "config.h"
#include "worker.h"

typedef struct pool pool_t;

typedef enum pool_state {
    PS_STARTING, /* not every slot has reached Ready yet (start-up, or a pool added by a reload) */
    PS_RUNNING,
    PS_DEGRADED, /* max_restarts reached within restart_window: no respawns, 503 */
    PS_DRAINING, /* removed by a reload: gets no new requests, finishes its queue, then stops */
    PS_STOPPING, /* the server is stopping */
} pool_state_t;

typedef struct pool_events {
    /* A worker can take requests now (Ready, Capacity, a slot freed): pump the queue. */
    void (*on_capacity)(pool_t *p);
    /* Answers and the end of a worker's requests, passed on from worker_events_t. */
    worker_verdict_t (*on_answer)(pool_t *p, worker_t *w, Uhw__V1__FromWorker *m, char *why, size_t whysz);
    unsigned (*on_lost)(pool_t *p, worker_t *w, int status, const exit_info_t *ei, uint64_t consumed);
    /* The pool became degraded: what is queued gets 503. */
    void (*on_degraded)(pool_t *p);
    /* In start-up mode: every slot reached Ready / a worker failed before Ready (`w` is freed
     * after the call). */
    void (*on_started)(pool_t *p);
    void (*on_startup_failed)(pool_t *p, worker_t *w, const char *detail);
    /* A worker of the pool is gone for good (a stop or a drain may be complete). */
    void (*on_worker_gone)(pool_t *p);
} pool_events_t;

/* What a pool needs from the process around it. */
typedef struct pool_env {
    timers_t *timers;
    const worker_io_ops_t *io;
    void *io_ctx;
    /* Directories put first on a variable of every worker's environment: {"PATH", "/x/sh"}, ... */
    const char *(*prepend)[2];
    size_t nprepend;
    int worker_dirs;             /* give each worker a private directory (UHW_WORKER_DIR) */
} pool_env_t;

/* The FIFO of requests waiting for a worker; the dispatch layer owns what is in it. */
typedef struct pool_queue {
    h2o_linklist_t items;
    size_t len;
} pool_queue_t;

/* Per-pool request numbers (updated by the dispatch layer), for status and /metrics. */
#define POOL_DURATION_BUCKETS 12
extern const double pool_duration_bounds[POOL_DURATION_BUCKETS]; /* seconds; +Inf is implicit */

typedef struct pool_stats {
    uint64_t requests;          /* admitted to the pool */
    uint64_t by_class[6];       /* answers by status class: [2] = 2xx ... [5] = 5xx */
    uint64_t victims, timeouts, rejected;
    uint64_t slow;              /* logged by slow_log */
    uint64_t duration_buckets[POOL_DURATION_BUCKETS]; /* not cumulative; summed when printed */
    uint64_t duration_count;
    double duration_sum;        /* seconds */
} pool_stats_t;

/* `cfg` must outlive the pool or be replaced with pool_apply_config. */
pool_t *pool_create(const cfg_pool_t *cfg, const pool_env_t *env, const pool_events_t *ev, void *owner);
void pool_free(pool_t *p);
/* Spawns every slot. In start-up mode (`startup`), a worker that fails before Ready is reported
 * (on_startup_failed) instead of restarted, until pool_end_startup. */
void pool_start(pool_t *p, int startup);
void pool_end_startup(pool_t *p);

void *pool_owner(const pool_t *p);
const cfg_pool_t *pool_cfg(const pool_t *p);
const char *pool_name(const pool_t *p);
pool_state_t pool_state(const pool_t *p);
const char *pool_state_name(pool_state_t s);
unsigned pool_size(const pool_t *p);
unsigned pool_alive(const pool_t *p);   /* processes starting or serving (or just ending on their own) */
unsigned pool_ready(const pool_t *p);   /* ready (or retiring) processes */
unsigned pool_busy(const pool_t *p);    /* ready processes with a request in flight */
uint64_t pool_restarts_total(const pool_t *p);
uint64_t pool_recycles(const pool_t *p);
pool_queue_t *pool_queue(pool_t *p);
pool_stats_t *pool_stats(pool_t *p);
/* Whether its processes may be given requests at all (running, degraded-with-a-probe...). */
int pool_accepts(const pool_t *p);

/* The worker a request should go to: the one with the most free capacity, a retiring one
 * only when no other has room; NULL if none can take one. */
worker_t *pool_pick_worker(pool_t *p);
/* The dispatch layer gave `w` a request (counts it; may start recycling it: max_requests). */
void pool_assigned(pool_t *p, worker_t *w);

/* Reload: switch to `cfg` and apply `diff` (CFG_DIFF_*): replace workers one by one, resize,
 * send Configure, new limits. */
void pool_apply_config(pool_t *p, const cfg_pool_t *cfg, unsigned diff);
/* Removed by a reload: no new requests (its routes are gone), the queue is served, then its
 * workers stop. pool_drained says when nothing is left. */
void pool_drain(pool_t *p);
int pool_drained(const pool_t *p);
/* The server is stopping: graceful stop of every worker, no respawns. */
void pool_stop(pool_t *p);
/* A failed start-up: stop every worker now (SIGTERM, SIGKILL after kill_after_ms). */
void pool_terminate(pool_t *p, uint64_t kill_after_ms);
/* SIGKILL every process group (uhw is exiting at once). */
void pool_kill_all(pool_t *p);
/* Whether any of its processes is still running. */
int pool_has_workers(const pool_t *p);
/* `uhw restart POOL`: leaves degraded, forgets the window, replaces every worker one by one. */
void pool_restart(pool_t *p);
/* `uhw scale POOL N`: N slots from now on (until a reload sets the file's value again). */
void pool_scale(pool_t *p, unsigned n);
/* max_rss: recycles a worker whose resident memory is above the limit (called every second). */
void pool_check_rss(pool_t *p);
/* The identity its workers run as, or NULL when they keep uhw's. */
const proc_user_t *pool_user(const pool_t *p);
/* The worker of slot `slot` (or NULL): for `uhw tail POOL#SLOT`. */
worker_t *pool_slot_worker(pool_t *p, unsigned slot);

/* The pool's part of the status document (DESIGN.md §6). */
json_t *pool_status_json(const pool_t *p);

#endif
