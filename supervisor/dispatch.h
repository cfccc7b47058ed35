/*
 * dispatch.h — one HTTP request on its way to a worker and back: admission,
 * the pool FIFO, assignment, deadlines, turning Response and Stream* frames
 * into h2o responses, and answering for workers that died.
 *
 * Who owns a request_t: h2o owns the h2o_req_t; a request_t lives until both
 * h2o has disposed of the h2o_req_t (a hook in its memory pool tells us) and
 * no worker owns it any more. A request a worker still owns after it was
 * answered by uhw (504) or abandoned by its client is a "tombstone": the
 * worker's eventual answer frees its slot and is dropped.
 */
#ifndef UHW_DISPATCH_H
#define UHW_DISPATCH_H

#include <netdb.h>
#include <stdint.h>

#include <h2o.h>

#include "frame.h"
#include "timer.h"
#include "types.h"
#include "uhw.pb-c.h"
#include "worker.h"

typedef enum request_state {
    RQ_QUEUED,    /* in its pool's FIFO */
    RQ_ASSIGNED,  /* sent to a worker, no answer yet */
    RQ_STREAMING, /* StreamStart received, the worker still streams */
    RQ_DONE,      /* answered (or abandoned); at most a final h2o_send still flushing */
} request_state_t;

struct request {
    uint64_t id;
    request_state_t state;
    server_t *srv;
    pool_t *pool;
    h2o_req_t *req;             /* NULL once h2o disposed of it */
    struct request_hook *hook;  /* lives in req->pool; its dispose callback clears `req` */
    worker_t *worker;           /* owner while ASSIGNED/STREAMING, and for tombstones */
    int tombstone;              /* the worker's answer is no longer wanted */
    int counted_pending;        /* counted in srv->pending */
    h2o_linklist_t link;        /* pool queue, or the worker's in-flight list */
    struct request *map_next;   /* id map chain */
    utimer_t timer;             /* timeout (queued/assigned), or tombstone expiry */
    uint64_t accepted_at;       /* monotonic ms */
    uint64_t deadline;          /* accepted_at + pool timeout, pushed back by KeepAlive */
    /* the response */
    h2o_generator_t gen;
    Uhw__V1__FromWorker *held;  /* decoded Response whose body h2o points into */
    frame_buf_t pending;        /* stream bytes not yet given to h2o */
    frame_buf_t sending;        /* stream bytes h2o is sending (valid until proceed) */
    int h2o_busy;               /* an h2o_send is outstanding: wait for proceed */
    int end;                    /* 0 streaming, 1 clean end, 2 abort — sent after `pending` */
    int backpressured;          /* counted in worker->backpressure */
    int in_h2o_call;            /* inside h2o_send: dispose must not free us */
    size_t body_size;           /* request body bytes, for logs */
};

/* Requests owned by workers, by id, so a frame's id finds its request. */
typedef struct reqmap {
    request_t **buckets;
    size_t nbuckets, count;
} reqmap_t;

/* Front end entry point: admission, then queue and dispatch. Always answers or takes the request. */
void dispatch_submit(server_t *srv, pool_t *pool, h2o_req_t *req);
/* Assigns queued requests of `pool` to workers with free capacity. */
void dispatch_pump(pool_t *pool);
/* Handles a Response, Stream*, or KeepAlive frame from `w`. Returns 1 if it kept `m`
 * (it will free it), 0 if the caller must free it. */
int dispatch_on_frame(worker_t *w, Uhw__V1__FromWorker *m);
/* The worker is gone or killed: every request it owns is answered with `status`
 * (500 crashed, 502 protocol) and reported as a victim; tombstones are dropped. */
void dispatch_fail_worker(worker_t *w, int status, const exit_info_t *ei);
/* Answers every queued request of the pool (degraded: 503 Service unavailable). */
void dispatch_fail_queue(pool_t *pool, int status, const char *error, int retry_after);
/* Shutdown timeout: answers everything still pending with 503 Shutting down. */
void dispatch_fail_all(server_t *srv);

/* The client's numeric address and port; returns AF_INET or AF_INET6, or 0 (host "", port 0)
 * when the peer is not an IP socket. */
int request_peer(h2o_req_t *req, char host[NI_MAXHOST], unsigned *port);

/* A JSON error response {"error": error, "reason": reason, "request_id": id} (reason and id optional).
 * These two only answer; counting the answer in the server's counters is the caller's call. */
void respond_error(h2o_req_t *req, int status, const char *error, const char *reason, int retry_after, uint64_t id);
/* A JSON response from a jansson object (stolen). */
void respond_json(h2o_req_t *req, int status, void *json_obj);

/* Id map teardown at exit. */
void dispatch_dispose(server_t *srv);

#endif
