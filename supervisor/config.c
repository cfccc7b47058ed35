/*
 * config.c — pools.yaml into the plain structs of config.h (DESIGN.md §5).
 *
 * libyaml's document API gives a tree of nodes that carry their positions. We walk
 * it once. Each mapping (top level, pool, backoff, victims, listen entry, tls) has a
 * table of its keys saying how to read each value, so unknown keys, repeated keys and
 * "did you mean" are handled in one place (read_mapping). Every problem is appended
 * to the error list and the walk goes on, so one run reports all of them;
 * config_load returns NULL if it found any. Out of memory aborts: a half-read config
 * is of no use to anyone.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <yaml.h>

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define DURATION_MAX_MS ((uint64_t)30 * 24 * 3600 * 1000) /* 30 days: fits every uint32 ms field */
#define POOL_NAME_MAX 64
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin" /* when the process has no PATH at all */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ allocation */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        abort();
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        abort();
    return p;
}

static char *xvasprintf(const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

/* ------------------------------------------------------------------ error list */

void cfg_errors_init(cfg_errors_t *errs)
{
    memset(errs, 0, sizeof(*errs));
}

void cfg_errors_free(cfg_errors_t *errs)
{
    for (size_t i = 0; i < errs->len; ++i)
        free(errs->items[i]);
    free(errs->items);
    cfg_errors_init(errs);
}

/* Takes ownership of `msg`. */
static void errors_push(cfg_errors_t *errs, char *msg)
{
    if (errs->len == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        char **items = realloc(errs->items, cap * sizeof(*items));
        if (items == NULL)
            abort();
        errs->items = items;
        errs->cap = cap;
    }
    errs->items[errs->len++] = msg;
}

void cfg_errors_add(cfg_errors_t *errs, const char *file, cfg_pos_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    errors_push(errs, xasprintf("%s:%d:%d: %s", file, pos.line, pos.col, msg));
    free(msg);
}

/* ------------------------------------------------------------------ value syntaxes */

/* A number as written: whole part and up to 6 decimals (enough for "1.5s" or "0.25GiB";
 * further digits are ignored), kept as integers so scaling is exact. */
typedef struct decimal {
    uint64_t whole, frac;
    unsigned frac_digits;
} decimal_t;

/* Parses "DIGITS[.DIGITS]" at the start of `s`; returns where it stopped, or NULL. */
static const char *parse_decimal(const char *s, decimal_t *d)
{
    memset(d, 0, sizeof(*d));
    if (!isdigit((unsigned char)*s))
        return NULL;
    for (; isdigit((unsigned char)*s); ++s) {
        unsigned digit = (unsigned)(*s - '0');
        if (d->whole > (UINT64_MAX - digit) / 10)
            return NULL;
        d->whole = d->whole * 10 + digit;
    }
    if (*s != '.')
        return s;
    if (!isdigit((unsigned char)*++s))
        return NULL;
    for (; isdigit((unsigned char)*s); ++s) {
        if (d->frac_digits < 6) {
            d->frac = d->frac * 10 + (uint64_t)(*s - '0');
            d->frac_digits++;
        }
    }
    return s;
}

/* d × unit, rounded to the nearest integer. unit ≤ 2^40 keeps frac × unit below 2^64. */
static int decimal_scale(const decimal_t *d, uint64_t unit, uint64_t *out)
{
    uint64_t pow10 = 1;
    for (unsigned i = 0; i < d->frac_digits; ++i)
        pow10 *= 10;
    if (d->whole > UINT64_MAX / unit)
        return -1;
    uint64_t whole = d->whole * unit;
    uint64_t frac = (d->frac * unit + pow10 / 2) / pow10;
    if (whole > UINT64_MAX - frac)
        return -1;
    *out = whole + frac;
    return 0;
}

int config_parse_duration(const char *s, uint64_t *ms)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};
    decimal_t d;
    const char *unit = s ? parse_decimal(s, &d) : NULL;
    if (unit == NULL)
        return -1;
    if (*unit == ' ') /* "30 s" reads fine too */
        ++unit;
    for (size_t i = 0; i < COUNT(units); ++i)
        if (strcmp(unit, units[i].name) == 0)
            return decimal_scale(&d, units[i].ms, ms);
    return -1;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
    /* Case-insensitive; "KiB" and "K" are 1024-based, "KB" is 1000-based, as `df -h` and
     * `df -H` read them. */
    static const struct {
        const char *name;
        uint64_t bytes;
    } units[] = {
        {"", 1},           {"b", 1},
        {"k", KIB},        {"kib", KIB},        {"kb", 1000},
        {"m", MIB},        {"mib", MIB},        {"mb", 1000 * 1000},
        {"g", GIB},        {"gib", GIB},        {"gb", 1000 * 1000 * 1000},
        {"t", GIB * 1024}, {"tib", GIB * 1024}, {"tb", (uint64_t)1000 * 1000 * 1000 * 1000},
    };
    decimal_t d;
    const char *unit = s ? parse_decimal(s, &d) : NULL;
    if (unit == NULL)
        return -1;
    if (*unit == ' ')
        ++unit;
    for (size_t i = 0; i < COUNT(units); ++i) {
        if (strcasecmp(unit, units[i].name) != 0)
            continue;
        if (units[i].bytes == 1 && d.frac_digits > 0) /* a fraction of a byte means a typo */
            return -1;
        return decimal_scale(&d, units[i].bytes, bytes);
    }
    return -1;
}

/* Non-negative decimal integer. Returns 0, or -1 not an integer, -2 negative, -3 too large. */
static int parse_u64(const char *s, uint64_t *out)
{
    int negative = *s == '-';
    const char *p = s + negative;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); ++p) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return negative ? -2 : -3;
        v = v * 10 + digit;
    }
    if (*p != '\0')
        return -1;
    if (negative && v != 0)
        return -2;
    *out = v;
    return 0;
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; ++s)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* "1h", "5m", "30s", "250ms": the shortest exact spelling, for messages. */
static const char *fmt_duration(uint64_t ms, char buf[32])
{
    if (ms != 0 && ms % (3600 * 1000) == 0)
        snprintf(buf, 32, "%lluh", (unsigned long long)(ms / (3600 * 1000)));
    else if (ms != 0 && ms % (60 * 1000) == 0)
        snprintf(buf, 32, "%llum", (unsigned long long)(ms / (60 * 1000)));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, 32, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, 32, "%llums", (unsigned long long)ms);
    return buf;
}

static const char *fmt_size(uint64_t n, char buf[32])
{
    if (n != 0 && n % GIB == 0)
        snprintf(buf, 32, "%lluGiB", (unsigned long long)(n / GIB));
    else if (n != 0 && n % MIB == 0)
        snprintf(buf, 32, "%lluMiB", (unsigned long long)(n / MIB));
    else if (n != 0 && n % KIB == 0)
        snprintf(buf, 32, "%lluKiB", (unsigned long long)(n / KIB));
    else
        snprintf(buf, 32, "%llu", (unsigned long long)n);
    return buf;
}

static const char *fmt_plain(uint64_t n, char buf[32])
{
    snprintf(buf, 32, "%llu", (unsigned long long)n);
    return buf;
}

/* ------------------------------------------------------------------ paths */

/* `p` made absolute against `dir` and cleaned lexically ("." and empty components dropped,
 * ".." removes the one before, no trailing '/'): operators read "./public/" as DIR/public. */
