/*
 * dispatch.c — requests between h2o and workers; see dispatch.h.
 *
 * A request's life is one table, actions[state][event]:
 *
 *   state      what it means                                          worker owns it  client waits
 *   QUEUED     in its pool's FIFO                                      no              yes
 *   ASSIGNED   its Request frame went to a worker; no answer yet       yes             yes
 *   STREAMING  StreamStart came: headers are out, data follows         yes             yes
 *   ORPHANED   the client is gone or was answered by uhw (504, 503),   yes             no
 *              the worker still owes an answer (its slot stays busy)
 *   FINISHING  the worker is done; the final send waits for h2o        no              yes
 *   DONE       the final answer is with h2o, which disposes of it      no              no
 *
 *              ASSIGN   RESPONSE STRM_START STRM_DATA STRM_END FAILED   KEEPALIVE PROCEED  CLIENT_GONE TIMER    LOST     REQUEUE  REJECT   STOP
 *   QUEUED     assign   .        .          .         .        .        .         .        forget      timeout  .        .        reject   reject
 *   ASSIGNED   .        respond  start      broken    broken   failed   extend    .        orphan      timeout  victim   requeue  .        shut
 *   STREAMING  .        broken   broken     data      end      failed   -        proceed  orphan      .        victim   victim   .        shut
 *   ORPHANED   .        release  -          -         release  release  -        proceed  -           expire   release  release  .        -
 *   FINISHING  .        .        .          .         .        .        .         proceed  forget      .        .        .        .        -
 *   DONE       .        .        .          .         .        .        .         -        forget      .        .        .        .        -
 *
 * ("-" ignores the event; "." cannot happen, and is ignored too.) The frame events come from
 * dispatch_on_answer; "broken" makes the verdict WV_BROKEN and the worker is killed for it.
 *
 * The one function that gives h2o a final answer is finish(); out_flush() sends stream data.
 * h2o may dispose of a request inside our own h2o_send (a closed connection): the disposal
 * hook records that the h2o_req_t is gone at once, and posts CLIENT_GONE, which runs after the
 * action in progress (run() drains a per-request queue of such events).
 */
#include "dispatch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reply.h"
#include "rules.h"

/* Stream bytes buffered for one client before uhw holds the worker back, and the level
 * under which it lets it go. */
#define STREAM_HIGH_WATER ((size_t)1 << 20)
#define STREAM_LOW_WATER ((size_t)256 << 10)

typedef enum rq_state {
    RQ_QUEUED,
    RQ_ASSIGNED,
    RQ_STREAMING,
    RQ_ORPHANED,
    RQ_FINISHING,
    RQ_DONE,
    RQ_FREED, /* both sides are done: run() frees it */
    RQ_NSTATES
} rq_state_t;

typedef enum rq_event_kind {
    RE_ASSIGN,
    RE_RESPONSE,
    RE_STREAM_START,
    RE_STREAM_DATA,
    RE_STREAM_END,
    RE_FAILED,
    RE_KEEPALIVE,
    RE_PROCEED,
    RE_CLIENT_GONE,
    RE_TIMER,
    RE_LOST,
    RE_REQUEUE,
    RE_REJECT,
    RE_STOP,
    RE_COUNT
} rq_event_kind_t;

typedef struct rq_event {
    rq_event_kind_t kind;
    worker_t *worker;             /* ASSIGN */
    Uhw__V1__FromWorker *frame;   /* frame events */
    int status;                   /* LOST, REJECT */
    const exit_info_t *ei;        /* LOST */
    const char *error;            /* REJECT */
    int retry_after;              /* REJECT */
    /* out: what a frame event made of the frame */
    worker_verdict_t verdict;
    char *why;
    size_t whysz;
} rq_event_t;

/* What h2o has been given, for a streamed response. */
typedef struct out {
    int started;                  /* h2o_start_response was called */
    int busy;                     /* an in-progress h2o_send waits for proceed */
    int end;                      /* 0 streaming, 1 clean end, 2 abort: the final send is due after `pending` */
    int final_sent;               /* a final send was made: nothing more goes to h2o */
    int holding;                  /* this stream holds its worker back (backpressure) */
    frame_buf_t pending;          /* bytes not given to h2o yet */
    frame_buf_t sending;          /* bytes h2o is sending (valid until proceed) */
    Uhw__V1__FromWorker *held;    /* a Response whose body h2o points into */
} out_t;

typedef struct request request_t;
struct request_hook {
    request_t *r;
};

struct request {
    uint64_t id;
    rq_state_t state;
    dispatch_t *d;
    pool_t *pool;
    h2o_req_t *req;               /* NULL once h2o disposed of it */
    struct request_hook *hook;    /* lives in req->pool; its dispose callback clears `req` */
    worker_t *worker;             /* the owner while ASSIGNED, STREAMING, ORPHANED */
    uint64_t stdin_at;            /* where its Request frame starts in the worker's stdin */
    h2o_linklist_t link;          /* the pool's queue, or its worker's list */
    request_t *map_next;          /* id map chain */
    utimer_t timer;               /* timeout (QUEUED, ASSIGNED); orphan expiry (ORPHANED) */
    utimer_t slow;                /* slow_log: fires once, only logs (no state changes) */
    uint64_t accepted_at;         /* ms */
    uint64_t deadline;            /* accepted_at + timeout, pushed back by KeepAlive */
    h2o_generator_t gen;
    out_t out;
    int running;                  /* inside run(): events from h2o wait in `deferred` */
    unsigned deferred;            /* bit per rq_event_kind_t (PROCEED, CLIENT_GONE) */
};

typedef struct reqmap {
    request_t **buckets;
    size_t nbuckets, count;
} reqmap_t;

