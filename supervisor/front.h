/*
 * front.h — the h2o side: configuration, the public listeners, the control
 * socket, and routing of each request (static, health, pool, 404).
 */
#ifndef UHW_FRONT_H
#define UHW_FRONT_H

#include <stddef.h>

#include <h2o.h>

#include "types.h"

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
    char *control_path;       /* the socket file we created (unlinked at exit) */
    int accepting;
    int inited;
} front_t;

/* Sets up h2o and binds every listener and the control socket (not accepting yet).
 * Returns 0, or -1 with a message in err (e.g. "cannot listen on 127.0.0.1:8080: Address in use"). */
int front_init(server_t *srv, char *err, size_t errsz);
/* Starts accepting on every listener. */
void front_start_accepting(server_t *srv);
/* Stops accepting on the public listeners and asks h2o to close idle connections.
 * The control socket keeps answering (`uhw status` during a stop). */
void front_stop_accepting(server_t *srv);
void front_dispose(server_t *srv);
/* No client connection (public or control) is open any more. */
int front_idle(server_t *srv);
/* The bound public addresses, for logs and status. */
size_t front_public_listeners(const server_t *srv, const listener_t **out);

#endif