static char *path_resolve(const char *dir, const char *p)
{
    char *joined = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", dir, p);
    char *out = xcalloc(strlen(joined) + 2, 1);
    size_t len = 0;
    char *save = NULL;
    for (char *part = strtok_r(joined, "/", &save); part != NULL; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            while (len > 0 && out[len - 1] != '/')
                --len;
            if (len > 0)
                --len;
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, part, strlen(part));
        len += strlen(part);
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    free(joined);
    return out;
}

/* The absolute directory of `path` (symlinks in the directory part resolved), or NULL. */
static char *config_dir(const char *path)
{
    char *copy = xstrdup(path);
    char *dir = realpath(dirname(copy), NULL);
    free(copy);
    return dir;
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

/* ------------------------------------------------------------------ reading nodes */

typedef struct load_ctx {
    const char *file;       /* as given: the prefix of every message */
    const char *dir;        /* absolute directory of the file, for relative paths */
    yaml_document_t *doc;
    cfg_errors_t *errs;
    uhw_config_t *cfg;
    cfg_pos_t *name_pos;    /* per pool: where its name is, for "first defined at" */
    const char *pool_label; /* "pool 'api'" while a pool is read, else NULL */
    long fallback;          /* index of the pool without routes, or -1 */
} load_ctx_t;

/* Where the keys of one mapping are, for messages: `where` starts value errors
 * ("pool 'api': "), `key_prefix` qualifies keys ("backoff."), `in` ends key errors
 * ("in pool 'api'"). */
typedef struct scope {
    const char *where;
    const char *key_prefix;
    const char *in;
} scope_t;

static yaml_node_t *node_at(load_ctx_t *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

static cfg_pos_t node_pos(const yaml_node_t *n)
{
    return (cfg_pos_t){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static void err(load_ctx_t *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(load_ctx_t *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    cfg_errors_add(c->errs, c->file, node_pos(n), "%s", msg);
    free(msg);
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static size_t map_len(const yaml_node_t *n)
{
    return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

#define FOR_ITEMS(it, seq) \
    for (yaml_node_item_t *it = (seq)->data.sequence.items.start; it < (seq)->data.sequence.items.top; ++it)
#define FOR_PAIRS(pair, map) \
    for (yaml_node_pair_t *pair = (map)->data.mapping.pairs.start; pair < (map)->data.mapping.pairs.top; ++pair)

/* YAML's null: `~`, `null`, or nothing at all after the colon — but not the quoted "null". */
static int is_null(const yaml_node_t *v)
{
    if (v->type != YAML_SCALAR_NODE)
        return 0;
    if (v->tag != NULL && strcmp((const char *)v->tag, YAML_NULL_TAG) == 0)
        return 1;
    if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = (const char *)v->data.scalar.value;
    return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static void type_error(load_ctx_t *c, const yaml_node_t *v, const char *label, const char *expected)
{
    if (v->type == YAML_SEQUENCE_NODE)
        err(c, v, "%s must be %s, got a list", label, expected);
    else if (v->type == YAML_MAPPING_NODE)
        err(c, v, "%s must be %s, got a mapping", label, expected);
    else if (is_null(v))
        err(c, v, "%s must be %s, got null", label, expected);
    else
        err(c, v, "%s must be %s, got '%.60s'", label, expected, (const char *)v->data.scalar.value);
}

/* The text of a non-null scalar, or NULL after reporting that LABEL must be EXPECTED.
 * Numbers and booleans are strings here, as written. */
static const char *string_of(load_ctx_t *c, const yaml_node_t *v, const char *label, const char *expected)
{
    if (v->type != YAML_SCALAR_NODE || is_null(v)) {
        type_error(c, v, label, expected);
        return NULL;
    }
    const char *s = (const char *)v->data.scalar.value;
    if (strlen(s) != v->data.scalar.length) {
        err(c, v, "%s must not contain NUL characters", label);
        return NULL;
    }
    return s;
}

/* "must be between 1 and 1024" reads best when both ends matter; else say the one crossed. */
static void range_error(load_ctx_t *c, const yaml_node_t *v, const char *label, const char *text, uint64_t value,
                        uint64_t min, uint64_t max, const char *(*fmt)(uint64_t, char[32]))
{
    char lo[32], hi[32];
    if (min > 0 && max < UINT32_MAX)
        err(c, v, "%s must be between %s and %s, got %s", label, fmt(min, lo), fmt(max, hi), text);
    else if (value < min)
        err(c, v, "%s must be at least %s, got %s", label, fmt(min, lo), text);
    else
        err(c, v, "%s must be at most %s, got %s", label, fmt(max, hi), text);
}

static int read_uint(load_ctx_t *c, const yaml_node_t *v, const char *label, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    const char *s = string_of(c, v, label, "an integer");
    if (s == NULL)
        return -1;
    uint64_t n = UINT64_MAX;
    int rc = parse_u64(s, &n);
    if (rc == -1) {
        type_error(c, v, label, "an integer");
        return -1;
    }
    if (rc == -2) {
        err(c, v, "%s must not be negative, got %s", label, s);
        return -1;
    }
    if (rc == -3 || n < min || n > max) {
        range_error(c, v, label, s, n, min, max, fmt_plain);
        return -1;
    }
    *out = n;
    return 0;
}

/* A duration; `nullable` fields read null as 0 ("off"). */
static int read_duration(load_ctx_t *c, const yaml_node_t *v, const char *label, uint64_t min, uint64_t max,
                         int nullable, uint64_t *out)
{
    if (nullable && is_null(v)) {
        *out = 0;
        return 0;
    }
    const char *s = string_of(c, v, label, "a duration such as 30s, 250ms, 5m or 1h");
    if (s == NULL)
        return -1;
    if (s[0] == '-') {
        err(c, v, "%s must not be negative, got %s", label, s);
        return -1;
    }
    uint64_t ms;
    if (config_parse_duration(s, &ms) != 0) {
        decimal_t d;
        const char *end = parse_decimal(s, &d);
        if (end != NULL && *end == '\0')
            err(c, v, "%s must be a duration, got '%s': duration needs a unit, e.g. 30s, 250ms, 5m, 1h", label, s);
        else
            type_error(c, v, label, "a duration such as 30s, 250ms, 5m or 1h");
        return -1;
    }
    if (ms < min && min == 1) {
        err(c, v, "%s must be greater than 0%s, got '%s'", label, nullable ? " (null turns it off)" : "", s);
        return -1;
    }
    if (ms < min || ms > max) {
        char lo[32], hi[32];
        err(c, v, "%s must be between %s and %s, got '%s'", label, fmt_duration(min, lo), fmt_duration(max, hi), s);
        return -1;
    }
    *out = ms;
    return 0;
}

static int read_size(load_ctx_t *c, const yaml_node_t *v, const char *label, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    static const char expected[] = "a size such as 512, 64KiB or 10MiB";
    const char *s = string_of(c, v, label, expected);
    if (s == NULL)
        return -1;
    uint64_t n;
    if (s[0] == '-') {
        err(c, v, "%s must not be negative, got %s", label, s);
        return -1;
    }
    if (config_parse_size(s, &n) != 0) {
        type_error(c, v, label, expected);
        return -1;
    }
    if (n < min || n > max) {
        char quoted[80];
        snprintf(quoted, sizeof(quoted), "'%.60s'", s);
        range_error(c, v, label, quoted, n, min, max, fmt_size);
        return -1;
    }
    *out = n;
    return 0;
}

static int read_bool(load_ctx_t *c, const yaml_node_t *v, const char *label, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    const char *s = string_of(c, v, label, "true or false");
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < COUNT(yes); ++i) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    type_error(c, v, label, "true or false");
    return -1;
}

/* A non-empty string into *dst (replacing what was there); null gives NULL when `nullable`. */
static int read_string(load_ctx_t *c, const yaml_node_t *v, const char *label, int nullable, char **dst)
{
    if (nullable && is_null(v)) {
        free(*dst);
        *dst = NULL;
        return 0;
    }
    const char *s = string_of(c, v, label, nullable ? "a string or null" : "a string");
    if (s == NULL)
        return -1;
    if (*s == '\0') {
        err(c, v, "%s must not be empty", label);
        return -1;
    }
    free(*dst);
    *dst = xstrdup(s);
    return 0;
}

/* Like read_string, and a relative path is made absolute against the YAML directory. */
static int read_path(load_ctx_t *c, const yaml_node_t *v, const char *label, int nullable, char **dst)
{
    char *s = NULL;
    if (read_string(c, v, label, nullable, &s) != 0)
        return -1;
    free(*dst);
    *dst = s != NULL ? path_resolve(c->dir, s) : NULL;
    free(s);
    return 0;
}

/* ------------------------------------------------------------------ mappings */

typedef enum field_kind {
    F_UINT,     /* unsigned, min..max */
    F_U64,      /* uint64_t, min..max */
    F_DURATION, /* uint64_t ms, min..max */
    F_SIZE,     /* uint64_t bytes, min..max */
    F_BOOL,     /* int */
    F_STRING,   /* char *, non-empty */
    F_PATH,     /* char *, made absolute */
    F_FUNC,     /* read by `read` */
} field_kind_t;

/* One key of a mapping: how its value is read into the struct being filled. */
typedef struct field {
    const char *key;
    field_kind_t kind;
    size_t off; /* offset of the member in the struct */
    uint64_t min, max;
    int nullable; /* null is accepted (durations: 0, strings and paths: NULL) */
    void (*read)(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label);
} field_t;

#define FIELD(T, key, kind, member, lo, hi) {key, kind, offsetof(T, member), lo, hi, 0, NULL}
#define NULLABLE(T, key, kind, member, lo, hi) {key, kind, offsetof(T, member), lo, hi, 1, NULL}
#define FUNC(key, fn) {key, F_FUNC, 0, 0, 0, 0, fn}

static void read_field(load_ctx_t *c, const field_t *f, void *obj, yaml_node_t *v, const char *label)
{
    char *dst = (char *)obj + f->off;
    uint64_t n;
    int b;
    switch (f->kind) {
    case F_UINT:
        if (read_uint(c, v, label, f->min, f->max, &n) == 0)
            *(unsigned *)dst = (unsigned)n;
        break;
    case F_U64:
        if (read_uint(c, v, label, f->min, f->max, &n) == 0)
            *(uint64_t *)dst = n;
        break;
    case F_DURATION:
        if (read_duration(c, v, label, f->min, f->max, f->nullable, &n) == 0)
            *(uint64_t *)dst = n;
        break;
    case F_SIZE:
        if (read_size(c, v, label, f->min, f->max, &n) == 0)
            *(uint64_t *)dst = n;
        break;
    case F_BOOL:
        if (read_bool(c, v, label, &b) == 0)
            *(int *)dst = b;
        break;
    case F_STRING:
        read_string(c, v, label, f->nullable, (char **)dst);
        break;
    case F_PATH:
        read_path(c, v, label, f->nullable, (char **)dst);
        break;
    case F_FUNC:
        f->read(c, obj, v, label);
        break;
    }
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; ++j)
        row[j] = j;
    for (size_t i = 1; i <= la; ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; ++j) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The valid key nearest to `key`, if near enough to be a typo: within 2 edits (a third of
 * the length for long keys), and fewer edits than `key` has letters. */
static const char *suggest(const char *key, const field_t *fields, size_t n)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; ++i) {
        size_t d = edit_distance(key, fields[i].key), limit = strlen(fields[i].key) / 3;
        if (limit < 2)
            limit = 2;
        if (d <= limit && d < strlen(key) && d < best_d) {
            best = fields[i].key;
            best_d = d;
        }
    }
    return best;
}

/* The key of `pair`, or NULL after reporting why it cannot be used: it is not a string,
 * or it was given before in the same mapping (libyaml allows that; we don't). */
static const char *pair_key(load_ctx_t *c, yaml_node_t *m, const yaml_node_pair_t *pair, const char *in)
{
    yaml_node_t *k = node_at(c, pair->key);
    if (k->type != YAML_SCALAR_NODE || is_null(k) || strlen((const char *)k->data.scalar.value) != k->data.scalar.length) {
        err(c, k, "keys %s must be strings", in);
        return NULL;
    }
    const char *key = (const char *)k->data.scalar.value;
    for (const yaml_node_pair_t *p = m->data.mapping.pairs.start; p < pair; ++p) {
        yaml_node_t *prev = node_at(c, p->key);
        if (prev->type == YAML_SCALAR_NODE && strcmp((const char *)prev->data.scalar.value, key) == 0) {
            cfg_pos_t first = node_pos(prev);
            err(c, k, "duplicate key '%s' %s (first at %d:%d)", key, in, first.line, first.col);
            return NULL;
        }
    }
    return key;
}

/* The value of `key` in mapping `m` (its first occurrence), or NULL. */
static yaml_node_t *find_value(load_ctx_t *c, yaml_node_t *m, const char *key)
{
    FOR_PAIRS(pair, m) {
        yaml_node_t *k = node_at(c, pair->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return node_at(c, pair->value);
    }
    return NULL;
}

/* Reads every key of mapping `m` into `obj` as `fields` say; reports unknown and repeated keys. */
static void read_mapping(load_ctx_t *c, yaml_node_t *m, const field_t *fields, size_t n, void *obj, const scope_t *s)
{
    FOR_PAIRS(pair, m) {
        const char *key = pair_key(c, m, pair, s->in);
        if (key == NULL)
            continue;
        const field_t *f = NULL;
        for (size_t i = 0; i < n && f == NULL; ++i)
            if (strcmp(fields[i].key, key) == 0)
                f = &fields[i];
        if (f == NULL) {
            const char *hint = suggest(key, fields, n);
            if (hint != NULL)
                err(c, node_at(c, pair->key), "unknown key '%s' %s (did you mean '%s'?)", key, s->in, hint);
            else
                err(c, node_at(c, pair->key), "unknown key '%s' %s", key, s->in);
            continue;
        }
        char *label = xasprintf("%s%s%s", s->where, s->key_prefix, key);
        read_field(c, f, obj, node_at(c, pair->value), label);
        free(label);
    }
}

/* A NAME: value mapping (env, settings) appended to `out` in file order. */
static void read_kvs(load_ctx_t *c, yaml_node_t *m, const char *label, const char *in, int (*key_ok)(const char *),
                     const char *key_rule, cfg_kvs_t *out)
{
    if (m->type != YAML_MAPPING_NODE) {
        type_error(c, m, label, "a mapping of NAME: value");
        return;
    }
    out->items = xcalloc(map_len(m), sizeof(*out->items));
    FOR_PAIRS(pair, m) {
        const char *key = pair_key(c, m, pair, in);
        if (key == NULL)
            continue;
        if (!key_ok(key)) {
            err(c, node_at(c, pair->key), "%s: invalid name '%s': %s", label, key, key_rule);
            continue;
        }
        char *item_label = xasprintf("%s.%s", label, key);
        const char *value = string_of(c, node_at(c, pair->value), item_label, "a string, number or boolean");
        free(item_label);
        if (value == NULL)
            continue;
        out->items[out->len].key = xstrdup(key);
        out->items[out->len].value = xstrdup(value);
        out->len++;
    }
}

/* ------------------------------------------------------------------ commands */

typedef struct command {
    char **argv; /* NULL-terminated */
    size_t argc;
    int shell;
    char *text; /* argv[0] or the shell string, as written */
} command_t;

static int shell_command(load_ctx_t *c, yaml_node_t *v, const char *label, command_t *out)
{
    const char *s = string_of(c, v, label, "a list such as [./worker, --flag] or a shell command string");
    if (s == NULL)
        return -1;
    if (s[strspn(s, " \t\r\n")] == '\0') {
        err(c, v, "%s must not be empty", label);
        return -1;
    }
    out->argv = xcalloc(4, sizeof(*out->argv));
    out->argv[0] = xstrdup("/bin/sh");
    out->argv[1] = xstrdup("-c");
    out->argv[2] = xstrdup(s);
    out->argc = 3;
    out->shell = 1;
    out->text = xstrdup(s);
    return 0;
}

static int list_command(load_ctx_t *c, yaml_node_t *v, const char *label, command_t *out)
{
    if (seq_len(v) == 0) {
        err(c, v, "%s must not be empty; give the program and its arguments, e.g. [./worker]", label);
        return -1;
    }
    char **argv = xcalloc(seq_len(v) + 1, sizeof(*argv));
    size_t argc = 0;
    int rc = 0;
    FOR_ITEMS(it, v) {
        const char *s = string_of(c, node_at(c, *it), label, "a list of strings");
        if (s == NULL)
            rc = -1;
        else
            argv[argc++] = xstrdup(s);
    }
    if (rc == 0 && argv[0][0] == '\0') {
        err(c, node_at(c, *v->data.sequence.items.start), "%s: the program name must not be empty", label);
        rc = -1;
    }
    if (rc != 0) {
        free_argv(argv);
        return -1;
    }
    out->text = xstrdup(argv[0]);
    if (strchr(argv[0], '/') != NULL) { /* without '/', execvp searches PATH at spawn time */
        char *abs = path_resolve(c->dir, argv[0]);
        free(argv[0]);
        argv[0] = abs;
    }
    out->argv = argv;
    out->argc = argc;
    return 0;
}

/* A list is exec'd as is; a string runs as /bin/sh -c STRING. */
static int read_command(load_ctx_t *c, yaml_node_t *v, const char *label, command_t *out)
{
    memset(out, 0, sizeof(*out));
    if (v->type == YAML_SEQUENCE_NODE)
        return list_command(c, v, label, out);
    return shell_command(c, v, label, out);
}

/* ------------------------------------------------------------------ listen */

/* The map form {host, port, tls: {cert, key}} while it is read. */
typedef struct listen_form {
    char *host;
    uint64_t port;
    char *cert, *key;
} listen_form_t;

/* Fills `why` and returns -1, for the parse_* helpers below. */
static int why_not(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_not(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_port(const char *s, uint16_t *port, char *why, size_t n)
{
    uint64_t v;
    if (!all_digits(s) || parse_u64(s, &v) != 0 || v > 65535)
        return why_not(why, n, "the port must be a number from 0 to 65535, got '%s'", s);
    *port = (uint16_t)v;
    return 0;
}

/* A host as the listener will bind it, in numeric form (so duplicates compare equal):
 * "" and "*" are every IPv4 address, "localhost" is 127.0.0.1; names are not resolved. */
static int normalize_host(const char *h, int allow_ipv6, char out[INET6_ADDRSTRLEN], char *why, size_t n)
{
    unsigned char addr[sizeof(struct in6_addr)];
    if (*h == '\0' || strcmp(h, "*") == 0)
        h = "0.0.0.0";
    else if (strcmp(h, "localhost") == 0)
        h = "127.0.0.1";
    if (inet_pton(AF_INET, h, addr) == 1) {
        inet_ntop(AF_INET, addr, out, INET6_ADDRSTRLEN);
        return 0;
    }
    if (allow_ipv6 && inet_pton(AF_INET6, h, addr) == 1) {
        inet_ntop(AF_INET6, addr, out, INET6_ADDRSTRLEN);
        return 0;
    }
    if (allow_ipv6)
        return why_not(why, n, "'%s' is not an IP address (use an IPv4 or IPv6 address, localhost or *)", h);
    return why_not(why, n, "'%s' is not an IPv4 address (use an IPv4 address, [IPv6], localhost or *; "
                           "host names are not resolved)", h);
}

/* "HOST:PORT", "[IPv6]:PORT", ":PORT", "*:PORT" or a bare "PORT" (on 127.0.0.1). */
static int parse_listen_text(const char *s, char host[INET6_ADDRSTRLEN], uint16_t *port, char *why, size_t n)
{
    char h[256];
    const char *port_s;
    if (all_digits(s)) {
        strcpy(host, "127.0.0.1");
        return parse_port(s, port, why, n);
    }
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(h))
            return why_not(why, n, "expected [IPv6]:PORT, e.g. [::1]:8080");
        memcpy(h, s + 1, (size_t)(end - s - 1));
        h[end - s - 1] = '\0';
        if (strchr(h, ':') == NULL || normalize_host(h, 1, host, why, n) != 0)
            return why_not(why, n, "'%s' is not an IPv6 address", h);
        port_s = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL)
            return why_not(why, n, "expected HOST:PORT, [IPv6]:PORT or a port number");
        if (memchr(s, ':', (size_t)(colon - s)) != NULL)
            return why_not(why, n, "put an IPv6 address in brackets, e.g. [::1]:8080");
        if ((size_t)(colon - s) >= sizeof(h))
            return why_not(why, n, "the host is too long");
        memcpy(h, s, (size_t)(colon - s));
        h[colon - s] = '\0';
        if (normalize_host(h, 0, host, why, n) != 0)
            return -1;
        port_s = colon + 1;
    }
    return parse_port(port_s, port, why, n);
}

static int listen_from_text(load_ctx_t *c, yaml_node_t *v, cfg_listen_t *l)
{
    const char *s = string_of(c, v, "listen", "an address such as 127.0.0.1:8080, [::1]:8080, a port, or "
                                              "{port: 8443, tls: {cert: PATH, key: PATH}}");
    if (s == NULL)
        return -1;
    char host[INET6_ADDRSTRLEN], why[200];
    if (parse_listen_text(s, host, &l->port, why, sizeof(why)) != 0) {
        err(c, v, "invalid listen address '%s': %s", s, why);
        return -1;
    }
    l->text = xstrdup(s);
    l->host = xstrdup(host);
    return 0;
}

static void read_listen_host(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    listen_form_t *f = obj;
    const char *s = string_of(c, v, label, "an IP address, localhost or *");
    if (s != NULL) {
        free(f->host);
        f->host = xstrdup(s);
    }
}

static const field_t tls_fields[] = {
    FIELD(listen_form_t, "cert", F_PATH, cert, 0, 0),
    FIELD(listen_form_t, "key", F_PATH, key, 0, 0),
};

static void read_tls(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    if (v->type != YAML_MAPPING_NODE) {
        type_error(c, v, label, "a mapping {cert: PATH, key: PATH}");
        return;
    }
    scope_t s = {"", "listen.tls.", "in listen tls"};
    read_mapping(c, v, tls_fields, COUNT(tls_fields), obj, &s);
    int has_cert = find_value(c, v, "cert") != NULL, has_key = find_value(c, v, "key") != NULL;
    if (!has_cert || !has_key)
        err(c, v, "listen tls needs both cert and key (%s is missing)", has_cert ? "key" : "cert");
}

static const field_t listen_fields[] = {
    FUNC("host", read_listen_host),
    FIELD(listen_form_t, "port", F_U64, port, 0, 65535),
    FUNC("tls", read_tls),
};

/* Builds the listener from a map form read without errors. */
static int listen_from_form(load_ctx_t *c, yaml_node_t *m, listen_form_t *f, cfg_listen_t *l)
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
    if (normalize_host(h, 1, host, why, sizeof(why)) != 0) {
        err(c, find_value(c, m, "host"), "invalid listen address '%s': %s", written, why);
        return -1;
    }
    l->port = (uint16_t)f->port;
    if (f->host == NULL)
        l->text = xasprintf("%u", l->port);
    else
        l->text = xasprintf(strchr(h, ':') != NULL ? "[%s]:%u" : "%s:%u", h, l->port);
    l->host = xstrdup(host);
    l->tls_cert = f->cert;
    l->tls_key = f->key;
    f->cert = f->key = NULL;
    return 0;
}

static int listen_from_map(load_ctx_t *c, yaml_node_t *m, cfg_listen_t *l)
{
    listen_form_t f = {0};
    size_t before = c->errs->len;
    scope_t s = {"", "listen.", "in listen entry"};
    read_mapping(c, m, listen_fields, COUNT(listen_fields), &f, &s);
    int rc = -1;
    if (find_value(c, m, "port") == NULL)
        err(c, m, "listen entry needs a port, e.g. {port: 8443}");
    else if (c->errs->len == before)
        rc = listen_from_form(c, m, &f, l);
    free(f.host);
    free(f.cert);
    free(f.key);
    return rc;
}

/* Two listeners on one address cannot both bind; port 0 gets a fresh port each time. */
static int listen_duplicate(load_ctx_t *c, const uhw_config_t *cfg, const cfg_listen_t *l, yaml_node_t *v)
{
    for (size_t i = 0; i < cfg->nlisten && l->port != 0; ++i) {
        const cfg_listen_t *o = &cfg->listen[i];
        if (o->port == l->port && strcmp(o->host, l->host) == 0) {
            err(c, v, "duplicate listen address '%s' (first at %d:%d)", l->text, o->pos.line, o->pos.col);
            return 1;
        }
    }
    return 0;
}

static void read_listen_entry(load_ctx_t *c, uhw_config_t *cfg, yaml_node_t *v)
{
    cfg_listen_t *l = &cfg->listen[cfg->nlisten];
    int rc = v->type == YAML_MAPPING_NODE ? listen_from_map(c, v, l) : listen_from_text(c, v, l);
    l->pos = node_pos(v);
    if (rc != 0 || listen_duplicate(c, cfg, l, v)) {
        free_listen(l);
        return;
    }
    cfg->nlisten++;
}

/* A list of addresses; a single address (string, port or map) is a list of one. */
static void read_listen(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (v->type != YAML_SEQUENCE_NODE) {
        cfg->listen = xcalloc(1, sizeof(*cfg->listen));
        read_listen_entry(c, cfg, v);
        return;
    }
    if (seq_len(v) == 0) {
        err(c, v, "%s must not be empty; give at least one address such as 127.0.0.1:8080", label);
        return;
    }
    cfg->listen = xcalloc(seq_len(v), sizeof(*cfg->listen));
    FOR_ITEMS(it, v)
        read_listen_entry(c, cfg, node_at(c, *it));
}

/* ------------------------------------------------------------------ top-level values */

/* A UNIX socket path must fit in sockaddr_un; better to say so now than at bind time. */
static void check_socket_path(load_ctx_t *c, yaml_node_t *at, const char *path)
{
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    if (strlen(path) > max)
        err(c, at, "control socket path '%s' is too long for a UNIX socket (%zu bytes, at most %zu); "
                   "set control to a shorter path", path, strlen(path), max);
}

static void read_control(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (read_path(c, v, label, 0, &cfg->control) == 0)
        check_socket_path(c, v, cfg->control);
}

static void read_health(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (read_string(c, v, label, 1, &cfg->health) == 0 && cfg->health != NULL && cfg->health[0] != '/')
        err(c, v, "%s must be a path starting with '/', e.g. /healthz, got '%s'", label, cfg->health);
}

/* A path, "-" for stderr, or null for no access log. */
static void read_access_log(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (v->type == YAML_SCALAR_NODE && strcmp((const char *)v->data.scalar.value, "-") == 0) {
        free(cfg->access_log);
        cfg->access_log = xstrdup("-");
        return;
    }
    read_path(c, v, label, 1, &cfg->access_log);
}

static void read_static(load_ctx_t *c, void *obj, yaml_node_t *m, const char *label)
{
    uhw_config_t *cfg = obj;
    if (m->type != YAML_MAPPING_NODE) {
        type_error(c, m, label, "a mapping of URL prefix to directory, e.g. {/assets/: ./public/}");
        return;
    }
    cfg->statics = xcalloc(map_len(m), sizeof(*cfg->statics));
    FOR_PAIRS(pair, m) {
        const char *prefix = pair_key(c, m, pair, "in static");
        if (prefix == NULL)
            continue;
        if (prefix[0] != '/') {
            err(c, node_at(c, pair->key), "static prefix '%s' must start with '/', e.g. /assets/", prefix);
            continue;
        }
        char *dir = NULL, *item_label = xasprintf("static '%s'", prefix);
        yaml_node_t *v = node_at(c, pair->value);
        if (read_path(c, v, item_label, 0, &dir) == 0) {
            cfg_static_t *st = &cfg->statics[cfg->nstatics++];
            st->prefix = xstrdup(prefix);
            st->dir = dir;
            st->pos = node_pos(v);
        }
        free(item_label);
    }
}

static void read_redact_headers(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    cfg_victims_t *vi = obj;
    if (v->type != YAML_SEQUENCE_NODE) {
        type_error(c, v, label, "a list of header names such as [authorization, cookie]");
        return;
    }
    cfg_strs_t list = {xcalloc(seq_len(v), sizeof(char *)), 0};
    FOR_ITEMS(it, v) {
        char *name = NULL;
        if (read_string(c, node_at(c, *it), label, 0, &name) != 0)
            continue;
        for (char *p = name; *p; ++p) /* header names compare case-insensitively */
            *p = (char)tolower((unsigned char)*p);
        list.items[list.len++] = name;
    }
    free_strs(&vi->redact_headers);
    vi->redact_headers = list;
}

static void read_victims_command(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    cfg_victims_t *vi = obj;
    command_t cmd;
    if (is_null(v) || read_command(c, v, label, &cmd) != 0)
        return;
    free_argv(vi->command);
    vi->command = cmd.argv;
    free(cmd.text);
}

static const field_t victims_fields[] = {
    NULLABLE(cfg_victims_t, "log", F_PATH, log, 0, 0),
    FIELD(cfg_victims_t, "max_body", F_SIZE, max_body, 0, UINT64_MAX),
    FUNC("redact_headers", read_redact_headers),
    FUNC("command", read_victims_command),
};

static void read_victims(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (v->type != YAML_MAPPING_NODE) {
        type_error(c, v, label, "a mapping such as {log: victims.jsonl, max_body: 64KiB}");
        return;
    }
    scope_t s = {"", "victims.", "in victims"};
    read_mapping(c, v, victims_fields, COUNT(victims_fields), &cfg->victims, &s);
}

/* ------------------------------------------------------------------ pools */

static void read_nothing(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    (void)c, (void)obj, (void)v, (void)label;
}

static void read_pool_command(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    cfg_pool_t *p = obj;
    command_t cmd;
    p->command_pos = node_pos(v);
    if (read_command(c, v, label, &cmd) != 0)
        return;
    p->argv = cmd.argv;
    p->argc = cmd.argc;
    p->shell = cmd.shell;
    p->command_text = cmd.text;
}

// "/x" is exact, "/x/**" is /x and everything under it, "/**" is everything.
static int parse_route(load_ctx_t *c, yaml_node_t *v, const char *s, cfg_route_t *r)
{
    size_t len = strlen(s);
    int prefix = len >= 3 && strcmp(s + len - 3, "/**") == 0;
    size_t path_len = prefix ? len - 3 : len;
    if (s[0] != '/') {
        err(c, v, "%s: route '%s' must start with '/'", c->pool_label, s);
        return -1;
    }
    if (memchr(s, '*', path_len) != NULL) {
        err(c, v, "%s: route '%s': '*' is only allowed as a final '/**', e.g. /api/**", c->pool_label, s);
        return -1;
    }
    if (strpbrk(s, "?#") != NULL) {
        err(c, v, "%s: route '%s' must not contain '?' or '#': routes match the path only", c->pool_label, s);
        return -1;
    }
    r->text = xstrdup(s);
    r->path = path_len == 0 ? xstrdup("/") : xstrndup(s, path_len);
    r->prefix = prefix;
    return 0;
}

/* Routes pick one pool: the same route twice, here or in another pool, is a mistake. */
static int route_taken(load_ctx_t *c, const cfg_route_t *r, yaml_node_t *v)
{
    const uhw_config_t *cfg = c->cfg;
    for (size_t i = 0; i < cfg->npools; ++i) {
        const cfg_pool_t *p = &cfg->pools[i];
        for (size_t j = 0; j < p->nroutes; ++j) {
            if (p->routes[j].prefix != r->prefix || strcmp(p->routes[j].path, r->path) != 0)
                continue;
            if (i + 1 == cfg->npools)
                err(c, v, "%s: route '%s' is listed twice", c->pool_label, r->text);
            else
                err(c, v, "%s: route '%s' is already used by pool '%s'", c->pool_label, r->text,
                    p->name ? p->name : "?");
            return 1;
        }
    }
    return 0;
}

static void read_routes(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    cfg_pool_t *p = obj;
    static const char expected[] = "a list of paths such as [/api/**, /version] "
                                   "(omit routes to make this the fallback pool)";
    if (v->type != YAML_SEQUENCE_NODE) {
        type_error(c, v, label, expected);
        return;
    }
    if (seq_len(v) == 0) {
        err(c, v, "%s must not be empty; omit it to make this the fallback pool", label);
        return;
    }
    p->routes = xcalloc(seq_len(v), sizeof(*p->routes));
    FOR_ITEMS(it, v) {
        yaml_node_t *item = node_at(c, *it);
        const char *s = string_of(c, item, label, expected);
        cfg_route_t r;
        if (s == NULL || parse_route(c, item, s, &r) != 0)
            continue;
        if (route_taken(c, &r, item)) {
            free(r.path);
            free(r.text);
            continue;
        }
        p->routes[p->nroutes++] = r;
    }
}

static void read_multiplier(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    cfg_backoff_t *b = obj;
    const char *s = string_of(c, v, label, "a number from 1 to 100");
    if (s == NULL)
        return;
    decimal_t d;
    const char *end = parse_decimal(s, &d);
    double m = end != NULL && *end == '\0' ? strtod(s, NULL) : -1;
    if (m < 1 || m > 100) {
        type_error(c, v, label, "a number from 1 to 100");
        return;
    }
    b->multiplier = m;
}

static const field_t backoff_fields[] = {
    FIELD(cfg_backoff_t, "initial", F_DURATION, initial_ms, 0, DURATION_MAX_MS),
    FIELD(cfg_backoff_t, "max", F_DURATION, max_ms, 0, DURATION_MAX_MS),
    FUNC("multiplier", read_multiplier),
    FIELD(cfg_backoff_t, "reset_after", F_DURATION, reset_after_ms, 0, DURATION_MAX_MS),
};

static void read_backoff(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    cfg_pool_t *p = obj;
    if (v->type != YAML_MAPPING_NODE) {
        type_error(c, v, label, "a mapping such as {initial: 100ms, max: 30s, multiplier: 2, reset_after: 10s}");
        return;
    }
    char *where = xasprintf("%s: ", c->pool_label), *in = xasprintf("in backoff of %s", c->pool_label);
    scope_t s = {where, "backoff.", in};
    size_t before = c->errs->len;
    read_mapping(c, v, backoff_fields, COUNT(backoff_fields), &p->backoff, &s);
    if (c->errs->len == before && p->backoff.initial_ms > p->backoff.max_ms) {
        char a[32], b[32];
        err(c, v, "%sbackoff.initial (%s) must not be greater than backoff.max (%s)", where,
            fmt_duration(p->backoff.initial_ms, a), fmt_duration(p->backoff.max_ms, b));
    }
    free(where);
    free(in);
}

static void read_cwd(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    cfg_pool_t *p = obj;
    if (read_path(c, v, label, 0, &p->cwd) == 0)
        p->cwd_pos = node_pos(v);
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

static void read_env(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    char *in = xasprintf("in env of %s", c->pool_label);
    read_kvs(c, v, label, in, env_name_ok, "use letters, digits and '_', not starting with a digit",
             &((cfg_pool_t *)obj)->env);
    free(in);
}

static void read_settings(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    char *in = xasprintf("in settings of %s", c->pool_label);
    read_kvs(c, v, label, in, setting_name_ok, "names must not be empty", &((cfg_pool_t *)obj)->settings);
    free(in);
}

static const field_t pool_fields[] = {
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
static void read_pool_name(load_ctx_t *c, yaml_node_t *m, size_t i)
{
    cfg_pool_t *p = &c->cfg->pools[i];
    yaml_node_t *v = find_value(c, m, "name");
    if (v == NULL) {
        err(c, m, "pool #%zu: missing required key 'name'", i + 1);
        return;
    }
    char label[48];
    snprintf(label, sizeof(label), "pool #%zu: name", i + 1);
    const char *name = string_of(c, v, label, "a name such as api");
    if (name == NULL)
        return;
    p->name = xstrdup(name);
    c->name_pos[i] = node_pos(v);
    if (!pool_name_ok(name)) {
        err(c, v, "invalid pool name '%s': use 1 to %d characters from a-z, 0-9, '_' and '-'", name, POOL_NAME_MAX);
        return;
    }
    for (size_t j = 0; j < i; ++j) {
        if (c->cfg->pools[j].name != NULL && strcmp(c->cfg->pools[j].name, name) == 0) {
            err(c, v, "duplicate pool name '%s' (first defined at %d:%d)", name, c->name_pos[j].line,
                c->name_pos[j].col);
            return;
        }
    }
}

/* The pool without routes takes what no other pool does; two such pools cannot both. */
static void check_fallback(load_ctx_t *c, size_t i, yaml_node_t *m)
{
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
    err(c, m, "%s has no routes, but %s (at %d:%d) is already the fallback pool; only one pool may omit routes",
        c->pool_label, other, first->pos.line, first->pos.col);
}

static void read_pool(load_ctx_t *c, yaml_node_t *m)
{
    size_t i = c->cfg->npools++;
    cfg_pool_t *p = &c->cfg->pools[i];
    pool_defaults(p);
    p->pos = p->cwd_pos = node_pos(m);
    p->cwd = xstrdup(c->dir);
    if (m->type != YAML_MAPPING_NODE) {
        char label[32];
        snprintf(label, sizeof(label), "pool #%zu", i + 1);
        type_error(c, m, label, "a mapping with at least name and command");
        return;
    }
    read_pool_name(c, m, i);
    char *label = p->name != NULL ? xasprintf("pool '%s'", p->name) : xasprintf("pool #%zu", i + 1);
    char *where = xasprintf("%s: ", label), *in = xasprintf("in %s", label);
    scope_t s = {where, "", in};
    c->pool_label = label;
    read_mapping(c, m, pool_fields, COUNT(pool_fields), p, &s);
    if (find_value(c, m, "command") == NULL)
        err(c, m, "%s: missing required key 'command' (a list such as [./worker] or a shell command string)", label);
    if (find_value(c, m, "routes") == NULL)
        check_fallback(c, i, m);
    c->pool_label = NULL;
    free(label);
    free(where);
    free(in);
}

static void read_pools(load_ctx_t *c, void *obj, yaml_node_t *v, const char *label)
{
    uhw_config_t *cfg = obj;
    if (v->type != YAML_SEQUENCE_NODE) {
        type_error(c, v, label, "a list of pools");
        return;
    }
    if (seq_len(v) == 0) {
        err(c, v, "%s must list at least one pool", label);
        return;
    }
    cfg->pools = xcalloc(seq_len(v), sizeof(*cfg->pools));
    c->name_pos = xcalloc(seq_len(v), sizeof(*c->name_pos));
    FOR_ITEMS(it, v)
        read_pool(c, node_at(c, *it));
}

/* ------------------------------------------------------------------ the document */

static const field_t top_fields[] = {
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
    uhw_config_t *cfg = xcalloc(1, sizeof(*cfg));
    cfg->path = xstrdup(path);
    cfg->dir = dir;
    cfg->control = path_resolve(dir, "uhw.sock");
    cfg->max_pending = 1000;
    cfg->max_body = 10 * MIB;
    cfg->shutdown_timeout_ms = 10 * 1000;
    cfg->victims.log = path_resolve(dir, "victims.jsonl");
    cfg->victims.max_body = 64 * KIB;
    cfg->victims.redact_headers.items = xcalloc(COUNT(redact), sizeof(char *));
    for (size_t i = 0; i < COUNT(redact); ++i)
        cfg->victims.redact_headers.items[i] = xstrdup(redact[i]);
    cfg->victims.redact_headers.len = COUNT(redact);
    return cfg;
}

static void read_document(load_ctx_t *c)
{
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (root == NULL) {
        cfg_errors_add(c->errs, c->file, (cfg_pos_t){1, 1}, "the file is empty; expected a mapping with 'pools'");
        return;
    }
    if (root->type != YAML_MAPPING_NODE) {
        type_error(c, root, "the top level", "a mapping with 'pools'");
        return;
    }
    scope_t s = {"", "", "at top level"};
    read_mapping(c, root, top_fields, COUNT(top_fields), c->cfg, &s);
    if (find_value(c, root, "pools") == NULL)
        err(c, root, "missing required key 'pools' (the list of worker pools)");
    if (find_value(c, root, "control") == NULL)
        check_socket_path(c, root, c->cfg->control);
    if (c->cfg->nlisten == 0) {
        uhw_config_t *cfg = c->cfg;
        free(cfg->listen);
        cfg->listen = xcalloc(1, sizeof(*cfg->listen));
        cfg->listen[0] = (cfg_listen_t){.text = xstrdup("127.0.0.1:8080"), .host = xstrdup("127.0.0.1"),
                                        .port = 8080, .pos = node_pos(root)};
        cfg->nlisten = 1;
    }
}

/* libyaml stops at the first syntax error; nothing after it can be trusted. */
static void syntax_error(const char *file, const yaml_parser_t *parser, cfg_errors_t *errs)
{
    const char *problem = parser->problem ? parser->problem : "cannot parse";
    if (parser->error == YAML_MEMORY_ERROR)
        abort();
    if (parser->error == YAML_READER_ERROR) {
        cfg_pos_t pos = {(int)parser->mark.line + 1, (int)parser->mark.column + 1};
        cfg_errors_add(errs, file, pos, "cannot read the file: %s at byte %zu", problem, parser->problem_offset);
        return;
    }
    cfg_pos_t pos = {(int)parser->problem_mark.line + 1, (int)parser->problem_mark.column + 1};
    if (parser->context != NULL)
        cfg_errors_add(errs, file, pos, "YAML syntax error: %s (%s that starts at %d:%d)", problem, parser->context,
                       (int)parser->context_mark.line + 1, (int)parser->context_mark.column + 1);
    else
        cfg_errors_add(errs, file, pos, "YAML syntax error: %s", problem);
}

static FILE *open_config(const char *path, cfg_errors_t *errs)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    int e = 0;
    if (f == NULL)
        e = errno;
    else if (fstat(fileno(f), &st) != 0)
        e = errno;
    else if (S_ISDIR(st.st_mode)) /* fopen accepts a directory; reading it fails later, less clearly */
        e = EISDIR;
    if (e == 0)
        return f;
    if (f != NULL)
        fclose(f);
    errors_push(errs, xasprintf("%s: cannot open: %s", path, strerror(e)));
    return NULL;
}

/* Loads the one document of the file into ctx->cfg; a second document is an error, since
 * whoever wrote it expects it to count. */
static void parse_file(load_ctx_t *c, FILE *f)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(c->file, &parser, c->errs);
        yaml_parser_delete(&parser);
        return;
    }
    c->doc = &doc;
    read_document(c);
    yaml_document_delete(&doc);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(c->file, &parser, c->errs);
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root != NULL)
            cfg_errors_add(c->errs, c->file, (cfg_pos_t){(int)doc.start_mark.line + 1, (int)doc.start_mark.column + 1},
                           "only one YAML document is allowed; remove the second '---' section");
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
}

uhw_config_t *config_load(const char *path, cfg_errors_t *errs)
{
    size_t before = errs->len;
    FILE *f = open_config(path, errs);
    if (f == NULL)
        return NULL;
    char *dir = config_dir(path);
    if (dir == NULL) {
        errors_push(errs, xasprintf("%s: cannot resolve its directory: %s", path, strerror(errno)));
        fclose(f);
        return NULL;
    }
    load_ctx_t c = {.file = path, .dir = dir, .errs = errs, .fallback = -1};
    c.cfg = config_new(path, dir);
    parse_file(&c, f);
    fclose(f);
    free(c.name_pos);
    if (errs->len > before) {
        config_free(c.cfg);
        return NULL;
    }
    return c.cfg;
}

/* ------------------------------------------------------------------ runtime checks */

/* 0 if `path` can be exec'd, else ENOENT, EISDIR, EACCES or another errno. */
static int program_status(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOTDIR ? ENOENT : errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (access(path, X_OK) != 0)
        return EACCES;
    return 0;
}

/* Looks `name` up as execvp will in the worker: `self_dir` first, then each PATH entry
 * (empty and relative entries are relative to the worker's cwd). Like execvp, a file
 * found but not executable is reported over "not found". */
static int search_program(const char *name, const char *self_dir, const char *path, const char *cwd)
{
    int status = ENOENT;
    char *dirs = self_dir != NULL ? xasprintf("%s:%s", self_dir, path) : xstrdup(path);
    char *rest = dirs;
    for (;;) {
        char *dir = strsep(&rest, ":");
        if (dir == NULL)
            break;
        char *base = dir[0] == '/' ? xstrdup(dir) : path_resolve(cwd, *dir ? dir : ".");
        char *candidate = xasprintf("%s/%s", base, name);
        int st = program_status(candidate);
        free(base);
        free(candidate);
        if (st == 0) {
            status = 0;
            break;
        }
        if (status == ENOENT)
            status = st;
    }
    free(dirs);
    return status;
}

/* The PATH the worker will search: the pool's env PATH, else ours (clear_env keeps it). */
static const char *pool_path(const cfg_pool_t *p)
{
    for (size_t i = p->env.len; i-- > 0;)
        if (strcmp(p->env.items[i].key, "PATH") == 0)
            return p->env.items[i].value;
    const char *path = getenv("PATH");
    return path != NULL ? path : DEFAULT_PATH;
}

static void check_command(const uhw_config_t *cfg, const cfg_pool_t *p, const char *self_dir, cfg_errors_t *errs)
{
    if (p->argv == NULL || p->argv[0] == NULL)
        return;
    const char *prog = p->argv[0];
    int st;
    if (p->shell || strchr(prog, '/') != NULL)
        st = program_status(prog);
    else
        st = search_program(prog, self_dir, pool_path(p), p->cwd);
    if (st == 0)
        return;
    const char *shown = p->shell || p->command_text == NULL ? prog : p->command_text;
    const char *why = p->shell ? " (a string command runs with /bin/sh -c)" : "";
    if (st == ENOENT)
        cfg_errors_add(errs, cfg->path, p->command_pos, "pool '%s': command '%s' not found%s", p->name, shown, why);
    else if (st == EISDIR)
        cfg_errors_add(errs, cfg->path, p->command_pos, "pool '%s': command '%s' is a directory%s", p->name, shown, why);
    else if (st == EACCES)
        cfg_errors_add(errs, cfg->path, p->command_pos, "pool '%s': command '%s' is not executable%s", p->name, shown,
                       why);
    else
        cfg_errors_add(errs, cfg->path, p->command_pos, "pool '%s': command '%s': %s", p->name, shown, strerror(st));
}

static void check_dir(const uhw_config_t *cfg, cfg_pos_t pos, const char *what, const char *dir, cfg_errors_t *errs)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        cfg_errors_add(errs, cfg->path, pos, "%s '%s' %s", what, dir,
                       errno == ENOENT ? "does not exist" : strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        cfg_errors_add(errs, cfg->path, pos, "%s '%s' is not a directory", what, dir);
}

static void check_readable(const uhw_config_t *cfg, const cfg_listen_t *l, const char *what, const char *file,
                           cfg_errors_t *errs)
{
    if (file != NULL && access(file, R_OK) != 0)
        cfg_errors_add(errs, cfg->path, l->pos, "listen '%s': TLS %s '%s' is not readable: %s", l->text, what, file,
                       strerror(errno));
}

/* As root, a pool must name the user its workers run as (PHP-FPM's rule: root is never
 * assumed); any named user must exist. */
static void check_user(const uhw_config_t *cfg, const cfg_pool_t *p, cfg_errors_t *errs)
{
    if (p->user == NULL) {
        if (geteuid() == 0)
            cfg_errors_add(errs, cfg->path, p->pos,
                           "pool '%s': uhw runs as root, so the pool must say which user its workers run as: "
                           "add `user: www-data` (any unprivileged account), or `user: root` to run them as root",
                           p->name);
        return;
    }
    errno = 0;
    if (getpwnam(p->user) == NULL)
        cfg_errors_add(errs, cfg->path, p->pos, "pool '%s': user '%s' does not exist%s%s", p->name, p->user,
                       errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
}

size_t config_check_runtime(const uhw_config_t *cfg, const char *self_dir, cfg_errors_t *errs)
{
    size_t before = errs->len;
    for (size_t i = 0; i < cfg->npools; ++i) {
        const cfg_pool_t *p = &cfg->pools[i];
        char what[96];
        check_command(cfg, p, self_dir, errs);
        check_user(cfg, p, errs);
        snprintf(what, sizeof(what), "pool '%s': cwd", p->name);
        check_dir(cfg, p->cwd_pos, what, p->cwd, errs);
    }
    for (size_t i = 0; i < cfg->nstatics; ++i) {
        char what[300];
        snprintf(what, sizeof(what), "static '%.200s': directory", cfg->statics[i].prefix);
        check_dir(cfg, cfg->statics[i].pos, what, cfg->statics[i].dir, errs);
    }
    for (size_t i = 0; i < cfg->nlisten; ++i) {
        check_readable(cfg, &cfg->listen[i], "certificate", cfg->listen[i].tls_cert, errs);
        check_readable(cfg, &cfg->listen[i], "key", cfg->listen[i].tls_key, errs);
    }
    return errs->len - before;
}

/* ---------------------------------------------------------------- comparing pools (reload) */

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int argv_eq(char *const *a, char *const *b)
{
    for (; *a != NULL && *b != NULL; ++a, ++b)
        if (strcmp(*a, *b) != 0)
            return 0;
    return *a == NULL && *b == NULL;
}

static int kvs_eq(const cfg_kvs_t *a, const cfg_kvs_t *b)
{
    if (a->len != b->len)
        return 0;
    for (size_t i = 0; i < a->len; ++i)
        if (strcmp(a->items[i].key, b->items[i].key) != 0 || strcmp(a->items[i].value, b->items[i].value) != 0)
            return 0;
    return 1;
}

static int routes_eq(const cfg_pool_t *a, const cfg_pool_t *b)
{
    if (a->nroutes != b->nroutes)
        return 0;
    for (size_t i = 0; i < a->nroutes; ++i)
        if (strcmp(a->routes[i].text, b->routes[i].text) != 0)
            return 0;
    return 1;
}

unsigned config_pool_diff(const cfg_pool_t *a, const cfg_pool_t *b)
{
    unsigned d = 0;
    if (!argv_eq(a->argv, b->argv) || a->shell != b->shell || !kvs_eq(&a->env, &b->env) ||
        a->clear_env != b->clear_env || !str_eq(a->cwd, b->cwd) || !str_eq(a->user, b->user) ||
        a->concurrency != b->concurrency)
        d |= CFG_DIFF_PROCESS;
    if (a->workers != b->workers)
        d |= CFG_DIFF_SLOTS;
    if (!kvs_eq(&a->settings, &b->settings))
        d |= CFG_DIFF_SETTINGS;
    if (!routes_eq(a, b) || a->timeout_ms != b->timeout_ms || a->stuck_timeout_ms != b->stuck_timeout_ms ||
        a->ready_timeout_ms != b->ready_timeout_ms || a->max_restarts != b->max_restarts ||
        a->restart_window_ms != b->restart_window_ms || a->degraded_retry_ms != b->degraded_retry_ms ||
        memcmp(&a->backoff, &b->backoff, sizeof(a->backoff)) != 0 || a->max_requests != b->max_requests ||
        a->max_requests_jitter != b->max_requests_jitter || a->max_rss != b->max_rss ||
        a->queue_limit != b->queue_limit || a->max_frame != b->max_frame ||
        a->graceful_timeout_ms != b->graceful_timeout_ms || a->kill_timeout_ms != b->kill_timeout_ms)
        d |= CFG_DIFF_LIVE;
    return d;
}
