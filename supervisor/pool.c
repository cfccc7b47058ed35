/*
 * pool.c — slots, restart policy and queue of one pool; see pool.h.
 *
 * The decisions (how long to back off, whether the window allows another
 * restart) come from policy.c; this file applies them to processes and timers.
 */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "server.h"

static void on_respawn(utimer_t *t);
static void on_retry(utimer_t *t);

const char *pool_state_name(pool_state_t s)
{
    switch (s) {
    case PS_STARTING:
        return "starting";
    case PS_RUNNING:
        return "running";
    case PS_DEGRADED:
        return "degraded";
    case PS_STOPPING:
        return "stopping";
    }
    return "unknown";
}

pool_t *pool_create(server_t *srv, const cfg_pool_t *cfg)
{
    pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        abort();
    pool->srv = srv;
    pool->cfg = cfg;
    pool->state = PS_STARTING;
    pool->nslots = cfg->workers;
    pool->slots = calloc(cfg->workers, sizeof(*pool->slots));
    if (pool->slots == NULL)
        abort();
    for (unsigned i = 0; i < pool->nslots; ++i) {
        pool->slots[i].pool = pool;
        pool->slots[i].id = i;
        utimer_init(&pool->slots[i].respawn, on_respawn);
    }
    h2o_linklist_init_anchor(&pool->workers);
    h2o_linklist_init_anchor(&pool->queue);
    window_init(&pool->window);
    utimer_init(&pool->retry, on_retry);
    return pool;
}

void pool_free(pool_t *pool)
{
    timers_t *ts = &pool->srv->timers;
    while (!h2o_linklist_is_empty(&pool->workers)) {
        worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, pool_link, pool->workers.next);
        worker_free(w);
    }
    for (unsigned i = 0; i < pool->nslots; ++i)
        timers_cancel(ts, &pool->slots[i].respawn);
    timers_cancel(ts, &pool->retry);
    window_free(&pool->window);
    free(pool->slots);
    free(pool);
}

/* ---------------------------------------------------------------- counting */

static int is_alive(const worker_t *w)
{
    return (w->state == WS_STARTING || w->state == WS_READY) && w->kill_reason == NULL;
}

#define FOR_EACH_WORKER(pool, w)                                                                                           \
    for (h2o_linklist_t *_n = (pool)->workers.next; _n != &(pool)->workers; _n = _n->next)                               \
        for (worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, pool_link, _n); w != NULL; w = NULL)

unsigned pool_alive(const pool_t *pool)
{
    unsigned n = 0;
    FOR_EACH_WORKER(pool, w) n += is_alive(w);
    return n;
}

unsigned pool_ready(const pool_t *pool)
{
    unsigned n = 0;
    FOR_EACH_WORKER(pool, w) n += w->state == WS_READY && w->kill_reason == NULL;
    return n;
}

unsigned pool_busy(const pool_t *pool)
{
    unsigned n = 0;
    FOR_EACH_WORKER(pool, w) n += w->state == WS_READY && w->ninflight != 0;
    return n;
}

worker_t *pool_pick_worker(pool_t *pool)
{
    worker_t *best = NULL;
    unsigned best_score = 0;
    FOR_EACH_WORKER(pool, w)
    {
        unsigned free_cap = worker_free_capacity(w);
        if (free_cap == 0)
            continue;
        /* Most free capacity wins; on a tie, a worker that is not being replaced. */
        unsigned score = free_cap * 2 + (w->retiring ? 0 : 1);
        if (score > best_score) {
            best = w;
            best_score = score;
        }
    }
    return best;
}

const char *slot_state_name(const slot_t *s)
{
    if (s->current != NULL)
        return worker_state_name(s->current->state);
    return utimer_active(&s->respawn) ? "backoff" : "exited";
}

/* ---------------------------------------------------------------- spawning and replacing */

static void slot_schedule_respawn(slot_t *slot, uint64_t delay_ms);

static void slot_spawn(slot_t *slot)
{
    pool_t *pool = slot->pool;
    worker_t *w = worker_spawn(pool, slot->id);
    if (w == NULL) {
        /* fork or pipe failed (out of processes or fds): try again later, like a crash */
        slot->failures = policy_next_failures(&pool->cfg->backoff, slot->failures, 0);
        slot_schedule_respawn(slot, policy_backoff_ms(&pool->cfg->backoff, slot->failures, 0));
        return;
    }
    slot->current = w;
}

static void slot_schedule_respawn(slot_t *slot, uint64_t delay_ms)
{
    timers_schedule(&slot->pool->srv->timers, &slot->respawn, now_ms() + delay_ms);
}

