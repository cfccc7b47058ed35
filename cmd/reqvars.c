/*
 * reqvars.c — a Request as CGI-style variables; see reqvars.h.
 */
#include "reqvars.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void reqvars_init(reqvars_t *vars)
{
    memset(vars, 0, sizeof(*vars));
}

void reqvars_free(reqvars_t *vars)
{
    for (size_t i = 0; i < vars->n; ++i) {
        free(vars->v[i].name);
        free(vars->v[i].value);
    }
    free(vars->v);
    reqvars_init(vars);
}

/* A new variable with an empty value; NULL on ENOMEM. */
static reqvar_t *add(reqvars_t *vars, const char *name)
{
    if (vars->n == vars->cap) {
        size_t cap = vars->cap != 0 ? vars->cap * 2 : 32;
        reqvar_t *v = realloc(vars->v, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        vars->v = v;
        vars->cap = cap;
    }
    reqvar_t *r = &vars->v[vars->n];
    r->name = strdup(name);
    r->value = calloc(1, 1);
    r->len = 0;
    if (r->name == NULL || r->value == NULL) {
        free(r->name);
        free(r->value);
        return NULL;
    }
    ++vars->n;
    return r;
}

/* Appends bytes to a variable's value, NUL bytes dropped; 0 or -1. */
static int append(reqvar_t *r, const void *p, size_t n)
{
    char *v = realloc(r->value, r->len + n + 1);
    if (v == NULL)
        return -1;
    r->value = v;
    const uint8_t *s = p;
    for (size_t i = 0; i < n; ++i)
        if (s[i] != '\0')
            v[r->len++] = (char)s[i];
    v[r->len] = '\0';
    return 0;
}

static int set_bytes(reqvars_t *vars, const char *name, const void *p, size_t n)
{
    reqvar_t *r = add(vars, name);
    return r == NULL || append(r, p, n) != 0 ? -1 : 0;
}

static int set_str(reqvars_t *vars, const char *name, const char *s)
{
    return set_bytes(vars, name, s, s != NULL ? strlen(s) : 0);
}

static int set_u64(reqvars_t *vars, const char *name, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRIu64, v);
    return set_str(vars, name, num);
}

/* PREFIX + name upper-cased, every character outside [A-Z0-9] as '_'. */
static void upper_name(const char *prefix, const char *name, char *out)
{
    size_t pl = strlen(prefix), nl = strlen(name);
    memcpy(out, prefix, pl);
    for (size_t i = 0; i < nl; ++i) {
        char c = name[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        out[pl + i] = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
    }
    out[pl + nl] = '\0';
}

int reqvars_header_var(const char *name, char *out)
{
    /* Only names where '_' in the variable can only have been '-': with X_Forwarded_For or
     * X.Forwarded.For also mapping to HTTP_X_FORWARDED_FOR, a client could forge what the
     * worker takes for its proxy's header. (nginx drops them too: underscores_in_headers off,
     * ignore_invalid_headers on.) */
    if (name[0] == '\0')
        return -1;
    for (const char *c = name; *c != '\0'; ++c)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return -1;
    upper_name("HTTP_", name, out);
    if (strcmp(out, "HTTP_CONTENT_TYPE") == 0 || strcmp(out, "HTTP_CONTENT_LENGTH") == 0 ||
        strcmp(out, "HTTP_PROXY") == 0)
        return -1;
    return 0;
}

/* HTTP_<NAME> per kept header; headers that map to the same variable are joined with ", "
 * in order, at the place of the first. */
static int put_headers(reqvars_t *vars, const Uhw__V1__Request *q)
{
    size_t first = vars->n, cap = 0;
    char *name = NULL;
    int err = 0;
    for (size_t i = 0; i < q->n_headers && !err; ++i) {
        const char *h = q->headers[i]->name != NULL ? q->headers[i]->name : "";
        size_t need = strlen(h) + 6;
        if (need > cap) {
            char *p = realloc(name, need);
            if (p == NULL) {
                err = 1;
                break;
            }
            name = p;
            cap = need;
        }
        if (reqvars_header_var(h, name) != 0)
            continue;
        size_t k = first;
        while (k < vars->n && strcmp(vars->v[k].name, name) != 0)
            ++k;
        int joined = k < vars->n;
        reqvar_t *r = joined ? &vars->v[k] : add(vars, name);
        const ProtobufCBinaryData *v = &q->headers[i]->value;
        err = r == NULL || (joined && append(r, ", ", 2) != 0) || append(r, v->data, v->len) != 0;
    }
    free(name);
    return err ? -1 : 0;
}

int reqvars_request(reqvars_t *vars, const Uhw__V1__Request *q)
{
    const ProtobufCBinaryData *ctype = NULL;
    for (size_t i = 0; i < q->n_headers && ctype == NULL; ++i)
        if (q->headers[i]->name != NULL && strcasecmp(q->headers[i]->name, "content-type") == 0)
            ctype = &q->headers[i]->value;
    int err = set_u64(vars, "UHW_REQUEST_ID", q->id) || set_str(vars, "REQUEST_METHOD", q->method) ||
              set_str(vars, "PATH_INFO", q->path) || set_str(vars, "QUERY_STRING", q->query) ||
              set_bytes(vars, "CONTENT_TYPE", ctype != NULL ? ctype->data : NULL, ctype != NULL ? ctype->len : 0) ||
              set_u64(vars, "CONTENT_LENGTH", q->body.len) || set_str(vars, "REMOTE_ADDR", q->remote_addr) ||
              set_u64(vars, "REMOTE_PORT", q->remote_port) || set_str(vars, "REQUEST_SCHEME", q->scheme) ||
              set_str(vars, "SERVER_PROTOCOL", q->http_version) || set_u64(vars, "UHW_TIMEOUT_MS", q->timeout_ms) ||
              put_headers(vars, q);
    return err ? -1 : 0;
}

int reqvars_settings(reqvars_t *vars, const Uhw__V1__Configure *c)
{
    for (size_t i = 0; i < c->n_settings; ++i) {
        const char *key = c->settings[i]->key != NULL ? c->settings[i]->key : "";
        char *name = malloc(strlen(key) + sizeof("UHW_SETTING_"));
        if (name == NULL)
            return -1;
        upper_name("UHW_SETTING_", key, name);
        int err = set_str(vars, name, c->settings[i]->value);
        free(name);
        if (err)
            return -1;
    }
    return 0;
}
