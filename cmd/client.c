/*
 * client.c — see client.h.
 */
#include "client.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/http1client.h>

#include "rules.h"

#define CONTROL_TIMEOUT_MS 10000

typedef struct client_state {
    int method_is_head;
    int want_headers;       /* copy the response headers into res */
    h2o_iovec_t reqbufs[2]; /* head, body */
    size_t nreqbufs;
    client_result_t *res;
    char *body;
    size_t len, cap;
    int (*on_chunk)(void *arg, const char *bytes, size_t len); /* streams a 2xx body (client_options_t) */
    void *arg;
    int streaming;          /* this body goes to on_chunk */
    int done;               /* h2o closed the client: nothing of it is left to cancel */
    int interrupted;        /* SIGINT came first: the client is still open */
} client_state_t;

static void collect(client_state_t *st, const char *bytes, size_t n)
{
    if (st->len + n + 1 > st->cap) {
        st->cap = (st->len + n + 1) * 2;
        char *b = realloc(st->body, st->cap);
        if (b == NULL)
            abort();
        st->body = b;
    }
    memcpy(st->body + st->len, bytes, n);
    st->len += n;
}

static int on_body(h2o_http1client_t *client, const char *errstr)
{
    client_state_t *st = client->data;
    h2o_buffer_t *in = client->sock->input;
    int stop = 0;
    if (in->size != 0) {
        if (st->streaming)
            stop = st->on_chunk(st->arg, in->bytes, in->size) != 0;
        else
            collect(st, in->bytes, in->size);
        h2o_buffer_consume(&client->sock->input, in->size);
    }
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos)
        snprintf(st->res->error, sizeof(st->res->error), "%s", errstr);
    if (errstr != NULL || stop) {
        st->done = 1; /* h2o closes the client when we return (either way) */
        return -1;
    }
    return 0;
}

static char *dupn(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status,
                                       h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen)
{
    (void)rlen;
    client_state_t *st = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        snprintf(st->res->error, sizeof(st->res->error), "%s", errstr);
        st->done = 1;
        return NULL;
    }
    st->res->status = status;
    st->res->minor_version = minor_version;
    snprintf(st->res->reason, sizeof(st->res->reason), "%.*s", (int)msg.len, msg.base);
    if (st->want_headers && num_headers != 0) {
        st->res->headers = calloc(num_headers, sizeof(*st->res->headers));
        if (st->res->headers == NULL)
            abort();
        for (size_t i = 0; i < num_headers; ++i) {
            client_header_t *h = &st->res->headers[i];
            h->name = dupn(headers[i].orig_name != NULL ? headers[i].orig_name : headers[i].name->base,
                           headers[i].name->len);
            h->value = dupn(headers[i].value.base, headers[i].value.len);
            h->value_len = headers[i].value.len;
        }
        st->res->nheaders = num_headers;
    }
    if (errstr == h2o_http1client_error_is_eos) { /* no body */
        st->done = 1;
        return NULL;
    }
    st->streaming = st->on_chunk != NULL && status / 100 == 2;
    return on_body;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs,
                                          size_t *reqbufcnt, int *method_is_head)
{
    client_state_t *st = client->data;
    if (errstr != NULL) {
        snprintf(st->res->error, sizeof(st->res->error), "%s", errstr);
        st->done = 1;
        return NULL;
    }
    *reqbufs = st->reqbufs;
    *reqbufcnt = st->nreqbufs;
    *method_is_head = st->method_is_head;
    return on_head;
}

/* SIGINT read from a signalfd (client_options_t.interruptible). */
typedef struct interrupt {
    sigset_t old_mask;
    h2o_socket_t *sock;
} interrupt_t;

static void on_sigint(h2o_socket_t *sock, const char *err)
{
    client_state_t *st = sock->data;
    if (err != NULL) { /* cannot happen with a signalfd; never read it again */
        h2o_socket_read_stop(sock);
        return;
    }
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (!st->done)
        st->interrupted = 1;
}

static int interrupt_begin(interrupt_t *it, h2o_evloop_t *loop, client_state_t *st)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, &it->old_mask) != 0)
        return -1;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        sigprocmask(SIG_SETMASK, &it->old_mask, NULL);
        return -1;
    }
    it->sock = h2o_evloop_socket_create(loop, fd, 0);
    it->sock->data = st;
    h2o_socket_read_start(it->sock, on_sigint);
    return 0;
}

static void interrupt_end(interrupt_t *it)
{
    h2o_socket_close(it->sock); /* closes the signalfd */
    sigprocmask(SIG_SETMASK, &it->old_mask, NULL);
}

/* Runs one exchange with the server at `sa` on a private event loop. */
static void exchange(struct sockaddr *sa, socklen_t salen, client_state_t *st, uint64_t timeout_ms, int interruptible)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_timeout_t io_timeout;
    h2o_timeout_init(loop, &io_timeout, timeout_ms);
    h2o_socketpool_t pool;
    h2o_socketpool_init_by_address(&pool, sa, salen, 0, 1);
    h2o_socketpool_set_timeout(&pool, loop, timeout_ms); /* also binds the pool to the loop */
    h2o_http1client_ctx_t ctx = {.loop = loop, .io_timeout = &io_timeout};
    interrupt_t it;
    if (interruptible && interrupt_begin(&it, loop, st) != 0)
        interruptible = 0; /* then Ctrl-C ends the process, as it would anyway */
    h2o_http1client_t *client = NULL;
    h2o_http1client_connect_with_pool(&client, st, &ctx, &pool, on_connect);
    while (!st->done && !st->interrupted)
        h2o_evloop_run(loop, INT32_MAX);
    if (!st->done) {
        h2o_http1client_cancel(client);
        st->res->interrupted = 1;
    }
    if (interruptible)
        interrupt_end(&it);
    h2o_socketpool_dispose(&pool);
    h2o_evloop_run(loop, 0); /* let closed sockets be disposed of */
    h2o_timeout_dispose(loop, &io_timeout);
    h2o_evloop_destroy(loop);
}