struct dispatch {
    const uhw_config_t *cfg;
    timers_t *timers;
    victims_t *victims;
    reqmap_t map;                 /* requests owned by workers, by id */
    uint64_t next_id;
    size_t pending;               /* QUEUED + ASSIGNED + STREAMING */
    size_t live;                  /* request_t allocated */
    counters_t counters;
    void (*on_idle)(void *arg);   /* pending fell to 0 (a stop waits for that) */
    void *on_idle_arg;
};

static void run(request_t *r, rq_event_t *e);
static void post(request_t *r, rq_event_kind_t kind);
static void on_request_timer(utimer_t *t);
static void on_slow_timer(utimer_t *t);
static void on_proceed(h2o_generator_t *gen, h2o_req_t *req);
static void on_stop(h2o_generator_t *gen, h2o_req_t *req);

static uint64_t now(const dispatch_t *d)
{
    return timers_now(d->timers);
}

/* ---------------------------------------------------------------- id map */

static size_t bucket_of(const reqmap_t *m, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 20) & (m->nbuckets - 1);
}

static void map_put(reqmap_t *m, request_t *r)
{
    if (m->count + 1 > m->nbuckets) {
        size_t n = m->nbuckets ? m->nbuckets * 2 : 256;
        request_t **b = calloc(n, sizeof(*b));
        if (b == NULL)
            abort();
        reqmap_t grown = {b, n, m->count};
        for (size_t i = 0; i < m->nbuckets; ++i) {
            for (request_t *e = m->buckets[i], *next; e != NULL; e = next) {
                next = e->map_next;
                size_t k = bucket_of(&grown, e->id);
                e->map_next = b[k];
                b[k] = e;
            }
        }
        free(m->buckets);
        *m = grown;
    }
    size_t k = bucket_of(m, r->id);
    r->map_next = m->buckets[k];
    m->buckets[k] = r;
    ++m->count;
}

static request_t *map_get(const reqmap_t *m, uint64_t id)
{
    if (m->nbuckets == 0)
        return NULL;
    for (request_t *e = m->buckets[bucket_of(m, id)]; e != NULL; e = e->map_next)
        if (e->id == id)
            return e;
    return NULL;
}

static void map_del(reqmap_t *m, request_t *r)
{
    if (m->nbuckets == 0)
        return;
    for (request_t **p = &m->buckets[bucket_of(m, r->id)]; *p != NULL; p = &(*p)->map_next) {
        if (*p == r) {
            *p = r->map_next;
            r->map_next = NULL;
            --m->count;
            return;
        }
    }
}

/* ---------------------------------------------------------------- counting */

static int is_pending(rq_state_t s)
{
    return s == RQ_QUEUED || s == RQ_ASSIGNED || s == RQ_STREAMING;
}

/* Every state change goes through here: `pending` is derived from the state. */
static void set_state(request_t *r, rq_state_t s)
{
    dispatch_t *d = r->d;
    int was = is_pending(r->state);
    r->state = s;
    if (was && !is_pending(s)) {
        if (--d->pending == 0 && d->on_idle != NULL)
            d->on_idle(d->on_idle_arg);
    } else if (!was && is_pending(s)) {
        ++d->pending;
    }
}

static void count_class(dispatch_t *d, pool_t *p, int status)
{
    counters_t *c = &d->counters;
    ++c->requests;
    if (status >= 200 && status < 300)
        ++c->s2xx;
    else if (status >= 300 && status < 400)
        ++c->s3xx;
    else if (status >= 400 && status < 500)
        ++c->s4xx;
    else if (status >= 500)
        ++c->s5xx;
    if (p != NULL) {
        int cls = status / 100;
        if (cls >= 1 && cls <= 5)
            ++pool_stats(p)->by_class[cls];
    }
}

void dispatch_count(dispatch_t *d, int status)
{
    count_class(d, NULL, status);
}

static void observe_duration(request_t *r)
{
    pool_stats_t *st = pool_stats(r->pool);
    double seconds = (double)(now(r->d) - r->accepted_at) / 1000.0;
    for (int i = 0; i < POOL_DURATION_BUCKETS; ++i) {
        if (seconds <= pool_duration_bounds[i]) {
            ++st->duration_buckets[i];
            break;
        }
    }
    ++st->duration_count;
    st->duration_sum += seconds;
}

/* ---------------------------------------------------------------- h2o: the response */

