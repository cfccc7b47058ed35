/*
 * front.h — the h2o side: configuration, the public listeners, the control
 * socket, and routing of each request (static, health, pool, 404).
 */
#ifndef UHW_FRONT_H
#define UHW_FRONT_H

#include <stddef.h>
#include <sys/types.h>

#include <h2o.h>

#include "config.h"
#include "dispatch.h"
#include "pool.h"

typedef struct listener {
    int fd;
    h2o_socket_t *sock;       /* NULL until accepting */
    h2o_accept_ctx_t accept;  /* hosts and TLS context for connections on this listener */
    char addr[96];            /* bound address as "127.0.0.1:8080" / "[::1]:8080" (the real port when 0 was asked) */
    int is_control;
} listener_t;

typedef struct front {
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_evloop_t *loop;
    h2o_hostconf_t *public_host;
    h2o_hostconf_t *control_host;
    h2o_hostconf_t *public_hosts[2];  /* NULL-terminated lists for the accept contexts */
    h2o_hostconf_t *control_hosts[2];
    listener_t *listeners;    /* public ones, then the control socket last */
    size_t nlisteners;
    char *control_path;       /* the socket file we created (unlinked at exit if it is still ours) */
    dev_t control_dev;        /* ... identified by device and inode */
    ino_t control_ino;
    int accepting;            /* the public listeners accept */
    int stopping;             /* a stop began: requests on open connections get 503 Shutting down */
    int inited;
    const uhw_config_t *cfg;  /* the config in use (health path) */
    struct access_log *access_log; /* access_log, or NULL */
    dispatch_t *dispatch;
    pool_t *const *pools;     /* routing, in file order */
    size_t npools;
} front_t;

/* Sets up h2o and binds every listener and the control socket (not accepting yet).
 * Returns 0, or -1 with a message in err (e.g. "cannot listen on 127.0.0.1:8080: Address in use"). */
int front_init(front_t *f, const uhw_config_t *cfg, dispatch_t *d, char *err, size_t errsz);
/* The pools requests are routed to (start-up, and after each reload), and the config in use. */
void front_set_pools(front_t *f, const uhw_config_t *cfg, pool_t *const *pools, size_t n);
/* Starts accepting on every listener. */
void front_start_accepting(front_t *f);
/* Stops accepting on the public listeners and asks h2o to close idle connections.
 * The control socket keeps answering (`uhw status` during a stop). */
void front_stop_accepting(front_t *f);
/* At exit: closes the listeners and the control socket, and disposes of h2o's connections and
 * requests (the dispatch layer and the pools must still exist: that settles their requests).
 * Every connection must be closed (front_idle). */
void front_close(front_t *f);
/* Then, once nothing else uses the loop: frees it. */
void front_free(front_t *f);
/* Removes the control socket file if it is still the one this process created. */
void front_release_control(front_t *f);
/* No client connection (public or control) is open any more. */
int front_idle(const front_t *f);
/* Open client connections (public and control), for /metrics. */
size_t front_connections(const front_t *f);
/* SIGUSR1: opens the access_log file again. 1 reopened, 0 none to reopen, -1 failed (errno). */
int front_reopen_logs(front_t *f);
/* The bound public addresses, for logs and status. */
size_t front_public_listeners(const front_t *f, const listener_t **out);

#endif
