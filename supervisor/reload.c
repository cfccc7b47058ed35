/*
 * reload.c — see reload.h.
 */
#include "reload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "pool.h"
#include "server.h"
#include "victims.h"

/* Appends a plain message (no file:line:col) to a list of lines. */
static const char *vpush(cfg_errors_t *list, const char *fmt, va_list ap)
{
    if (list->len == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 8;
        char **items = realloc(list->items, list->cap * sizeof(*items));
        if (items == NULL)
            abort();
        list->items = items;
    }
    if (vasprintf(&list->items[list->len], fmt, ap) < 0)
        abort();
    return list->items[list->len++];
}

/* A change the reload made, or one it could not make: logged and returned to the caller. */
static void note(reload_result_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(reload_result_t *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_msg(LOG_INFO, NULL, "reload: %s", vpush(&res->notes, fmt, ap));
    va_end(ap);
}

static void refusal(reload_result_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refusal(reload_result_t *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vpush(&res->errors, fmt, ap);
    va_end(ap);
}

void reload_result_free(reload_result_t *res)
{
    cfg_errors_free(&res->errors);
    cfg_errors_free(&res->notes);
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int listen_eq(const uhw_config_t *a, const uhw_config_t *b)
{
    if (a->nlisten != b->nlisten)
        return 0;
    for (size_t i = 0; i < a->nlisten; ++i) {
        const cfg_listen_t *x = &a->listen[i], *y = &b->listen[i];
        if (strcmp(x->host, y->host) != 0 || x->port != y->port || !str_eq(x->tls_cert, y->tls_cert) ||
            !str_eq(x->tls_key, y->tls_key))
            return 0;
    }
    return 1;
}

static int statics_eq(const uhw_config_t *a, const uhw_config_t *b)
{
    if (a->nstatics != b->nstatics)
        return 0;
    for (size_t i = 0; i < a->nstatics; ++i)
        if (strcmp(a->statics[i].prefix, b->statics[i].prefix) != 0 || strcmp(a->statics[i].dir, b->statics[i].dir) != 0)
            return 0;
    return 1;
}

/* Settings of the front end that h2o fixed at start-up: report them, keep the old ones. */
static void compare_front(server_t *srv, const uhw_config_t *nc, reload_result_t *res)
{
    const uhw_config_t *oc = srv->cfg;
    if (!listen_eq(oc, nc))
        note(res, "listen changed; restart uhw to apply it (the old listeners stay open until then)");
    if (strcmp(oc->control, nc->control) != 0)
        note(res, "control changed to %s; restart uhw to apply it (still on %s)", nc->control, oc->control);
    if (!statics_eq(oc, nc))
        note(res, "static changed; restart uhw to apply it");
    if (!str_eq(oc->access_log, nc->access_log))
        note(res, "access_log changed; restart uhw to apply it");
    /* h2o reads this limit per request, so it can change now */
    srv->front.conf.max_request_entity_size = nc->max_body;
}

static pool_t *find_pool(pool_t **pools, size_t n, const char *name, size_t *at)
{
    for (size_t i = 0; i < n; ++i) {
        if (pools[i] != NULL && strcmp(pools[i]->cfg->name, name) == 0) {
            *at = i;
            return pools[i];
        }
    }
    return NULL;
}

static void refuse(reload_result_t *res, const char *why)
{
    for (size_t i = 0; i < res->errors.len; ++i)
        log_msg(LOG_ERROR, NULL, "reload refused: %s", res->errors.items[i]);
    log_msg(LOG_ERROR, NULL, "reload refused (%s); still running the previous configuration", why);
    notify_systemd("READY=1\nSTATUS=reload refused; running the previous configuration");
}

void server_reload(server_t *srv, reload_result_t *res)
{
    memset(res, 0, sizeof(*res));
    cfg_errors_init(&res->errors);
    cfg_errors_init(&res->notes);
    if (srv->phase != PHASE_RUNNING) {
        refusal(res, "the server is %s; try again once it is running",
                srv->phase == PHASE_STARTING ? "still starting" : "stopping");
        log_msg(LOG_WARNING, NULL, "reload refused: %s", res->errors.items[0]);
        return;
    }
    notify_systemd("RELOADING=1\nSTATUS=reloading");
    log_msg(LOG_INFO, NULL, "reloading %s", srv->cfg->path);
    uhw_config_t *nc = config_load(srv->cfg->path, &res->errors);
    if (nc != NULL)
        config_check_runtime(nc, srv->self_dir, &res->errors);
    if (res->errors.len != 0) {
        config_free(nc);
        refuse(res, "the file has errors");
        return;
    }

    compare_front(srv, nc, res);
    pool_t **old = srv->pools;
    size_t nold = srv->npools;
    pool_t **pools = calloc(nc->npools ? nc->npools : 1, sizeof(*pools));
    if (pools == NULL)
        abort();
    for (size_t i = 0; i < nc->npools; ++i) {
        const cfg_pool_t *pc = &nc->pools[i];
        size_t at;
        pool_t *p = find_pool(old, nold, pc->name, &at);
        if (p == NULL) {
            p = pool_create(srv, pc);
            p->owner = nc;
            pool_start(p);
            note(res, "pool '%s' added (%u worker%s)", pc->name, pc->workers, pc->workers == 1 ? "" : "s");
        } else {
            old[at] = NULL;
            unsigned diff = config_pool_diff(p->cfg, pc);
            pool_apply_config(p, pc, nc, diff);
            if (diff & CFG_DIFF_PROCESS)
                note(res, "pool '%s' changed: replacing its workers one by one", pc->name);
            else if (diff & CFG_DIFF_SETTINGS)
                note(res, "pool '%s': new settings sent to its workers (no restart)", pc->name);
            if (diff & CFG_DIFF_SLOTS)
                note(res, "pool '%s' now has %u worker%s", pc->name, pc->workers, pc->workers == 1 ? "" : "s");
            if (diff == CFG_DIFF_LIVE)
                note(res, "pool '%s': new limits apply to the next request (no restart)", pc->name);
        }
        pools[i] = p;
    }
    for (size_t i = 0; i < nold; ++i) {
        if (old[i] == NULL)
            continue;
        note(res, "pool '%s' removed: it finishes its requests, then its workers stop", old[i]->cfg->name);
        pool_drain(old[i]);
        server_add_draining(srv, old[i]);
    }
    free(old);
    srv->pools = pools;
    srv->npools = nc->npools;

    uhw_config_t *oc = srv->cfg;
    srv->cfg = nc;
    if (!str_eq(oc->victims.log, nc->victims.log)) {
        char err[512];
        victims_close(srv);
        if (victims_open(srv, err, sizeof(err)) != 0)
            note(res, "%s; victims are not written to a file", err);
    }
    server_retire_config(srv, oc);
    res->applied = 1;
    if (res->notes.len == 0)
        note(res, "no change");
    log_msg(LOG_INFO, NULL, "reloaded %s: %zu pool%s", nc->path, nc->npools, nc->npools == 1 ? "" : "s");
    notify_systemd("READY=1\nSTATUS=running");
}