static int is_head(const h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

/* Checks status and headers of a Response/StreamStart (proto/rules.h); lower-cases names in
 * place. Returns 0, or -1 with a reason in `why`. */
static int validate_head(uint32_t *status, Uhw__V1__Header **hs, size_t n, char *why, size_t whysz)
{
    if (*status == 0)
        *status = 200;
    if (!rules_status_ok(*status)) {
        snprintf(why, whysz, "invalid HTTP status %u", *status);
        return -1;
    }
    for (size_t i = 0; i < n; ++i) {
        char *name = hs[i]->name;
        size_t len = name != NULL ? strlen(name) : 0;
        for (size_t k = 0; k < len; ++k)
            name[k] = (char)tolower((unsigned char)name[k]);
        const char *problem = rules_header_problem(name, len, hs[i]->value.data, hs[i]->value.len);
        if (problem != NULL) {
            char nm[80], val[80];
            snprintf(why, whysz, "response header %s is refused: %s (value %s)", log_excerpt(nm, sizeof(nm), name, len, 40),
                     problem, log_excerpt(val, sizeof(val), hs[i]->value.data, hs[i]->value.len, 40));
            return -1;
        }
    }
    return 0;
}

/* Status and headers into h2o's response, copied into the request's memory pool (h2o writes
 * them after the frame they came in is gone). Content-Length is h2o's business. */
static void set_head(h2o_req_t *req, uint32_t status, Uhw__V1__Header **hs, size_t n)
{
    req->res.status = (int)status;
    req->res.reason = reply_reason((int)status);
    for (size_t i = 0; i < n; ++i) {
        const char *name = hs[i]->name;
        if (strcmp(name, "content-length") == 0)
            continue;
        h2o_iovec_t nm = h2o_strdup(&req->pool, name, strlen(name));
        h2o_iovec_t v = h2o_strdup(&req->pool, (const char *)hs[i]->value.data, hs[i]->value.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, nm.base, nm.len, 1, NULL, v.base, v.len);
    }
}

/* Gives h2o the pending stream bytes, one send at a time, then the final send when it is due.
 * Nothing after a final. */
static void out_flush(request_t *r)
{
    out_t *o = &r->out;
    if (r->req == NULL || !o->started || o->final_sent || o->busy)
        return;
    if (frame_buf_size(&o->pending) == 0 && o->end == 0)
        return;
    frame_buf_t tmp = o->sending;
    o->sending = o->pending;
    o->pending = tmp;
    frame_buf_reset(&o->pending);
    h2o_iovec_t buf = h2o_iovec_init(frame_buf_bytes(&o->sending), frame_buf_size(&o->sending));
    h2o_send_state_t st = o->end == 0 ? H2O_SEND_STATE_IN_PROGRESS : o->end == 1 ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_ERROR;
    if (st == H2O_SEND_STATE_IN_PROGRESS)
        o->busy = 1;
    else
        o->final_sent = 1;
    h2o_send(r->req, &buf, buf.len != 0 ? 1 : 0, st);
}

typedef enum final_kind { FINAL_ERROR, FINAL_RESPONSE, FINAL_END, FINAL_ABORT } final_kind_t;

typedef struct final {
    final_kind_t kind;
    int status;                   /* ERROR */
    const char *error, *reason;   /* ERROR */
    int retry_after;              /* ERROR */
    Uhw__V1__FromWorker *frame;   /* RESPONSE (kept: h2o points into its body) */
} final_t;

/* The one function that finishes a response on h2o. A no-op once a final was sent (or the
 * client is gone). A stream that has started cannot turn into an error page: an error aborts it,
 * so the client sees it truncated. Returns 1 if it kept f->frame. */
static int finish(request_t *r, const final_t *f)
{
    out_t *o = &r->out;
    if (r->req == NULL || o->final_sent)
        return 0;
    if (o->started) {
        o->end = f->kind == FINAL_END ? 1 : 2;
        if (o->end == 2)
            frame_buf_reset(&o->pending);
        out_flush(r);
        return 0;
    }
    switch (f->kind) {
    case FINAL_ERROR:
    case FINAL_END:
    case FINAL_ABORT:
        o->final_sent = 1;
        reply_error(r->req, f->status != 0 ? f->status : 502, f->error != NULL ? f->error : "Bad worker response",
                    f->reason, f->retry_after, r->id);
        return 0;
    case FINAL_RESPONSE: {
        Uhw__V1__Response *resp = f->frame->response;
        h2o_req_t *req = r->req;
        o->started = o->final_sent = 1;
        o->held = f->frame;
        set_head(req, resp->status, resp->headers, resp->n_headers);
        req->res.content_length = resp->body.len;
        h2o_iovec_t body = h2o_iovec_init(resp->body.data, resp->body.len);
        h2o_start_response(req, &r->gen);
        h2o_send(req, &body, body.len != 0 && !is_head(req) ? 1 : 0, H2O_SEND_STATE_FINAL);
        return 1;
    }
    }
    return 0;
}

/* After a final was decided: DONE once it is with h2o, FINISHING while it waits for proceed. */
static void settle_client(request_t *r)
{
    timers_cancel(r->d->timers, &r->timer);
    if (r->req == NULL)
        set_state(r, RQ_FREED);
    else
        set_state(r, r->out.final_sent ? RQ_DONE : RQ_FINISHING);
}

static void answer_error(request_t *r, int status, const char *error, const char *reason, int retry_after)
{
    if (!r->out.started) /* a stream was counted by its status when it started */
        count_class(r->d, r->pool, status);
    observe_duration(r);
    final_t f = {.kind = FINAL_ERROR, .status = status, .error = error, .reason = reason, .retry_after = retry_after};
    finish(r, &f);
}

/* ---------------------------------------------------------------- the worker side */

static void send_cancel(request_t *r, Uhw__V1__Cancel__Reason reason)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Cancel c = UHW__V1__CANCEL__INIT;
    c.id = r->id;
    c.reason = reason;
    m.msg_case = UHW__V1__TO_WORKER__MSG_CANCEL;
    m.cancel = &c;
    worker_send(r->worker, &m.base);
}

static void unhold(request_t *r)
{
    if (r->out.holding) {
        r->out.holding = 0;
        worker_unhold(r->worker);
    }
}

/* The worker no longer owns `r`: it answered (`answered`), or it is gone, or uhw gave up. */
static void release(request_t *r, int answered)
{
    worker_t *w = r->worker;
    if (w == NULL)
        return;
    unhold(r);
    h2o_linklist_unlink(&r->link);
    map_del(&r->d->map, r);
    r->worker = NULL;
    worker_release(w, answered);
}

/* The answer is no longer wanted, but the worker still owns the request: its slot stays busy
 * until the worker finishes it, or stuck_timeout passes. */
static void orphan(request_t *r, Uhw__V1__Cancel__Reason reason)
{
    send_cancel(r, reason);
    unhold(r); /* nobody reads what it streams now: let its stdout flow, or it never sees the Cancel */
    frame_buf_reset(&r->out.pending);
    set_state(r, RQ_ORPHANED);
    timers_schedule(r->d->timers, &r->timer, now(r->d) + pool_cfg(r->pool)->stuck_timeout_ms);
}

/* A victim is a request whose client is answered 5xx (or sees its stream cut) because what served
 * it died; counted and recorded only when that client is still there to be answered. */
