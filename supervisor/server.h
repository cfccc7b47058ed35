/*
 * server.h — `uhw serve`: the one struct that owns all runtime state, and the
 * main loop (h2o's evloop plus uhw's timers and a signalfd).
 */
#ifndef UHW_SERVER_H
#define UHW_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "dispatch.h"
#include "front.h"
#include "timer.h"
#include "types.h"
#include "victims.h"

typedef enum server_phase {
    PHASE_STARTING, /* workers spawned, waiting for every Ready; listeners bound but not accepting */
    PHASE_RUNNING,  /* accepting */
    PHASE_STOPPING, /* not accepting; letting in-flight requests finish, then stopping workers */
    PHASE_DONE,     /* the loop exits as soon as every child is reaped */
} server_phase_t;

/* Totals since start, as shown in status "counters". */
typedef struct counters {
    uint64_t requests; /* every request answered (by a worker or by uhw) */
    uint64_t s2xx, s3xx, s4xx, s5xx;
    uint64_t rejected; /* admission refusals: 503 (degraded, no worker, max_pending, queue full) and 413 */
    uint64_t timeouts; /* 504 */
    uint64_t victims;  /* requests whose worker died, was killed, or broke the protocol */
} counters_t;

/* A child that is not a worker (victims.command), reaped by the same loop. */
typedef struct child_watch {
    pid_t pid;
    void (*on_exit)(struct child_watch *cw, int status);
    struct child_watch *next;
} child_watch_t;

struct server {
    uhw_config_t *cfg;
    char *self_dir;              /* directory of the running uhw, first on workers' PATH */
    front_t front;               /* h2o: config, context, listeners, control socket */
    timers_t timers;
    pool_t **pools;
    size_t npools;
    server_phase_t phase;
    int exit_code;
    uint64_t next_request_id;
    reqmap_t reqmap;             /* requests owned by workers, by id */
    size_t pending;              /* requests admitted and not yet answered, all pools */
    size_t live_requests;        /* requests h2o has not disposed of yet */
    counters_t counters;
    uint64_t started_wall_ms, started_mono_ms;
    victims_t victims;
    child_watch_t *children;
    int sigfd;
    void *sigsock;               /* h2o_socket_t watching sigfd */
    utimer_t stop_timer;         /* shutdown_timeout, then the final flush */
    utimer_t stop_check;         /* zero-delay: re-evaluate the stop from the main loop */
    int force_exit;              /* second SIGINT: leave the loop now */
    int stop_stage;              /* 0 draining requests, 1 stopping workers, 2 flushing responses */
    int sigint_count;
    pool_t **draining;           /* pools removed by a reload, finishing their work */
    size_t ndraining;
    uhw_config_t **retired;      /* configs still referenced by draining pools */
    size_t nretired;
    utimer_t gc_timer;           /* zero-delay: free drained pools and unused configs */
    utimer_t tick;               /* once a second: max_rss checks */
};

/* Runs `uhw serve` with a loaded config (takes ownership). Returns the process exit code:
 * 0 stopped, 1 runtime error (e.g. a port in use), 3 startup failure. */
int server_run(uhw_config_t *cfg, const char *self_dir);

/* Begins a graceful stop (SIGTERM, SIGINT, `uhw stop`). `why` is logged. */
void server_stop(server_t *srv, const char *why);
/* Called by pools when a worker reaches Ready; starts accepting once every pool is up. */
void server_check_started(server_t *srv);
/* A worker failed before Ready during start-up: log it all and stop with exit code 3. */
void server_startup_failed(server_t *srv, worker_t *w, const char *what);
/* Called whenever a request finishes or a worker exits while stopping, to move the stop along. */
void server_check_stopped(server_t *srv);
/* Watches a non-worker child; `cw` must stay valid until on_exit runs. */
void server_watch_child(server_t *srv, child_watch_t *cw);

/* Reload bookkeeping: a pool removed by a reload keeps running until drained; a replaced
 * config is freed once no draining pool points into it. */
void server_add_draining(server_t *srv, pool_t *pool);
void server_retire_config(server_t *srv, uhw_config_t *cfg);
/* A draining pool may be done: check (from the main loop) and free what is finished. */
void server_pool_drained(server_t *srv);

/* Counts an answered request by status class. */
void server_count_status(server_t *srv, int status);

#endif
