/*
 * control.c — see control.h.
 */
#include "control.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reply.h"

#include "frame.h"

#define TAIL_TICK_MS 200 /* how often `uhw tail -f` looks for new lines */

typedef struct control_handler {
    h2o_handler_t super;
    const control_ops_t *ops;
    void *ctx;
    timers_t *timers;
} control_handler_t;

static int is_method(const h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int path_is(h2o_iovec_t path, const char *p)
{
    return h2o_memis(path.base, path.len, p, strlen(p));
}

static void method_not_allowed(h2o_req_t *req, const char *allowed)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allowed, strlen(allowed));
    reply_error(req, 405, "Method not allowed", allowed, 0, 0);
}

/* POST /pools/NAME/VERB: NAME into name (NUL-terminated), 1 if the path has that shape. */
static int pool_verb(h2o_iovec_t path, const char *verb, char *name, size_t namesz)
{
    static const char prefix[] = "/pools/";
    size_t vlen = strlen(verb), plen = sizeof(prefix) - 1;
    if (path.len <= plen + vlen + 1 || memcmp(path.base, prefix, plen) != 0 ||
        memcmp(path.base + path.len - vlen, verb, vlen) != 0 || path.base[path.len - vlen - 1] != '/')
        return 0;
    size_t len = path.len - plen - vlen - 1;
    if (len == 0 || len >= namesz || memchr(path.base + plen, '/', len) != NULL)
        return 0;
    memcpy(name, path.base + plen, len);
    name[len] = '\0';
    return 1;
}

/* The answer to a pool operation's result code. */
static void pool_result(h2o_req_t *req, int rc, const char *result, const char *pool)
{
    switch (rc) {
    case 0:
        reply_json(req, 200, json_pack("{s:s, s:s}", "result", result, "pool", pool));
        break;
    case -1:
        reply_error(req, 404, "No such pool", pool, 0, 0);
        break;
    case -2:
        reply_error(req, 409, "Not running", "the server is starting or stopping", 0, 0);
        break;
    default:
        reply_error(req, 400, "Bad request", "workers must be 1..1024", 0, 0);
        break;
    }
}

/* The value of query parameter `key` as an unsigned number, or -1. */
static long query_number(const h2o_req_t *req, const char *key)
{
    if (req->query_at == SIZE_MAX)
        return -1;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t klen = strlen(key);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        if ((size_t)(stop - q) > klen && memcmp(q, key, klen) == 0 && q[klen] == '=') {
            long v = 0;
            const char *p = q + klen + 1;
            if (p == stop)
                return -1;
            for (; p < stop; ++p) {
                if (*p < '0' || *p > '9' || v > 1000000)
                    return -1;
                v = v * 10 + (*p - '0');
            }
            return v;
        }
        q = stop + 1;
    }
    return -1;
}

/* A request answered later (reload). The client may leave meanwhile: h2o then disposes of the
 * request, and the hook in its memory pool tells the pending answer not to touch it. */
typedef struct later {
    h2o_req_t *req; /* NULL once h2o disposed of it */
    struct later_hook *hook;
} later_t;

struct later_hook {
    later_t *later;
};

static void later_gone(void *p)
{
    struct later_hook *hook = p;
    if (hook->later != NULL)
        hook->later->req = NULL;
}

static void answer_later(void *arg, int status, json_t *result)
{
    later_t *l = arg;
    if (l->req != NULL) {
        l->hook->later = NULL;
        reply_json(l->req, status, result);
    } else {
        json_decref(result);
    }
    free(l);
}

/* ---------------------------------------------------------------- uhw tail */

/* GET /pools/NAME/tail?slot=N&lines=N[&follow=1]: the lines, or (follow) a response that stays open
 * and gets each new line as it is written, until the client leaves or the pool goes away. */
