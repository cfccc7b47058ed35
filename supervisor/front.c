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

#include "control.h"
#include "dispatch.h"
#include "log.h"
#include "pool.h"
#include "server.h"

#define ACCEPTS_PER_WAKEUP 32

typedef struct front_handler {
    h2o_handler_t super;
    server_t *srv;
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

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Whether the request path, percent-decoded (so %2e%2e and %2f count), has a "." or ".." segment. */
static int has_dot_segments(const h2o_req_t *req)
{
    size_t n = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *p = req->path.base;
    size_t seg = 0; /* length of the current segment, decoded */
    int dots = 1;   /* the current segment is all dots so far */
    for (size_t i = 0; i <= n; ++i) {
        char c;
        if (i == n) {
            c = '/';
        } else if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            c = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        } else {
            c = p[i];
        }
        if (c == '/') {
            if (dots && (seg == 1 || seg == 2))
                return 1;
            seg = 0;
            dots = 1;
        } else {
            ++seg;
            dots = dots && c == '.';
        }
    }
    return 0;
}

static pool_t *route(server_t *srv, h2o_iovec_t path)
{
    pool_t *fallback = NULL;
    for (size_t i = 0; i < srv->npools; ++i) {
        pool_t *pool = srv->pools[i];
        if (pool->cfg->nroutes == 0 && fallback == NULL)
            fallback = pool;
        for (size_t k = 0; k < pool->cfg->nroutes; ++k)
            if (route_matches(&pool->cfg->routes[k], path))
                return pool;
    }
    return fallback;
}

static void respond_health(server_t *srv, h2o_req_t *req)
{
    json_t *failing = json_object();
    for (size_t i = 0; i < srv->npools; ++i)
        if (srv->pools[i]->state != PS_RUNNING)
            json_object_set_new(failing, srv->pools[i]->cfg->name, json_string(pool_state_name(srv->pools[i]->state)));
    int ok = json_object_size(failing) == 0 && srv->phase == PHASE_RUNNING;
    json_t *o = json_pack("{s:s}", "status", ok ? "ok" : "unavailable");
    if (!ok)
        json_object_set(o, "pools", failing);
    json_decref(failing);
    server_count_status(srv, ok ? 200 : 503);
    respond_json(req, ok ? 200 : 503, o);
}

static int on_public_req(h2o_handler_t *self, h2o_req_t *req)
{
    server_t *srv = ((front_handler_t *)self)->srv;
    h2o_iovec_t path = req->path_normalized;
    if (has_dot_segments(req)) {
        /* h2o resolved them for routing; a worker would see another path than the one routed,
         * and under a static prefix they are a traversal attempt. Refuse them. */
        server_count_status(srv, 400);
        respond_error(req, 400, "Bad request", "the path has '.' or '..' segments", 0, 0);
        return 0;
    }
    if (srv->cfg->health != NULL && h2o_memis(path.base, path.len, srv->cfg->health, strlen(srv->cfg->health))) {
        respond_health(srv, req);
        return 0;
    }
    pool_t *pool = route(srv, path);
    if (pool == NULL) {
        server_count_status(srv, 404);
        respond_error(req, 404, "Not found", "no pool serves this path", 0, 0);
        return 0;
    }
    if (srv->phase != PHASE_RUNNING) {
        /* a request on a kept-alive connection during a stop */
        req->http1_is_persistent = 0;
        server_count_status(srv, 503);
        respond_error(req, 503, "Shutting down", NULL, 0, 0);
        return 0;
    }
    dispatch_submit(srv, pool, req);
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
static int open_control(const char *path, listener_t *l, char *err, size_t errsz)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char tmp[sizeof(sa.sun_path) + 32];
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errsz, "control socket path is too long (%zu bytes, at most %zu): %s", strlen(path),
                 sizeof(sa.sun_path) - 1, path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        int rc = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        close(probe);
        if (rc == 0) {
            snprintf(err, errsz, "another uhw is already running with control socket %s", path);
            return -1;
        }
        if (e == ECONNREFUSED)
            unlink(path); /* left behind by a server that died */
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
    l->fd = fd;
    l->is_control = 1;
    snprintf(l->addr, sizeof(l->addr), "unix:%.88s", path);
    return 0;
}

/* ---------------------------------------------------------------- setup */

static h2o_pathconf_t *register_path(server_t *srv, const char *path)
{
    h2o_pathconf_t *pc = h2o_config_register_path(srv->front.public_host, path, 0);
    return pc;
}

