/*
 * front.c — h2o configuration, listeners and routing; see front.h.
 *
 * Routing order (DESIGN.md §3): static prefixes are h2o pathconfs registered
 * first (h2o picks the first matching pathconf); everything else reaches one
 * catch-all handler that tries the health path, then each pool's routes in
 * file order, then the fallback pool, then answers 404.
 */
#include "front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "accesslog.h"
#include "log.h"
#include "reply.h"
#include "target.h"

#define ACCEPTS_PER_WAKEUP 32

typedef struct front_handler {
    h2o_handler_t super;
    front_t *front;
} front_handler_t;

/* ---------------------------------------------------------------- routing */

static int route_matches(const cfg_route_t *rt, h2o_iovec_t path)
{
    size_t n = strlen(rt->path);
    if (!rt->prefix)
        return path.len == n && memcmp(path.base, rt->path, n) == 0;
    if (n == 1) // the route "/**"
        return 1;
    return path.len >= n && memcmp(path.base, rt->path, n) == 0 && (path.len == n || path.base[n] == '/');
}

static pool_t *route(front_t *f, h2o_iovec_t path)
{
    pool_t *fallback = NULL;
    for (size_t i = 0; i < f->npools; ++i) {
        pool_t *p = f->pools[i];
        const cfg_pool_t *pc = pool_cfg(p);
        if (pc->nroutes == 0 && fallback == NULL)
            fallback = p;
        for (size_t k = 0; k < pc->nroutes; ++k)
            if (route_matches(&pc->routes[k], path))
                return p;
    }
    return fallback;
}

static void respond_health(front_t *f, h2o_req_t *req)
{
    json_t *failing = json_object();
    for (size_t i = 0; i < f->npools; ++i)
        if (pool_state(f->pools[i]) != PS_RUNNING)
            json_object_set_new(failing, pool_name(f->pools[i]), json_string(pool_state_name(pool_state(f->pools[i]))));
    int ok = json_object_size(failing) == 0 && f->accepting && !f->stopping;
    json_t *o = json_pack("{s:s}", "status", ok ? "ok" : "unavailable");
    if (!ok)
        json_object_set(o, "pools", failing);
    json_decref(failing);
    dispatch_count(f->dispatch, ok ? 200 : 503);
    reply_json(req, ok ? 200 : 503, o);
}

/* uhw's own error for a request that reaches no worker; it gets a request id all the same. */
static void refuse(front_t *f, h2o_req_t *req, int status, const char *error, const char *reason)
{
    dispatch_count(f->dispatch, status);
    reply_error(req, status, error, reason, 0, dispatch_next_id(f->dispatch));
}

static int on_public_req(h2o_handler_t *self, h2o_req_t *req)
{
    front_t *f = ((front_handler_t *)self)->front;
    const char *bad = target_check(req);
    if (bad != NULL) {
        req->http1_is_persistent = 0; /* what follows on this connection cannot be trusted */
        refuse(f, req, 400, "Bad request", bad);
        return 0;
    }
    h2o_iovec_t path = req->path_normalized;
    if (f->cfg->health != NULL && h2o_memis(path.base, path.len, f->cfg->health, strlen(f->cfg->health))) {
        respond_health(f, req);
        return 0;
    }
    pool_t *pool = route(f, path);
    if (pool == NULL) {
        refuse(f, req, 404, "Not found", "no pool serves this path");
        return 0;
    }
    if (f->stopping) {
        /* a request on a kept-alive connection during a stop */
        req->http1_is_persistent = 0;
        refuse(f, req, 503, "Shutting down", "the server is stopping");
        return 0;
    }
    dispatch_submit(f->dispatch, pool, req);
    return 0;
}

/* The first handler of every static prefix: the same checks as for pools, before h2o's file
 * handler (which would serve "/static/./x" and "/static/x%00.txt"). -1 passes the request on. */
static int on_static_guard(h2o_handler_t *self, h2o_req_t *req)
{
    front_t *f = ((front_handler_t *)self)->front;
    const char *bad = target_check(req);
    if (bad == NULL)
        return -1;
    req->http1_is_persistent = 0;
    refuse(f, req, 400, "Bad request", bad);
    return 0;
}

/* h2o answers some requests itself before any handler runs (a body over max_body gets 413).
 * Those are bound to the host's fallback pathconf; this filter gives them uhw's JSON shape. */