typedef struct follower {
    h2o_generator_t gen;
    h2o_req_t *req;               /* NULL once h2o disposed of it */
    struct follower_hook *hook;
    control_handler_t *h;
    void *cursor;
    utimer_t tick;
    int busy;                     /* an h2o_send waits for proceed */
    int ended;                    /* the pool is gone: the final send was made */
    int sending_now;              /* inside h2o_send, which may dispose of the request */
    int dead;                     /* disposed of meanwhile: free once out of h2o_send */
    frame_buf_t pending, sending;
} follower_t;

struct follower_hook {
    follower_t *f;
};

static void add_line(void *arg, const char *line)
{
    frame_buf_t *b = arg;
    if (frame_buf_append(b, line, strlen(line)) != 0 || frame_buf_append(b, "\n", 1) != 0)
        abort();
}

static void follower_free(follower_t *f)
{
    timers_cancel(f->h->timers, &f->tick);
    f->h->ops->tail_close(f->h->ctx, f->cursor);
    frame_buf_free(&f->pending);
    frame_buf_free(&f->sending);
    free(f);
}

static void follower_send(follower_t *f)
{
    if (f->req == NULL || f->busy || f->ended)
        return;
    int gone = f->h->ops->tail_read(f->h->ctx, f->cursor, add_line, &f->pending) != 0;
    if (frame_buf_size(&f->pending) == 0 && !gone)
        return;
    frame_buf_t tmp = f->sending;
    f->sending = f->pending;
    f->pending = tmp;
    frame_buf_reset(&f->pending);
    h2o_iovec_t buf = h2o_iovec_init(frame_buf_bytes(&f->sending), frame_buf_size(&f->sending));
    if (gone)
        f->ended = 1;
    else
        f->busy = 1;
    h2o_send(f->req, &buf, buf.len != 0 ? 1 : 0, gone ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void on_follow_tick(utimer_t *t)
{
    follower_t *f = H2O_STRUCT_FROM_MEMBER(follower_t, tick, t);
    f->sending_now = 1;
    follower_send(f);
    f->sending_now = 0;
    if (f->dead) {
        follower_free(f);
        return;
    }
    if (!f->ended)
        timers_schedule(f->h->timers, &f->tick, timers_now(f->h->timers) + TAIL_TICK_MS);
}

static void on_follow_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    follower_t *f = H2O_STRUCT_FROM_MEMBER(follower_t, gen, gen);
    f->busy = 0; /* the next tick sends what came meanwhile */
}

static void on_follow_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    H2O_STRUCT_FROM_MEMBER(follower_t, gen, gen)->busy = 0;
}

static void on_follow_dispose(void *p)
{
    struct follower_hook *hook = p;
    follower_t *f = hook->f;
    if (f == NULL)
        return;
    f->req = NULL;
    if (f->sending_now)
        f->dead = 1; /* on_follow_tick frees it once h2o_send has returned */
    else
        follower_free(f);
}

