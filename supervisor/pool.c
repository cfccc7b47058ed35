/*
 * pool.c — slots, restart policy and worker choice of one pool; see pool.h.
 *
 * The decisions (how long to back off, whether the window allows another restart,
 * what an exit counts as) come from policy.c; this file applies them to processes and
 * timers. Every worker of the pool reports here through worker_events (below); what
 * concerns requests goes on to the owner through pool_events_t.
 */
#include "pool.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <h2o/memory.h>

#include "log.h"
#include "policy.h"

typedef struct slot {
    pool_t *pool;
    unsigned id;
    worker_t *current;       /* the process serving this slot, or NULL (backoff / exited) */
    unsigned current_gen;    /* the pool generation `current` was started for */
    worker_t *retiring;      /* the process it replaces, serving until `current` is Ready */
    unsigned restarts;       /* unplanned exits, total */
    unsigned failures;       /* consecutive quick failures, the backoff exponent */
    int has_exit;
    exit_info_t last_exit;
    utimer_t respawn;        /* backoff: when to spawn again */
} slot_t;

struct pool {
    const cfg_pool_t *cfg;
    pool_env_t env;
    const pool_events_t *ev;
    void *owner;
    pool_state_t state;
    int startup;             /* start-up mode: a worker failing before Ready is reported, not restarted */
    slot_t *slots;
    unsigned nslots;
    h2o_linklist_t workers;  /* every worker_t of the pool: current, retiring, and those of removed slots */
    pool_queue_t queue;
    pool_stats_t stats;
    uint64_t restarts_total;
    uint64_t recycles;
    restart_window_t window;
    utimer_t retry;          /* degraded_retry: when to start a probe; then the probe's confirmation */
    int probe_slot;          /* the slot running a degraded pool's probe, or -1 */
    unsigned generation;     /* bumped by reload/restart; older workers are replaced one by one */
    int rolling;             /* a one-by-one replacement is under way */
    worker_params_t params;
    /* `user`, resolved: workers switch to it when uhw runs as root */
    int change_user;
    proc_user_t user;
};

static const worker_events_t worker_events;
static void remove_worker_dir(const char *dir);
static void on_respawn(utimer_t *t);
static void on_retry(utimer_t *t);
static void roll_step(pool_t *p);

const double pool_duration_bounds[POOL_DURATION_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,   1,    2.5,   5,    10};

