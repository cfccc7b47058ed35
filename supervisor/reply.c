/*
 * reply.c — see reply.h.
 */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *reply_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

char *reply_dumps(const json_t *o, size_t flags)
{
    /* 15 significant digits: enough for any count or millisecond duration, without the
     * binary noise of %.17g. */
    char *s = json_dumps(o, flags | JSON_REAL_PRECISION(15));
    if (s == NULL)
        abort();
    return s;
}

void reply_json(h2o_req_t *req, int status, json_t *o)
{
    char *s = reply_dumps(o, JSON_COMPACT);
    json_decref(o);
    size_t len = strlen(s);
    h2o_iovec_t body = h2o_strdup(&req->pool, s, len + 1);
    free(s);
    body.base[len] = '\n';
    body.len = len + 1;
    req->res.status = status;
    req->res.reason = reply_reason(status);
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body.base, body.len);
}

void reply_error(h2o_req_t *req, int status, const char *error, const char *reason, int retry_after, uint64_t id)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(error));
    if (reason != NULL)
        json_object_set_new(o, "reason", json_string(reason));
    if (id != 0)
        json_object_set_new(o, "request_id", json_integer((json_int_t)id));
    if (retry_after > 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 16);
        int n = snprintf(v, 16, "%d", retry_after);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    }
    reply_json(req, status, o);
}
