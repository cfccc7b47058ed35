/*
 * victim_record.c — see victim_record.h. JSON by jansson, base64 by OpenSSL (the
 * supervisor encodes with EVP_EncodeBlock).
 */
#include "victim_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Decodes standard base64 into a malloc'd buffer (+ a NUL). 0, or -1 if not base64. */
static int base64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len)
{
    if (n % 4 != 0)
        return -1;
    uint8_t *buf = malloc(n / 4 * 3 + 1);
    if (buf == NULL)
        return -1;
    int len = n != 0 ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n) : 0;
    if (len < 0) {
        free(buf);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    size_t pad = n >= 1 && s[n - 1] == '=' ? (n >= 2 && s[n - 2] == '=' ? 2 : 1) : 0;
    *out_len = (size_t)len - pad;
    buf[*out_len] = '\0';
    *out = buf;
    return 0;
}

static char *dup_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? strdup(s) : NULL;
}

static int fail(char *err, size_t errsz, const char *msg)
{
    snprintf(err, errsz, "%s", msg);
    return -1;
}

static int parse_headers(json_t *hs, victim_record_t *out, char *err, size_t errsz)
{
    if (hs == NULL || json_is_null(hs))
        return 0;
    if (!json_is_object(hs))
        return fail(err, errsz, "request.headers is not an object");
    out->headers = calloc(json_object_size(hs) + 1, sizeof(*out->headers));
    if (out->headers == NULL)
        return fail(err, errsz, "out of memory");
    const char *name;
    json_t *v;
    json_object_foreach(hs, name, v)
    {
        victim_header_t *h = &out->headers[out->nheaders];
        if ((h->name = strdup(name)) == NULL)
            return fail(err, errsz, "out of memory");
        ++out->nheaders;
        if (json_is_string(v)) {
            size_t n = json_string_length(v);
            if ((h->value = malloc(n + 1)) == NULL)
                return fail(err, errsz, "out of memory");
            memcpy(h->value, json_string_value(v), n + 1);
            h->value_len = n;
            h->redacted = strcmp(json_string_value(v), "[redacted]") == 0;
        } else {
            const char *b64 = json_string_value(json_object_get(v, "base64"));
            if (b64 == NULL || base64_decode(b64, strlen(b64), &h->value, &h->value_len) != 0) {
                snprintf(err, errsz, "request.headers.%s is neither a string nor {\"base64\": ...}", name);
                return -1;
            }
        }
    }
    return 0;
}

int victim_record_parse(const char *line, size_t len, victim_record_t *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    out->exit_code = -1;
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr);
    if (o == NULL) {
        snprintf(err, errsz, "not JSON: %s", jerr.text);
        return -1;
    }
    int rc = -1;
    json_t *rq = json_object_get(o, "request");
    if (!json_is_object(o) || !json_is_object(rq)) {
        fail(err, errsz, "no \"request\" object (not a victims record?)");
        goto Out;
    }
    out->time = dup_str(o, "time");
    out->pool = dup_str(o, "pool");
    out->reason = dup_str(o, "reason");
    out->detail = dup_str(o, "detail");
    out->signal = dup_str(o, "signal");
    if (json_is_integer(json_object_get(o, "exit_code")))
        out->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
    out->worker = (int)json_integer_value(json_object_get(o, "worker"));
    out->pid = (long)json_integer_value(json_object_get(o, "pid"));
    out->status = (int)json_integer_value(json_object_get(o, "status"));

    out->id = (uint64_t)json_integer_value(json_object_get(rq, "id"));
    out->method = dup_str(rq, "method");
    out->path = dup_str(rq, "path");
    out->query = dup_str(rq, "query");
    out->remote = dup_str(rq, "remote");
    if (out->method == NULL || out->path == NULL) {
        fail(err, errsz, "the request has no method or path");
        goto Out;
    }
    if (out->query == NULL && (out->query = strdup("")) == NULL) {
        fail(err, errsz, "out of memory");
        goto Out;
    }
    if (parse_headers(json_object_get(rq, "headers"), out, err, errsz) != 0)
        goto Out;
    const char *b64 = json_string_value(json_object_get(rq, "body_base64"));
    if (b64 == NULL)
        b64 = "";
    if (base64_decode(b64, strlen(b64), &out->body, &out->body_len) != 0) {
        fail(err, errsz, "request.body_base64 is not base64");
        goto Out;
    }
    json_t *size = json_object_get(rq, "body_size");
    out->body_size = json_is_integer(size) ? (size_t)json_integer_value(size) : out->body_len;
    out->body_truncated = json_is_true(json_object_get(rq, "body_truncated")) || out->body_len < out->body_size;
    rc = 0;
Out:
    json_decref(o);
    if (rc != 0)
        victim_record_free(out);
    return rc;
}

void victim_record_free(victim_record_t *r)
{
    free(r->time);
    free(r->pool);
    free(r->reason);
    free(r->detail);
    free(r->signal);
    free(r->method);
    free(r->path);
    free(r->query);
    free(r->remote);
    for (size_t i = 0; i < r->nheaders; ++i) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
    r->exit_code = -1;
}
