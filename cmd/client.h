/*
 * client.h — one HTTP/1.1 request made with h2o's HTTP/1 client: to a running uhw over its
 * control socket (`uhw status`, `reload`, `stop`, `restart`), or to any server over TCP
 * (`uhw replay --to`). h2o parses the response; the request head is the request line and
 * header lines that h2o's client takes as given, built from checked parts.
 */
#ifndef UHW_CLIENT_H
#define UHW_CLIENT_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct client_header {
    char *name;
    char *value;      /* value_len bytes + a NUL */
    size_t value_len;
} client_header_t;

typedef struct client_result {
    int status;   /* HTTP status, or 0 when no server answered */
    char *body;   /* NUL-terminated response body (malloc'd), or NULL */
    size_t len;
    char error[256]; /* why no server answered: "no such file", "connection refused", ... */
    int minor_version;          /* HTTP/1.x (client_http) */
    char reason[64];            /* the status line's reason phrase (client_http) */
    client_header_t *headers;   /* response headers (client_http; NULL for client_request) */
    size_t nheaders;
} client_result_t;

/* Sends METHOD PATH to the socket. Returns 0 when a response arrived (see res->status),
 * -1 when no server answered (res->error says why). Free res->body. */
int client_request(const char *socket_path, const char *method, const char *path, client_result_t *res);

typedef struct client_http_request {
    const char *method;               /* an HTTP token */
    const char *target;               /* path[?query], no spaces or control characters */
    const char *host;                 /* the Host header */
    const client_header_t *headers;   /* sent as given; Host, Content-Length and Connection are ours */
    size_t nheaders;
    const void *body;
    size_t body_len;
    unsigned timeout_ms;              /* for connecting and for each read */
} client_http_request_t;

/* Sends one request to the server at `sa` (TCP), with Content-Length and Connection: close.
 * Returns 0 when a response arrived, -1 otherwise (res->error: connection refused, timed
 * out, or a request that cannot be sent: a method, target or header with bytes HTTP does
 * not allow). Free with client_result_free. */
int client_http(const struct sockaddr *sa, socklen_t salen, const client_http_request_t *rq, client_result_t *res);

void client_result_free(client_result_t *res);

#endif
