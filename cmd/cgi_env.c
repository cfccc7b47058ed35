/*
 * cgi_env.c — see cgi_env.h.
 *
 * The environment is built in two passes over the same code: the first only measures
 * (how many variables, how many bytes), the second writes into one allocation. One
 * malloc per request, and no way for the two to disagree.
 */
#include "cgi_env.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "version.h"

#define DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin"

/* Variables a request sets: never inherited from the worker. */
static const char *const meta_vars[] = {
    "AUTH_TYPE",   "CONTENT_LENGTH",  "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO",      "PATH_TRANSLATED",
    "QUERY_STRING", "REMOTE_ADDR",    "REMOTE_HOST",  "REMOTE_IDENT",      "REMOTE_USER",    "REMOTE_PORT",
    "REQUEST_METHOD", "SCRIPT_NAME",  "SERVER_NAME",  "SERVER_PORT",       "SERVER_PROTOCOL", "SERVER_SOFTWARE",
    "HTTPS",       "REQUEST_URI",     "REQUEST_SCHEME", "SCRIPT_FILENAME", "DOCUMENT_ROOT",  "REDIRECT_STATUS",
    "UHW_REQUEST_ID", NULL};

static int is_meta(const char *kv)
{
    if (strncmp(kv, "HTTP_", 5) == 0)
        return 1;
    size_t n = strcspn(kv, "=");
    for (size_t i = 0; meta_vars[i] != NULL; ++i)
        if (strlen(meta_vars[i]) == n && strncmp(kv, meta_vars[i], n) == 0)
            return 1;
    return 0;
}

char **cgi_env_base(char *const *environ)
{
    size_t n = 0;
    while (environ[n] != NULL)
        ++n;
    char **base = malloc((n + 2) * sizeof(*base));
    if (base == NULL)
        return NULL;
    size_t k = 0;
    int has_path = 0;
    for (size_t i = 0; i < n; ++i) {
        if (strchr(environ[i], '=') == NULL || is_meta(environ[i]))
            continue;
        has_path |= strncmp(environ[i], "PATH=", 5) == 0;
        base[k++] = environ[i];
    }
    if (!has_path)
        base[k++] = (char *)DEFAULT_PATH;
    base[k] = NULL;
    return base;
}

/* ---------------------------------------------------------------- building */

typedef struct out {
    char **vars;   /* NULL while measuring */
    size_t nvars;
    char *p;       /* next byte to write */
    size_t bytes;  /* measured */
} out_t;

static void put_bytes(out_t *o, const void *s, size_t n)
{
    if (o->vars != NULL) {
        memcpy(o->p, s, n);
        o->p += n;
    }
    o->bytes += n;
}

/* Starts a variable; follow with put_bytes (value) and end_var. */
static void begin_var(out_t *o, const char *name)
{
    if (o->vars != NULL)
        o->vars[o->nvars] = o->p;
    ++o->nvars;
    put_bytes(o, name, strlen(name));
    put_bytes(o, "=", 1);
}

static void end_var(out_t *o)
{
    put_bytes(o, "", 1);
}

static void put_n(out_t *o, const char *name, const char *v, size_t n)
{
    begin_var(o, name);
    put_bytes(o, v, n);
    end_var(o);
}

static void put(out_t *o, const char *name, const char *v)
{
    put_n(o, name, v, strlen(v));
}

static void put_num(out_t *o, const char *name, unsigned long long v)
{
    char num[24];
    put_n(o, name, num, (size_t)snprintf(num, sizeof(num), "%llu", v));
}

/* Whether a header may become HTTP_<NAME>: letters, digits and '-' only (an '_' would
 * collide with '-'; anything else is not an environment name). */
static int env_name_ok(const char *name)
{
    if (*name == '\0')
        return 0;
    for (const char *c = name; *c != '\0'; ++c)
        if (!isalnum((unsigned char)*c) && *c != '-')
            return 0;
    return 1;
}

static int value_ok(const uhw_header_t *h)
{
    return memchr(h->value, '\0', h->value_len) == NULL; /* an environment string ends at NUL */
}

/* HTTP_<NAME>=v1, v2... for the first header of each name (later ones are joined to it). */
static void put_headers(out_t *o, const uhw_req_t *req)
{
    for (size_t i = 0; i < req->nheaders; ++i) {
        const char *name = req->headers[i].name;
        if (!env_name_ok(name) || strcasecmp(name, "content-type") == 0 || strcasecmp(name, "content-length") == 0 ||
            strcasecmp(name, "proxy") == 0)
            continue;
        size_t j = 0;
        while (j < i && (strcasecmp(req->headers[j].name, name) != 0 || !value_ok(&req->headers[j])))
            ++j;
        if (j < i || !value_ok(&req->headers[i]))
            continue; /* joined to the first one already, or one an environment cannot carry */
        const char *sep = strcasecmp(name, "cookie") == 0 ? "; " : ", ";
        if (o->vars != NULL)
            o->vars[o->nvars] = o->p;
        ++o->nvars;
        put_bytes(o, "HTTP_", 5);
        for (const char *c = name; *c != '\0'; ++c) {
            char u = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
            put_bytes(o, &u, 1);
        }
        put_bytes(o, "=", 1);
        int first = 1;
        for (size_t k = i; k < req->nheaders; ++k) {
            const uhw_header_t *h = &req->headers[k];
            if (strcasecmp(h->name, name) != 0 || !value_ok(h))
                continue;
            if (!first)
                put_bytes(o, sep, 2);
            put_bytes(o, h->value, h->value_len);
            first = 0;
        }
        end_var(o);
    }
}

