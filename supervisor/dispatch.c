/*
 * dispatch.c — requests between h2o and workers; see dispatch.h.
 */
#include "dispatch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "log.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "victims.h"

/* Stream bytes buffered for one client before uhw stops reading the worker's stdout,
 * and the level under which it reads again. */
#define STREAM_HIGH_WATER ((size_t)1 << 20)
#define STREAM_LOW_WATER ((size_t)256 << 10)

struct request_hook {
    request_t *r;
};

static void on_request_timer(utimer_t *t);
static void on_proceed(h2o_generator_t *gen, h2o_req_t *req);
static void on_stop(h2o_generator_t *gen, h2o_req_t *req);

/* ---------------------------------------------------------------- id map */

static size_t bucket_of(const reqmap_t *m, uint64_t id)
{
    /* ids are sequential; a multiplicative hash spreads them anyway */
    return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 20) & (m->nbuckets - 1);
}

static void reqmap_put(reqmap_t *m, request_t *r)
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

static request_t *reqmap_get(const reqmap_t *m, uint64_t id)
{
    if (m->nbuckets == 0)
        return NULL;
    for (request_t *e = m->buckets[bucket_of(m, id)]; e != NULL; e = e->map_next)
        if (e->id == id)
            return e;
    return NULL;
}

static void reqmap_del(reqmap_t *m, request_t *r)
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

void dispatch_dispose(server_t *srv)
{
    free(srv->reqmap.buckets);
    memset(&srv->reqmap, 0, sizeof(srv->reqmap));
}

/* ---------------------------------------------------------------- small helpers */

static const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

static int is_head(const h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
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

void respond_json(h2o_req_t *req, int status, void *json_obj)
{
    json_t *o = json_obj;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL)
        abort();
    size_t len = strlen(s);
    h2o_iovec_t body = h2o_strdup(&req->pool, s, len + 1);
    free(s);
    body.base[len] = '\n';
    body.len = len + 1;
    req->res.status = status;
    req->res.reason = http_reason(status);
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body.base, body.len);
}

void respond_error(h2o_req_t *req, int status, const char *error, const char *reason, int retry_after, uint64_t id)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(error));
    if (reason != NULL)
        json_object_set_new(o, "reason", json_string(reason));
    if (id != 0)
        json_object_set_new(o, "request_id", json_integer((json_int_t)id));
    if (retry_after > 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 16);
        int n = snprintf(v, 16, "%d", retry_after);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    }
    respond_json(req, status, o);
}

/* Rejected at admission: counted as "rejected" too. */
static void reject(server_t *srv, pool_t *pool, h2o_req_t *req, int status, const char *error, const char *reason,
                   int retry_after)
{
    ++srv->counters.rejected;
    ++pool->stats.rejected;
    server_count_status(srv, status);
    pool_count_status(pool, status);
    respond_error(req, status, error, reason, retry_after, 0);
}

/* Counts the answer to `r` (server and pool) and, for a complete answer, how long it took. */
static void count_answer(request_t *r, int status, int complete)
{
    server_count_status(r->srv, status);
    pool_count_status(r->pool, status);
    if (complete)
        pool_observe_duration(r->pool, (double)(now_ms() - r->accepted_at) / 1000.0);
}

/* ---------------------------------------------------------------- request life */

static void uncount_pending(request_t *r)
{
    if (r->counted_pending) {
        r->counted_pending = 0;
        --r->srv->pending;
    }
}

static void request_maybe_free(request_t *r)
{
    if (r->req != NULL || r->worker != NULL || r->state == RQ_QUEUED || r->in_h2o_call)
        return;
    server_t *srv = r->srv;
    timers_cancel(&srv->timers, &r->timer);
    uncount_pending(r);
    if (r->held != NULL)
        uhw__v1__from_worker__free_unpacked(r->held, NULL);
    frame_buf_free(&r->pending);
    frame_buf_free(&r->sending);
    free(r);
    if (srv->phase >= PHASE_STOPPING)
        server_check_stopped(srv);
}

