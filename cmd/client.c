/*
 * client.c — see client.h.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/http1client.h>

#define CLIENT_TIMEOUT_MS 10000

typedef struct client_state {
    const char *method, *path;
    h2o_iovec_t reqbuf;
    client_result_t *res;
    char *body;
    size_t len, cap;
    int done;
} client_state_t;

static int on_body(h2o_http1client_t *client, const char *errstr)
{
    client_state_t *st = client->data;
    h2o_buffer_t *in = client->sock->input;
    if (in->size != 0) {
        if (st->len + in->size + 1 > st->cap) {
            st->cap = (st->len + in->size + 1) * 2;
            char *b = realloc(st->body, st->cap);
            if (b == NULL)
                abort();
            st->body = b;
        }
        memcpy(st->body + st->len, in->bytes, in->size);
        st->len += in->size;
        h2o_buffer_consume(&client->sock->input, in->size);
    }
    if (errstr != NULL) {
        if (errstr != h2o_http1client_error_is_eos)
            snprintf(st->res->error, sizeof(st->res->error), "%s", errstr);
        st->done = 1;
        return -1;
    }
    return 0;
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status,
                                       h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen)
{
    (void)minor_version;
    (void)msg;
    (void)headers;
    (void)num_headers;
    (void)rlen;
    client_state_t *st = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        snprintf(st->res->error, sizeof(st->res->error), "%s", errstr);
        st->done = 1;
        return NULL;
    }
    st->res->status = status;
    if (errstr == h2o_http1client_error_is_eos) { /* no body */
        st->done = 1;
        return NULL;
    }
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
    *reqbufs = &st->reqbuf;
    *reqbufcnt = 1;
    *method_is_head = strcmp(st->method, "HEAD") == 0;
    return on_head;
}

int client_request(const char *socket_path, const char *method, const char *path, client_result_t *res)
{
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

    client_state_t st = {.method = method, .path = path, .res = res};
    char req[512];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: uhw\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     method, path);
    st.reqbuf = h2o_iovec_init(req, (size_t)n);

    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_timeout_t io_timeout;
    h2o_timeout_init(loop, &io_timeout, CLIENT_TIMEOUT_MS);
    h2o_socketpool_t pool;
    h2o_socketpool_init_by_address(&pool, (struct sockaddr *)&sa, sizeof(sa), 0, 1);
    h2o_socketpool_set_timeout(&pool, loop, CLIENT_TIMEOUT_MS); /* also binds the pool to the loop */
    h2o_http1client_ctx_t ctx = {.loop = loop, .io_timeout = &io_timeout};
    h2o_http1client_t *client = NULL;
    h2o_http1client_connect_with_pool(&client, &st, &ctx, &pool, on_connect);
    while (!st.done)
        h2o_evloop_run(loop, INT32_MAX);
    h2o_socketpool_dispose(&pool);
    h2o_evloop_run(loop, 0); /* let closed sockets be disposed of */
    h2o_timeout_dispose(loop, &io_timeout);
    h2o_evloop_destroy(loop);

    if (res->status == 0) {
        free(st.body);
        if (res->error[0] == '\0')
            snprintf(res->error, sizeof(res->error), "the server closed the connection");
        return -1;
    }
    if (st.body == NULL)
        st.body = calloc(1, 1);
    else
        st.body[st.len] = '\0';
    res->body = st.body;
    res->len = st.len;
    return 0;
}