/* Hands the body to res (NUL-terminated); -1 when no response arrived. */
static int finish(client_state_t *st, client_result_t *res)
{
    if (res->status == 0) {
        free(st->body);
        if (res->error[0] == '\0')
            snprintf(res->error, sizeof(res->error), "%s",
                     res->interrupted ? "interrupted" : "the server closed the connection");
        return -1;
    }
    if (st->body == NULL)
        st->body = calloc(1, 1);
    else
        st->body[st->len] = '\0';
    res->body = st->body;
    res->len = st->len;
    return 0;
}

int client_request(const char *socket_path, const char *method, const char *path, client_result_t *res)
{
    return client_request_opts(socket_path, method, path, NULL, res);
}

int client_request_opts(const char *socket_path, const char *method, const char *path, const client_options_t *opts,
                        client_result_t *res)
{
    static const client_options_t defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    memset(res, 0, sizeof(*res));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(sa.sun_path)) {
        snprintf(res->error, sizeof(res->error), "socket path is too long");
        return -1;
    }
    strcpy(sa.sun_path, socket_path);
    /* A plain connect first: it says precisely why nobody answers (ENOENT, ECONNREFUSED, EACCES). */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(res->error, sizeof(res->error), "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    res->connected = 1;

    client_state_t st = {.method_is_head = strcmp(method, "HEAD") == 0,
                         .res = res,
                         .nreqbufs = 1,
                         .on_chunk = opts->on_chunk,
                         .arg = opts->arg};
    char req[512];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: uhw\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     method, path);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        snprintf(res->error, sizeof(res->error), "request target is too long");
        return -1;
    }
    st.reqbufs[0] = h2o_iovec_init(req, (size_t)n);
    exchange((struct sockaddr *)&sa, sizeof(sa), &st, opts->timeout_ms != 0 ? opts->timeout_ms : CONTROL_TIMEOUT_MS,
             opts->interruptible);
    return finish(&st, res);
}

/* ---------------------------------------------------------------- any server, over TCP */

/* Whether s may stand in the request line as a target: visible ASCII only. */
static int target_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; ++s)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static int token_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; ++s)
        if (!rules_tchar((unsigned char)*s))
            return 0;
    return 1;
}

/* Appends to a growable head buffer (aborts on ENOMEM, like the rest of this file). */
typedef struct head {
    char *p;
    size_t len, cap;
} head_t;

static void put(head_t *h, const char *s, size_t n)
{
    if (h->len + n + 1 > h->cap) {
        h->cap = (h->len + n + 1) * 2;
        if ((h->p = realloc(h->p, h->cap)) == NULL)
            abort();
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
}

static void puts_(head_t *h, const char *s)
{
    put(h, s, strlen(s));
}

int client_http(const struct sockaddr *sa, socklen_t salen, const client_http_request_t *rq, client_result_t *res)
{
    memset(res, 0, sizeof(*res));
    if (!token_ok(rq->method) || !target_ok(rq->target) ||
        rules_header_problem("host", 4, (const uint8_t *)rq->host, strlen(rq->host)) != NULL) {
        snprintf(res->error, sizeof(res->error), "the method, target or host cannot be sent in HTTP/1.1");
        return -1;
    }
    head_t h = {0};
    puts_(&h, rq->method);
    puts_(&h, " ");
    puts_(&h, rq->target);
    puts_(&h, " HTTP/1.1\r\nHost: ");
    puts_(&h, rq->host);
    puts_(&h, "\r\n");
    for (size_t i = 0; i < rq->nheaders; ++i) {
        const client_header_t *x = &rq->headers[i];
        if (rules_header_problem(x->name, strlen(x->name), (const uint8_t *)x->value, x->value_len) != NULL) {
            snprintf(res->error, sizeof(res->error), "header %.80s cannot be sent in HTTP/1.1", x->name);
            free(h.p);
            return -1;
        }
        puts_(&h, x->name);
        puts_(&h, ": ");
        put(&h, x->value, x->value_len);
        puts_(&h, "\r\n");
    }
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu\r\nConnection: close\r\n\r\n", rq->body_len);
    puts_(&h, cl);

    client_state_t st = {.method_is_head = strcmp(rq->method, "HEAD") == 0, .want_headers = 1, .res = res};
    st.reqbufs[st.nreqbufs++] = h2o_iovec_init(h.p, h.len);
    if (rq->body_len != 0)
        st.reqbufs[st.nreqbufs++] = h2o_iovec_init(rq->body, rq->body_len);
    struct sockaddr_storage ss;
    memcpy(&ss, sa, salen); /* h2o wants it writable */
    exchange((struct sockaddr *)&ss, salen, &st, rq->timeout_ms != 0 ? rq->timeout_ms : CONTROL_TIMEOUT_MS, 0);
    free(h.p);
    return finish(&st, res);
}

void client_result_free(client_result_t *res)
{
    for (size_t i = 0; i < res->nheaders; ++i) {
        free(res->headers[i].name);
        free(res->headers[i].value);
    }
    free(res->headers);
    free(res->body);
    memset(res, 0, sizeof(*res));
}
