/*
 * pool.c — slots, restart policy and queue of one pool; see pool.h.
 *
 * The decisions (how long to back off, whether the window allows another
 * restart) come from policy.c; this file applies them to processes and timers.
 */
#include "pool.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "server.h"

static void on_respawn(utimer_t *t);
static void on_retry(utimer_t *t);
static void roll_step(pool_t *pool);

const double pool_duration_bounds[POOL_DURATION_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,   1,    2.5,   5,    10};

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
    char err[256];
    if (pool_resolve_user(pool, err, sizeof(err)) != 0)
        log_msg(LOG_ERROR, NULL, "pool '%s': %s", cfg->name, err);
    return pool;
}

int pool_resolve_user(pool_t *pool, char *err, size_t errsz)
{
    const char *user = pool->cfg->user;
    free(pool->groups);
    pool->groups = NULL;
    pool->ngroups = 0;
    pool->change_user = 0;
    if (user == NULL || geteuid() != 0)
        return 0; /* not root: workers run as whoever runs uhw (logged once at start) */
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errsz, "user '%s' does not exist%s%s", user, errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    int n = 64;
    gid_t *groups = NULL;
    for (;;) {
        gid_t *g = realloc(groups, (size_t)n * sizeof(*g));
        if (g == NULL)
            abort();
        groups = g;
        int want = n;
        if (getgrouplist(user, pw->pw_gid, groups, &want) >= 0) {
            n = want;
            break;
        }
        n = want > n ? want : n * 2;
    }
    pool->change_user = 1;
    pool->uid = pw->pw_uid;
    pool->gid = pw->pw_gid;
    pool->groups = groups;
    pool->ngroups = (size_t)n;
    return 0;
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
    free(pool->groups);
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
        /* A worker that is not being replaced wins; then the most free capacity. A retiring
         * worker still serves while it is the only one with room (its successor is starting). */
        unsigned score = free_cap + (w->retiring ? 0 : 1u << 20);
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
    int serving = old != NULL && old->state == WS_READY;
    if (old != NULL && !serving)
        worker_stop(old); /* not serving yet: nothing to keep alive */
    if (old != NULL && old->state != WS_EXITED) {
        if (slot->retiring != NULL)
            worker_stop(slot->retiring); /* a replacement of a replacement: the oldest goes now */
        old->retiring = 1;
        slot->retiring = old;
    }
    slot->current = NULL;
    slot_spawn(slot);
    if (slot->current == NULL && serving) {
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
    if (w->slot_id >= pool->nslots) { /* its slot went away (fewer workers after a reload) */
        worker_stop(w);
        return;
    }
    slot_t *slot = &pool->slots[w->slot_id];
    if (slot->current == w && slot->retiring != NULL) {
        worker_stop(slot->retiring); /* the successor is up: the old one finishes and exits */
        if (pool->rolling)
            roll_step(pool);
    }
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
    uint64_t now = now_ms();
    if (w->slot_id >= pool->nslots || pool->draining) {
        /* a slot removed by a reload, or a pool being drained: nothing to restart */
        worker_free(w);
        dispatch_pump(pool);
        server_check_stopped(srv);
        if (pool->draining)
            server_pool_drained(srv);
        return;
    }
    slot_t *slot = &pool->slots[w->slot_id];
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
    char when[48] = "now", limit[32] = ", no limit";
    if (delay != 0)
        snprintf(when, sizeof(when), "in %llu ms", (unsigned long long)delay);
    if (pc->max_restarts != 0)
        snprintf(limit, sizeof(limit), " of %u", pc->max_restarts);
    log_msg(LOG_WARNING, NULL, "pool '%s': restarting worker %u %s (restart %zu%s within restart_window)", pc->name,
            slot->id, when, in_window + 1, limit);
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

/* ---------------------------------------------------------------- one-by-one replacement */

/* Replaces the next worker of an older generation; called again when its successor is
 * Ready, so at most one slot is between workers at a time and capacity never drops. */
static void roll_step(pool_t *pool)
{
    if (pool->state == PS_STOPPING || pool->state == PS_DEGRADED) {
        pool->rolling = 0;
        return;
    }
    for (unsigned i = 0; i < pool->nslots; ++i) {
        slot_t *slot = &pool->slots[i];
        if (slot->retiring != NULL && slot->current != NULL && slot->current->state != WS_READY)
            return; /* a successor is still starting: wait for its Ready */
    }
    for (unsigned i = 0; i < pool->nslots; ++i) {
        slot_t *slot = &pool->slots[i];
        if (slot->current != NULL && slot->current->generation != pool->generation && slot->retiring == NULL) {
            slot_replace(slot);
            if (slot->current != NULL && slot->current->state != WS_READY)
                return;
        }
    }
    pool->rolling = 0;
    log_msg(LOG_INFO, NULL, "pool '%s': every worker replaced", pool->cfg->name);
}

void pool_restart(pool_t *pool)
{
    int was_degraded = pool->state == PS_DEGRADED;
    log_msg(LOG_INFO, NULL, "pool '%s': replacing every worker, one by one%s", pool->cfg->name,
            was_degraded ? ", and leaving the degraded state" : "");
    timers_cancel(&pool->srv->timers, &pool->retry);
    window_clear(&pool->window);
    if (pool->state == PS_DEGRADED)
        pool->state = PS_RUNNING;
    for (unsigned i = 0; i < pool->nslots; ++i) {
        slot_t *slot = &pool->slots[i];
        slot->failures = 0;
        slot->probe = 0;
        timers_cancel(&pool->srv->timers, &slot->respawn);
    }
    ++pool->generation;
    for (unsigned i = 0; i < pool->nslots; ++i) /* empty slots first: nothing to wait for */
        if (pool->slots[i].current == NULL)
            slot_spawn(&pool->slots[i]);
    pool->rolling = 1;
    roll_step(pool);
}

/* ---------------------------------------------------------------- reload */

/* Changes the number of slots. The slots array moves, so respawn timers are re-armed. */
static void pool_resize(pool_t *pool, unsigned n)
{
    timers_t *ts = &pool->srv->timers;
    unsigned old = pool->nslots;
    uint64_t *respawn_at = calloc(old ? old : 1, sizeof(*respawn_at));
    if (respawn_at == NULL)
        abort();
    for (unsigned i = 0; i < old; ++i) {
        if (utimer_active(&pool->slots[i].respawn))
            respawn_at[i] = pool->slots[i].respawn.at;
        timers_cancel(ts, &pool->slots[i].respawn);
    }
    for (unsigned i = n; i < old; ++i) { /* slots going away: their workers stop gracefully */
        if (pool->slots[i].current != NULL)
            worker_stop(pool->slots[i].current);
        if (pool->slots[i].retiring != NULL)
            worker_stop(pool->slots[i].retiring);
    }
    slot_t *slots = realloc(pool->slots, (n ? n : 1) * sizeof(*slots));
    if (slots == NULL)
        abort();
    pool->slots = slots;
    pool->nslots = n;
    for (unsigned i = 0; i < n; ++i) {
        slot_t *slot = &pool->slots[i];
        if (i >= old) {
            memset(slot, 0, sizeof(*slot));
            slot->pool = pool;
            slot->id = i;
        }
        utimer_init(&slot->respawn, on_respawn);
        if (i < old && respawn_at[i] != 0)
            timers_schedule(ts, &slot->respawn, respawn_at[i]);
    }
    free(respawn_at);
    for (unsigned i = old; i < n; ++i)
        slot_spawn(&pool->slots[i]);
}

void pool_apply_config(pool_t *pool, const cfg_pool_t *cfg, uhw_config_t *owner, unsigned diff)
{
    pool->cfg = cfg;
    pool->owner = owner;
    char err[256];
    if (pool_resolve_user(pool, err, sizeof(err)) != 0)
        log_msg(LOG_ERROR, NULL, "pool '%s': %s", cfg->name, err);
    if (diff & CFG_DIFF_PROCESS)
        ++pool->generation; /* before resizing, so new slots start as the new generation */
    if (diff & CFG_DIFF_SLOTS)
        pool_resize(pool, cfg->workers);
    if (diff & CFG_DIFF_PROCESS) {
        pool->rolling = 1;
        roll_step(pool);
    } else if (diff & CFG_DIFF_SETTINGS) {
        FOR_EACH_WORKER(pool, w)
        {
            if (w->state == WS_READY)
                worker_configure(w);
        }
    }
    dispatch_pump(pool); /* limits may have changed */
}

void pool_drain(pool_t *pool)
{
    pool->draining = 1;
    pool->state = PS_STOPPING;
    timers_cancel(&pool->srv->timers, &pool->retry);
    for (unsigned i = 0; i < pool->nslots; ++i)
        timers_cancel(&pool->srv->timers, &pool->slots[i].respawn);
    /* Its routes are gone, so nothing new arrives; what is queued still gets served. */
    pool_drain_progress(pool);
}

void pool_drain_progress(pool_t *pool)
{
    if (pool->draining && h2o_linklist_is_empty(&pool->queue))
        FOR_EACH_WORKER(pool, w) worker_stop(w);
}

int pool_drained(pool_t *pool)
{
    return pool->draining && h2o_linklist_is_empty(&pool->workers) && h2o_linklist_is_empty(&pool->queue);
}

/* ---------------------------------------------------------------- recycling */

void pool_recycle(worker_t *w, const char *why)
{
    pool_t *pool = w->pool;
    if (w->retiring || w->state != WS_READY || w->slot_id >= pool->nslots || pool->state == PS_STOPPING)
        return;
    slot_t *slot = &pool->slots[w->slot_id];
    if (slot->current != w)
        return;
    ++pool->recycles;
    log_msg(LOG_INFO, w->who, "recycling (%s) after %llu request%s; its successor starts first", why,
            (unsigned long long)w->requests, w->requests == 1 ? "" : "s");
    slot_replace(slot);
}

void pool_check_rss(pool_t *pool)
{
    uint64_t limit = pool->cfg->max_rss;
    if (limit == 0)
        return;
    long page = sysconf(_SC_PAGESIZE);
    FOR_EACH_WORKER(pool, w)
    {
        if (w->state != WS_READY || w->retiring)
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/statm", (int)w->pid);
        FILE *f = fopen(path, "r");
        unsigned long size, resident;
        int ok = f != NULL && fscanf(f, "%lu %lu", &size, &resident) == 2;
        if (f != NULL)
            fclose(f);
        if (ok && (uint64_t)resident * (uint64_t)page > limit) {
            char why[96];
            snprintf(why, sizeof(why), "max_rss: %llu KiB resident",
                     (unsigned long long)((uint64_t)resident * (uint64_t)page / 1024));
            pool_recycle(w, why);
            return; /* the iteration list changed: one per check is plenty */
        }
    }
}

/* ---------------------------------------------------------------- numbers */

void pool_count_status(pool_t *pool, int status)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        ++pool->stats.by_class[cls];
}

void pool_observe_duration(pool_t *pool, double seconds)
{
    pool_stats_t *st = &pool->stats;
    for (int i = 0; i < POOL_DURATION_BUCKETS; ++i) {
        if (seconds <= pool_duration_bounds[i]) {
            ++st->duration_buckets[i];
            break;
        }
    }
    ++st->duration_count;
    st->duration_sum += seconds;
}
