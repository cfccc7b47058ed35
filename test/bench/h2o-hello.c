/*
 * h2o-hello — the in-process peer of `make bench`: libh2o-evloop, the library uhw's front
 * end is built on, answering every request itself with 200 "hello\n" (text/plain).
 *
 * One event loop in one thread, like uhw's front end, and no worker processes: no
 * server built on h2o can answer faster than this, so it is the ceiling for uhw's C
 * workers, not a competitor.
 *
 *   usage: h2o-hello PORT          listen on 127.0.0.1:PORT; SIGTERM or SIGINT stops it
 *
 * Written after h2o's examples/libh2o/simple.c (v2.2.5, the version Debian ships),
 * reduced to one handler on "/".
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h2o.h"

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static volatile sig_atomic_t stopping;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    /* Content-Length, as uhw sends it (h2o_send_inline alone would answer chunked). */
    req->res.content_length = sizeof("hello\n") - 1;
    h2o_send_inline(req, H2O_STRLIT("hello\n"));
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    if ((sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&accept_ctx, sock);
}

/* Returns the listening socket on 127.0.0.1:port, or NULL (errno set). */
static h2o_socket_t *listen_on(unsigned short port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd, on = 1;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
        return NULL;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    h2o_socket_t *sock = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(sock, on_accept);
    return sock;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

int main(int argc, char **argv)
{
    char *end;
    unsigned long port = argc == 2 ? strtoul(argv[1], &end, 10) : 0;
    if (argc != 2 || *end != '\0' || port == 0 || port > 65535) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    /* No SA_RESTART: a signal interrupts epoll_wait, so the loop notices it at once. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    h2o_config_init(&config);
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = on_req;

    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    h2o_socket_t *listener = listen_on((unsigned short)port);
    if (listener == NULL) {
        fprintf(stderr, "h2o-hello: cannot listen on 127.0.0.1:%lu: %s\n", port, strerror(errno));
        return 1;
    }
    fprintf(stderr, "h2o-hello: listening on http://127.0.0.1:%lu/\n", port);

    /* The bounded wait covers a signal that lands between the check and epoll_wait. */
    while (!stopping)
        h2o_evloop_run(ctx.loop, 100);

    /* h2o 2.2.5 has no way to free an evloop, and h2o_context_dispose asserts when a
     * connection is still open: the configuration is ours to free, the rest ends with
     * the process. */
    h2o_socket_close(listener);
    h2o_config_dispose(&config);
    return 0;
}
