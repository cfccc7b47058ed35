/*
 * dispatch.h — every HTTP request on its way to a worker and back: admission, the
 * pool FIFO, assignment, deadlines, the worker's answer turned into an h2o response,
 * and the answer uhw gives when the worker cannot.
 *
 * Each request's life is one state × event table (dispatch.c). A request lives until
 * h2o has disposed of its h2o_req_t and no worker owns it any more. Exactly one
 * function hands h2o a final answer, and it does nothing once one was handed over.
 * Callbacks from h2o (proceed, a request's disposal) may arrive while the request is
 * in one of its own actions: they are queued on the request and run right after that
 * action, never inside it.
 */
#ifndef UHW_DISPATCH_H
#define UHW_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "config.h"
#include "pool.h"
#include "timer.h"
#include "victims.h"
#include "worker.h"

typedef struct dispatch dispatch_t;

/* Totals since start, as shown in status "counters". */
typedef struct counters {
    uint64_t requests; /* every request answered (by a worker or by uhw) */
    uint64_t s2xx, s3xx, s4xx, s5xx;
    uint64_t rejected; /* admission refusals: 503 (degraded, no worker, max_pending, queue full) and 413 */
    uint64_t timeouts; /* 504 */
    uint64_t victims;  /* requests whose worker died, was killed, or broke the protocol */
} counters_t;

dispatch_t *dispatch_create(const uhw_config_t *cfg, timers_t *timers, victims_t *victims);
/* Frees what is left (at exit, after every request is settled or h2o is gone). */
void dispatch_free(dispatch_t *d);
/* fn(arg) is called whenever the count of pending requests (dispatch_pending) falls to 0: a
 * graceful stop waits for that. It is called from inside a request's action, so it must only
 * schedule work (timers_defer), never touch requests or pools. */
void dispatch_on_idle(dispatch_t *d, void (*fn)(void *arg), void *arg);
/* A reload: limits (max_pending, max_body) apply to the next request. */
void dispatch_set_config(dispatch_t *d, const uhw_config_t *cfg);

/* The front end's entry point: admission, then the pool's queue. Always answers or keeps `req`. */
void dispatch_submit(dispatch_t *d, pool_t *p, h2o_req_t *req);
/* A fresh request id, for answers uhw gives without a pool (404, 400). */
uint64_t dispatch_next_id(dispatch_t *d);
/* Counts an answer uhw gave outside dispatch (404, 400, health, 503 while stopping). */
void dispatch_count(dispatch_t *d, int status);

/* Pool events, wired by the pool's owner. */
void dispatch_pump(dispatch_t *d, pool_t *p);
worker_verdict_t dispatch_on_answer(dispatch_t *d, pool_t *p, worker_t *w, Uhw__V1__FromWorker *m, char *why,
                                    size_t whysz);
/* Settles every request of `w` (see worker_events_t.on_lost): those it never read go back to
 * the front of the pool's queue, the others are victims. Returns how many it had read and not
 * answered. */
unsigned dispatch_on_lost(dispatch_t *d, pool_t *p, worker_t *w, int status, const exit_info_t *ei,
                          uint64_t consumed);
/* Answers every queued request of the pool (degraded: 503 Service unavailable). */
void dispatch_fail_queue(dispatch_t *d, pool_t *p, int status, const char *error, int retry_after);
/* shutdown_timeout: everything still pending in these pools gets 503 Shutting down. */
void dispatch_fail_all(dispatch_t *d, pool_t *const *pools, size_t n);

const counters_t *dispatch_counters(const dispatch_t *d);
/* Requests admitted and not answered yet (max_pending applies to it). */
size_t dispatch_pending(const dispatch_t *d);
/* Requests that still exist (h2o has not disposed of them, or a worker still owns them). */
size_t dispatch_live(const dispatch_t *d);

/* The client's numeric address and port; returns AF_INET or AF_INET6, or 0 (host "", port 0)
 * when the peer is not an IP socket. */
int request_peer(h2o_req_t *req, char host[NI_MAXHOST], unsigned *port);

#endif