/* The worker no longer owns `r` (it answered, or it is gone). */
static void release(request_t *r)
{
    worker_t *w = r->worker;
    if (w == NULL)
        return;
    if (r->backpressured) {
        r->backpressured = 0;
        worker_backpressure(w, -1);
    }
    h2o_linklist_unlink(&r->link);
    reqmap_del(&r->srv->reqmap, r);
    r->worker = NULL;
    worker_on_release(w);
}

/* Runs an h2o call that may dispose of the request synchronously (closing the connection),
 * keeping `r` alive across it; frees it afterwards if it is no longer needed. */
#define H2O_CALL(r, call)                                                                                                  \
    do {                                                                                                                   \
        (r)->in_h2o_call = 1;                                                                                              \
        call;                                                                                                              \
        (r)->in_h2o_call = 0;                                                                                              \
    } while (0)

/* Answers `r` with a JSON error; it is DONE afterwards. */
static void answer_error(request_t *r, int status, const char *error, const char *reason, int retry_after)
{
    r->state = RQ_DONE;
    uncount_pending(r);
    timers_cancel(&r->srv->timers, &r->timer);
    count_answer(r, status, 1);
    if (r->req != NULL)
        H2O_CALL(r, respond_error(r->req, status, error, reason, retry_after, r->id));
}

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

/* The answer is no longer wanted but the worker still owns the request: keep its slot
 * busy until the worker finishes it, or stuck_timeout passes. */
static void make_tombstone(request_t *r, Uhw__V1__Cancel__Reason reason)
{
    send_cancel(r, reason);
    if (r->backpressured) {
        /* Nobody will read what is buffered: let the worker's stdout flow again, or it stays
         * blocked writing and never reads the Cancel. */
        r->backpressured = 0;
        worker_backpressure(r->worker, -1);
    }
    frame_buf_reset(&r->pending);
    r->tombstone = 1;
    r->state = RQ_DONE;
    uncount_pending(r);
    timers_schedule(&r->srv->timers, &r->timer, now_ms() + r->pool->cfg->stuck_timeout_ms);
}

static void on_req_dispose(void *p)
{
    struct request_hook *hook = p;
    request_t *r = hook->r;
    if (r == NULL)
        return;
    r->req = NULL;
    r->hook = NULL;
    r->h2o_busy = 0;
    --r->srv->live_requests;
    switch (r->state) {
    case RQ_QUEUED:
        h2o_linklist_unlink(&r->link);
        --r->pool->queued;
        r->state = RQ_DONE;
        uncount_pending(r);
        break;
    case RQ_ASSIGNED:
    case RQ_STREAMING:
        /* client gone before the answer */
        log_msg(LOG_DEBUG, r->worker->who, "id=%llu client went away; sending Cancel", (unsigned long long)r->id);
        make_tombstone(r, UHW__V1__CANCEL__REASON__CLIENT_GONE);
        break;
    case RQ_DONE:
        break;
    }
    request_maybe_free(r);
}

/* ---------------------------------------------------------------- admission */

