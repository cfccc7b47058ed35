/*
 * config_dump.c — the effective configuration as YAML (`uhw check --dump`, like `nginx -T`).
 *
 * Every key of DESIGN §5 is written, defaults included, in the order of the README's
 * tables, so that an operator sees what uhw will do and can diff two dumps. What is written
 * loads back to the same configuration (the fuzz target checks it): durations and sizes in
 * their shortest exact unit syntax, paths absolute (so the dump means the same wherever it
 * is saved), listeners in numeric form, commands as lists or, for shell commands, the
 * string. libyaml's emitter does all quoting and escaping; the one thing it cannot know is
 * that a plain `null` or `~` would read back as null here, so such strings are quoted.
 */
#include "config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

typedef struct dump {
    yaml_emitter_t emitter;
    char *out;
    size_t len, cap;
    const char *failed; /* the first problem; nothing is emitted after it */
} dump_t;

static int on_write(void *data, unsigned char *buffer, size_t size)
{
    dump_t *d = data;
    if (d->len + size + 1 > d->cap) {
        size_t cap = d->cap ? d->cap : 4096;
        while (d->len + size + 1 > cap)
            cap *= 2;
        char *out = realloc(d->out, cap);
        if (out == NULL)
            abort();
        d->out = out;
        d->cap = cap;
    }
    memcpy(d->out + d->len, buffer, size);
    d->len += size;
    d->out[d->len] = '\0';
    return 1;
}

/* Emits `ev` (0 from its initializer means the data was refused, e.g. a path that is not UTF-8). */
static void emit(dump_t *d, int initialized, yaml_event_t *ev)
{
    if (d->failed != NULL) {
        if (initialized)
            yaml_event_delete(ev);
        return;
    }
    if (!initialized) {
        d->failed = "a value is not valid UTF-8";
        return;
    }
    if (!yaml_emitter_emit(&d->emitter, ev)) /* the emitter deletes the event either way */
        d->failed = d->emitter.problem != NULL ? d->emitter.problem : "the YAML emitter failed";
}

static void scalar(dump_t *d, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    int ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s, (int)strlen(s), 1, 1, style);
    emit(d, ok, &ev);
}