static void add_access_log(h2o_pathconf_t *pc, h2o_access_log_filehandle_t *fh)
{
    if (fh != NULL)
        h2o_access_log_register(pc, fh);
}

int front_init(server_t *srv, char *err, size_t errsz)
{
    front_t *f = &srv->front;
    const uhw_config_t *cfg = srv->cfg;
    h2o_config_init(&f->conf);
    f->inited = 1;
    f->conf.server_name = h2o_iovec_init(H2O_STRLIT("uhw"));
    f->conf.max_request_entity_size = cfg->max_body;
    f->public_host = h2o_config_register_host(&f->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    f->control_host = h2o_config_register_host(&f->conf, h2o_iovec_init(H2O_STRLIT("uhw-control")), 65535);
    f->public_hosts[0] = f->public_host;
    f->control_hosts[0] = f->control_host;

    h2o_access_log_filehandle_t *fh = NULL;
    if (cfg->access_log != NULL) {
        const char *path = strcmp(cfg->access_log, "-") == 0 ? "/dev/stderr" : cfg->access_log;
        if ((fh = h2o_access_log_open_handle(path, NULL, H2O_LOGCONF_ESCAPE_APACHE)) == NULL) {
            snprintf(err, errsz, "cannot open access_log %s", cfg->access_log);
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->nstatics; ++i) {
        static const char *index_files[] = {"index.html", NULL};
        h2o_pathconf_t *pc = register_path(srv, cfg->statics[i].prefix);
        h2o_file_register(pc, cfg->statics[i].dir, index_files, NULL, 0);
        add_access_log(pc, fh);
    }
    h2o_pathconf_t *pc = register_path(srv, "/");
    front_handler_t *h = (front_handler_t *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_public_req;
    h->srv = srv;
    add_access_log(pc, fh);
    /* h2o's own early errors are bound to the fallback pathconf */
    h2o_filter_t *ef = h2o_create_filter(&f->public_host->fallback_path, sizeof(json_error_filter_t));
    ef->on_setup_ostream = json_error_setup;
    add_access_log(&f->public_host->fallback_path, fh);
    if (fh != NULL)
        h2o_mem_release_shared(fh); /* each registration holds its own reference */
    control_register(srv, f->control_host);

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
    if (open_control(cfg->control, ctl, err, errsz) != 0)
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

void front_start_accepting(server_t *srv)
{
    front_t *f = &srv->front;
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

void front_stop_accepting(server_t *srv)
{
    front_t *f = &srv->front;
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

int front_idle(server_t *srv)
{
    h2o_context_t *ctx = &srv->front.ctx;
    return srv->front.loop == NULL ||
           (h2o_linklist_is_empty(&ctx->http1._conns) && h2o_linklist_is_empty(&ctx->http2._conns));
}

void front_dispose(server_t *srv)
{
    front_t *f = &srv->front;
    if (!f->inited)
        return;
    front_stop_accepting(srv);
    for (size_t i = 0; i < f->nlisteners; ++i) {
        listener_t *l = &f->listeners[i];
        if (l->sock != NULL)
            h2o_socket_close(l->sock);
        else if (l->fd >= 0)
            close(l->fd);
        if (l->accept.ssl_ctx != NULL)
            SSL_CTX_free(l->accept.ssl_ctx);
    }
    if (f->control_path != NULL) {
        unlink(f->control_path);
        free(f->control_path);
    }
    free(f->listeners);
    if (f->loop != NULL) {
        /* Let h2o run its deferred socket disposals, then drop the HTTP/2 graceful-shutdown
         * GOAWAY resend that h2o_context_request_shutdown armed one second ahead: h2o 2.2.5
         * asserts that every timeout list is empty when the context goes away. */
        h2o_evloop_run(f->loop, 0);
        if (h2o_timeout_is_linked(&f->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&f->ctx.http2._graceful_shutdown_timeout);
        if (front_idle(srv))
            h2o_context_dispose(&f->ctx);
        else /* a client that never read its response: h2o cannot dispose of its connection */
            log_msg(LOG_WARNING, NULL, "exiting with client connections still open");
        h2o_evloop_run(f->loop, 0);
        h2o_evloop_destroy(f->loop);
    }
    h2o_config_dispose(&f->conf);
    memset(f, 0, sizeof(*f));
}

size_t front_public_listeners(const server_t *srv, const listener_t **out)
{
    *out = srv->front.listeners;
    return srv->front.nlisteners != 0 ? srv->front.nlisteners - 1 : 0;
}