static void record_victim(request_t *r, int status, const exit_info_t *ei)
{
    dispatch_t *d = r->d;
    if (r->req == NULL)
        return;
    ++d->counters.victims;
    ++pool_stats(r->pool)->victims;
    worker_t *w = r->worker;
    victim_t v = {
        .pool = pool_name(r->pool),
        .slot = worker_slot(w),
        .pid = worker_pid(w),
        .who = worker_who(w),
        .user = pool_user(r->pool),
        .ei = ei,
        .status = status,
        .id = r->id,
        .req = r->req,
    };
    victims_record(d->victims, &v);
}

/* ---------------------------------------------------------------- the Request frame */

int request_peer(h2o_req_t *req, char host[NI_MAXHOST], unsigned *port)
{
    struct sockaddr_storage ss;
    host[0] = '\0';
    *port = 0;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl == 0 || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
        return 0;
    h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, host);
    int32_t p = h2o_socket_getport((struct sockaddr *)&ss);
    *port = p > 0 ? (unsigned)p : 0;
    return ss.ss_family;
}

static char *pool_strdup(h2o_mem_pool_t *mp, const char *s, size_t n)
{
    return h2o_strdup(mp, s, n).base;
}

/* Encodes `r` as a Request frame onto the worker's stdin; returns where it starts. */
static uint64_t send_request(request_t *r, worker_t *w)
{
    h2o_req_t *req = r->req;
    h2o_mem_pool_t *mp = &req->pool;
    Uhw__V1__Request rq = UHW__V1__REQUEST__INIT;
    char version[16], host[NI_MAXHOST] = "";
    unsigned port = 0;

    rq.id = r->id;
    rq.method = pool_strdup(mp, req->method.base, req->method.len);
    /* the path it was routed on: decoded and normalized once (target.h); the query as sent */
    rq.path = pool_strdup(mp, req->path_normalized.base, req->path_normalized.len);
    rq.query = req->query_at != SIZE_MAX
                   ? pool_strdup(mp, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1)
                   : "";
    rq.target = pool_strdup(mp, req->path.base, req->path.len);
    /* The host (HTTP/1 Host, HTTP/2 :authority) first, as a `host` header, like any other. */
    size_t n = req->headers.size + (req->authority.len != 0 ? 1 : 0), k = 0;
    Uhw__V1__Header *hs = h2o_mem_alloc_pool(mp, (n + 1) * sizeof(*hs));
    Uhw__V1__Header **hp = h2o_mem_alloc_pool(mp, (n + 1) * sizeof(*hp));
    if (req->authority.len != 0) {
        uhw__v1__header__init(&hs[k]);
        hs[k].name = "host";
        hs[k].value.data = (uint8_t *)req->authority.base;
        hs[k].value.len = req->authority.len;
        hp[k] = &hs[k];
        ++k;
    }
    for (size_t i = 0; i < req->headers.size; ++i) {
        const h2o_header_t *h = req->headers.entries + i;
        if (h2o_memis(h->name->base, h->name->len, H2O_STRLIT("host")))
            continue; /* already sent, from the authority */
        uhw__v1__header__init(&hs[k]);
        hs[k].name = pool_strdup(mp, h->name->base, h->name->len);
        hs[k].value.data = (uint8_t *)h->value.base;
        hs[k].value.len = h->value.len;
        hp[k] = &hs[k];
        ++k;
    }
    rq.n_headers = k;
    rq.headers = hp;
    rq.body.data = (uint8_t *)req->entity.base;
    rq.body.len = req->entity.base != NULL ? req->entity.len : 0;
    request_peer(req, host, &port);
    rq.remote_addr = host;
    rq.remote_port = port;
    rq.scheme = pool_strdup(mp, req->scheme->name.base, req->scheme->name.len);
    version[h2o_stringify_protocol_version(version, req->version)] = '\0';
    rq.http_version = version;
    rq.pool = (char *)pool_name(r->pool);
    uint64_t t = now(r->d);
    rq.timeout_ms = r->deadline > t ? (uint32_t)(r->deadline - t) : 1;

    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    m.msg_case = UHW__V1__TO_WORKER__MSG_REQUEST;
    m.request = &rq;
    return worker_send(w, &m.base);
}

/* ---------------------------------------------------------------- actions */

typedef void action_fn(request_t *r, rq_event_t *e);

static void a_ignore(request_t *r, rq_event_t *e)
{
    (void)r;
    (void)e;
}

static void queue_unlink(request_t *r)
{
    pool_queue_t *q = pool_queue(r->pool);
    h2o_linklist_unlink(&r->link);
    --q->len;
    if (q->len == 0 && pool_state(r->pool) == PS_DRAINING)
        pool_drain(r->pool); /* its queue is served: its workers may stop now */
}

/* QUEUED + ASSIGN: off the queue, to the worker. */
static void a_assign(request_t *r, rq_event_t *e)
{
    worker_t *w = e->worker;
    queue_unlink(r);
    set_state(r, RQ_ASSIGNED);
    r->worker = w;
    h2o_linklist_insert(worker_requests_list(w), &r->link);
    map_put(&r->d->map, r);
    r->stdin_at = send_request(r, w);
    pool_assigned(r->pool, w);
}

/* QUEUED + CLIENT_GONE, FINISHING/DONE + CLIENT_GONE: nothing waits for it any more. */
static void a_forget(request_t *r, rq_event_t *e)
{
    (void)e;
    if (r->state == RQ_QUEUED)
        queue_unlink(r);
    set_state(r, RQ_FREED);
}

static void timed_out_log(request_t *r, const char *why)
{
    log_msg(LOG_WARNING, r->worker != NULL ? worker_who(r->worker) : NULL, "id=%llu %.*s %.*s: %s",
            (unsigned long long)r->id, r->req != NULL ? (int)r->req->method.len : 0,
            r->req != NULL ? r->req->method.base : "", r->req != NULL ? (int)r->req->path.len : 0,
            r->req != NULL ? r->req->path.base : "", why);
}