typedef struct json_error_filter {
    h2o_filter_t super;
} json_error_filter_t;

static void json_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                            h2o_send_state_t state)
{
    (void)bufs;
    (void)bufcnt;
    /* replace h2o's plain-text body by the JSON prepared in on_setup_ostream */
    h2o_iovec_t *body = (h2o_iovec_t *)(self + 1);
    h2o_iovec_t out = *body;
    body->len = 0; /* sent once */
    h2o_ostream_send_next(self, req, &out, out.len != 0 ? 1 : 0, state);
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    const char *error = req->res.status == 413 ? "Request body too large" : req->res.reason;
    json_t *o = json_pack("{s:s, s:s}", "error", error, "reason",
                          req->res.status == 413 ? "max_body exceeded" : "rejected by the HTTP layer");
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    h2o_iovec_t body = h2o_strdup(&req->pool, s, strlen(s) + 1);
    free(s);
    body.base[body.len - 1] = '\n';
    ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct != -1)
        req->res.headers.entries[ct].value = h2o_iovec_init(H2O_STRLIT("application/json"));
    req->res.content_length = body.len;
    h2o_ostream_t *os = h2o_add_ostream(req, sizeof(h2o_ostream_t) + sizeof(h2o_iovec_t), slot);
    *(h2o_iovec_t *)(os + 1) = body;
    os->do_send = json_error_send;
    h2o_setup_next_ostream(req, &os->next);
}

/* ---------------------------------------------------------------- listeners */

static void on_accept(h2o_socket_t *lsock, const char *err)
{
    if (err != NULL)
        return;
    listener_t *l = lsock->data;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; ++i) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(lsock);
        if (sock == NULL)
            break;
        if (!l->is_control) {
            int one = 1;
            setsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        h2o_accept(&l->accept, sock);
    }
}

static SSL_CTX *make_ssl_ctx(const cfg_listen_t *cl, char *err, size_t errsz)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto Error;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cl->tls_cert) != 1) {
        snprintf(err, errsz, "listen %s: cannot use certificate %s: %s", cl->text, cl->tls_cert,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cl->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errsz, "listen %s: cannot use key %s: %s", cl->text, cl->tls_key,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols); /* h2 first, then http/1.1 */
    return ctx;
Error:
    snprintf(err, errsz, "listen %s: cannot create a TLS context", cl->text);
    return NULL;
}

static int open_tcp(const cfg_listen_t *cl, listener_t *l, char *err, size_t errsz)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cl->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(cl->port);
        sl = sizeof(*sin);
    } else if (inet_pton(AF_INET6, cl->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(cl->port);
        sl = sizeof(*sin6);
    } else {
        snprintf(err, errsz, "cannot listen on %s: not a numeric address", cl->text);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0) {
        snprintf(err, errsz, "cannot listen on %s: socket: %s", cl->text, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errsz, "cannot listen on %s: %s%s", cl->text, strerror(errno),
                 errno == EADDRINUSE ? " (is another server running on this port?)" : "");
        close(fd);
        return -1;
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(l->addr, sizeof(l->addr), "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else {
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(l->addr, sizeof(l->addr), "%s:%u", host, ntohs(sin->sin_port));
    }
    l->fd = fd;
    return 0;
}

/* Binds the control socket: refuses a live one, replaces a stale one, and creates the
 * file atomically with mode 0600 (bound under a temporary name, then renamed). */
static int open_control(front_t *f, const char *path, listener_t *l, char *err, size_t errsz)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char tmp[sizeof(sa.sun_path) + 32];
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errsz, "control socket path is too long (%zu bytes, at most %zu): %s", strlen(path),
                 sizeof(sa.sun_path) - 1, path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        snprintf(err, errsz, "control socket path %s exists and is not a socket; refusing to replace it", path);
        return -1;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        int rc = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        close(probe);
        if (rc == 0) {
            snprintf(err, errsz, "another uhw is already running with control socket %s", path);
            return -1;
        }
        if (e == ECONNREFUSED && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path); /* a socket left behind by a server that died */
    }
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    if (strlen(tmp) >= sizeof(sa.sun_path)) /* no room for a temporary name: bind in place */
        snprintf(tmp, sizeof(tmp), "%s", path);
    strcpy(sa.sun_path, tmp);
    unlink(tmp);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errsz, "cannot create control socket: %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || chmod(tmp, 0600) != 0 || listen(fd, 64) != 0 || (strcmp(tmp, path) != 0 && rename(tmp, path) != 0)) {
        snprintf(err, errsz, "cannot create control socket %s: %s", path, strerror(errno));
        unlink(tmp);
        close(fd);
        return -1;
    }
    if (stat(path, &st) == 0) { /* ours: at exit it is unlinked only if it is still this one */
        f->control_dev = st.st_dev;
        f->control_ino = st.st_ino;
    }
    l->fd = fd;
    l->is_control = 1;
    snprintf(l->addr, sizeof(l->addr), "unix:%.88s", path);
    return 0;
}