void dispatch_submit(server_t *srv, pool_t *pool, h2o_req_t *req)
{
    const cfg_pool_t *pc = pool->cfg;
    const uhw_config_t *cfg = srv->cfg;
    char why[160];

    if (pool->state == PS_DEGRADED) {
        snprintf(why, sizeof(why), "pool '%s' is degraded after repeated worker failures", pc->name);
        reject(srv, pool, req, 503, "Service unavailable", why, 0);
        return;
    }
    if (pool_alive(pool) == 0) {
        snprintf(why, sizeof(why), "pool '%s' has no running worker", pc->name);
        reject(srv, pool, req, 503, "No workers available", why, 1);
        return;
    }
    if (srv->pending >= cfg->max_pending) {
        reject(srv, pool, req, 503, "Too many requests", "max_pending reached", 1);
        return;
    }
    int must_wait = !h2o_linklist_is_empty(&pool->queue) || pool_pick_worker(pool) == NULL;
    if (must_wait && pool->queued >= pc->queue_limit) {
        snprintf(why, sizeof(why), "pool '%s' has %zu requests waiting (queue_limit)", pc->name, pool->queued);
        reject(srv, pool, req, 503, "Queue full", why, 1);
        return;
    }
    if (req->entity.len > cfg->max_body) {
        reject(srv, pool, req, 413, "Request body too large", "max_body exceeded", 0);
        return;
    }
    /* path and query travel as protobuf strings, which other runtimes require to be UTF-8 */
    if (!utf8_valid((const unsigned char *)req->path.base, req->path.len)) {
        reject(srv, pool, req, 400, "Bad request", "the request target is not valid UTF-8", 0);
        return;
    }

    request_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    r->id = ++srv->next_request_id;
    r->srv = srv;
    r->pool = pool;
    r->req = req;
    r->hook = h2o_mem_alloc_shared(&req->pool, sizeof(*r->hook), on_req_dispose);
    r->hook->r = r;
    r->gen.proceed = on_proceed;
    r->gen.stop = on_stop;
    r->body_size = req->entity.len;
    frame_buf_init(&r->pending);
    frame_buf_init(&r->sending);
    utimer_init(&r->timer, on_request_timer);
    r->accepted_at = now_ms();
    r->deadline = r->accepted_at + pc->timeout_ms;
    timers_schedule(&srv->timers, &r->timer, r->deadline);
    ++srv->live_requests;
    ++srv->pending;
    r->counted_pending = 1;
    ++pool->requests;
    r->state = RQ_QUEUED;
    h2o_linklist_insert(&pool->queue, &r->link);
    ++pool->queued;
    dispatch_pump(pool);
}

/* ---------------------------------------------------------------- assignment */

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

/* Encodes `r` as a Request frame onto the worker's stdin. */
static void send_request(request_t *r, worker_t *w)
{
    h2o_req_t *req = r->req;
    h2o_mem_pool_t *mp = &req->pool;
    Uhw__V1__Request rq = UHW__V1__REQUEST__INIT;
    char version[16], host[NI_MAXHOST] = "";
    unsigned port = 0;

    rq.id = r->id;
    rq.method = pool_strdup(mp, req->method.base, req->method.len);
    if (req->query_at != SIZE_MAX) {
        rq.path = pool_strdup(mp, req->path.base, req->query_at);
        rq.query = pool_strdup(mp, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
    } else {
        rq.path = pool_strdup(mp, req->path.base, req->path.len);
        rq.query = "";
    }
    /* h2o keeps Host (HTTP/1) and :authority (HTTP/2) out of req->headers, in
     * req->input.authority; the contract gives it to workers as the header `host`. */
    size_t n = req->headers.size, total = n + (req->input.authority.len != 0);
    Uhw__V1__Header *hs = total ? calloc(total, sizeof(*hs)) : NULL;
    Uhw__V1__Header **hp = total ? calloc(total, sizeof(*hp)) : NULL;
    if (total && (hs == NULL || hp == NULL))
        abort();
    for (size_t i = 0; i < n; ++i) {
        const h2o_header_t *h = req->headers.entries + i;
        uhw__v1__header__init(&hs[i]);
        hs[i].name = pool_strdup(mp, h->name->base, h->name->len);
        hs[i].value.data = (uint8_t *)h->value.base;
        hs[i].value.len = h->value.len;
        hp[i] = &hs[i];
    }
    if (total > n) {
        uhw__v1__header__init(&hs[n]);
        hs[n].name = "host";
        hs[n].value.data = (uint8_t *)req->input.authority.base;
        hs[n].value.len = req->input.authority.len;
        hp[n] = &hs[n];
    }
    n = total;
    rq.n_headers = n;
    rq.headers = hp;
    rq.body.data = (uint8_t *)req->entity.base;
    rq.body.len = req->entity.base != NULL ? req->entity.len : 0;
    request_peer(req, host, &port);
    rq.remote_addr = host;
    rq.remote_port = port;
    rq.scheme = pool_strdup(mp, req->scheme->name.base, req->scheme->name.len);
    version[h2o_stringify_protocol_version(version, req->version)] = '\0';
    rq.http_version = version;
    rq.pool = r->pool->cfg->name;
    uint64_t now = now_ms();
    rq.timeout_ms = r->deadline > now ? (uint32_t)(r->deadline - now) : 1;

    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    m.msg_case = UHW__V1__TO_WORKER__MSG_REQUEST;
    m.request = &rq;
    worker_send(w, &m.base);
    free(hp);
    free(hs);
}

static void assign(request_t *r, worker_t *w)
{
    r->state = RQ_ASSIGNED;
    r->worker = w;
    h2o_linklist_insert(&w->inflight, &r->link);
    reqmap_put(&r->srv->reqmap, r);
    worker_on_assign(w);
    send_request(r, w);
}

void dispatch_pump(pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->queue)) {
        worker_t *w = pool_pick_worker(pool);
        if (w == NULL)
            return;
        request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, link, pool->queue.next);
        h2o_linklist_unlink(&r->link);
        --pool->queued;
        assign(r, w);
    }
    if (pool->draining)
        pool_drain_progress(pool);
}

