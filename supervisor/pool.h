/*
 * pool.h — a pool: its slots, the restart policy applied to them (backoff,
 * restart window, degraded state, probes), and the FIFO of waiting requests.
 */
#ifndef UHW_POOL_H
#define UHW_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <h2o.h>

#include "config.h"
#include "policy.h"
#include "timer.h"
#include "types.h"
#include "worker.h"

typedef enum pool_state {
    PS_STARTING, /* not every slot has reached Ready yet (only at start-up) */
    PS_RUNNING,
    PS_DEGRADED, /* max_restarts reached within restart_window: no respawns, 503 */
    PS_STOPPING,
} pool_state_t;

struct slot {
    pool_t *pool;
    unsigned id;
    worker_t *current;       /* the process serving this slot, or NULL (backoff / exited) */
    worker_t *retiring;      /* the process it replaces, serving until `current` is Ready */
    unsigned restarts;       /* unplanned exits, total */
    unsigned failures;       /* consecutive quick failures, the backoff exponent */
    int has_exit;
    exit_info_t last_exit;
    utimer_t respawn;        /* BACKOFF: when to spawn again */
    int probe;               /* the current process is a degraded pool's probe */
};

/* Per-pool numbers for /metrics. */
#define POOL_DURATION_BUCKETS 12
extern const double pool_duration_bounds[POOL_DURATION_BUCKETS]; /* seconds; +Inf is implicit */

typedef struct pool_stats {
    uint64_t by_class[6];       /* answers by status class: [2] = 2xx ... [5] = 5xx */
    uint64_t victims, timeouts, rejected;
    uint64_t duration_buckets[POOL_DURATION_BUCKETS]; /* not cumulative; summed when printed */
    uint64_t duration_count;
    double duration_sum;        /* seconds */
} pool_stats_t;

struct pool {
    server_t *srv;
    const cfg_pool_t *cfg;
    uhw_config_t *owner;     /* the loaded config `cfg` belongs to (a drained pool may outlive a reload) */
    pool_state_t state;
    slot_t *slots;
    unsigned nslots;
    h2o_linklist_t workers;  /* every live worker_t of the pool (current and retiring) */
    h2o_linklist_t queue;    /* request_t waiting for a worker, FIFO */
    size_t queued;
    uint64_t requests;       /* requests admitted to this pool */
    uint64_t restarts_total;
    uint64_t recycles;
    restart_window_t window;
    utimer_t retry;          /* degraded_retry: when to start a probe; then probe confirmation */
    unsigned generation;     /* bumped by reload/restart; older workers are replaced one by one */
    int rolling;             /* a one-by-one replacement is under way */
    int draining;            /* removed by a reload: finishes its queue and in-flight work, then goes */
    pool_stats_t stats;
    /* `user`, resolved: workers switch to it when uhw runs as root */
    int change_user;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    size_t ngroups;
};

pool_t *pool_create(server_t *srv, const cfg_pool_t *cfg);
void pool_free(pool_t *pool);
const char *pool_state_name(pool_state_t s);
/* Spawns every slot (start-up). */
void pool_start(pool_t *pool);
/* Counts for status and admission. */
unsigned pool_alive(const pool_t *pool);   /* processes starting or ready (not stopping) */
unsigned pool_ready(const pool_t *pool);
unsigned pool_busy(const pool_t *pool);    /* ready workers with at least one request */
/* The ready worker with the most free capacity, or NULL. */
worker_t *pool_pick_worker(pool_t *pool);

/* Events from workers. */
void pool_on_worker_ready(worker_t *w);
/* The worker's process is gone and its requests are settled; decides restart, backoff,
 * degraded or startup failure, then frees `w`. */
void pool_on_worker_exit(worker_t *w, const exit_info_t *ei);

/* Resolves the pool's `user` (getpwnam, supplementary groups). 0, or -1 with a message. */
int pool_resolve_user(pool_t *pool, char *err, size_t errsz);
/* Reload of a kept pool: switch to `cfg` (owned by `owner`) and apply `diff` (CFG_DIFF_*):
 * replace workers one by one, resize, or send Configure. */
void pool_apply_config(pool_t *pool, const cfg_pool_t *cfg, uhw_config_t *owner, unsigned diff);
/* Reload removed the pool: it gets no new requests, finishes what it has, then stops. */
void pool_drain(pool_t *pool);
/* Once a draining pool's queue is empty, its workers get Shutdown (called by dispatch). */
void pool_drain_progress(pool_t *pool);
/* Whether a drained pool has nothing left (no worker, nothing queued) and can be freed. */
int pool_drained(pool_t *pool);
/* Replace a worker gracefully (max_requests, max_rss): its successor first. Not a restart. */
void pool_recycle(worker_t *w, const char *why);
/* max_rss: recycles workers whose resident memory is above the limit (called every second). */
void pool_check_rss(pool_t *pool);
/* Counts an answer of this pool by status class; records how long a request took. */
void pool_count_status(pool_t *pool, int status);
void pool_observe_duration(pool_t *pool, double seconds);

/* Graceful stop of every worker (server stop); cancels pending respawns. */
void pool_stop(pool_t *pool);
/* `uhw restart POOL`: leaves degraded, forgets the restart window, and replaces every
 * worker one by one (the new one Ready before the old one stops). */
void pool_restart(pool_t *pool);
/* Slot state for status: the current worker's state name, "backoff" or "exited". */
const char *slot_state_name(const slot_t *s);

#endif