/* SERVER_NAME and SERVER_PORT from a Host value: "name", "name:port", "[v6]", "[v6]:port". */
static void put_server(out_t *o, const char *host, int https)
{
    const char *dflt = https ? "443" : "80";
    if (host == NULL || host[0] == '\0') {
        put(o, "SERVER_NAME", "localhost");
        put(o, "SERVER_PORT", dflt);
        return;
    }
    const char *colon;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        colon = close != NULL && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strchr(host, ':');
    }
    if (colon == NULL) {
        put(o, "SERVER_NAME", host);
        put(o, "SERVER_PORT", dflt);
        return;
    }
    put_n(o, "SERVER_NAME", host, (size_t)(colon - host));
    put(o, "SERVER_PORT", colon[1] != '\0' ? colon + 1 : dflt);
}

static const char *header(const uhw_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; ++i)
        if (strcasecmp(req->headers[i].name, name) == 0 && value_ok(&req->headers[i]))
            return (const char *)req->headers[i].value;
    return NULL;
}

static void build(out_t *o, char *const *base, const uhw_req_t *req, const cgi_target_t *t, const char *docroot)
{
    for (size_t i = 0; base[i] != NULL; ++i) {
        if (o->vars != NULL)
            o->vars[o->nvars] = base[i]; /* inherited strings are shared, not copied */
        ++o->nvars;
    }
    int https = strcmp(req->scheme, "https") == 0;
    put(o, "GATEWAY_INTERFACE", "CGI/1.1");
    put(o, "SERVER_SOFTWARE", "uhw/" UHW_VERSION);
    put_server(o, header(req, "host"), https);
    put(o, "SERVER_PROTOCOL", req->http_version[0] != '\0' ? req->http_version : "HTTP/1.1");
    put(o, "REQUEST_METHOD", req->method);
    put(o, "REQUEST_SCHEME", https ? "https" : "http");
    if (https)
        put(o, "HTTPS", "on");
    begin_var(o, "REQUEST_URI"); /* as the client sent it, encoded (RFC 3875 leaves it to the server) */
    if (req->target != NULL && req->target[0] != '\0') {
        put_bytes(o, req->target, strlen(req->target));
    } else {
        put_bytes(o, req->path, strlen(req->path));
        if (req->query[0] != '\0') {
            put_bytes(o, "?", 1);
            put_bytes(o, req->query, strlen(req->query));
        }
    }
    end_var(o);
    put(o, "SCRIPT_NAME", t->script_name);
    put(o, "SCRIPT_FILENAME", t->filename);
    put(o, "DOCUMENT_ROOT", docroot);
    if (t->path_info[0] != '\0') {
        put(o, "PATH_INFO", t->path_info);
        begin_var(o, "PATH_TRANSLATED");
        put_bytes(o, docroot, strlen(docroot));
        put_bytes(o, t->path_info, strlen(t->path_info));
        end_var(o);
    }
    put(o, "QUERY_STRING", req->query);
    put(o, "REMOTE_ADDR", req->remote_addr);
    put_num(o, "REMOTE_PORT", req->remote_port);
    const char *ct = header(req, "content-type");
    if (ct != NULL)
        put(o, "CONTENT_TYPE", ct);
    if (req->body_len != 0 || header(req, "content-length") != NULL)
        put_num(o, "CONTENT_LENGTH", req->body_len); /* what the script gets on stdin */
    put(o, "REDIRECT_STATUS", "200");
    put_num(o, "UHW_REQUEST_ID", req->id);
    put_headers(o, req);
}

char **cgi_env_build(char *const *base, const uhw_req_t *req, const cgi_target_t *t, const char *document_root)
{
    out_t o = {0};
    build(&o, base, req, t, document_root);
    size_t nvars = o.nvars, bytes = o.bytes;
    char **vars = malloc((nvars + 1) * sizeof(*vars) + bytes);
    if (vars == NULL)
        return NULL;
    o = (out_t){.vars = vars, .p = (char *)(vars + nvars + 1)};
    build(&o, base, req, t, document_root);
    vars[o.nvars] = NULL;
    return vars;
}