static void on_respawn(utimer_t *t)
{
    slot_t *slot = H2O_STRUCT_FROM_MEMBER(slot_t, respawn, t);
    pool_t *pool = slot->pool;
    if (pool->state == PS_DEGRADED || pool->state == PS_STOPPING || pool->srv->phase >= PHASE_STOPPING)
        return;
    if (slot->current == NULL)
        slot_spawn(slot);
}

/* Starts a successor for the slot's worker; the old one keeps serving until the new one
 * is Ready (see pool_on_worker_ready), then gets a graceful stop. */
static void slot_replace(slot_t *slot)
{
    worker_t *old = slot->current;
    if (old == NULL || old->state != WS_READY) {
        if (old != NULL)
            worker_stop(old); /* not serving yet: nothing to keep alive */
        slot->current = NULL;
        if (old != NULL && old->state != WS_EXITED) {
            old->retiring = 1;
            if (slot->retiring != NULL)
                worker_stop(slot->retiring);
            slot->retiring = old;
        }
        slot_spawn(slot);
        return;
    }
    if (slot->retiring != NULL)
        worker_stop(slot->retiring); /* a replacement of a replacement: the oldest goes now */
    old->retiring = 1;
    slot->retiring = old;
    slot->current = NULL;
    slot_spawn(slot);
    if (slot->current == NULL) {
        /* could not fork: keep the old worker as the slot's worker */
        old->retiring = 0;
        slot->retiring = NULL;
        slot->current = old;
    }
}

void pool_start(pool_t *pool)
{
    for (unsigned i = 0; i < pool->nslots; ++i)
        slot_spawn(&pool->slots[i]);
}

/* ---------------------------------------------------------------- events from workers */

static int all_slots_ready(const pool_t *pool)
{
    for (unsigned i = 0; i < pool->nslots; ++i)
        if (pool->slots[i].current == NULL || pool->slots[i].current->state != WS_READY)
            return 0;
    return 1;
}

void pool_on_worker_ready(worker_t *w)
{
    pool_t *pool = w->pool;
    slot_t *slot = &pool->slots[w->slot_id];
    if (slot->current == w && slot->retiring != NULL)
        worker_stop(slot->retiring); /* the successor is up: the old one finishes and exits */
    if (pool->state == PS_STARTING && all_slots_ready(pool)) {
        pool->state = PS_RUNNING;
        server_check_started(pool->srv);
    }
    if (pool->state == PS_DEGRADED && slot->probe && slot->current == w) {
        /* half-open: the probe must also stay up for reset_after */
        log_msg(LOG_INFO, NULL, "pool '%s': probe worker %s is ready; pool recovers if it stays up %llu ms",
                pool->cfg->name, w->who, (unsigned long long)pool->cfg->backoff.reset_after_ms);
        timers_schedule(&pool->srv->timers, &pool->retry, now_ms() + pool->cfg->backoff.reset_after_ms);
    }
    dispatch_pump(pool);
}

static void pool_degrade(pool_t *pool, size_t in_window)
{
    const cfg_pool_t *pc = pool->cfg;
    pool->state = PS_DEGRADED;
    for (unsigned i = 0; i < pool->nslots; ++i)
        timers_cancel(&pool->srv->timers, &pool->slots[i].respawn);
    char retry[96] = "";
    if (pc->degraded_retry_ms != 0)
        snprintf(retry, sizeof(retry), "; a probe worker starts in %llu ms",
                 (unsigned long long)pc->degraded_retry_ms);
    log_msg(LOG_ERROR, NULL,
            "pool '%s' is DEGRADED: %zu restarts within restart_window (%llu ms, max_restarts %u); no more respawns, "
            "requests get 503. Fix the worker, then run `uhw restart %s` or reload%s",
            pc->name, in_window, (unsigned long long)pc->restart_window_ms, pc->max_restarts, pc->name, retry);
    dispatch_fail_queue(pool, 503, "Service unavailable", 0);
    if (pc->degraded_retry_ms != 0)
        timers_schedule(&pool->srv->timers, &pool->retry, now_ms() + pc->degraded_retry_ms);
}

static void pool_recover(pool_t *pool, const char *why)
{
    pool->state = PS_RUNNING;
    window_clear(&pool->window);
    timers_cancel(&pool->srv->timers, &pool->retry);
    log_msg(LOG_INFO, NULL, "pool '%s' is running again: %s", pool->cfg->name, why);
    for (unsigned i = 0; i < pool->nslots; ++i) {
        slot_t *slot = &pool->slots[i];
        slot->probe = 0;
        slot->failures = 0;
        timers_cancel(&pool->srv->timers, &slot->respawn);
        if (slot->current == NULL)
            slot_spawn(slot);
    }
}

