/*
 * config_diff.c — what differs between two versions of a pool, as far as a reload is
 * concerned: whether its workers must be replaced, resized, reconfigured, or nothing.
 */
#include "config_internal.h"

#include <string.h>

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

/* A user name may have been given another uid, groups or home since the last check. */
static int identity_eq(const cfg_identity_t *a, const cfg_identity_t *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return a->uid == b->uid && a->gid == b->gid && a->ngroups == b->ngroups &&
           memcmp(a->groups, b->groups, a->ngroups * sizeof(*a->groups)) == 0 && strcmp(a->name, b->name) == 0 &&
           strcmp(a->home, b->home) == 0;
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
        !identity_eq(a->run_as, b->run_as) || a->concurrency != b->concurrency)
        d |= CFG_DIFF_PROCESS;
    if (a->workers != b->workers)
        d |= CFG_DIFF_SLOTS;
    if (!kvs_eq(&a->settings, &b->settings))
        d |= CFG_DIFF_SETTINGS;
    if (!routes_eq(a, b) || a->timeout_ms != b->timeout_ms || a->stuck_timeout_ms != b->stuck_timeout_ms ||
        a->ready_timeout_ms != b->ready_timeout_ms || a->max_restarts != b->max_restarts ||
        a->restart_window_ms != b->restart_window_ms || a->degraded_retry_ms != b->degraded_retry_ms ||
        a->slow_log_ms != b->slow_log_ms ||
        memcmp(&a->backoff, &b->backoff, sizeof(a->backoff)) != 0 || a->max_requests != b->max_requests ||
        a->max_requests_jitter != b->max_requests_jitter || a->max_rss != b->max_rss ||
        a->queue_limit != b->queue_limit || a->max_frame != b->max_frame ||
        a->graceful_timeout_ms != b->graceful_timeout_ms || a->kill_timeout_ms != b->kill_timeout_ms)
        d |= CFG_DIFF_LIVE;
    return d;
}
