/*
 * echo — answers with what it was sent.
 *
 * A request with a body gets 200 with that body byte for byte, its Content-Type copied
 * from the request (application/octet-stream when it had none). A request without a
 * body gets 200 application/json:
 *
 *     {"method": "GET", "path": "/x", "query": "a=1", "headers": {"accept": "text/html", ...}}
 *
 * Repeated headers are joined with ", " as HTTP allows. JSON strings must be UTF-8, so
 * a header value, path or query that is not valid UTF-8 is given as
 * {"base64": "..."} instead of a string.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "libuhw.h"

static int valid_utf8(const uint8_t *p, size_t n)
{
    json_t *s = json_stringn((const char *)p, n);
    int ok = s != NULL;
    json_decref(s);
    return ok;
}

static json_t *base64(const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = '\0';
    json_t *j = json_pack("{s:s}", "base64", out);
    free(out);
    return j;
}

/* A JSON string when the bytes are UTF-8 without NUL, else {"base64": "..."}. */
static json_t *bytes_json(const uint8_t *p, size_t n)
{
    if (memchr(p, '\0', n) == NULL && valid_utf8(p, n))
        return json_stringn((const char *)p, n);
    return base64(p, n);
}

static json_t *str_json(const char *s)
{
    return bytes_json((const uint8_t *)s, strlen(s));
}

static json_t *headers_json(const uhw_req_t *req)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj != NULL && i < req->nheaders; ++i) {
        const char *name = req->headers[i].name;
        if (json_object_get(obj, name) != NULL)
            continue; /* joined below, at its first occurrence */
        /* Join every value of this name with ", ". */
        size_t len = 0;
        for (size_t k = i; k < req->nheaders; ++k)
            if (strcmp(req->headers[k].name, name) == 0)
                len += req->headers[k].value_len + 2;
        uint8_t *buf = malloc(len + 1), *o = buf;
        if (buf == NULL)
            break;
        for (size_t k = i; k < req->nheaders; ++k) {
            if (strcmp(req->headers[k].name, name) != 0)
                continue;
            if (o != buf) {
                *o++ = ',';
                *o++ = ' ';
            }
            memcpy(o, req->headers[k].value, req->headers[k].value_len);
            o += req->headers[k].value_len;
        }
        json_t *v = bytes_json(buf, (size_t)(o - buf));
        free(buf);
        json_object_set_new(obj, name, v != NULL ? v : json_null()); /* (names are HTTP tokens: ASCII) */
    }
    return obj;
}

static void handle(uhw_req_t *req, void *ctx)
{
    (void)ctx;
    if (req->body_len != 0) {
        const char *ct = uhw_header_get(req, "content-type");
        if (ct == NULL || ct[0] == '\0')
            ct = "application/octet-stream";
        uhw_header_t h = {"Content-Type", (const uint8_t *)ct, strlen(ct)};
        if (uhw_respond(req, 200, &h, 1, req->body, req->body_len) != 0) /* e.g. a Content-Type with CR */
            uhw_respond(req, 200, NULL, 0, req->body, req->body_len);
        return;
    }
    json_t *j = json_pack("{s:o, s:o, s:o, s:o}", "method", str_json(req->method), "path", str_json(req->path),
                          "query", str_json(req->query), "headers", headers_json(req));
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL) {
        uhw_respond_text(req, 500, NULL, "echo: cannot build JSON\n");
        return;
    }
    uhw_header_t h = {"Content-Type", (const uint8_t *)"application/json", 16};
    uhw_respond(req, 200, &h, 1, text, strlen(text));
    free(text);
}

int main(void)
{
    uhw_options_t o = {.concurrency = 1, .info = "echo (libuhw)"};
    return uhw_run_opts(&o, handle, NULL) == 0 ? 0 : 1;
}