const char *pool_state_name(pool_state_t s)
{
    static const char *const names[] = {"starting", "running", "degraded", "stopping", "stopping"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static uint64_t now(const pool_t *p)
{
    return timers_now(p->env.timers);
}

/* Every worker of the pool; the body may free the current one. */
#define FOR_EACH_WORKER(p, w)                                                                                              \
    for (h2o_linklist_t *_n = (p)->workers.next, *_next = _n->next; _n != &(p)->workers; _n = _next, _next = _n->next)  \
        for (worker_t *w = worker_from_owner_link(_n); w != NULL; w = NULL)

/* ---------------------------------------------------------------- identity */

/* The identity its workers switch to: resolved when the config was checked (config_check_runtime,
 * as root only), so nothing reads the user database on the event loop. */
static void set_user(pool_t *p)
{
    const cfg_identity_t *id = p->cfg->run_as;
    p->change_user = id != NULL;
    if (id != NULL)
        p->user = (proc_user_t){.uid = id->uid, .gid = id->gid, .groups = id->groups, .ngroups = id->ngroups,
                                .name = id->name, .home = id->home};
}

static void set_params(pool_t *p)
{
    const cfg_pool_t *c = p->cfg;
    p->params.ready_timeout_ms = c->ready_timeout_ms;
    p->params.stuck_timeout_ms = c->stuck_timeout_ms;
    p->params.graceful_timeout_ms = c->graceful_timeout_ms;
    p->params.kill_timeout_ms = c->kill_timeout_ms;
    p->params.max_frame = c->max_frame;
    p->params.concurrency = c->concurrency;
}

/* ---------------------------------------------------------------- life */

pool_t *pool_create(const cfg_pool_t *cfg, const pool_env_t *env, const pool_events_t *ev, void *owner)
{
    pool_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    p->cfg = cfg;
    p->env = *env;
    p->ev = ev;
    p->owner = owner;
    p->state = PS_STARTING;
    p->probe_slot = -1;
    p->nslots = cfg->workers;
    p->slots = calloc(cfg->workers, sizeof(*p->slots));
    if (p->slots == NULL)
        abort();
    for (unsigned i = 0; i < p->nslots; ++i) {
        p->slots[i].pool = p;
        p->slots[i].id = i;
        utimer_init(&p->slots[i].respawn, on_respawn);
    }
    h2o_linklist_init_anchor(&p->workers);
    h2o_linklist_init_anchor(&p->queue.items);
    window_init(&p->window);
    utimer_init(&p->retry, on_retry);
    set_params(p);
    set_user(p);
    return p;
}

void pool_free(pool_t *p)
{
    timers_t *ts = p->env.timers;
    while (!h2o_linklist_is_empty(&p->workers)) {
        worker_t *w = worker_from_owner_link(p->workers.next);
        remove_worker_dir(worker_dir(w));
        worker_free(w);
    }
    for (unsigned i = 0; i < p->nslots; ++i)
        timers_cancel(ts, &p->slots[i].respawn);
    timers_cancel(ts, &p->retry);
    window_free(&p->window);
    free(p->slots);
    free(p);
}

/* ---------------------------------------------------------------- accessors and counts */

void *pool_owner(const pool_t *p) { return p->owner; }
const cfg_pool_t *pool_cfg(const pool_t *p) { return p->cfg; }
const char *pool_name(const pool_t *p) { return p->cfg->name; }
pool_state_t pool_state(const pool_t *p) { return p->state; }
unsigned pool_size(const pool_t *p) { return p->nslots; }
uint64_t pool_restarts_total(const pool_t *p) { return p->restarts_total; }
uint64_t pool_recycles(const pool_t *p) { return p->recycles; }
pool_queue_t *pool_queue(pool_t *p) { return &p->queue; }
pool_stats_t *pool_stats(pool_t *p) { return &p->stats; }

int pool_accepts(const pool_t *p)
{
    return p->state == PS_RUNNING || p->state == PS_STARTING || p->state == PS_DRAINING;
}

unsigned pool_alive(const pool_t *p)
{
    /* CLOSING counts: usually a worker that retired itself, whose successor starts the moment it is
     * reaped; a request meanwhile waits in the queue rather than getting 503. */
    unsigned n = 0;
    FOR_EACH_WORKER(p, w)
    {
        worker_state_t s = worker_state(w);
        n += s == WS_STARTING || s == WS_READY || s == WS_RETIRING || s == WS_CLOSING;
    }
    return n;
}

unsigned pool_ready(const pool_t *p)
{
    unsigned n = 0;
    FOR_EACH_WORKER(p, w) n += worker_state(w) == WS_READY || worker_state(w) == WS_RETIRING;
    return n;
}

unsigned pool_busy(const pool_t *p)
{
    unsigned n = 0;
    FOR_EACH_WORKER(p, w) n += (worker_state(w) == WS_READY || worker_state(w) == WS_RETIRING) && worker_in_flight(w) != 0;
    return n;
}

int pool_has_workers(const pool_t *p)
{
    return p->workers.next != &p->workers;
}

const proc_user_t *pool_user(const pool_t *p)
{
    return p->change_user ? &p->user : NULL;
}

worker_t *pool_slot_worker(pool_t *p, unsigned slot)
{
    return slot < p->nslots ? p->slots[slot].current : NULL;
}

worker_t *pool_pick_worker(pool_t *p)
{
    worker_t *best = NULL;
    unsigned best_score = 0;
    FOR_EACH_WORKER(p, w)
    {
        unsigned free_cap = worker_free_capacity(w);
        if (free_cap == 0)
            continue;
        /* A worker that is not being replaced wins; then the most free capacity. A retiring
         * worker still serves while it is the only one with room (its successor is starting). */
        unsigned score = free_cap + (worker_state(w) == WS_RETIRING ? 0 : 1u << 20);
        if (score > best_score) {
            best = w;
            best_score = score;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- spawning and replacing */

static void slot_schedule_respawn(slot_t *slot, uint64_t delay_ms)
{
    timers_schedule(slot->pool->env.timers, &slot->respawn, now(slot->pool) + delay_ms);
}

/* A directory of its own for each worker (UHW_WORKER_DIR, mode 0700, owned by its user): where
 * the shell helpers keep request bodies, so no other local user can read or plant them. uhw
 * removes it when the worker is gone, whatever the worker left in it. (A few file-system calls
 * per spawn and exit: not on the path of a request.) */
static char *make_worker_dir(const pool_t *p, unsigned slot_id)
{
    const char *tmp = getenv("TMPDIR");
    char *dir;
    if (asprintf(&dir, "%s/uhw-%s-%u-XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp", p->cfg->name, slot_id) < 0)
        abort();
    if (mkdtemp(dir) == NULL || (p->change_user && chown(dir, p->user.uid, p->user.gid) != 0)) {
        log_msg(LOG_WARNING, NULL, "pool '%s': cannot make a private directory for worker %u: %s", p->cfg->name, slot_id,
                strerror(errno));
        if (access(dir, F_OK) == 0)
            rmdir(dir);
        free(dir);
        return NULL;
    }
    return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_worker_dir(const char *dir)
{
    if (dir != NULL)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); /* symlinks removed, never followed */
}

static worker_t *spawn(pool_t *p, unsigned slot_id)
{
    const cfg_pool_t *pc = p->cfg;
    char num[32];
    proc_env_t env;
    proc_env_init(&env, pc->clear_env);
    for (size_t i = 0; i < pc->env.len; ++i)
        proc_env_set(&env, pc->env.items[i].key, pc->env.items[i].value);
    proc_env_set(&env, "UHW_POOL", pc->name);
    snprintf(num, sizeof(num), "%u", slot_id);
    proc_env_set(&env, "UHW_WORKER", num);
    proc_env_set(&env, "UHW_PROTOCOL", "1");
    snprintf(num, sizeof(num), "%llu", (unsigned long long)pc->max_frame);
    proc_env_set(&env, "UHW_MAX_FRAME", num); /* the largest frame uhw accepts; SDKs size their reads by it */
    if (p->change_user)
        proc_env_set_user(&env, &p->user); /* its own HOME and names, not root's */
    for (size_t i = 0; i < p->env.nprepend; ++i)
        proc_env_prepend(&env, p->env.prepend[i][0], p->env.prepend[i][1],
                         strcmp(p->env.prepend[i][0], "PATH") == 0 ? "/usr/local/bin:/usr/bin:/bin" : NULL);
    char *dir = p->env.worker_dirs ? make_worker_dir(p, slot_id) : NULL;
    if (dir != NULL)
        proc_env_set(&env, "UHW_WORKER_DIR", dir);
    proc_spec_t ps = {
        .argv = pc->argv,
        .envp = env.items,
        .cwd = pc->cwd,
        .user = p->change_user ? &p->user : NULL,
    };
    worker_spec_t ws = {
        .pool = pc->name,
        .command = pc->argv[pc->shell ? 2 : 0],
        .dir = dir,
        .slot = slot_id,
        .params = &p->params,
        .proc = &ps,
        .events = &worker_events,
        .owner = p,
        .io = p->env.io,
        .io_ctx = p->env.io_ctx,
        .timers = p->env.timers,
    };
    worker_t *w = worker_spawn(&ws);
    proc_env_free(&env);
    if (w == NULL)
        remove_worker_dir(dir);
    free(dir);
    if (w != NULL)
        h2o_linklist_insert(&p->workers, worker_owner_link(w));
    return w;
}

static void slot_spawn(slot_t *slot)
{
    pool_t *p = slot->pool;
    worker_t *w = spawn(p, slot->id);
    if (w == NULL) {
        /* fork or pipe failed (out of processes or fds): try again later, like a crash */
        slot->failures = policy_next_failures(&p->cfg->backoff, slot->failures, 0);
        slot_schedule_respawn(slot, policy_backoff_ms(&p->cfg->backoff, slot->failures, 0));
        return;
    }
    slot->current = w;
    slot->current_gen = p->generation;
}

static void on_respawn(utimer_t *t)
{
    slot_t *slot = H2O_STRUCT_FROM_MEMBER(slot_t, respawn, t);
    pool_t *p = slot->pool;
    if (p->state == PS_DEGRADED || p->state == PS_STOPPING || p->state == PS_DRAINING)
        return;
    if (slot->current == NULL)
        slot_spawn(slot);
}

/* Starts a successor for the slot's worker; the old one keeps serving until the new one is
 * Ready (w_on_ready), then gets a graceful stop. */
static void slot_replace(slot_t *slot)
{
    worker_t *old = slot->current;
    int serving = old != NULL && worker_state(old) == WS_READY;
    if (old != NULL && !serving)
        worker_stop(old); /* not serving: nothing to keep alive */
    if (old != NULL && worker_state(old) != WS_EXITED) {
        if (slot->retiring != NULL)
            worker_stop(slot->retiring); /* a replacement of a replacement: the oldest goes now */
        if (serving)
            worker_retire(old);
        slot->retiring = old;
    }
    slot->current = NULL;
    slot_spawn(slot);
}

void pool_start(pool_t *p, int startup)
{
    p->startup = startup;
    for (unsigned i = 0; i < p->nslots; ++i)
        slot_spawn(&p->slots[i]);
}

void pool_end_startup(pool_t *p)
{
    p->startup = 0;
}

/* ---------------------------------------------------------------- events from workers */

static int all_slots_ready(const pool_t *p)
{
    for (unsigned i = 0; i < p->nslots; ++i)
        if (p->slots[i].current == NULL || worker_state(p->slots[i].current) != WS_READY)
            return 0;
    return 1;
}

static slot_t *slot_of(pool_t *p, worker_t *w)
{
    unsigned id = worker_slot(w);
    return id < p->nslots ? &p->slots[id] : NULL;
}

static void send_settings(pool_t *p, worker_t *w)
{
    const cfg_kvs_t *s = &p->cfg->settings;
    Uhw__V1__Setting *items = calloc(s->len + 1, sizeof(*items));
    const Uhw__V1__Setting **ptrs = calloc(s->len + 1, sizeof(*ptrs));
    if (items == NULL || ptrs == NULL)
        abort();
    for (size_t i = 0; i < s->len; ++i) {
        uhw__v1__setting__init(&items[i]);
        items[i].key = s->items[i].key;
        items[i].value = s->items[i].value;
        ptrs[i] = &items[i];
    }
    worker_configure(w, ptrs, s->len);
    free(ptrs);
    free(items);
}

static void w_on_ready(worker_t *w)
{
    pool_t *p = worker_owner(w);
    slot_t *slot = slot_of(p, w);
    if (p->cfg->settings.len != 0)
        send_settings(p, w);
    if (slot == NULL || (slot->current != w && slot->retiring != w)) {
        worker_stop(w); /* its slot went away (fewer workers after a reload) */
        return;
    }
    if (slot->current == w && slot->retiring != NULL) {
        worker_stop(slot->retiring); /* the successor is up: the old one finishes and exits */
        if (p->rolling)
            roll_step(p);
    }
    if (p->state == PS_STARTING && all_slots_ready(p)) {
        p->state = PS_RUNNING;
        if (p->startup)
            p->ev->on_started(p);
    }
    if (p->state == PS_DEGRADED && (int)slot->id == p->probe_slot && slot->current == w) {
        /* half-open: the probe must also stay up for reset_after */
        log_msg(LOG_INFO, NULL, "pool '%s': probe worker %s is ready; pool recovers if it stays up %llu ms",
                p->cfg->name, worker_who(w), (unsigned long long)p->cfg->backoff.reset_after_ms);
        timers_schedule(p->env.timers, &p->retry, now(p) + p->cfg->backoff.reset_after_ms);
    }
    p->ev->on_capacity(p);
}

static void w_on_capacity(worker_t *w)
{
    pool_t *p = worker_owner(w);
    p->ev->on_capacity(p);
}

static worker_verdict_t w_on_answer(worker_t *w, Uhw__V1__FromWorker *m, char *why, size_t whysz)
{
    pool_t *p = worker_owner(w);
    return p->ev->on_answer(p, w, m, why, whysz);
}

static unsigned w_on_lost(worker_t *w, int status, const exit_info_t *ei, uint64_t consumed)
{
    pool_t *p = worker_owner(w);
    return p->ev->on_lost(p, w, status, ei, consumed);
}

static void degrade(pool_t *p, size_t in_window)
{
    const cfg_pool_t *pc = p->cfg;
    p->state = PS_DEGRADED;
    for (unsigned i = 0; i < p->nslots; ++i)
        timers_cancel(p->env.timers, &p->slots[i].respawn);
    char retry[96] = "";
    if (pc->degraded_retry_ms != 0)
        snprintf(retry, sizeof(retry), "; a probe worker starts in %llu ms", (unsigned long long)pc->degraded_retry_ms);
    log_msg(LOG_ERROR, NULL,
            "pool '%s' is DEGRADED: %zu restarts within restart_window (%llu ms, max_restarts %u); no more respawns, "
            "requests get 503. Fix the worker, then run `uhw restart %s` or reload%s",
            pc->name, in_window, (unsigned long long)pc->restart_window_ms, pc->max_restarts, pc->name, retry);
    if (pc->degraded_retry_ms != 0)
        timers_schedule(p->env.timers, &p->retry, now(p) + pc->degraded_retry_ms);
    p->ev->on_degraded(p);
}

static void recover(pool_t *p, const char *why)
{
    p->state = PS_RUNNING;
    p->probe_slot = -1;
    window_clear(&p->window);
    timers_cancel(p->env.timers, &p->retry);
    log_msg(LOG_INFO, NULL, "pool '%s' is running again: %s", p->cfg->name, why);
    for (unsigned i = 0; i < p->nslots; ++i) {
        slot_t *slot = &p->slots[i];
        slot->failures = 0;
        timers_cancel(p->env.timers, &slot->respawn);
        if (slot->current == NULL)
            slot_spawn(slot);
    }
}

/* degraded_retry fired: start a probe, or (the probe stayed Ready for reset_after) recover. */
static void on_retry(utimer_t *t)
{
    pool_t *p = H2O_STRUCT_FROM_MEMBER(pool_t, retry, t);
    if (p->state != PS_DEGRADED)
        return;
    if (p->probe_slot >= 0) {
        worker_t *probe = p->slots[p->probe_slot].current;
        if (probe != NULL && worker_state(probe) == WS_READY) {
            recover(p, "the probe worker stayed up");
            p->ev->on_capacity(p);
        }
        return;
    }
    for (unsigned i = 0; i < p->nslots; ++i) {
        slot_t *slot = &p->slots[i];
        if (slot->current == NULL) {
            log_msg(LOG_INFO, NULL, "pool '%s' is degraded: starting a probe worker in slot %u", p->cfg->name, i);
            p->probe_slot = (int)i;
            slot_spawn(slot);
            return;
        }
    }
}

/* An unplanned exit of a slot's worker: back off and respawn (a restart, counted), or degrade. */
static void restart_slot(pool_t *p, slot_t *slot, uint64_t lived_ms, const exit_info_t *ei)
{
    const cfg_pool_t *pc = p->cfg;
    uint64_t t = now(p);
    slot->failures = policy_next_failures(&pc->backoff, slot->failures, lived_ms);
    if (p->state == PS_DEGRADED) {
        if ((int)slot->id == p->probe_slot) {
            p->probe_slot = -1;
            log_msg(LOG_ERROR, NULL, "pool '%s': the probe worker failed (%s); still degraded", pc->name, ei->detail);
            if (pc->degraded_retry_ms != 0)
                timers_schedule(p->env.timers, &p->retry, t + pc->degraded_retry_ms);
        }
        return;
    }
    size_t in_window = window_count(&p->window, t, pc->restart_window_ms);
    if (!policy_may_restart(in_window, pc->max_restarts)) {
        degrade(p, in_window);
        return;
    }
    window_record(&p->window, t);
    ++slot->restarts; /* as in_window: the exits that degrade or fail a probe are not restarts */
    ++p->restarts_total;
    double jitter = (double)(rand() % 2001) / 1000.0 - 1.0; /* in [-1, 1] */
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

static void w_on_exit(worker_t *w, exit_class_t cls, const exit_info_t *ei)
{
    pool_t *p = worker_owner(w);
    slot_t *slot = slot_of(p, w);
    int was_current = slot != NULL && slot->current == w;
    uint64_t lived = now(p) - worker_spawned_mono(w);
    if (slot != NULL && slot->retiring == w)
        slot->retiring = NULL;
    if (was_current) {
        slot->current = NULL;
        slot->last_exit = *ei;
        slot->has_exit = 1;
    }
    int serving = p->state == PS_RUNNING || p->state == PS_DEGRADED || p->state == PS_STARTING;
    if (!was_current || cls == EXIT_PLANNED || !serving) {
        /* replaced, removed, asked to stop, or the pool is going away: nothing follows */
    } else if (cls == EXIT_STARTUP && p->startup) {
        p->ev->on_startup_failed(p, w, ei->detail); /* uhw gives up: no restart */
    } else if (cls == EXIT_RETIRED) {
        /* It retired itself (PHP_FCGI_MAX_REQUESTS style): a recycle, replaced at once. */
        ++p->recycles;
        slot->failures = 0;
        slot_spawn(slot);
    } else {
        restart_slot(p, slot, lived, ei);
    }
    remove_worker_dir(worker_dir(w));
    worker_free(w);
    p->ev->on_worker_gone(p);
}

static const worker_events_t worker_events = {
    .on_ready = w_on_ready,
    .on_capacity = w_on_capacity,
    .on_answer = w_on_answer,
    .on_lost = w_on_lost,
    .on_exit = w_on_exit,
};

/* ---------------------------------------------------------------- the dispatch layer's requests */

void pool_assigned(pool_t *p, worker_t *w)
{
    worker_assign(w);
    uint64_t after = p->cfg->max_requests;
    if (after == 0 || worker_state(w) != WS_READY)
        return;
    /* max_requests (+ jitter, drawn per process from its pid so the workers of a pool spread out) */
    uint64_t jitter = p->cfg->max_requests_jitter;
    uint64_t limit = policy_recycle_after(after, jitter, (double)((unsigned)worker_pid(w) * 2654435761u % 1000) / 1000.0);
    slot_t *slot = slot_of(p, w);
    if (worker_requests(w) == limit && slot != NULL && slot->current == w && p->state == PS_RUNNING) {
        ++p->recycles;
        log_msg(LOG_INFO, worker_who(w), "recycling (max_requests) after %llu requests; its successor starts first",
                (unsigned long long)worker_requests(w));
        slot_replace(slot);
    }
}

/* ---------------------------------------------------------------- operator actions */

void pool_stop(pool_t *p)
{
    p->state = PS_STOPPING;
    timers_cancel(p->env.timers, &p->retry);
    for (unsigned i = 0; i < p->nslots; ++i)
        timers_cancel(p->env.timers, &p->slots[i].respawn);
    FOR_EACH_WORKER(p, w) worker_stop(w);
}

void pool_terminate(pool_t *p, uint64_t kill_after_ms)
{
    p->state = PS_STOPPING;
    timers_cancel(p->env.timers, &p->retry);
    for (unsigned i = 0; i < p->nslots; ++i)
        timers_cancel(p->env.timers, &p->slots[i].respawn);
    FOR_EACH_WORKER(p, w) worker_terminate(w, kill_after_ms);
}

void pool_kill_all(pool_t *p)
{
    FOR_EACH_WORKER(p, w) worker_kill_now(w);
}

/* Replaces the next worker of an older generation; called again when its successor is Ready,
 * so at most one slot is between workers at a time and capacity never drops. */
static void roll_step(pool_t *p)
{
    if (p->state != PS_RUNNING && p->state != PS_STARTING) {
        p->rolling = 0;
        return;
    }
    for (unsigned i = 0; i < p->nslots; ++i) {
        slot_t *slot = &p->slots[i];
        if (slot->retiring != NULL && slot->current != NULL && worker_state(slot->current) != WS_READY)
            return; /* a successor is still starting: wait for its Ready */
    }
    for (unsigned i = 0; i < p->nslots; ++i) {
        slot_t *slot = &p->slots[i];
        if (slot->current != NULL && slot->current_gen != p->generation && slot->retiring == NULL) {
            slot_replace(slot);
            if (slot->current != NULL && worker_state(slot->current) != WS_READY)
                return;
        }
    }
    p->rolling = 0;
    log_msg(LOG_INFO, NULL, "pool '%s': every worker replaced", p->cfg->name);
}

void pool_restart(pool_t *p)
{
    int was_degraded = p->state == PS_DEGRADED;
    log_msg(LOG_INFO, NULL, "pool '%s': replacing every worker, one by one%s", p->cfg->name,
            was_degraded ? ", and leaving the degraded state" : "");
    timers_cancel(p->env.timers, &p->retry);
    window_clear(&p->window);
    p->probe_slot = -1;
    if (p->state == PS_DEGRADED)
        p->state = PS_RUNNING;
    for (unsigned i = 0; i < p->nslots; ++i) {
        p->slots[i].failures = 0;
        timers_cancel(p->env.timers, &p->slots[i].respawn);
    }
    ++p->generation;
    for (unsigned i = 0; i < p->nslots; ++i) /* empty slots first: nothing to wait for */
        if (p->slots[i].current == NULL)
            slot_spawn(&p->slots[i]);
    p->rolling = 1;
    roll_step(p);
}

/* Changes the number of slots. The slots array moves, so respawn timers are re-armed. */
static void resize(pool_t *p, unsigned n)
{
    timers_t *ts = p->env.timers;
    unsigned old = p->nslots;
    uint64_t *respawn_at = calloc(old ? old : 1, sizeof(*respawn_at));
    if (respawn_at == NULL)
        abort();
    for (unsigned i = 0; i < old; ++i) {
        if (utimer_active(&p->slots[i].respawn))
            respawn_at[i] = p->slots[i].respawn.at;
        timers_cancel(ts, &p->slots[i].respawn);
    }
    for (unsigned i = n; i < old; ++i) { /* slots going away: their workers stop gracefully */
        if (p->slots[i].current != NULL)
            worker_stop(p->slots[i].current);
        if (p->slots[i].retiring != NULL)
            worker_stop(p->slots[i].retiring);
    }
    if (p->probe_slot >= (int)n)
        p->probe_slot = -1;
    slot_t *slots = realloc(p->slots, (n ? n : 1) * sizeof(*slots));
    if (slots == NULL)
        abort();
    p->slots = slots;
    p->nslots = n;
    for (unsigned i = 0; i < n; ++i) {
        slot_t *slot = &p->slots[i];
        if (i >= old) {
            memset(slot, 0, sizeof(*slot));
            slot->pool = p;
            slot->id = i;
        }
        utimer_init(&slot->respawn, on_respawn);
        if (i < old && respawn_at[i] != 0)
            timers_schedule(ts, &slot->respawn, respawn_at[i]);
    }
    free(respawn_at);
    if (p->state == PS_RUNNING || p->state == PS_STARTING)
        for (unsigned i = old; i < n; ++i)
            slot_spawn(&p->slots[i]);
}

void pool_scale(pool_t *p, unsigned n)
{
    log_msg(LOG_INFO, NULL, "pool '%s': scaling from %u to %u worker%s", p->cfg->name, p->nslots, n, n == 1 ? "" : "s");
    resize(p, n);
    p->ev->on_capacity(p);
}

void pool_apply_config(pool_t *p, const cfg_pool_t *cfg, unsigned diff)
{
    p->cfg = cfg;
    set_params(p);
    FOR_EACH_WORKER(p, w) worker_set_params(w, &p->params); /* limits apply live */
    set_user(p);
    if (diff & CFG_DIFF_PROCESS)
        ++p->generation; /* before resizing, so new slots start as the new generation */
    if ((diff & CFG_DIFF_SLOTS) || p->nslots != cfg->workers)
        resize(p, cfg->workers);
    if (diff & CFG_DIFF_PROCESS) {
        p->rolling = 1;
        roll_step(p);
    } else if (diff & CFG_DIFF_SETTINGS) {
        FOR_EACH_WORKER(p, w)
        {
            if (worker_state(w) == WS_READY || worker_state(w) == WS_RETIRING)
                send_settings(p, w);
        }
    }
    p->ev->on_capacity(p); /* limits may have changed */
}

void pool_drain(pool_t *p)
{
    p->state = PS_DRAINING;
    timers_cancel(p->env.timers, &p->retry);
    for (unsigned i = 0; i < p->nslots; ++i)
        timers_cancel(p->env.timers, &p->slots[i].respawn);
    if (p->queue.len == 0)
        FOR_EACH_WORKER(p, w) worker_stop(w);
}

int pool_drained(const pool_t *p)
{
    return p->state == PS_DRAINING && !pool_has_workers(p) && p->queue.len == 0;
}

/* ---------------------------------------------------------------- recycling */

void pool_check_rss(pool_t *p)
{
    uint64_t limit = p->cfg->max_rss;
    if (limit == 0 || p->state != PS_RUNNING)
        return;
    long page = sysconf(_SC_PAGESIZE);
    for (unsigned i = 0; i < p->nslots; ++i) {
        slot_t *slot = &p->slots[i];
        worker_t *w = slot->current;
        if (w == NULL || worker_state(w) != WS_READY || slot->retiring != NULL)
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/statm", (int)worker_pid(w));
        FILE *f = fopen(path, "r");
        unsigned long size, resident;
        int ok = f != NULL && fscanf(f, "%lu %lu", &size, &resident) == 2;
        if (f != NULL)
            fclose(f);
        if (ok && (uint64_t)resident * (uint64_t)page > limit) {
            ++p->recycles;
            log_msg(LOG_INFO, worker_who(w), "recycling (max_rss: %llu KiB resident) after %llu requests; its "
                    "successor starts first", (unsigned long long)((uint64_t)resident * (uint64_t)page / 1024),
                    (unsigned long long)worker_requests(w));
            slot_replace(slot);
            return; /* one per check is plenty */
        }
    }
}

/* ---------------------------------------------------------------- status */

static const char *slot_state_name(const slot_t *s)
{
    if (s->current != NULL)
        return worker_status_state(s->current);
    return utimer_active(&s->respawn) ? "backoff" : "exited";
}

static json_t *exit_json(const exit_info_t *ei)
{
    char sig[32], at[40];
    return json_pack("{s:s, s:s, s:o, s:o, s:s}", "reason", ei->reason, "detail", ei->detail, "code",
                     ei->code >= 0 ? json_integer(ei->code) : json_null(), "signal",
                     ei->signal ? json_string(proc_signal_name(ei->signal, sig, sizeof(sig))) : json_null(), "at",
                     iso8601(ei->at_wall_ms, at, sizeof(at)));
}

json_t *pool_status_json(const pool_t *p)
{
    const cfg_pool_t *pc = p->cfg;
    json_t *routes = json_array();
    for (size_t i = 0; i < pc->nroutes; ++i)
        json_array_append_new(routes, json_string(pc->routes[i].text));
    json_t *workers = json_array();
    for (unsigned i = 0; i < p->nslots; ++i) {
        const slot_t *slot = &p->slots[i];
        json_t *o = slot->current != NULL ? worker_status_json(slot->current) : json_pack("{s:n, s:i, s:i, s:n}", "pid",
                                                                                           "in_flight", 0, "requests", 0,
                                                                                           "started_at");
        json_object_set_new(o, "id", json_integer(slot->id));
        json_object_set_new(o, "state", json_string(slot_state_name(slot)));
        json_object_set_new(o, "restarts", json_integer(slot->restarts));
        json_object_set_new(o, "last_exit", slot->has_exit ? exit_json(&slot->last_exit) : json_null());
        json_array_append_new(workers, o);
        if (slot->retiring != NULL) {
            json_t *r = worker_status_json(slot->retiring);
            json_object_set_new(r, "id", json_integer(slot->id));
            json_object_set_new(r, "retiring", json_true());
            json_array_append_new(workers, r);
        }
    }
    restart_window_t *win = (restart_window_t *)&p->window; /* counting prunes expired entries */
    json_t *restarts = json_pack("{s:I, s:I, s:i, s:f}", "in_window",
                                 (json_int_t)window_count(win, now(p), pc->restart_window_ms), "total",
                                 (json_int_t)p->restarts_total, "max", (int)pc->max_restarts, "window_s",
                                 (double)pc->restart_window_ms / 1000.0);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(pc->name));
    json_object_set_new(o, "state", json_string(pool_state_name(p->state)));
    if (p->state == PS_DRAINING)
        json_object_set_new(o, "draining", json_true());
    json_object_set_new(o, "routes", routes);
    json_object_set_new(o, "size", json_integer(p->nslots));
    json_object_set_new(o, "alive", json_integer(pool_alive(p)));
    json_object_set_new(o, "ready", json_integer(pool_ready(p)));
    json_object_set_new(o, "busy", json_integer(pool_busy(p)));
    json_object_set_new(o, "queued", json_integer((json_int_t)p->queue.len));
    json_object_set_new(o, "requests", json_integer((json_int_t)p->stats.requests));
    json_object_set_new(o, "concurrency", json_integer(pc->concurrency));
    json_object_set_new(o, "restarts", restarts);
    json_object_set_new(o, "recycles", json_integer((json_int_t)p->recycles));
    json_object_set_new(o, "workers", workers);
    return o;
}