/* QUEUED/ASSIGNED + TIMER: the pool's timeout passed (unless a KeepAlive moved it). */
static void a_timeout(request_t *r, rq_event_t *e)
{
    (void)e;
    dispatch_t *d = r->d;
    if (now(d) < r->deadline) {
        timers_schedule(d->timers, &r->timer, r->deadline);
        return;
    }
    ++d->counters.timeouts;
    ++pool_stats(r->pool)->timeouts;
    char why[200];
    if (r->state == RQ_QUEUED) {
        snprintf(why, sizeof(why), "no worker of pool '%s' became free within timeout (%llu ms)", pool_name(r->pool),
                 (unsigned long long)pool_cfg(r->pool)->timeout_ms);
        timed_out_log(r, why);
        queue_unlink(r);
        answer_error(r, 504, "Gateway timeout", why, 0);
        settle_client(r);
        return;
    }
    snprintf(why, sizeof(why), "worker %s did not answer within timeout (%llu ms)", worker_who(r->worker),
             (unsigned long long)pool_cfg(r->pool)->timeout_ms);
    char what[80];
    snprintf(what, sizeof(what), "timed out after %llu ms; sending Cancel", (unsigned long long)(now(d) - r->accepted_at));
    timed_out_log(r, what);
    answer_error(r, 504, "Gateway timeout", why, 0);
    orphan(r, UHW__V1__CANCEL__REASON__TIMEOUT);
}

/* QUEUED + REJECT/STOP: the pool is degraded, or the server is stopping. */
static void a_reject(request_t *r, rq_event_t *e)
{
    queue_unlink(r);
    ++r->d->counters.rejected;
    ++pool_stats(r->pool)->rejected;
    answer_error(r, e->status, e->error, NULL, e->retry_after);
    settle_client(r);
}

/* ASSIGNED + RESPONSE */
static void a_respond(request_t *r, rq_event_t *e)
{
    Uhw__V1__Response *resp = e->frame->response;
    if (validate_head(&resp->status, resp->headers, resp->n_headers, e->why, e->whysz) != 0) {
        e->verdict = WV_BROKEN;
        return;
    }
    release(r, 1);
    count_class(r->d, r->pool, (int)resp->status);
    observe_duration(r);
    final_t f = {.kind = FINAL_RESPONSE, .frame = e->frame};
    if (finish(r, &f))
        e->verdict = WV_KEPT;
    settle_client(r);
}

/* ASSIGNED + STREAM_START: the headers go out now (an SSE client wants them at once). */
static void a_start(request_t *r, rq_event_t *e)
{
    Uhw__V1__StreamStart *s = e->frame->stream_start;
    if (validate_head(&s->status, s->headers, s->n_headers, e->why, e->whysz) != 0) {
        e->verdict = WV_BROKEN;
        return;
    }
    timers_cancel(r->d->timers, &r->timer); /* streams are exempt from `timeout` once started */
    set_state(r, RQ_STREAMING);
    count_class(r->d, r->pool, (int)s->status); /* its duration is taken when it ends */
    h2o_req_t *req = r->req;
    set_head(req, s->status, s->headers, s->n_headers);
    req->res.content_length = SIZE_MAX;
    r->out.started = 1;
    r->out.busy = 1;
    h2o_start_response(req, &r->gen);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
}

/* STREAMING + STREAM_DATA */
static void a_data(request_t *r, rq_event_t *e)
{
    const ProtobufCBinaryData *data = &e->frame->stream_data->data;
    if (data->len == 0)
        return;
    if (frame_buf_append(&r->out.pending, data->data, data->len) != 0)
        abort();
    out_flush(r);
    if (!r->out.holding && frame_buf_size(&r->out.pending) + frame_buf_size(&r->out.sending) > STREAM_HIGH_WATER) {
        r->out.holding = 1;
        worker_hold(r->worker);
    }
}

/* STREAMING + STREAM_END */
static void a_end(request_t *r, rq_event_t *e)
{
    const char *error = e->frame->stream_end->error;
    int abort_it = error != NULL && error[0] != '\0';
    if (abort_it)
        log_msg(LOG_WARNING, worker_who(r->worker), "id=%llu stream aborted by the worker: %s", (unsigned long long)r->id,
                error);
    release(r, 1);
    observe_duration(r);
    final_t f = {.kind = abort_it ? FINAL_ABORT : FINAL_END};
    finish(r, &f);
    settle_client(r);
}

/* ASSIGNED/STREAMING + FAILED: what the worker ran for the request died (a CGI script...);
 * the worker itself is fine. A victim, as if the worker had died. */
static void a_failed(request_t *r, rq_event_t *e)
{
    const Uhw__V1__RequestFailed *f = e->frame->request_failed;
    int status = f->status == 0 ? 500 : (int)f->status;
    if (status != 500 && status != 502 && status != 503 && status != 504)
        status = 500;
    exit_info_t ei = {.reason = f->reason != NULL && f->reason[0] != '\0' ? f->reason : "died",
                      .code = f->exit_code,
                      .signal = (int)f->signal,
                      .at_wall_ms = wall_ms()};
    snprintf(ei.detail, sizeof(ei.detail), "%s", f->detail != NULL ? f->detail : "");
    if (status == 504) {
        ++r->d->counters.timeouts;
        ++pool_stats(r->pool)->timeouts;
    }
    record_victim(r, status, &ei);
    char why[300];
    snprintf(why, sizeof(why), "worker %s: %.200s", worker_who(r->worker), ei.detail);
    release(r, 1);
    answer_error(r, status, status == 504 ? "Gateway timeout" : "Worker crashed", why, 0);
    settle_client(r);
}

/* ASSIGNED + KEEPALIVE: the worker is on it; the timeout starts again (the timer catches up lazily). */
static void a_extend(request_t *r, rq_event_t *e)
{
    (void)e;
    r->deadline = now(r->d) + pool_cfg(r->pool)->timeout_ms;
}