/* ---------------------------------------------------------------- setup */

static h2o_pathconf_t *register_path(front_t *f, const char *path)
{
    return h2o_config_register_path(f->public_host, path, 0);
}

static void add_access_log(front_t *f, h2o_pathconf_t *pc)
{
    if (f->access_log != NULL)
        access_log_register(f->access_log, pc);
}

int front_init(front_t *f, const uhw_config_t *cfg, dispatch_t *d, char *err, size_t errsz)
{
    f->cfg = cfg;
    f->dispatch = d;
    h2o_config_init(&f->conf);
    f->inited = 1;
    f->conf.server_name = h2o_iovec_init(H2O_STRLIT("uhw"));
    f->conf.max_request_entity_size = cfg->max_body;
    f->public_host = h2o_config_register_host(&f->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    f->control_host = h2o_config_register_host(&f->conf, h2o_iovec_init(H2O_STRLIT("uhw-control")), 65535);
    f->public_hosts[0] = f->public_host;
    f->control_hosts[0] = f->control_host;

    if (cfg->access_log != NULL && (f->access_log = access_log_open(cfg->access_log, err, errsz)) == NULL)
        return -1;
    for (size_t i = 0; i < cfg->nstatics; ++i) {
        static const char *index_files[] = {"index.html", NULL};
        h2o_pathconf_t *pc = register_path(f, cfg->statics[i].prefix);
        front_handler_t *guard = (front_handler_t *)h2o_create_handler(pc, sizeof(*guard));
        guard->super.on_req = on_static_guard;
        guard->front = f;
        h2o_file_register(pc, cfg->statics[i].dir, index_files, NULL, 0);
        add_access_log(f, pc);
    }
    h2o_pathconf_t *pc = register_path(f, "/");
    front_handler_t *h = (front_handler_t *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_public_req;
    h->front = f;
    add_access_log(f, pc);
    /* h2o's own early errors are bound to the fallback pathconf */
    h2o_filter_t *ef = h2o_create_filter(&f->public_host->fallback_path, sizeof(json_error_filter_t));
    ef->on_setup_ostream = json_error_setup;
    add_access_log(f, &f->public_host->fallback_path);

    f->loop = h2o_evloop_create();
    h2o_context_init(&f->ctx, f->loop, &f->conf);

    f->nlisteners = cfg->nlisten + 1;
    f->listeners = calloc(f->nlisteners, sizeof(*f->listeners));
    if (f->listeners == NULL)
        abort();
    for (size_t i = 0; i < f->nlisteners; ++i)
        f->listeners[i].fd = -1;
    for (size_t i = 0; i < cfg->nlisten; ++i) {
        listener_t *l = &f->listeners[i];
        if (open_tcp(&cfg->listen[i], l, err, errsz) != 0)
            return -1;
        l->accept.ctx = &f->ctx;
        l->accept.hosts = f->public_hosts;
        if (cfg->listen[i].tls_cert != NULL && (l->accept.ssl_ctx = make_ssl_ctx(&cfg->listen[i], err, errsz)) == NULL)
            return -1;
    }
    listener_t *ctl = &f->listeners[cfg->nlisten];
    if (open_control(f, cfg->control, ctl, err, errsz) != 0)
        return -1;
    f->control_path = strdup(cfg->control);
    ctl->accept.ctx = &f->ctx;
    ctl->accept.hosts = f->control_hosts;
    /* The control socket answers from the start: `uhw status` works while workers start. */
    ctl->sock = h2o_evloop_socket_create(f->loop, ctl->fd, H2O_SOCKET_FLAG_DONT_READ);
    ctl->sock->data = ctl;
    h2o_socket_read_start(ctl->sock, on_accept);
    return 0;
}

void front_set_pools(front_t *f, const uhw_config_t *cfg, pool_t *const *pools, size_t n)
{
    f->cfg = cfg;
    f->pools = pools;
    f->npools = n;
}

void front_start_accepting(front_t *f)
{
    for (size_t i = 0; i < f->nlisteners; ++i) {
        listener_t *l = &f->listeners[i];
        if (l->is_control || l->fd < 0 || l->sock != NULL)
            continue;
        l->sock = h2o_evloop_socket_create(f->loop, l->fd, H2O_SOCKET_FLAG_DONT_READ);
        l->sock->data = l;
        h2o_socket_read_start(l->sock, on_accept);
    }
    f->accepting = 1;
}

void front_stop_accepting(front_t *f)
{
    f->stopping = 1;
    for (size_t i = 0; i < f->nlisteners; ++i) {
        listener_t *l = &f->listeners[i];
        if (l->is_control)
            continue;
        if (l->sock != NULL) {
            h2o_socket_read_stop(l->sock);
            h2o_socket_close(l->sock); /* closes the fd too */
            l->sock = NULL;
            l->fd = -1;
        } else if (l->fd >= 0) {
            close(l->fd);
            l->fd = -1;
        }
    }
    f->accepting = 0;
    if (f->loop != NULL && !f->ctx.shutdown_requested) {
        h2o_context_request_shutdown(&f->ctx); /* HTTP/2 connections get GOAWAY */
        /* h2o 2.2.5 leaves idle HTTP/1 keep-alive connections open until their request timeout.
         * With the timeout at 0 they close on the next loop turn, and a connection finishing a
         * response closes as soon as it turns idle. Same for idle HTTP/2 connections. */
        f->ctx.http1.req_timeout.timeout = 0;
        f->ctx.http2.idle_timeout.timeout = 0;
    }
}

static size_t count_list(const h2o_linklist_t *anchor)
{
    size_t n = 0;
    for (const h2o_linklist_t *l = anchor->next; l != anchor; l = l->next)
        ++n;
    return n;
}

size_t front_connections(const front_t *f)
{
    return f->loop == NULL ? 0 : count_list(&f->ctx.http1._conns) + count_list(&f->ctx.http2._conns);
}

int front_idle(const front_t *f)
{
    return front_connections(f) == 0;
}

void front_release_control(front_t *f)
{
    if (f->control_path == NULL)
        return;
    /* Only the socket this process created: another uhw may have taken the path since. */
    struct stat st;
    if (lstat(f->control_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == f->control_dev &&
        st.st_ino == f->control_ino)
        unlink(f->control_path);
    free(f->control_path);
    f->control_path = NULL;
}

void front_close(front_t *f)
{
    if (!f->inited)
        return;
    front_stop_accepting(f);
    for (size_t i = 0; i < f->nlisteners; ++i) {
        listener_t *l = &f->listeners[i];
        if (l->sock != NULL)
            h2o_socket_close(l->sock);
        else if (l->fd >= 0)
            close(l->fd);
        l->sock = NULL;
        l->fd = -1;
        if (l->accept.ssl_ctx != NULL)
            SSL_CTX_free(l->accept.ssl_ctx);
        l->accept.ssl_ctx = NULL;
    }
    front_release_control(f);
    if (f->loop != NULL) {
        /* Let h2o run its deferred socket disposals, then drop the HTTP/2 graceful-shutdown
         * GOAWAY resend that h2o_context_request_shutdown armed one second ahead: h2o 2.2.5
         * asserts that every timeout list is empty when the context goes away. */
        h2o_evloop_run(f->loop, 0);
        if (h2o_timeout_is_linked(&f->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&f->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&f->ctx); /* the server exits at once instead when a client is still connected */
    }
}

void front_free(front_t *f)
{
    if (!f->inited)
        return;
    free(f->listeners);
    if (f->loop != NULL) {
        h2o_evloop_run(f->loop, 0); /* frees the sockets closed since */
        h2o_evloop_destroy(f->loop);
    }
    h2o_config_dispose(&f->conf);
    access_log_close(f->access_log); /* after the loggers that point to it */
    memset(f, 0, sizeof(*f));
}

size_t front_public_listeners(const front_t *f, const listener_t **out)
{
    *out = f->listeners;
    return f->nlisteners != 0 ? f->nlisteners - 1 : 0;
}

int front_reopen_logs(front_t *f)
{
    return access_log_reopen(f->access_log);
}