/* ---------------------------------------------------------------- deadlines */

static void on_request_timer(utimer_t *t)
{
    request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, timer, t);
    uint64_t now = now_ms();
    if (r->tombstone) {
        worker_t *w = r->worker;
        if (w != NULL) {
            log_msg(LOG_WARNING, w->who,
                    "id=%llu: no answer %llu ms after the request was cancelled; counting its slot as free",
                    (unsigned long long)r->id, (unsigned long long)r->pool->cfg->stuck_timeout_ms);
            pool_t *pool = r->pool;
            release(r);
            request_maybe_free(r);
            dispatch_pump(pool);
        }
        return;
    }
    if (now < r->deadline) { /* KeepAlive moved the deadline */
        timers_schedule(&r->srv->timers, t, r->deadline);
        return;
    }
    ++r->srv->counters.timeouts;
    ++r->pool->stats.timeouts;
    char why[200];
    switch (r->state) {
    case RQ_QUEUED:
        h2o_linklist_unlink(&r->link);
        --r->pool->queued;
        snprintf(why, sizeof(why), "no worker of pool '%s' became free within timeout (%llu ms)", r->pool->cfg->name,
                 (unsigned long long)r->pool->cfg->timeout_ms);
        log_msg(LOG_WARNING, NULL, "id=%llu %.*s %.*s: %s", (unsigned long long)r->id, (int)r->req->method.len,
                r->req->method.base, (int)r->req->path.len, r->req->path.base, why);
        answer_error(r, 504, "Gateway timeout", why, 0);
        request_maybe_free(r);
        break;
    case RQ_ASSIGNED: {
        worker_t *w = r->worker;
        snprintf(why, sizeof(why), "worker %s did not answer within timeout (%llu ms)", w->who,
                 (unsigned long long)r->pool->cfg->timeout_ms);
        log_msg(LOG_WARNING, w->who, "id=%llu %.*s %.*s timed out after %llu ms; sending Cancel", (unsigned long long)r->id,
                (int)r->req->method.len, r->req->method.base, (int)r->req->path.len, r->req->path.base,
                (unsigned long long)(now - r->accepted_at));
        answer_error(r, 504, "Gateway timeout", why, 0);
        make_tombstone(r, UHW__V1__CANCEL__REASON__TIMEOUT);
        break;
    }
    case RQ_STREAMING:
    case RQ_DONE:
        break;
    }
}

/* ---------------------------------------------------------------- responses */

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
        const char *problem = rules_header_problem(name, len, hs[i]->value.data, hs[i]->value.len);
        if (problem != NULL) {
            char nm[80], val[80];
            snprintf(why, whysz, "refused response header %s: %s (value %s)", log_excerpt(nm, sizeof(nm), name, len, 40),
                     problem, log_excerpt(val, sizeof(val), hs[i]->value.data, hs[i]->value.len, 40));
            return -1;
        }
        for (size_t k = 0; k < len; ++k)
            name[k] = (char)tolower((unsigned char)name[k]);
    }
    return 0;
}

/* Copies status and headers into h2o's response, in the request's memory pool: h2o writes
 * them out after the frame they came in is freed. Content-Length is h2o's business. */