/* A frame that does not fit the request's state: the worker broke the protocol. */
static void a_broken(request_t *r, rq_event_t *e)
{
    static const char *const what[RE_COUNT] = {
        [RE_RESPONSE] = "a Response after starting a stream",
        [RE_STREAM_START] = "StreamStart twice",
        [RE_STREAM_DATA] = "StreamData before StreamStart",
        [RE_STREAM_END] = "StreamEnd before StreamStart",
    };
    snprintf(e->why, e->whysz, "sent %s for id=%llu", what[e->kind] != NULL ? what[e->kind] : "an unexpected frame",
             (unsigned long long)r->id);
    e->verdict = WV_BROKEN;
}

/* ASSIGNED/STREAMING + CLIENT_GONE */
static void a_orphan_gone(request_t *r, rq_event_t *e)
{
    (void)e;
    log_msg(LOG_DEBUG, worker_who(r->worker), "id=%llu client went away; sending Cancel", (unsigned long long)r->id);
    orphan(r, UHW__V1__CANCEL__REASON__CLIENT_GONE);
}

/* ASSIGNED/STREAMING + STOP: shutdown_timeout passed before the worker finished. */
static void a_shut(request_t *r, rq_event_t *e)
{
    (void)e;
    answer_error(r, 503, "Shutting down", "shutdown_timeout passed before the worker answered", 0);
    orphan(r, UHW__V1__CANCEL__REASON__SHUTDOWN);
}

/* ASSIGNED/STREAMING + LOST: the worker died, was killed, or broke the protocol while it owned
 * the request (and had read it): a victim. */
static void a_victim(request_t *r, rq_event_t *e)
{
    char reason[700];
    snprintf(reason, sizeof(reason), "worker %s %s", worker_who(r->worker), e->ei->detail);
    record_victim(r, e->status, e->ei);
    release(r, 0);
    answer_error(r, e->status, e->status == 502 ? "Bad worker response" : "Worker crashed", reason, 0);
    settle_client(r);
}

/* ASSIGNED + REQUEUE: the worker died without reading it: it waits for another, at the front. */
static void a_requeue(request_t *r, rq_event_t *e)
{
    (void)e;
    release(r, 0);
    pool_queue_t *q = pool_queue(r->pool);
    h2o_linklist_insert(q->items.next, &r->link); /* before the first one */
    ++q->len;
    set_state(r, RQ_QUEUED);
}

/* STREAMING/ORPHANED/FINISHING + PROCEED: h2o sent the last bytes. */
static void a_proceed(request_t *r, rq_event_t *e)
{
    (void)e;
    r->out.busy = 0;
    frame_buf_reset(&r->out.sending);
    if (r->out.holding && frame_buf_size(&r->out.pending) < STREAM_LOW_WATER)
        unhold(r); /* the worker's stdout is read again on the next loop turn, not from here */
    out_flush(r);
    if (r->state == RQ_FINISHING && r->out.final_sent)
        settle_client(r);
}

/* ORPHANED + a final frame, LOST, REQUEUE or TIMER: the worker is done with it. */
static void a_release(request_t *r, rq_event_t *e)
{
    if (e->kind == RE_TIMER)
        log_msg(LOG_WARNING, worker_who(r->worker), "id=%llu: no answer %llu ms after the request was cancelled; "
                "counting its slot as free", (unsigned long long)r->id,
                (unsigned long long)pool_cfg(r->pool)->stuck_timeout_ms);
    release(r, e->kind != RE_TIMER && e->kind != RE_LOST && e->kind != RE_REQUEUE);
    timers_cancel(r->d->timers, &r->timer);
    settle_client(r);
}

#define X a_ignore
static action_fn *const actions[RQ_NSTATES][RE_COUNT] = {
    /*              ASSIGN    RESPONSE   STRM_START STRM_DATA STRM_END   FAILED     KEEPALIVE PROCEED    CLIENT_GONE    TIMER      LOST       REQUEUE    REJECT    STOP */
    [RQ_QUEUED]    = {a_assign, X,         X,         X,        X,         X,         X,        X,         a_forget,      a_timeout, X,         X,         a_reject, a_reject},
    [RQ_ASSIGNED]  = {X,        a_respond, a_start,   a_broken, a_broken,  a_failed,  a_extend, X,         a_orphan_gone, a_timeout, a_victim,  a_requeue, X,        a_shut},
    [RQ_STREAMING] = {X,        a_broken,  a_broken,  a_data,   a_end,     a_failed,  X,        a_proceed, a_orphan_gone, X,         a_victim,  a_victim,  X,        a_shut},
    [RQ_ORPHANED]  = {X,        a_release, X,         X,        a_release, a_release, X,        a_proceed, X,             a_release, a_release, a_release, X,        X},
    [RQ_FINISHING] = {X,        X,         X,         X,        X,         X,         X,        a_proceed, a_forget,      X,         X,         X,         X,        X},
    [RQ_DONE]      = {X,        X,         X,         X,        X,         X,         X,        X,         a_forget,      X,         X,         X,         X,        X},
    [RQ_FREED]     = {X,        X,         X,         X,        X,         X,         X,        X,         X,             X,         X,         X,         X,        X},
};
#undef X

/* ---------------------------------------------------------------- the driver */

static void request_free(request_t *r)
{
    dispatch_t *d = r->d;
    timers_cancel(d->timers, &r->timer);
    timers_cancel(d->timers, &r->slow);
    if (r->hook != NULL)
        r->hook->r = NULL;
    if (r->out.held != NULL)
        uhw__v1__from_worker__free_unpacked(r->out.held, NULL);
    frame_buf_free(&r->out.pending);
    frame_buf_free(&r->out.sending);
    --d->live;
    free(r);
}

/* Runs one event, then whatever h2o reported meanwhile (a disposal, a proceed), then frees the
 * request if both sides are done. Never nested for the same request. */