/* A string, in whatever style the emitter finds safe, but never one that reads as null. */
static void str(dump_t *d, const char *s)
{
    scalar(d, s, cfg_null_word(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

/* Numbers, booleans, durations, sizes and null: written plain, read as written. */
static void plain(dump_t *d, const char *s)
{
    scalar(d, s, YAML_PLAIN_SCALAR_STYLE);
}

static void str_or_null(dump_t *d, const char *s)
{
    if (s != NULL)
        str(d, s);
    else
        plain(d, "null");
}

static void map_start(dump_t *d, int flow)
{
    yaml_event_t ev;
    int ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                 flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    emit(d, ok, &ev);
}

static void map_end(dump_t *d)
{
    yaml_event_t ev;
    emit(d, yaml_mapping_end_event_initialize(&ev), &ev);
}

static void list_start(dump_t *d, int flow)
{
    yaml_event_t ev;
    int ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    emit(d, ok, &ev);
}

static void list_end(dump_t *d)
{
    yaml_event_t ev;
    emit(d, yaml_sequence_end_event_initialize(&ev), &ev);
}

/* ------------------------------------------------------------------ key: value */

static void kv_str(dump_t *d, const char *key, const char *value)
{
    str(d, key);
    str_or_null(d, value);
}

static void kv_uint(dump_t *d, const char *key, uint64_t n)
{
    char buf[32];
    str(d, key);
    plain(d, cfg_fmt_plain(n, buf));
}

static void kv_size(dump_t *d, const char *key, uint64_t n)
{
    char buf[32];
    str(d, key);
    plain(d, cfg_fmt_size(n, buf));
}

static void kv_duration(dump_t *d, const char *key, uint64_t ms)
{
    char buf[32];
    str(d, key);
    plain(d, cfg_fmt_duration(ms, buf));
}

/* Durations where 0 means off are written null, as they are read. */
static void kv_duration_or_null(dump_t *d, const char *key, uint64_t ms)
{
    if (ms == 0) {
        str(d, key);
        plain(d, "null");
    } else {
        kv_duration(d, key, ms);
    }
}

static void kv_bool(dump_t *d, const char *key, int b)
{
    str(d, key);
    plain(d, b ? "true" : "false");
}

static void kvs(dump_t *d, const char *key, const cfg_kvs_t *kv)
{
    str(d, key);
    map_start(d, kv->len == 0);
    for (size_t i = 0; i < kv->len; ++i)
        kv_str(d, kv->items[i].key, kv->items[i].value);
    map_end(d);
}

/* A shell command as its string, a list as the list (argv[0] already absolute if it had a '/'). */
static void command(dump_t *d, char *const *argv, int shell)
{
    if (argv == NULL) {
        plain(d, "null");
        return;
    }
    if (shell) {
        str(d, argv[2]);
        return;
    }
    list_start(d, 1);
    for (char *const *a = argv; *a != NULL; ++a)
        str(d, *a);
    list_end(d);
}

/* ------------------------------------------------------------------ sections */

static void listen_entry(dump_t *d, const cfg_listen_t *l)
{
    char port[32];
    cfg_fmt_plain(l->port, port);
    if (l->tls_cert == NULL) {
        char *text = cfg_xasprintf(strchr(l->host, ':') != NULL ? "[%s]:%s" : "%s:%s", l->host, port);
        str(d, text);
        free(text);
        return;
    }
    map_start(d, 1);
    kv_str(d, "host", l->host);
    str(d, "port");
    plain(d, port);
    str(d, "tls");
    map_start(d, 1);
    kv_str(d, "cert", l->tls_cert);
    kv_str(d, "key", l->tls_key);
    map_end(d);
    map_end(d);
}

static void victims(dump_t *d, const cfg_victims_t *v)
{
    str(d, "victims");
    map_start(d, 0);
    kv_str(d, "log", v->log);
    kv_size(d, "max_body", v->max_body);
    str(d, "redact_headers");
    list_start(d, 1);
    for (size_t i = 0; i < v->redact_headers.len; ++i)
        str(d, v->redact_headers.items[i]);
    list_end(d);
    str(d, "command");
    command(d, v->command, v->command_shell);
    kv_str(d, "user", v->user);
    map_end(d);
}

static void backoff(dump_t *d, const cfg_backoff_t *b)
{
    char buf[32];
    str(d, "backoff");
    map_start(d, 1);
    kv_duration(d, "initial", b->initial_ms);
    kv_duration(d, "max", b->max_ms);
    str(d, "multiplier");
    plain(d, cfg_fmt_number(b->multiplier, buf));
    kv_duration(d, "reset_after", b->reset_after_ms);
    map_end(d);
}

static void pool(dump_t *d, const cfg_pool_t *p)
{
    map_start(d, 0);
    kv_str(d, "name", p->name);
    str(d, "command");
    command(d, p->argv, p->shell);
    kv_uint(d, "workers", p->workers);
    if (p->nroutes > 0) { /* the fallback pool is the one without routes: there is no way to write "none" */
        str(d, "routes");
        list_start(d, 1);
        for (size_t i = 0; i < p->nroutes; ++i)
            str(d, p->routes[i].text);
        list_end(d);
    }
    kv_uint(d, "concurrency", p->concurrency);
    kv_duration(d, "timeout", p->timeout_ms);
    kv_duration(d, "stuck_timeout", p->stuck_timeout_ms);
    kv_duration(d, "ready_timeout", p->ready_timeout_ms);
    kv_uint(d, "max_restarts", p->max_restarts);
    kv_duration(d, "restart_window", p->restart_window_ms);
    kv_duration_or_null(d, "degraded_retry", p->degraded_retry_ms);
    kv_duration_or_null(d, "slow_log", p->slow_log_ms);
    backoff(d, &p->backoff);
    kv_uint(d, "max_requests", p->max_requests);
    kv_uint(d, "max_requests_jitter", p->max_requests_jitter);
    kv_size(d, "max_rss", p->max_rss);
    kv_uint(d, "queue_limit", p->queue_limit);
    kv_size(d, "max_frame", p->max_frame);
    kv_duration(d, "graceful_timeout", p->graceful_timeout_ms);
    kv_duration(d, "kill_timeout", p->kill_timeout_ms);
    kv_str(d, "cwd", p->cwd);
    kvs(d, "env", &p->env);
    kv_bool(d, "clear_env", p->clear_env);
    kv_str(d, "user", p->user);
    kvs(d, "settings", &p->settings);
    map_end(d);
}

static void document(dump_t *d, const uhw_config_t *cfg)
{
    yaml_event_t ev;
    emit(d, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING), &ev);
    emit(d, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1), &ev);
    map_start(d, 0);
    str(d, "listen");
    list_start(d, 0);
    for (size_t i = 0; i < cfg->nlisten; ++i)
        listen_entry(d, &cfg->listen[i]);
    list_end(d);
    kv_str(d, "control", cfg->control);
    kv_uint(d, "max_pending", cfg->max_pending);
    kv_size(d, "max_body", cfg->max_body);
    kv_duration(d, "shutdown_timeout", cfg->shutdown_timeout_ms);
    kv_str(d, "health", cfg->health);
    kv_str(d, "access_log", cfg->access_log);
    str(d, "static");
    map_start(d, cfg->nstatics == 0);
    for (size_t i = 0; i < cfg->nstatics; ++i)
        kv_str(d, cfg->statics[i].prefix, cfg->statics[i].dir);
    map_end(d);
    victims(d, &cfg->victims);
    str(d, "pools");
    list_start(d, 0);
    for (size_t i = 0; i < cfg->npools; ++i)
        pool(d, &cfg->pools[i]);
    list_end(d);
    map_end(d);
    emit(d, yaml_document_end_event_initialize(&ev, 1), &ev);
    emit(d, yaml_stream_end_event_initialize(&ev), &ev);
}

char *config_dump(const uhw_config_t *cfg, cfg_errors_t *errs)
{
    dump_t d = {0};
    if (!yaml_emitter_initialize(&d.emitter))
        abort();
    yaml_emitter_set_output(&d.emitter, on_write, &d);
    yaml_emitter_set_unicode(&d.emitter, 1); /* é stays é, not "\xE9" */
    yaml_emitter_set_width(&d.emitter, -1);  /* no folding of long strings */
    document(&d, cfg);
    if (d.failed == NULL && !yaml_emitter_flush(&d.emitter))
        d.failed = "the YAML emitter failed";
    yaml_emitter_delete(&d.emitter);
    if (d.failed != NULL) {
        cfg_errors_push(errs, cfg_xasprintf("%s: cannot dump the configuration: %s", cfg->path, d.failed));
        free(d.out);
        return NULL;
    }
    return d.out;
}