static void set_head(h2o_req_t *req, uint32_t status, Uhw__V1__Header **hs, size_t n)
{
    req->res.status = (int)status;
    req->res.reason = http_reason((int)status);
    for (size_t i = 0; i < n; ++i) {
        const char *name = hs[i]->name;
        if (strcmp(name, "content-length") == 0)
            continue;
        h2o_iovec_t nm = h2o_strdup(&req->pool, name, strlen(name));
        h2o_iovec_t v = h2o_strdup(&req->pool, (const char *)hs[i]->value.data, hs[i]->value.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, nm.base, nm.len, 1, NULL, v.base, v.len);
    }
}

static void send_response(request_t *r, Uhw__V1__FromWorker *m)
{
    Uhw__V1__Response *resp = m->response;
    h2o_req_t *req = r->req;
    r->state = RQ_DONE;
    uncount_pending(r);
    timers_cancel(&r->srv->timers, &r->timer);
    r->held = m; /* h2o points into its body until the request is disposed of */
    set_head(req, resp->status, resp->headers, resp->n_headers);
    req->res.content_length = resp->body.len;
    count_answer(r, (int)resp->status, 1);
    h2o_iovec_t body = h2o_iovec_init(resp->body.data, resp->body.len);
    H2O_CALL(r, {
        h2o_start_response(req, &r->gen);
        h2o_send(req, &body, body.len != 0 && !is_head(req) ? 1 : 0, H2O_SEND_STATE_FINAL);
    });
}

/* Gives pending stream bytes (and the end, if due) to h2o, one send at a time. */
static void send_pending(request_t *r)
{
    if (r->h2o_busy || r->req == NULL)
        return;
    if (frame_buf_size(&r->pending) == 0 && r->end == 0)
        return;
    frame_buf_t tmp = r->sending;
    r->sending = r->pending;
    r->pending = tmp;
    frame_buf_reset(&r->pending);
    h2o_iovec_t buf = h2o_iovec_init(frame_buf_bytes(&r->sending), frame_buf_size(&r->sending));
    h2o_send_state_t st = r->end == 0 ? H2O_SEND_STATE_IN_PROGRESS
                          : r->end == 1 ? H2O_SEND_STATE_FINAL
                                        : H2O_SEND_STATE_ERROR;
    if (r->end != 0) {
        r->state = RQ_DONE;
        uncount_pending(r);
    }
    r->h2o_busy = st == H2O_SEND_STATE_IN_PROGRESS;
    H2O_CALL(r, h2o_send(r->req, &buf, buf.len != 0 ? 1 : 0, st));
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, gen, gen);
    r->h2o_busy = 0;
    frame_buf_reset(&r->sending);
    if (r->backpressured && frame_buf_size(&r->pending) < STREAM_LOW_WATER) {
        r->backpressured = 0;
        worker_backpressure(r->worker, -1); /* may read more frames, even for this stream */
    }
    send_pending(r);
    request_maybe_free(r);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, gen, gen);
    r->h2o_busy = 0; /* h2o is done with `sending`; the dispose callback follows */
}

static void start_stream(request_t *r, Uhw__V1__StreamStart *s)
{
    h2o_req_t *req = r->req;
    r->state = RQ_STREAMING;
    timers_cancel(&r->srv->timers, &r->timer); /* streams are exempt from `timeout` once started */
    set_head(req, s->status, s->headers, s->n_headers);
    req->res.content_length = SIZE_MAX;
    count_answer(r, (int)s->status, 0); /* its duration is taken when it ends */
    /* An empty in-progress send puts the headers on the wire now (an SSE client wants them). */
    r->h2o_busy = 1;
    H2O_CALL(r, {
        h2o_start_response(req, &r->gen);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
    });
}

static void append_stream(request_t *r, const ProtobufCBinaryData *data)
{
    if (r->req == NULL || data->len == 0)
        return;
    if (frame_buf_append(&r->pending, data->data, data->len) != 0)
        abort();
    send_pending(r);
    if (!r->backpressured && r->worker != NULL &&
        frame_buf_size(&r->pending) + frame_buf_size(&r->sending) > STREAM_HIGH_WATER) {
        r->backpressured = 1;
        worker_backpressure(r->worker, +1);
    }
}