static void run(request_t *r, rq_event_t *e)
{
    if (r->running) {
        r->deferred |= 1u << e->kind; /* only events without a payload get here */
        return;
    }
    r->running = 1;
    actions[r->state][e->kind](r, e);
    while (r->deferred != 0) {
        rq_event_kind_t k = (rq_event_kind_t)__builtin_ctz(r->deferred);
        r->deferred &= ~(1u << k);
        rq_event_t d = {.kind = k};
        actions[r->state][k](r, &d);
    }
    r->running = 0;
    if (r->state == RQ_FREED)
        request_free(r);
}

static void post(request_t *r, rq_event_kind_t kind)
{
    rq_event_t e = {.kind = kind};
    run(r, &e);
}

static void on_req_dispose(void *p)
{
    struct request_hook *hook = p;
    request_t *r = hook->r;
    if (r == NULL)
        return;
    /* The h2o_req_t is gone now, whatever runs: nothing may touch it after this. */
    r->req = NULL;
    r->hook = NULL;
    r->out.busy = 0;
    post(r, RE_CLIENT_GONE);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    post(H2O_STRUCT_FROM_MEMBER(request_t, gen, gen), RE_PROCEED);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, gen, gen);
    r->out.busy = 0; /* h2o is done with `sending`; the disposal follows */
}

static void on_request_timer(utimer_t *t)
{
    post(H2O_STRUCT_FROM_MEMBER(request_t, timer, t), RE_TIMER);
}

/* slow_log (PHP-FPM's request_slowlog_timeout): a request still unanswered slow_log after it
 * was accepted is logged once, with the worker running it. An observation only: the request
 * goes on as before, so this is not an event of the table. */
static void on_slow_timer(utimer_t *t)
{
    request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, slow, t);
    const char *where;
    switch (r->state) {
    case RQ_QUEUED:
        where = "still waiting for a free worker";
        break;
    case RQ_ASSIGNED:
        where = "the worker has not answered yet";
        break;
    case RQ_STREAMING:
        where = "the worker is still streaming the response";
        break;
    case RQ_ORPHANED:
        where = "the client left; the worker is still on it";
        break;
    default:
        return; /* finishing: it has its answer */
    }
    ++pool_stats(r->pool)->slow;
    char why[200];
    snprintf(why, sizeof(why), "slow: running for %llu ms (slow_log %llu ms), %s",
             (unsigned long long)(now(r->d) - r->accepted_at), (unsigned long long)pool_cfg(r->pool)->slow_log_ms,
             where);
    timed_out_log(r, why);
}

/* ---------------------------------------------------------------- admission */

static void reject(dispatch_t *d, pool_t *p, h2o_req_t *req, int status, const char *error, const char *reason,
                   int retry_after)
{
    ++d->counters.rejected;
    ++pool_stats(p)->rejected;
    count_class(d, p, status);
    reply_error(req, status, error, reason, retry_after, dispatch_next_id(d));
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

void dispatch_submit(dispatch_t *d, pool_t *p, h2o_req_t *req)
{
    const cfg_pool_t *pc = pool_cfg(p);
    char why[160];
    pool_queue_t *q = pool_queue(p);

    if (pool_state(p) == PS_DEGRADED) {
        snprintf(why, sizeof(why), "pool '%s' is degraded after repeated worker failures", pc->name);
        reject(d, p, req, 503, "Service unavailable", why, 0);
        return;
    }
    if (pool_alive(p) == 0) {
        snprintf(why, sizeof(why), "pool '%s' has no running worker", pc->name);
        reject(d, p, req, 503, "No workers available", why, 1);
        return;
    }
    if (d->pending >= d->cfg->max_pending) {
        reject(d, p, req, 503, "Too many requests", "max_pending reached", 1);
        return;
    }
    int must_wait = q->len != 0 || pool_pick_worker(p) == NULL;
    if (must_wait && q->len >= pc->queue_limit) {
        snprintf(why, sizeof(why), "pool '%s' has %zu requests waiting (queue_limit)", pc->name, q->len);
        reject(d, p, req, 503, "Queue full", why, 1);
        return;
    }
    if (req->entity.len > d->cfg->max_body) {
        reject(d, p, req, 413, "Request body too large", "max_body exceeded", 0);
        return;
    }
    /* path and query travel as protobuf strings, which other runtimes require to be UTF-8 */
    if (!utf8_valid((const unsigned char *)req->path_normalized.base, req->path_normalized.len) ||
        !utf8_valid((const unsigned char *)req->path.base, req->path.len)) {
        reject(d, p, req, 400, "Bad request", "the request target is not valid UTF-8", 0);
        return;
    }

    request_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    r->id = dispatch_next_id(d);
    r->d = d;
    r->pool = p;
    r->req = req;
    r->hook = h2o_mem_alloc_shared(&req->pool, sizeof(*r->hook), on_req_dispose);
    r->hook->r = r;
    r->gen.proceed = on_proceed;
    r->gen.stop = on_stop;
    frame_buf_init(&r->out.pending);
    frame_buf_init(&r->out.sending);
    utimer_init(&r->timer, on_request_timer);
    r->accepted_at = now(d);
    r->deadline = r->accepted_at + pc->timeout_ms;
    timers_schedule(d->timers, &r->timer, r->deadline);
    utimer_init(&r->slow, on_slow_timer);
    if (pc->slow_log_ms != 0)
        timers_schedule(d->timers, &r->slow, r->accepted_at + pc->slow_log_ms);
    ++d->live;
    ++pool_stats(p)->requests;
    r->state = RQ_QUEUED;
    ++d->pending;
    h2o_linklist_insert(&q->items, &r->link);
    ++q->len;
    dispatch_pump(d, p);
}

uint64_t dispatch_next_id(dispatch_t *d)
{
    return ++d->next_id;
}

/* ---------------------------------------------------------------- pool events */

void dispatch_pump(dispatch_t *d, pool_t *p)
{
    (void)d;
    pool_queue_t *q = pool_queue(p);
    while (q->len != 0) {
        worker_t *w = pool_pick_worker(p);
        if (w == NULL)
            return;
        request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, link, q->items.next);
        rq_event_t e = {.kind = RE_ASSIGN, .worker = w};
        run(r, &e);
    }
}

