/*
 * reload.c — see reload.h.
 */
#include "reload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void reload_result_init(reload_result_t *res)
{
    memset(res, 0, sizeof(*res));
    cfg_errors_init(&res->errors);
    cfg_errors_init(&res->notes);
}

void reload_result_free(reload_result_t *res)
{
    cfg_errors_free(&res->errors);
    cfg_errors_free(&res->notes);
}

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

void reload_note(reload_result_t *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_msg(LOG_INFO, NULL, "reload: %s", vpush(&res->notes, fmt, ap));
    va_end(ap);
}

void reload_refusal(reload_result_t *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vpush(&res->errors, fmt, ap);
    va_end(ap);
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

void reload_compare_front(const uhw_config_t *oc, const uhw_config_t *nc, reload_result_t *res)
{
    if (!listen_eq(oc, nc))
        reload_note(res, "listen changed; restart uhw to apply it (the old listeners stay open until then)");
    if (strcmp(oc->control, nc->control) != 0)
        reload_note(res, "control changed to %s; restart uhw to apply it (still on %s)", nc->control, oc->control);
    if (!statics_eq(oc, nc))
        reload_note(res, "static changed; restart uhw to apply it");
    if (!str_eq(oc->access_log, nc->access_log))
        reload_note(res, "access_log changed; restart uhw to apply it");
}

uhw_config_t *reload_load(const uhw_config_t *current, const char *self_dir, reload_result_t *res)
{
    uhw_config_t *nc = config_load(current->path, &res->errors);
    if (nc != NULL && current->listen_args.len != 0)
        config_set_listen(nc, current->listen_args.items, current->listen_args.len, &res->errors);
    if (nc != NULL)
        config_check_runtime(nc, self_dir, &res->errors);
    if (res->errors.len != 0) {
        config_free(nc);
        return NULL;
    }
    return nc;
}
