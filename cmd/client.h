/*
 * client.h — one HTTP request to a running uhw over its control socket,
 * made with h2o's HTTP/1 client (used by `uhw status`, `reload`, `stop`, `restart`).
 */
#ifndef UHW_CLIENT_H
#define UHW_CLIENT_H

#include <stddef.h>

typedef struct client_result {
    int status;   /* HTTP status, or 0 when no server answered */
    char *body;   /* NUL-terminated response body (malloc'd), or NULL */
    size_t len;
    char error[256]; /* why no server answered: "no such file", "connection refused", ... */
} client_result_t;

/* Sends METHOD PATH to the socket. Returns 0 when a response arrived (see res->status),
 * -1 when no server answered (res->error says why). Free res->body. */
int client_request(const char *socket_path, const char *method, const char *path, client_result_t *res);

#endif