/* degraded_retry fired: start a probe, or (probe Ready for reset_after) recover. */
static void on_retry(utimer_t *t)
{
    pool_t *pool = H2O_STRUCT_FROM_MEMBER(pool_t, retry, t);
    if (pool->state != PS_DEGRADED || pool->srv->phase >= PHASE_STOPPING)
        return;
    for (unsigned i = 0; i < pool->nslots; ++i) {
        slot_t *slot = &pool->slots[i];
        if (slot->probe && slot->current != NULL) {
            if (slot->current->state == WS_READY)
                pool_recover(pool, "the probe worker stayed up");
            return;
        }
    }
    /* Start a probe in the first empty slot. */
    for (unsigned i = 0; i < pool->nslots; ++i) {
        slot_t *slot = &pool->slots[i];
        if (slot->current == NULL) {
            log_msg(LOG_INFO, NULL, "pool '%s' is degraded: starting a probe worker in slot %u", pool->cfg->name, i);
            slot->probe = 1;
            slot_spawn(slot);
            return;
        }
    }
}

void pool_on_worker_exit(worker_t *w, const exit_info_t *ei)
{
    pool_t *pool = w->pool;
    server_t *srv = pool->srv;
    const cfg_pool_t *pc = pool->cfg;
    slot_t *slot = &pool->slots[w->slot_id];
    uint64_t now = now_ms();
    int was_current = slot->current == w;
    if (was_current)
        slot->current = NULL;
    if (slot->retiring == w)
        slot->retiring = NULL;
    if (was_current) {
        slot->last_exit = *ei;
        slot->has_exit = 1;
    }

    int planned = w->planned_stop && w->kill_reason == NULL;
    if (!was_current || planned || srv->phase >= PHASE_STOPPING || pool->state == PS_STOPPING) {
        /* a replaced worker, a stop we asked for, or the server is going down: no restart */
        worker_free(w);
        dispatch_pump(pool);
        server_check_stopped(srv);
        return;
    }

    ++slot->restarts;
    ++pool->restarts_total;
    if (srv->phase == PHASE_STARTING && !w->ever_ready) {
        server_startup_failed(srv, w, ei->detail);
        worker_free(w);
        return;
    }
    slot->failures = policy_next_failures(&pc->backoff, slot->failures, now - w->spawned_mono);
    worker_free(w);

    if (pool->state == PS_DEGRADED) {
        if (slot->probe) {
            slot->probe = 0;
            log_msg(LOG_ERROR, NULL, "pool '%s': the probe worker failed (%s); still degraded", pc->name, ei->detail);
            if (pc->degraded_retry_ms != 0)
                timers_schedule(&srv->timers, &pool->retry, now + pc->degraded_retry_ms);
        }
        return;
    }
    size_t in_window = window_count(&pool->window, now, pc->restart_window_ms);
    if (!policy_may_restart(in_window, pc->max_restarts)) {
        pool_degrade(pool, in_window);
        return;
    }
    window_record(&pool->window, now);
    /* jitter in [-1, 1] */
    double jitter = (double)(rand() % 2001) / 1000.0 - 1.0;
    uint64_t delay = policy_backoff_ms(&pc->backoff, slot->failures, jitter);
    char when[48] = "now";
    if (delay != 0)
        snprintf(when, sizeof(when), "in %llu ms", (unsigned long long)delay);
    log_msg(LOG_WARNING, NULL, "pool '%s': restarting worker %u %s (restart %zu of %u within restart_window)", pc->name,
            slot->id, when, in_window + 1, pc->max_restarts);
    if (delay == 0)
        slot_spawn(slot);
    else
        slot_schedule_respawn(slot, delay);
}

/* ---------------------------------------------------------------- operator actions */

void pool_stop(pool_t *pool)
{
    pool->state = PS_STOPPING;
    timers_cancel(&pool->srv->timers, &pool->retry);
    for (unsigned i = 0; i < pool->nslots; ++i)
        timers_cancel(&pool->srv->timers, &pool->slots[i].respawn);
    FOR_EACH_WORKER(pool, w) worker_stop(w);
}

void pool_restart(pool_t *pool)
{
    int was_degraded = pool->state == PS_DEGRADED;
    log_msg(LOG_INFO, NULL, "pool '%s': restarting every worker%s", pool->cfg->name,
            was_degraded ? " and leaving the degraded state" : "");
    timers_cancel(&pool->srv->timers, &pool->retry);
    window_clear(&pool->window);
    if (pool->state == PS_DEGRADED)
        pool->state = PS_RUNNING;
    for (unsigned i = 0; i < pool->nslots; ++i) {
        slot_t *slot = &pool->slots[i];
        slot->failures = 0;
        slot->probe = 0;
        timers_cancel(&pool->srv->timers, &slot->respawn);
        if (slot->current == NULL)
            slot_spawn(slot);
        else
            slot_replace(slot);
    }
}
