/*
 * client.h — one HTTP/1.1 request made with h2o's HTTP/1 client: to a running uhw over its
 * control socket (`uhw status`, `reload`, `stop`, `restart`), or to any server over TCP
 * (`uhw replay --to`). h2o parses the response; the request head is the request line and
 * header lines that h2o's client takes as given, built from checked parts.
 */
#ifndef UHW_CLIENT_H
#define UHW_CLIENT_H

#include <stddef.h>
#include <stdint.h>
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
    int connected;              /* the connection was made: a drop after it is not "nobody listens" */
    int interrupted;            /* SIGINT ended the exchange (client_options_t.interruptible) */
} client_result_t;

/* Sends METHOD PATH to the socket. Returns 0 when a response arrived (see res->status),
 * -1 when no server answered (res->error says why). Free res->body. */
int client_request(const char *socket_path, const char *method, const char *path, client_result_t *res);

/* No read timeout: for answers that come when something happens (`uhw stop --wait`, `uhw tail -f`). */
#define CLIENT_WAIT_FOREVER ((uint64_t)10 * 365 * 24 * 3600 * 1000)

typedef struct client_options {
    uint64_t timeout_ms;   /* connecting and each read; 0: 10 s */
    /* When set, a 2xx response's body is handed to on_chunk piece by piece as it arrives, not
     * collected in res->body (which stays empty); a non-zero return ends the exchange. The body of
     * any other status is collected as usual, for its error message. */
    int (*on_chunk)(void *arg, const char *bytes, size_t len);
    void *arg;
    /* SIGINT (Ctrl-C) ends the exchange, with res->interrupted set, instead of the process: the
     * signal is blocked and read from a signalfd meanwhile. */
    int interruptible;
} client_options_t;

/* client_request with options (NULL: as client_request). With on_chunk, returns 0 once the
 * response has begun, even if the connection broke later (res->error then says why). */
int client_request_opts(const char *socket_path, const char *method, const char *path, const client_options_t *opts,
                        client_result_t *res);

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