/* Ends the stream: cleanly (end = 1) or so the client sees it truncated (end = 2). */
static void end_stream(request_t *r, int end)
{
    r->end = end;
    r->state = RQ_DONE; /* the end may wait for h2o's proceed, but nothing else can happen to it */
    uncount_pending(r);
    pool_observe_duration(r->pool, (double)(now_ms() - r->accepted_at) / 1000.0);
    if (end == 2)
        frame_buf_reset(&r->pending);
    send_pending(r);
}

static uint64_t frame_id(const Uhw__V1__FromWorker *m)
{
    switch (m->msg_case) {
    case UHW__V1__FROM_WORKER__MSG_RESPONSE:
        return m->response->id;
    case UHW__V1__FROM_WORKER__MSG_STREAM_START:
        return m->stream_start->id;
    case UHW__V1__FROM_WORKER__MSG_STREAM_DATA:
        return m->stream_data->id;
    case UHW__V1__FROM_WORKER__MSG_STREAM_END:
        return m->stream_end->id;
    case UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE:
        return m->keep_alive->id;
    case UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED:
        return m->request_failed->id;
    default:
        return 0;
    }
}

int dispatch_on_frame(worker_t *w, Uhw__V1__FromWorker *m)
{
    server_t *srv = w->pool->srv;
    pool_t *pool = w->pool;
    uint64_t id = frame_id(m);
    request_t *r = reqmap_get(&srv->reqmap, id);
    if (r == NULL || r->worker != w) {
        /* late (already released), cancelled long ago, or never ours: never sent to anyone */
        log_msg(LOG_DEBUG, w->who, "dropped a frame for id=%llu, which this worker does not own", (unsigned long long)id);
        return 0;
    }
    int finishing = m->msg_case == UHW__V1__FROM_WORKER__MSG_RESPONSE || m->msg_case == UHW__V1__FROM_WORKER__MSG_STREAM_END ||
                    m->msg_case == UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED;
    if (r->tombstone) {
        /* Only a final frame matters: it frees the worker's slot. */
        if (finishing) {
            release(r);
            request_maybe_free(r);
            dispatch_pump(pool);
        }
        return 0;
    }
    char why[300];
    switch (m->msg_case) {
    case UHW__V1__FROM_WORKER__MSG_RESPONSE:
        if (r->state != RQ_ASSIGNED) {
            worker_kill(w, "protocol", "sent a Response for id=%llu after starting a stream", (unsigned long long)id);
            return 0;
        }
        if (validate_head(&m->response->status, m->response->headers, m->response->n_headers, why, sizeof(why)) != 0) {
            worker_kill(w, "protocol", "invalid Response for id=%llu: %s", (unsigned long long)id, why);
            return 0;
        }
        release(r);
        send_response(r, m);
        request_maybe_free(r);
        dispatch_pump(pool);
        return 1;
    case UHW__V1__FROM_WORKER__MSG_STREAM_START:
        if (r->state != RQ_ASSIGNED) {
            worker_kill(w, "protocol", "sent StreamStart twice for id=%llu", (unsigned long long)id);
            return 0;
        }
        if (validate_head(&m->stream_start->status, m->stream_start->headers, m->stream_start->n_headers, why,
                          sizeof(why)) != 0) {
            worker_kill(w, "protocol", "invalid StreamStart for id=%llu: %s", (unsigned long long)id, why);
            return 0;
        }
        start_stream(r, m->stream_start);
        return 0;
    case UHW__V1__FROM_WORKER__MSG_STREAM_DATA:
        if (r->state != RQ_STREAMING) {
            worker_kill(w, "protocol", "sent StreamData before StreamStart for id=%llu", (unsigned long long)id);
            return 0;
        }
        append_stream(r, &m->stream_data->data);
        return 0;
    case UHW__V1__FROM_WORKER__MSG_STREAM_END:
        if (r->state != RQ_STREAMING) {
            worker_kill(w, "protocol", "sent StreamEnd before StreamStart for id=%llu", (unsigned long long)id);
            return 0;
        }
        release(r);
        if (m->stream_end->error != NULL && m->stream_end->error[0] != '\0') {
            log_msg(LOG_WARNING, w->who, "id=%llu stream aborted by the worker: %s", (unsigned long long)id,
                    m->stream_end->error);
            end_stream(r, 2);
        } else {
            end_stream(r, 1);
        }
        request_maybe_free(r);
        dispatch_pump(pool);
        return 0;
    case UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED: {
        const Uhw__V1__RequestFailed *f = m->request_failed;
        int status = f->status == 0 ? 500 : (int)f->status;
        if (status != 500 && status != 502 && status != 503 && status != 504)
            status = 500;
        exit_info_t ei = {.reason = f->reason != NULL && f->reason[0] ? f->reason : "died",
                          .code = f->exit_code,
                          .signal = (int)f->signal,
                          .at_wall_ms = wall_ms()};
        snprintf(ei.detail, sizeof(ei.detail), "%s", f->detail != NULL ? f->detail : "");
        ++srv->counters.victims;
        ++pool->stats.victims;
        if (status == 504) {
            ++srv->counters.timeouts;
            ++pool->stats.timeouts;
        }
        victims_record(srv, w, r, r->req, &ei, status);
        release(r);
        snprintf(why, sizeof(why), "worker %s: %.200s", w->who, ei.detail);
        if (r->state == RQ_ASSIGNED)
            answer_error(r, status, status == 504 ? "Gateway timeout" : "Worker crashed", why, 0);
        else
            end_stream(r, 2);
        request_maybe_free(r);
        dispatch_pump(pool);
        return 0;
    }
    case UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE:
        if (r->state == RQ_ASSIGNED)
            r->deadline = now_ms() + r->pool->cfg->timeout_ms; /* the timer catches up lazily */
        return 0;
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------- failures */

void dispatch_fail_worker(worker_t *w, int status, const exit_info_t *ei)
{
    server_t *srv = w->pool->srv;
    char reason[700];
    snprintf(reason, sizeof(reason), "worker %s %s", w->who, ei->detail);
    while (!h2o_linklist_is_empty(&w->inflight)) {
        request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, link, w->inflight.next);
        release(r);
        if (r->tombstone || r->req == NULL) {
            request_maybe_free(r);
            continue;
        }
        ++srv->counters.victims;
        ++w->pool->stats.victims;
        victims_record(srv, w, r, r->req, ei, status);
        if (r->state == RQ_ASSIGNED)
            answer_error(r, status, status == 502 ? "Bad worker response" : "Worker crashed", reason, 0);
        else
            end_stream(r, 2); /* headers are out: the client sees a truncated response */
        request_maybe_free(r);
    }
}

void dispatch_fail_queue(pool_t *pool, int status, const char *error, int retry_after)
{
    while (!h2o_linklist_is_empty(&pool->queue)) {
        request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, link, pool->queue.next);
        h2o_linklist_unlink(&r->link);
        --pool->queued;
        ++pool->srv->counters.rejected;
        ++pool->stats.rejected;
        answer_error(r, status, error, NULL, retry_after);
        request_maybe_free(r);
    }
}

void dispatch_fail_all(server_t *srv)
{
    for (size_t i = 0; i < srv->npools; ++i) {
        pool_t *pool = srv->pools[i];
        dispatch_fail_queue(pool, 503, "Shutting down", 0);
        for (h2o_linklist_t *n = pool->workers.next; n != &pool->workers; n = n->next) {
            worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, pool_link, n);
            for (h2o_linklist_t *rn = w->inflight.next, *next; rn != &w->inflight; rn = next) {
                next = rn->next;
                request_t *r = H2O_STRUCT_FROM_MEMBER(request_t, link, rn);
                if (r->tombstone)
                    continue;
                if (r->state == RQ_ASSIGNED) {
                    answer_error(r, 503, "Shutting down", "shutdown_timeout passed before the worker answered", 0);
                    make_tombstone(r, UHW__V1__CANCEL__REASON__SHUTDOWN);
                } else if (r->state == RQ_STREAMING) {
                    send_cancel(r, UHW__V1__CANCEL__REASON__SHUTDOWN);
                    r->tombstone = 1;
                    end_stream(r, 2);
                }
            }
        }
    }
}
