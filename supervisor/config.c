/*
 * config.c — the sections of pools.yaml (DESIGN.md §5): the top level, listen, static,
 * victims and pools, each a table of its keys (config_internal.h) read by the walker of
 * config_yaml.c. Defaults are filled in before reading, relative paths made absolute
 * against the YAML file's directory, and what one key cannot check alone (duplicate
 * routes, pool names, listen addresses; one fallback pool) is checked here as the sections
 * are read. config_load returns NULL if anything was reported.
 */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#define POOL_NAME_MAX 64

/* The state of one load, beside the walker's. */
typedef struct load {
    cfg_walk_t w;           /* first: the key tables' readers get &load.w */
    uhw_config_t *cfg;
    cfg_pos_t *name_pos;    /* per pool: where its name is, for "first defined at" */
    const char *pool_label; /* "pool 'api'" while a pool is read, else NULL */
    long fallback;          /* index of the pool without routes, or -1 */
} load_t;

static load_t *loader(cfg_walk_t *w)
{
    return (load_t *)w;
}

/* ------------------------------------------------------------------ freeing */

static void free_argv(char **argv)
{
    if (argv == NULL)
        return;
    for (char **a = argv; *a != NULL; ++a)
        free(*a);
    free(argv);
}

static void free_strs(cfg_strs_t *s)
{
    for (size_t i = 0; i < s->len; ++i)
        free(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

static void free_kvs(cfg_kvs_t *kv)
{
    for (size_t i = 0; i < kv->len; ++i) {
        free(kv->items[i].key);
        free(kv->items[i].value);
    }
    free(kv->items);
}

static void free_listen(cfg_listen_t *l)
{
    free(l->text);
    free(l->host);
    free(l->tls_cert);
    free(l->tls_key);
    memset(l, 0, sizeof(*l));
}

static void free_pool(cfg_pool_t *p)
{
    free(p->name);
    free_argv(p->argv);
    free(p->command_text);
    for (size_t i = 0; i < p->nroutes; ++i) {
        free(p->routes[i].path);
        free(p->routes[i].text);
    }
    free(p->routes);
    free(p->cwd);
    free_kvs(&p->env);
    free(p->user);
    cfg_identity_free(p->run_as);
    free_kvs(&p->settings);
}

void config_free(uhw_config_t *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->dir);
    for (size_t i = 0; i < cfg->nlisten; ++i)
        free_listen(&cfg->listen[i]);
    free(cfg->listen);
    free_strs(&cfg->listen_args);
    free(cfg->control);
    free(cfg->health);
    free(cfg->access_log);
    for (size_t i = 0; i < cfg->nstatics; ++i) {
        free(cfg->statics[i].prefix);
        free(cfg->statics[i].dir);
    }
    free(cfg->statics);
    free(cfg->victims.log);
    free_strs(&cfg->victims.redact_headers);
    free_argv(cfg->victims.command);
    free(cfg->victims.user);
    cfg_identity_free(cfg->victims.run_as);
    for (size_t i = 0; i < cfg->npools; ++i)
        free_pool(&cfg->pools[i]);
    free(cfg->pools);
    free(cfg);
}

unsigned config_total_workers(const uhw_config_t *cfg)
{
    unsigned n = 0;
    for (size_t i = 0; i < cfg->npools; ++i)
        n += cfg->pools[i].workers;
    return n;
}

/* ------------------------------------------------------------------ commands */

typedef struct command {
    char **argv; /* NULL-terminated */
    size_t argc;
    int shell;
    char *text; /* argv[0] or the shell string, as written */
} command_t;

static int shell_command(cfg_walk_t *w, cfg_node_t *v, const char *label, command_t *out)
{
    const char *s = cfg_string_of(w, v, label, "a list such as [./worker, --flag] or a shell command string");
    if (s == NULL)
        return -1;
    if (s[strspn(s, " \t\r\n")] == '\0') {
        cfg_err(w, v, "%s must not be empty", label);
        return -1;
    }
    out->argv = cfg_xcalloc(4, sizeof(*out->argv));
    out->argv[0] = cfg_xstrdup("/bin/sh");
    out->argv[1] = cfg_xstrdup("-c");
    out->argv[2] = cfg_xstrdup(s);
    out->argc = 3;
    out->shell = 1;
    out->text = cfg_xstrdup(s);
    return 0;
}

static int list_command(cfg_walk_t *w, cfg_node_t *v, const char *label, command_t *out)
{
    if (cfg_len(v) == 0) {
        cfg_err(w, v, "%s must not be empty; give the program and its arguments, e.g. [./worker]", label);
        return -1;
    }
    char **argv = cfg_xcalloc(cfg_len(v) + 1, sizeof(*argv));
    size_t argc = 0;
    int rc = 0;
    for (size_t i = 0; i < cfg_len(v); ++i) {
        const char *s = cfg_string_of(w, cfg_item(w, v, i), label, "a list of strings");
        if (s == NULL)
            rc = -1;
        else
            argv[argc++] = cfg_xstrdup(s);
    }
    if (rc == 0 && argv[0][0] == '\0') {
        cfg_err(w, cfg_item(w, v, 0), "%s: the program name must not be empty", label);
        rc = -1;
    }
    if (rc != 0) {
        free_argv(argv);
        return -1;
    }
    out->text = cfg_xstrdup(argv[0]);
    if (strchr(argv[0], '/') != NULL) { /* without '/', execvp searches PATH at spawn time */
        char *abs = cfg_path_resolve(w->dir, argv[0]);
        free(argv[0]);
        argv[0] = abs;
    }
    out->argv = argv;
    out->argc = argc;
    return 0;
}

/* A list is exec'd as is; a string runs as /bin/sh -c STRING. */
static int read_command(cfg_walk_t *w, cfg_node_t *v, const char *label, command_t *out)
{
    memset(out, 0, sizeof(*out));
    if (cfg_is_list(v))
        return list_command(w, v, label, out);
    return shell_command(w, v, label, out);
}

/* ------------------------------------------------------------------ listen */

/* The map form {host, port, tls: {cert, key}} while it is read. */
typedef struct listen_form {
    char *host;
    uint64_t port;
    char *cert, *key;
} listen_form_t;

static int listen_from_text(cfg_walk_t *w, cfg_node_t *v, cfg_listen_t *l)
{
    const char *s = cfg_string_of(w, v, "listen", "an address such as 127.0.0.1:8080, [::1]:8080, a port, or "
                                                  "{port: 8443, tls: {cert: PATH, key: PATH}}");
    if (s == NULL)
        return -1;
    char host[INET6_ADDRSTRLEN], why[200];
    if (cfg_parse_listen_text(s, host, &l->port, why, sizeof(why)) != 0) {
        cfg_err(w, v, "invalid listen address '%s': %s", s, why);
        return -1;
    }
    l->text = cfg_xstrdup(s);
    l->host = cfg_xstrdup(host);
    return 0;
}

static void read_listen_host(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    listen_form_t *f = obj;
    const char *s = cfg_string_of(w, v, label, "an IP address, localhost or *");
    if (s != NULL) {
        free(f->host);
        f->host = cfg_xstrdup(s);
    }
}

static const cfg_field_t tls_fields[] = {
    FIELD(listen_form_t, "cert", F_PATH, cert, 0, 0),
    FIELD(listen_form_t, "key", F_PATH, key, 0, 0),
};

static void read_tls(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    if (!cfg_is_map(v)) {
        cfg_type_error(w, v, label, "a mapping {cert: PATH, key: PATH}");
        return;
    }
    cfg_scope_t s = {"", "listen.tls.", "in listen tls"};
    cfg_read_mapping(w, v, tls_fields, COUNT(tls_fields), obj, &s);
    int has_cert = cfg_find(w, v, "cert") != NULL, has_key = cfg_find(w, v, "key") != NULL;
    if (!has_cert || !has_key)
        cfg_err(w, v, "listen tls needs both cert and key (%s is missing)", has_cert ? "key" : "cert");
}

static const cfg_field_t listen_fields[] = {
    FUNC("host", read_listen_host),
    FIELD(listen_form_t, "port", F_U64, port, 0, 65535),
    FUNC("tls", read_tls),
};

/* Builds the listener from a map form read without errors. */
static int listen_from_form(cfg_walk_t *w, cfg_node_t *m, listen_form_t *f, cfg_listen_t *l)
{
    char host[INET6_ADDRSTRLEN], why[200], h[256];
    const char *written = f->host != NULL ? f->host : "127.0.0.1";
    size_t len = strlen(written);
    if (len >= 2 && written[0] == '[' && written[len - 1] == ']' && len - 2 < sizeof(h)) { /* [::1] too */
        memcpy(h, written + 1, len - 2);
        h[len - 2] = '\0';
    } else {
        snprintf(h, sizeof(h), "%s", written);
    }
    if (cfg_normalize_host(h, 1, host, why, sizeof(why)) != 0) {
        cfg_err(w, cfg_find(w, m, "host"), "invalid listen address '%s': %s", written, why);
        return -1;
    }
    l->port = (uint16_t)f->port;
    if (f->host == NULL)
        l->text = cfg_xasprintf("%u", l->port);
    else
        l->text = cfg_xasprintf(strchr(h, ':') != NULL ? "[%s]:%u" : "%s:%u", h, l->port);
    l->host = cfg_xstrdup(host);
    l->tls_cert = f->cert;
    l->tls_key = f->key;
    f->cert = f->key = NULL;
    return 0;
}

static int listen_from_map(cfg_walk_t *w, cfg_node_t *m, cfg_listen_t *l)
{
    listen_form_t f = {0};
    size_t before = w->errs->len;
    cfg_scope_t s = {"", "listen.", "in listen entry"};
    cfg_read_mapping(w, m, listen_fields, COUNT(listen_fields), &f, &s);
    int rc = -1;
    if (cfg_find(w, m, "port") == NULL)
        cfg_err(w, m, "listen entry needs a port, e.g. {port: 8443}");
    else if (w->errs->len == before)
        rc = listen_from_form(w, m, &f, l);
    free(f.host);
    free(f.cert);
    free(f.key);
    return rc;
}

/* Two listeners on one address cannot both bind; port 0 gets a fresh port each time. */
static int listen_duplicate(cfg_walk_t *w, const uhw_config_t *cfg, const cfg_listen_t *l, cfg_node_t *v)
{
    for (size_t i = 0; i < cfg->nlisten && l->port != 0; ++i) {
        const cfg_listen_t *o = &cfg->listen[i];
        if (o->port == l->port && strcmp(o->host, l->host) == 0) {
            cfg_err(w, v, "duplicate listen address '%s' (first at %d:%d)", l->text, o->pos.line, o->pos.col);
            return 1;
        }
    }
    return 0;
}

static void read_listen_entry(cfg_walk_t *w, uhw_config_t *cfg, cfg_node_t *v)
{
    cfg_listen_t *l = &cfg->listen[cfg->nlisten];
    int rc = cfg_is_map(v) ? listen_from_map(w, v, l) : listen_from_text(w, v, l);
    l->pos = cfg_node_pos(v);
    if (rc != 0 || listen_duplicate(w, cfg, l, v)) {
        free_listen(l);
        return;
    }
    cfg->nlisten++;
}

/* A list of addresses; a single address (string, port or map) is a list of one. */
static void read_listen(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (!cfg_is_list(v)) {
        cfg->listen = cfg_xcalloc(1, sizeof(*cfg->listen));
        read_listen_entry(w, cfg, v);
        return;
    }
    if (cfg_len(v) == 0) {
        cfg_err(w, v, "%s must not be empty; give at least one address such as 127.0.0.1:8080", label);
        return;
    }
    cfg->listen = cfg_xcalloc(cfg_len(v), sizeof(*cfg->listen));
    for (size_t i = 0; i < cfg_len(v); ++i)
        read_listen_entry(w, cfg, cfg_item(w, v, i));
}

int config_set_listen(uhw_config_t *cfg, char *const *addrs, size_t n, cfg_errors_t *errs)
{
    size_t before = errs->len, len = 0;
    cfg_listen_t *list = cfg_xcalloc(n, sizeof(*list));
    for (size_t i = 0; i < n; ++i) {
        char host[INET6_ADDRSTRLEN], why[200];
        uint16_t port;
        if (cfg_parse_listen_text(addrs[i], host, &port, why, sizeof(why)) != 0) {
            cfg_errors_push(errs, cfg_xasprintf("--listen: invalid listen address '%s': %s", addrs[i], why));
            continue;
        }
        size_t j = 0;
        while (j < len && (port == 0 || list[j].port != port || strcmp(list[j].host, host) != 0))
            ++j;
        if (j < len) {
            cfg_errors_push(errs, cfg_xasprintf("--listen: duplicate listen address '%s' (the same as '%s')",
                                                addrs[i], list[j].text));
            continue;
        }
        list[len++] = (cfg_listen_t){.text = cfg_xstrdup(addrs[i]), .host = cfg_xstrdup(host), .port = port};
    }
    if (errs->len > before || n == 0) {
        for (size_t i = 0; i < len; ++i)
            free_listen(&list[i]);
        free(list);
        return n == 0 ? 0 : -1;
    }
    cfg_strs_t args = {cfg_xcalloc(n, sizeof(char *)), n};
    for (size_t i = 0; i < n; ++i) /* copied before the old ones go: `addrs` may be cfg->listen_args */
        args.items[i] = cfg_xstrdup(addrs[i]);
    free_strs(&cfg->listen_args);
    cfg->listen_args = args;
    for (size_t i = 0; i < cfg->nlisten; ++i)
        free_listen(&cfg->listen[i]);
    free(cfg->listen);
    cfg->listen = list;
    cfg->nlisten = len;
    return 0;
}

/* ------------------------------------------------------------------ top-level values */

/* A UNIX socket path must fit in sockaddr_un; better to say so now than at bind time. */
static void check_socket_path(cfg_walk_t *w, cfg_node_t *at, const char *path)
{
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    if (strlen(path) > max)
        cfg_err(w, at, "control socket path '%s' is too long for a UNIX socket (%zu bytes, at most %zu); "
                       "set control to a shorter path", path, strlen(path), max);
}

static void read_control(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (cfg_read_path(w, v, label, 0, &cfg->control) == 0) {
        cfg->control_pos = cfg_node_pos(v);
        check_socket_path(w, v, cfg->control);
    }
}

static void read_health(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (cfg_read_string(w, v, label, 1, &cfg->health) == 0 && cfg->health != NULL && cfg->health[0] != '/')
        cfg_err(w, v, "%s must be a path starting with '/', e.g. /healthz, got '%s'", label, cfg->health);
}

/* A path, "-" for stderr, or null for no access log. */
static void read_access_log(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (cfg_scalar(v) != NULL && strcmp(cfg_scalar(v), "-") == 0) {
        free(cfg->access_log);
        cfg->access_log = cfg_xstrdup("-");
        return;
    }
    cfg_read_path(w, v, label, 1, &cfg->access_log);
}

static void read_static(cfg_walk_t *w, void *obj, cfg_node_t *m, const char *label)
{
    uhw_config_t *cfg = obj;
    if (!cfg_is_map(m)) {
        cfg_type_error(w, m, label, "a mapping of URL prefix to directory, e.g. {/assets/: ./public/}");
        return;
    }
    cfg->statics = cfg_xcalloc(cfg_len(m), sizeof(*cfg->statics));
    for (size_t i = 0; i < cfg_len(m); ++i) {
        const char *prefix = cfg_key(w, m, i, "in static");
        if (prefix == NULL)
            continue;
        if (prefix[0] != '/') {
            cfg_err(w, cfg_pair_key(w, m, i), "static prefix '%s' must start with '/', e.g. /assets/", prefix);
            continue;
        }
        char *dir = NULL, *item_label = cfg_xasprintf("static '%s'", prefix);
        cfg_node_t *v = cfg_pair_value(w, m, i);
        if (cfg_read_path(w, v, item_label, 0, &dir) == 0) {
            cfg_static_t *st = &cfg->statics[cfg->nstatics++];
            st->prefix = cfg_xstrdup(prefix);
            st->dir = dir;
            st->pos = cfg_node_pos(v);
        }
        free(item_label);
    }
}

static void read_redact_headers(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    cfg_victims_t *vi = obj;
    if (!cfg_is_list(v)) {
        cfg_type_error(w, v, label, "a list of header names such as [authorization, cookie]");
        return;
    }
    cfg_strs_t list = {cfg_xcalloc(cfg_len(v), sizeof(char *)), 0};
    for (size_t i = 0; i < cfg_len(v); ++i) {
        char *name = NULL;
        if (cfg_read_string(w, cfg_item(w, v, i), label, 0, &name) != 0)
            continue;
        for (char *p = name; *p; ++p) /* header names compare case-insensitively */
            *p = (char)tolower((unsigned char)*p);
        list.items[list.len++] = name;
    }
    free_strs(&vi->redact_headers);
    vi->redact_headers = list;
}

static void read_victims_command(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    cfg_victims_t *vi = obj;
    command_t cmd;
    if (cfg_is_null(v) || read_command(w, v, label, &cmd) != 0)
        return;
    free_argv(vi->command);
    vi->command = cmd.argv;
    vi->command_shell = cmd.shell;
    free(cmd.text);
}

static void read_victims_user(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    cfg_victims_t *vi = obj;
    if (cfg_read_string(w, v, label, 1, &vi->user) == 0)
        vi->user_pos = cfg_node_pos(v);
}

static const cfg_field_t victims_fields[] = {
    NULLABLE(cfg_victims_t, "log", F_PATH, log, 0, 0),
    FIELD(cfg_victims_t, "max_body", F_SIZE, max_body, 0, UINT64_MAX),
    FUNC("redact_headers", read_redact_headers),
    FUNC("command", read_victims_command),
    FUNC("user", read_victims_user),
};

static void read_victims(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (!cfg_is_map(v)) {
        cfg_type_error(w, v, label, "a mapping such as {log: victims.jsonl, max_body: 64KiB}");
        return;
    }
    cfg_scope_t s = {"", "victims.", "in victims"};
    cfg_read_mapping(w, v, victims_fields, COUNT(victims_fields), &cfg->victims, &s);
}

/* ------------------------------------------------------------------ pools */

static void read_nothing(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    (void)w, (void)obj, (void)v, (void)label;
}

static void read_pool_command(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    cfg_pool_t *p = obj;
    command_t cmd;
    p->command_pos = cfg_node_pos(v);
    if (read_command(w, v, label, &cmd) != 0)
        return;
    p->argv = cmd.argv;
    p->argc = cmd.argc;
    p->shell = cmd.shell;
    p->command_text = cmd.text;
}

// "/x" is exact, "/x/**" is /x and everything under it, "/**" is everything.
static int parse_route(cfg_walk_t *w, cfg_node_t *v, const char *s, cfg_route_t *r)
{
    load_t *c = loader(w);
    size_t len = strlen(s);
    int prefix = len >= 3 && strcmp(s + len - 3, "/**") == 0;
    size_t path_len = prefix ? len - 3 : len;
    if (s[0] != '/') {
        cfg_err(w, v, "%s: route '%s' must start with '/'", c->pool_label, s);
        return -1;
    }
    if (memchr(s, '*', path_len) != NULL) {
        cfg_err(w, v, "%s: route '%s': '*' is only allowed as a final '/**', e.g. /api/**", c->pool_label, s);
        return -1;
    }
    if (strpbrk(s, "?#") != NULL) {
        cfg_err(w, v, "%s: route '%s' must not contain '?' or '#': routes match the path only", c->pool_label, s);
        return -1;
    }
    r->text = cfg_xstrdup(s);
    r->path = path_len == 0 ? cfg_xstrdup("/") : cfg_xstrndup(s, path_len);
    r->prefix = prefix;
    return 0;
}

/* Routes pick one pool: the same route twice, here or in another pool, is a mistake. */
static int route_taken(cfg_walk_t *w, const cfg_route_t *r, cfg_node_t *v)
{
    load_t *c = loader(w);
    const uhw_config_t *cfg = c->cfg;
    for (size_t i = 0; i < cfg->npools; ++i) {
        const cfg_pool_t *p = &cfg->pools[i];
        for (size_t j = 0; j < p->nroutes; ++j) {
            if (p->routes[j].prefix != r->prefix || strcmp(p->routes[j].path, r->path) != 0)
                continue;
            if (i + 1 == cfg->npools)
                cfg_err(w, v, "%s: route '%s' is listed twice", c->pool_label, r->text);
            else
                cfg_err(w, v, "%s: route '%s' is already used by pool '%s'", c->pool_label, r->text,
                        p->name ? p->name : "?");
            return 1;
        }
    }
    return 0;
}

static void read_routes(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    cfg_pool_t *p = obj;
    static const char expected[] = "a list of paths such as [/api/**, /version] "
                                   "(omit routes to make this the fallback pool)";
    if (!cfg_is_list(v)) {
        cfg_type_error(w, v, label, expected);
        return;
    }
    if (cfg_len(v) == 0) {
        cfg_err(w, v, "%s must not be empty; omit it to make this the fallback pool", label);
        return;
    }
    p->routes = cfg_xcalloc(cfg_len(v), sizeof(*p->routes));
    for (size_t i = 0; i < cfg_len(v); ++i) {
        cfg_node_t *item = cfg_item(w, v, i);
        const char *s = cfg_string_of(w, item, label, expected);
        cfg_route_t r;
        if (s == NULL || parse_route(w, item, s, &r) != 0)
            continue;
        if (route_taken(w, &r, item)) {
            free(r.path);
            free(r.text);
            continue;
        }
        p->routes[p->nroutes++] = r;
    }
}

static void read_multiplier(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    cfg_backoff_t *b = obj;
    const char *s = cfg_string_of(w, v, label, "a number from 1 to 100");
    if (s == NULL)
        return;
    cfg_decimal_t d;
    const char *end = cfg_parse_decimal(s, &d);
    double m = end != NULL && *end == '\0' ? strtod(s, NULL) : -1;
    if (m < 1 || m > 100) {
        cfg_type_error(w, v, label, "a number from 1 to 100");
        return;
    }
    b->multiplier = m;
}

static const cfg_field_t backoff_fields[] = {
    FIELD(cfg_backoff_t, "initial", F_DURATION, initial_ms, 0, DURATION_MAX_MS),
    FIELD(cfg_backoff_t, "max", F_DURATION, max_ms, 0, DURATION_MAX_MS),
    FUNC("multiplier", read_multiplier),
    FIELD(cfg_backoff_t, "reset_after", F_DURATION, reset_after_ms, 0, DURATION_MAX_MS),
};

static void read_backoff(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    load_t *c = loader(w);
    cfg_pool_t *p = obj;
    if (!cfg_is_map(v)) {
        cfg_type_error(w, v, label, "a mapping such as {initial: 100ms, max: 30s, multiplier: 2, reset_after: 10s}");
        return;
    }
    char *where = cfg_xasprintf("%s: ", c->pool_label), *in = cfg_xasprintf("in backoff of %s", c->pool_label);
    cfg_scope_t s = {where, "backoff.", in};
    size_t before = w->errs->len;
    cfg_read_mapping(w, v, backoff_fields, COUNT(backoff_fields), &p->backoff, &s);
    if (w->errs->len == before && p->backoff.initial_ms > p->backoff.max_ms) {
        char a[32], b[32];
        cfg_err(w, v, "%sbackoff.initial (%s) must not be greater than backoff.max (%s)", where,
                cfg_fmt_duration(p->backoff.initial_ms, a), cfg_fmt_duration(p->backoff.max_ms, b));
    }
    free(where);
    free(in);
}

static void read_cwd(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    cfg_pool_t *p = obj;
    if (cfg_read_path(w, v, label, 0, &p->cwd) == 0)
        p->cwd_pos = cfg_node_pos(v);
}

static int env_name_ok(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return 0;
    for (; *s; ++s)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int setting_name_ok(const char *s)
{
    return *s != '\0';
}

static void read_env(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    load_t *c = loader(w);
    char *in = cfg_xasprintf("in env of %s", c->pool_label);
    cfg_read_kvs(w, v, label, in, env_name_ok, "use letters, digits and '_', not starting with a digit",
                 &((cfg_pool_t *)obj)->env);
    free(in);
}

static void read_settings(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    load_t *c = loader(w);
    char *in = cfg_xasprintf("in settings of %s", c->pool_label);
    cfg_read_kvs(w, v, label, in, setting_name_ok, "names must not be empty", &((cfg_pool_t *)obj)->settings);
    free(in);
}

static const cfg_field_t pool_fields[] = {
    FUNC("name", read_nothing), /* read first, by read_pool_name, so every message can name the pool */
    FUNC("command", read_pool_command),
    FIELD(cfg_pool_t, "workers", F_UINT, workers, 1, 1024),
    FUNC("routes", read_routes),
    FIELD(cfg_pool_t, "concurrency", F_UINT, concurrency, 1, 10000),
    FIELD(cfg_pool_t, "timeout", F_DURATION, timeout_ms, 1, DURATION_MAX_MS),
    FIELD(cfg_pool_t, "stuck_timeout", F_DURATION, stuck_timeout_ms, 1, DURATION_MAX_MS),
    FIELD(cfg_pool_t, "ready_timeout", F_DURATION, ready_timeout_ms, 1, DURATION_MAX_MS),
    FIELD(cfg_pool_t, "max_restarts", F_UINT, max_restarts, 0, 1000000),
    FIELD(cfg_pool_t, "restart_window", F_DURATION, restart_window_ms, 1, DURATION_MAX_MS),
    NULLABLE(cfg_pool_t, "degraded_retry", F_DURATION, degraded_retry_ms, 1, DURATION_MAX_MS),
    NULLABLE(cfg_pool_t, "slow_log", F_DURATION, slow_log_ms, 1, DURATION_MAX_MS),
    FUNC("backoff", read_backoff),
    FIELD(cfg_pool_t, "max_requests", F_U64, max_requests, 0, UINT64_MAX),
    FIELD(cfg_pool_t, "max_requests_jitter", F_U64, max_requests_jitter, 0, UINT64_MAX),
    FIELD(cfg_pool_t, "max_rss", F_SIZE, max_rss, 0, UINT64_MAX),
    FIELD(cfg_pool_t, "queue_limit", F_UINT, queue_limit, 0, 10000000),
    FIELD(cfg_pool_t, "max_frame", F_SIZE, max_frame, KIB, GIB),
    FIELD(cfg_pool_t, "graceful_timeout", F_DURATION, graceful_timeout_ms, 1, DURATION_MAX_MS),
    FIELD(cfg_pool_t, "kill_timeout", F_DURATION, kill_timeout_ms, 1, DURATION_MAX_MS),
    FUNC("cwd", read_cwd),
    FUNC("env", read_env),
    FIELD(cfg_pool_t, "clear_env", F_BOOL, clear_env, 0, 0),
    NULLABLE(cfg_pool_t, "user", F_STRING, user, 0, 0),
    FUNC("settings", read_settings),
};

static void pool_defaults(cfg_pool_t *p)
{
    p->workers = 4;
    p->concurrency = 1;
    p->timeout_ms = 30 * 1000;
    p->stuck_timeout_ms = 60 * 1000;
    p->ready_timeout_ms = 10 * 1000;
    p->max_restarts = 10;
    p->restart_window_ms = 5 * 60 * 1000;
    p->backoff = (cfg_backoff_t){.initial_ms = 100, .max_ms = 30 * 1000, .multiplier = 2, .reset_after_ms = 10 * 1000};
    p->queue_limit = 1000;
    p->max_frame = 16 * MIB;
    p->graceful_timeout_ms = 10 * 1000;
    p->kill_timeout_ms = 5 * 1000;
}

static int pool_name_ok(const char *s)
{
    size_t len = strlen(s);
    return len > 0 && len <= POOL_NAME_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* The name is read before the other keys, wherever it is written, so that their messages
 * can say which pool they are about. */
static void read_pool_name(cfg_walk_t *w, cfg_node_t *m, size_t i)
{
    load_t *c = loader(w);
    cfg_pool_t *p = &c->cfg->pools[i];
    cfg_node_t *v = cfg_find(w, m, "name");
    if (v == NULL) {
        cfg_err(w, m, "pool #%zu: missing required key 'name'", i + 1);
        return;
    }
    char label[48];
    snprintf(label, sizeof(label), "pool #%zu: name", i + 1);
    const char *name = cfg_string_of(w, v, label, "a name such as api");
    if (name == NULL)
        return;
    p->name = cfg_xstrdup(name);
    c->name_pos[i] = cfg_node_pos(v);
    if (!pool_name_ok(name)) {
        cfg_err(w, v, "invalid pool name '%s': use 1 to %d characters from a-z, 0-9, '_' and '-'", name, POOL_NAME_MAX);
        return;
    }
    for (size_t j = 0; j < i; ++j) {
        if (c->cfg->pools[j].name != NULL && strcmp(c->cfg->pools[j].name, name) == 0) {
            cfg_err(w, v, "duplicate pool name '%s' (first defined at %d:%d)", name, c->name_pos[j].line,
                    c->name_pos[j].col);
            return;
        }
    }
}

/* The pool without routes takes what no other pool does; two such pools cannot both. */
static void check_fallback(cfg_walk_t *w, size_t i, cfg_node_t *m)
{
    load_t *c = loader(w);
    if (c->fallback < 0) {
        c->fallback = (long)i;
        return;
    }
    const cfg_pool_t *first = &c->cfg->pools[c->fallback];
    char other[96];
    if (first->name != NULL)
        snprintf(other, sizeof(other), "pool '%s'", first->name);
    else
        snprintf(other, sizeof(other), "pool #%ld", c->fallback + 1);
    cfg_err(w, m, "%s has no routes, but %s (at %d:%d) is already the fallback pool; only one pool may omit routes",
            c->pool_label, other, first->pos.line, first->pos.col);
}

static void read_pool(cfg_walk_t *w, cfg_node_t *m)
{
    load_t *c = loader(w);
    size_t i = c->cfg->npools++;
    cfg_pool_t *p = &c->cfg->pools[i];
    pool_defaults(p);
    p->pos = p->cwd_pos = cfg_node_pos(m);
    p->cwd = cfg_xstrdup(w->dir);
    if (!cfg_is_map(m)) {
        char label[32];
        snprintf(label, sizeof(label), "pool #%zu", i + 1);
        cfg_type_error(w, m, label, "a mapping with at least name and command");
        return;
    }
    read_pool_name(w, m, i);
    char *label = p->name != NULL ? cfg_xasprintf("pool '%s'", p->name) : cfg_xasprintf("pool #%zu", i + 1);
    char *where = cfg_xasprintf("%s: ", label), *in = cfg_xasprintf("in %s", label);
    cfg_scope_t s = {where, "", in};
    c->pool_label = label;
    cfg_read_mapping(w, m, pool_fields, COUNT(pool_fields), p, &s);
    if (cfg_find(w, m, "command") == NULL)
        cfg_err(w, m, "%s: missing required key 'command' (a list such as [./worker] or a shell command string)",
                label);
    if (cfg_find(w, m, "routes") == NULL)
        check_fallback(w, i, m);
    c->pool_label = NULL;
    free(label);
    free(where);
    free(in);
}

static void read_pools(cfg_walk_t *w, void *obj, cfg_node_t *v, const char *label)
{
    load_t *c = loader(w);
    uhw_config_t *cfg = obj;
    if (!cfg_is_list(v)) {
        cfg_type_error(w, v, label, "a list of pools");
        return;
    }
    if (cfg_len(v) == 0) {
        cfg_err(w, v, "%s must list at least one pool", label);
        return;
    }
    cfg->pools = cfg_xcalloc(cfg_len(v), sizeof(*cfg->pools));
    c->name_pos = cfg_xcalloc(cfg_len(v), sizeof(*c->name_pos));
    for (size_t i = 0; i < cfg_len(v); ++i)
        read_pool(w, cfg_item(w, v, i));
}

/* ------------------------------------------------------------------ the document */

static const cfg_field_t top_fields[] = {
    FUNC("listen", read_listen),
    FUNC("control", read_control),
    FIELD(uhw_config_t, "max_pending", F_UINT, max_pending, 1, UINT_MAX),
    FIELD(uhw_config_t, "max_body", F_SIZE, max_body, 0, UINT64_MAX),
    FIELD(uhw_config_t, "shutdown_timeout", F_DURATION, shutdown_timeout_ms, 1, DURATION_MAX_MS),
    FUNC("health", read_health),
    FUNC("access_log", read_access_log),
    FUNC("static", read_static),
    FUNC("victims", read_victims),
    FUNC("pools", read_pools),
};

/* Every default of DESIGN §5 that is not zero. */
static uhw_config_t *config_new(const char *path, char *dir)
{
    static const char *const redact[] = {"authorization", "cookie"};
    uhw_config_t *cfg = cfg_xcalloc(1, sizeof(*cfg));
    cfg->path = cfg_xstrdup(path);
    cfg->dir = dir;
    cfg->control = cfg_path_resolve(dir, "uhw.sock");
    cfg->control_pos = (cfg_pos_t){1, 1};
    cfg->max_pending = 1000;
    cfg->max_body = 10 * MIB;
    cfg->shutdown_timeout_ms = 10 * 1000;
    cfg->victims.log = cfg_path_resolve(dir, "victims.jsonl");
    cfg->victims.max_body = 64 * KIB;
    cfg->victims.redact_headers.items = cfg_xcalloc(COUNT(redact), sizeof(char *));
    for (size_t i = 0; i < COUNT(redact); ++i)
        cfg->victims.redact_headers.items[i] = cfg_xstrdup(redact[i]);
    cfg->victims.redact_headers.len = COUNT(redact);
    return cfg;
}

static void read_document(cfg_walk_t *w, cfg_node_t *root)
{
    load_t *c = loader(w);
    uhw_config_t *cfg = c->cfg;
    if (root == NULL) {
        cfg_errors_add(w->errs, w->file, (cfg_pos_t){1, 1}, "the file is empty; expected a mapping with 'pools'");
        return;
    }
    if (!cfg_is_map(root)) {
        cfg_type_error(w, root, "the top level", "a mapping with 'pools'");
        return;
    }
    cfg_scope_t s = {"", "", "at top level"};
    cfg_read_mapping(w, root, top_fields, COUNT(top_fields), cfg, &s);
    if (cfg_find(w, root, "pools") == NULL)
        cfg_err(w, root, "missing required key 'pools' (the list of worker pools)");
    if (cfg_find(w, root, "control") == NULL)
        check_socket_path(w, root, cfg->control);
    if (cfg->nlisten == 0) {
        free(cfg->listen);
        cfg->listen = cfg_xcalloc(1, sizeof(*cfg->listen));
        cfg->listen[0] = (cfg_listen_t){.text = cfg_xstrdup("127.0.0.1:8080"), .host = cfg_xstrdup("127.0.0.1"),
                                        .port = 8080, .pos = cfg_node_pos(root)};
        cfg->nlisten = 1;
    }
}

/* The text of a regular file, or NULL after one error "FILE: cannot open: reason". */
static char *read_config_file(const char *path, size_t *len, cfg_errors_t *errs)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    int e = 0;
    char *text = NULL;
    size_t n = 0, cap = 0;
    if (f == NULL)
        e = errno;
    else if (fstat(fileno(f), &st) != 0)
        e = errno;
    else if (S_ISDIR(st.st_mode)) /* fopen accepts a directory; reading it fails later, less clearly */
        e = EISDIR;
    while (e == 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            if ((text = realloc(text, cap)) == NULL)
                abort();
        }
        size_t got = fread(text + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                e = errno != 0 ? errno : EIO;
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    if (e != 0) {
        free(text);
        cfg_errors_push(errs, cfg_xasprintf("%s: cannot open: %s", path, strerror(e)));
        return NULL;
    }
    *len = n;
    return text != NULL ? text : cfg_xstrdup("");
}

uhw_config_t *config_load_buffer(const char *name, const char *text, size_t len, cfg_errors_t *errs)
{
    size_t before = errs->len;
    char *dir = cfg_dir_of(name);
    if (dir == NULL) {
        cfg_errors_push(errs, cfg_xasprintf("%s: cannot resolve its directory: %s", name, strerror(errno)));
        return NULL;
    }
    load_t c = {.w = {.file = name, .dir = dir, .errs = errs}, .fallback = -1};
    c.cfg = config_new(name, dir);
    cfg_walk_text(&c.w, text, len, read_document);
    free(c.name_pos);
    if (errs->len > before) {
        config_free(c.cfg);
        return NULL;
    }
    return c.cfg;
}

uhw_config_t *config_load(const char *path, cfg_errors_t *errs)
{
    size_t len;
    char *text = read_config_file(path, &len, errs);
    if (text == NULL)
        return NULL;
    uhw_config_t *cfg = config_load_buffer(path, text, len, errs);
    free(text);
    return cfg;
}

char *config_control_socket(const char *path)
{
    char *dir = cfg_dir_of(path);
    if (dir == NULL)
        return NULL;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    size_t len;
    char *text = read_config_file(path, &len, &errs);
    char *control = text != NULL ? cfg_scan_top_scalar(text, len, "control") : NULL;
    char *sock = cfg_path_resolve(dir, control != NULL ? control : "uhw.sock");
    free(control);
    free(text);
    cfg_errors_free(&errs);
    free(dir);
    return sock;
}