static void tail(control_handler_t *h, h2o_req_t *req, const char *pool)
{
    long slot = query_number(req, "slot"), lines = query_number(req, "lines"), follow = query_number(req, "follow");
    int status = 404;
    void *cursor = h->ops->tail_open(h->ctx, pool, slot < 0 ? -1 : (int)slot, lines < 0 ? 10 : (unsigned)lines, &status);
    if (cursor == NULL) {
        reply_error(req, status, slot < 0 ? "No such pool" : "No such pool or slot", pool, 0, 0);
        return;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    if (follow != 1) {
        frame_buf_t b;
        frame_buf_init(&b);
        h->ops->tail_read(h->ctx, cursor, add_line, &b);
        h->ops->tail_close(h->ctx, cursor);
        h2o_iovec_t body = h2o_strdup(&req->pool, (const char *)frame_buf_bytes(&b), frame_buf_size(&b));
        frame_buf_free(&b);
        req->res.content_length = body.len;
        h2o_send_inline(req, body.base, body.len);
        return;
    }
    follower_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    f->req = req;
    f->h = h;
    f->cursor = cursor;
    f->gen.proceed = on_follow_proceed;
    f->gen.stop = on_follow_stop;
    frame_buf_init(&f->pending);
    frame_buf_init(&f->sending);
    utimer_init(&f->tick, on_follow_tick);
    f->hook = h2o_mem_alloc_shared(&req->pool, sizeof(*f->hook), on_follow_dispose);
    f->hook->f = f;
    f->busy = 1; /* the headers go out now; lines follow on the next ticks */
    timers_defer(h->timers, &f->tick);
    f->sending_now = 1;
    h2o_start_response(req, &f->gen);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
    f->sending_now = 0;
    if (f->dead)
        follower_free(f);
}

static int on_control_req(h2o_handler_t *self, h2o_req_t *req)
{
    control_handler_t *h = (control_handler_t *)self;
    h2o_iovec_t path = req->path_normalized;
    char name[128];

    if (path_is(path, "/status")) {
        if (!is_method(req, "GET") && !is_method(req, "HEAD"))
            method_not_allowed(req, "GET");
        else
            reply_json(req, 200, h->ops->status(h->ctx));
        return 0;
    }
    if (path_is(path, "/stop")) {
        if (!is_method(req, "POST")) {
            method_not_allowed(req, "POST");
            return 0;
        }
        if (query_number(req, "wait") == 1) { /* answered when the server is about to exit */
            later_t *l = calloc(1, sizeof(*l));
            if (l == NULL)
                abort();
            l->req = req;
            l->hook = h2o_mem_alloc_shared(&req->pool, sizeof(*l->hook), later_gone);
            l->hook->later = l;
            h->ops->stop(h->ctx, answer_later, l);
            return 0;
        }
        reply_json(req, 200, json_pack("{s:s, s:i}", "result", "stopping", "pid", (int)getpid()));
        h->ops->stop(h->ctx, NULL, NULL);
        return 0;
    }
    if (pool_verb(path, "restart", name, sizeof(name))) {
        if (!is_method(req, "POST"))
            method_not_allowed(req, "POST");
        else
            pool_result(req, h->ops->restart(h->ctx, name), "restarting", name);
        return 0;
    }
    if (pool_verb(path, "tail", name, sizeof(name))) {
        if (!is_method(req, "GET") && !is_method(req, "HEAD"))
            method_not_allowed(req, "GET");
        else
            tail(h, req, name);
        return 0;
    }
    if (pool_verb(path, "scale", name, sizeof(name))) {
        long n = query_number(req, "workers");
        if (!is_method(req, "POST"))
            method_not_allowed(req, "POST");
        else
            pool_result(req, n < 1 || n > 1024 ? -3 : h->ops->scale(h->ctx, name, (unsigned)n), "scaled", name);
        return 0;
    }
    if (path_is(path, "/metrics")) {
        if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
            method_not_allowed(req, "GET");
            return 0;
        }
        size_t len;
        char *text = h->ops->metrics(h->ctx, &len);
        req->res.status = 200;
        req->res.reason = "OK";
        req->res.content_length = len;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
        h2o_send_inline(req, text, len);
        free(text);
        return 0;
    }
    if (path_is(path, "/reload")) {
        if (!is_method(req, "POST")) {
            method_not_allowed(req, "POST");
            return 0;
        }
        later_t *l = calloc(1, sizeof(*l));
        if (l == NULL)
            abort();
        l->req = req;
        l->hook = h2o_mem_alloc_shared(&req->pool, sizeof(*l->hook), later_gone);
        l->hook->later = l;
        h->ops->reload(h->ctx, answer_later, l);
        return 0;
    }
    reply_error(req, 404, "Not found",
                "control endpoints: GET /status, GET /metrics, POST /reload, POST /stop, POST /pools/NAME/restart, "
                "POST /pools/NAME/scale?workers=N, GET /pools/NAME/tail?slot=N&lines=N&follow=1",
                0, 0);
    return 0;
}

void control_register(h2o_hostconf_t *host, const control_ops_t *ops, void *ctx, timers_t *timers)
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    control_handler_t *h = (control_handler_t *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_control_req;
    h->ops = ops;
    h->ctx = ctx;
    h->timers = timers;
}