worker_verdict_t dispatch_on_answer(dispatch_t *d, pool_t *p, worker_t *w, Uhw__V1__FromWorker *m, char *why,
                                    size_t whysz)
{
    uint64_t id = worker_frame_id(m);
    request_t *r = map_get(&d->map, id);
    if (r == NULL || r->worker != w) {
        /* late (already released), cancelled long ago, or never its: never sent to anyone */
        log_msg(LOG_DEBUG, worker_who(w), "dropped a frame for id=%llu, which this worker does not own",
                (unsigned long long)id);
        return WV_DONE;
    }
    rq_event_t e = {.frame = m, .verdict = WV_DONE, .why = why, .whysz = whysz};
    switch (m->msg_case) {
    case UHW__V1__FROM_WORKER__MSG_RESPONSE:
        e.kind = RE_RESPONSE;
        break;
    case UHW__V1__FROM_WORKER__MSG_STREAM_START:
        e.kind = RE_STREAM_START;
        break;
    case UHW__V1__FROM_WORKER__MSG_STREAM_DATA:
        e.kind = RE_STREAM_DATA;
        break;
    case UHW__V1__FROM_WORKER__MSG_STREAM_END:
        e.kind = RE_STREAM_END;
        break;
    case UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED:
        e.kind = RE_FAILED;
        break;
    default:
        e.kind = RE_KEEPALIVE;
        break;
    }
    run(r, &e);
    if (e.verdict != WV_BROKEN && worker_free_capacity(w) != 0)
        dispatch_pump(d, p); /* an answer freed its slot */
    return e.verdict;
}

unsigned dispatch_on_lost(dispatch_t *d, pool_t *p, worker_t *w, int status, const exit_info_t *ei, uint64_t consumed)
{
    /* Take its requests off the worker first: answering one may make h2o drop others. */
    h2o_linklist_t *list = worker_requests_list(w);
    size_t n = 0;
    for (h2o_linklist_t *l = list->next; l != list; l = l->next)
        ++n;
    request_t **rs = malloc((n + 1) * sizeof(*rs));
    if (rs == NULL)
        abort();
    n = 0;
    for (h2o_linklist_t *l = list->next; l != list; l = l->next)
        rs[n++] = H2O_STRUCT_FROM_MEMBER(request_t, link, l);
    unsigned read = 0;
    /* Newest first, so the requeued ones end up at the front of the queue in their order. */
    for (size_t i = n; i-- > 0;) {
        request_t *r = rs[i];
        int unread = (r->state == RQ_ASSIGNED || r->state == RQ_ORPHANED) && r->stdin_at >= consumed;
        read += !unread;
        if (unread)
            log_msg(LOG_INFO, worker_who(w), "id=%llu was never read by the worker; it waits for another one",
                    (unsigned long long)r->id);
        rq_event_t e = {.kind = unread ? RE_REQUEUE : RE_LOST, .status = status, .ei = ei};
        run(r, &e);
    }
    free(rs);
    if (pool_state(p) == PS_DEGRADED)
        dispatch_fail_queue(d, p, 503, "Service unavailable", 0);
    else
        dispatch_pump(d, p);
    return read;
}

void dispatch_fail_queue(dispatch_t *d, pool_t *p, int status, const char *error, int retry_after)
{
    (void)d;
    pool_queue_t *q = pool_queue(p);
    while (q->len != 0) {
        request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, link, q->items.next);
        rq_event_t e = {.kind = RE_REJECT, .status = status, .error = error, .retry_after = retry_after};
        run(r, &e);
    }
}

void dispatch_fail_all(dispatch_t *d, pool_t *const *pools, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        dispatch_fail_queue(d, pools[i], 503, "Shutting down", 0);
    /* Then what workers own: a snapshot by id, since answering may free requests. */
    size_t cnt = d->map.count, k = 0;
    uint64_t *ids = malloc((cnt + 1) * sizeof(*ids));
    if (ids == NULL)
        abort();
    for (size_t b = 0; b < d->map.nbuckets; ++b)
        for (request_t *r = d->map.buckets[b]; r != NULL; r = r->map_next)
            ids[k++] = r->id;
    for (size_t i = 0; i < k; ++i) {
        request_t *r = map_get(&d->map, ids[i]);
        if (r != NULL)
            post(r, RE_STOP);
    }
    free(ids);
}

/* ---------------------------------------------------------------- life */

dispatch_t *dispatch_create(const uhw_config_t *cfg, timers_t *timers, victims_t *victims)
{
    dispatch_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        abort();
    d->cfg = cfg;
    d->timers = timers;
    d->victims = victims;
    return d;
}

void dispatch_on_idle(dispatch_t *d, void (*fn)(void *arg), void *arg)
{
    d->on_idle = fn;
    d->on_idle_arg = arg;
}

void dispatch_set_config(dispatch_t *d, const uhw_config_t *cfg)
{
    d->cfg = cfg;
}

void dispatch_free(dispatch_t *d)
{
    /* Requests still owned by workers when uhw exits (their workers were killed) */
    for (size_t b = 0; b < d->map.nbuckets; ++b) {
        for (request_t *r = d->map.buckets[b], *next; r != NULL; r = next) {
            next = r->map_next;
            if (r->req == NULL)
                request_free(r);
        }
    }
    free(d->map.buckets);
    free(d);
}

const counters_t *dispatch_counters(const dispatch_t *d)
{
    return &d->counters;
}

size_t dispatch_pending(const dispatch_t *d)
{
    return d->pending;
}

size_t dispatch_live(const dispatch_t *d)
{
    return d->live;
}
