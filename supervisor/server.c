/*
 * server.c — `uhw serve`: start-up, the main loop, signals, stop and reload.
 *
 * The main loop is h2o's evloop; uhw's own deadlines (timer.c) bound how long it
 * may block, and a signalfd turns SIGCHLD/SIGTERM/SIGINT/SIGHUP/SIGQUIT into
 * ordinary readable events, so nothing ever runs in a signal handler.
 *
 * Start-up:  bind listeners (not accepting) -> spawn every worker -> every pool
 *            running -> accept.  A worker failing before Ready -> exit 3.
 * Stop:      DRAIN stop accepting, let pending requests finish (shutdown_timeout,
 *            then 503) -> WORKERS stop every worker (Shutdown, then TERM/KILL in
 *            worker.c) -> FLUSH let the last responses reach their clients -> exit.
 */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "dispatch.h"
#include "front.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "reaper.h"
#include "reload.h"
#include "status.h"
#include "version.h"
#include "victims.h"
#include "workerio.h"

#define FLUSH_GRACE_MS 2000         /* stop: how long responses may take to reach slow clients */
#define STARTUP_KILL_AFTER_MS 1000  /* a failed start-up does not wait kill_timeout */

typedef enum phase {
    PHASE_STARTING, /* workers spawned, waiting for every Ready; listeners bound but not accepting */
    PHASE_RUNNING,  /* accepting */
    PHASE_STOPPING, /* not accepting; see stop_stage */
    PHASE_DONE,     /* the loop exits */
} phase_t;

typedef enum stop_stage {
    STOP_DRAIN,   /* pending requests finish (shutdown_timeout) */
    STOP_WORKERS, /* every worker is asked to stop; waiting for them */
    STOP_FLUSH,   /* the last responses reach their clients (FLUSH_GRACE_MS) */
} stop_stage_t;

/* Someone waiting for a reload's outcome (the control socket's POST /reload). */
typedef struct reload_waiter {
    void (*done)(void *arg, int status, json_t *result);
    void *arg;
    struct reload_waiter *next;
} reload_waiter_t;

/* A reload in progress: the new file is read and validated on a thread (YAML, stat() of commands,
 * the user database: all blocking), then applied on the loop. One at a time; those who ask while
 * one runs get its outcome. */
typedef struct reload_job {
    int running;
    pthread_t thread;
    const uhw_config_t *current; /* read-only for the thread: only the loop replaces it, after the join */
    const char *self_dir;
    uhw_config_t *loaded;        /* the thread's result: the new config, or NULL with res.errors */
    reload_result_t res;
    int efd;                     /* eventfd: the thread is done */
    h2o_socket_t *sock;
    reload_waiter_t *waiters;
} reload_job_t;

typedef struct server {
    uhw_config_t *cfg;
    char *self_dir;              /* directory of the running uhw */
    char *sdk_dirs[3];           /* found beside it: shell helpers, Python, Node */
    const char *prepend[4][2];   /* uhw's directory and those SDKs, as pool_env_t.prepend entries */
    front_t front;
    timers_t timers;
    reaper_t reaper;
    workerio_ctx_t io_ctx;
    pool_env_t pool_env;
    dispatch_t *dispatch;
    victims_t victims;
    pool_t **pools;              /* routed to, in file order; then those draining after a reload */
    size_t npools, nrouted;
    uhw_config_t **retired;      /* configs still referenced by draining pools */
    size_t nretired;
    phase_t phase;
    stop_stage_t stop_stage;
    int exit_code;
    int sigint_count;
    int sigfd;
    h2o_socket_t *sigsock;
    utimer_t stop_timer;         /* shutdown_timeout, then the flush grace */
    utimer_t stop_check;         /* zero-delay: re-evaluate the stop from the main loop */
    utimer_t gc_timer;           /* zero-delay: free drained pools and unused configs */
    utimer_t tick;               /* once a second: max_rss checks */
    h2o_timeout_entry_t run_timers; /* runs uhw's due timers inside h2o's loop (see the main loop) */
    uint64_t started_wall_ms, started_mono_ms;
    reload_job_t reload;
    reload_waiter_t *stop_waiters; /* `uhw stop --wait`: answered just before the exit */
} server_t;

static void check_stopped(server_t *srv);
static void stop_begin(server_t *srv, const char *why);
static void __attribute__((noreturn)) exit_now(server_t *srv, int code);

/* ---------------------------------------------------------------- pool events */

static void p_on_capacity(pool_t *p)
{
    server_t *srv = pool_owner(p);
    dispatch_pump(srv->dispatch, p);
}

static worker_verdict_t p_on_answer(pool_t *p, worker_t *w, Uhw__V1__FromWorker *m, char *why, size_t whysz)
{
    server_t *srv = pool_owner(p);
    return dispatch_on_answer(srv->dispatch, p, w, m, why, whysz);
}

static unsigned p_on_lost(pool_t *p, worker_t *w, int status, const exit_info_t *ei, uint64_t consumed)
{
    server_t *srv = pool_owner(p);
    return dispatch_on_lost(srv->dispatch, p, w, status, ei, consumed);
}

static void p_on_degraded(pool_t *p)
{
    server_t *srv = pool_owner(p);
    dispatch_fail_queue(srv->dispatch, p, 503, "Service unavailable", 0);
}

static void p_on_started(pool_t *p)
{
    server_t *srv = pool_owner(p);
    if (srv->phase != PHASE_STARTING)
        return;
    unsigned workers = 0;
    for (size_t i = 0; i < srv->nrouted; ++i) {
        if (pool_state(srv->pools[i]) != PS_RUNNING)
            return;
        workers += pool_size(srv->pools[i]);
    }
    srv->phase = PHASE_RUNNING;
    for (size_t i = 0; i < srv->nrouted; ++i)
        pool_end_startup(srv->pools[i]);
    front_start_accepting(&srv->front);
    const listener_t *ls;
    size_t n = front_public_listeners(&srv->front, &ls);
    char urls[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(urls); ++i)
        len += (size_t)snprintf(urls + len, sizeof(urls) - len, "%s%s://%s", i ? " " : "",
                                ls[i].accept.ssl_ctx != NULL ? "https" : "http", ls[i].addr);
    log_msg(LOG_INFO, NULL, "uhw %s ready in %llu ms: %zu pool%s, %u worker%s; listening on %s (control socket %s)",
            UHW_VERSION, (unsigned long long)(now_ms() - srv->started_mono_ms), srv->nrouted,
            srv->nrouted == 1 ? "" : "s", workers, workers == 1 ? "" : "s", urls, srv->cfg->control);
    notify_systemd("READY=1\nSTATUS=running");
}

/* A worker failed before Ready during start-up: log it all, stop everything, exit code 3. */
static void p_on_startup_failed(pool_t *p, worker_t *w, const char *what)
{
    server_t *srv = pool_owner(p);
    if (srv->exit_code == 3)
        return; /* the first failure is the story; the others are its consequences */
    const cfg_pool_t *pc = pool_cfg(p);
    char *tail = worker_stderr_tail(w);
    char cmd[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < pc->argc && len < sizeof(cmd); ++i)
        len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i ? " " : "", pc->argv[i]);
    log_msg(LOG_CRITICAL, NULL, "startup failed: pool '%s' worker %u (pid %d, command: %s) %s before sending Ready. %s%s",
            pc->name, worker_slot(w), (int)worker_pid(w), cmd, what,
            tail != NULL && tail[0] ? "Its last stderr lines:" : "It wrote nothing to stderr.", tail != NULL ? tail : "");
    free(tail);
    srv->exit_code = 3;
    srv->phase = PHASE_STOPPING;
    srv->stop_stage = STOP_WORKERS;
    front_stop_accepting(&srv->front);
    for (size_t i = 0; i < srv->npools; ++i)
        pool_terminate(srv->pools[i], STARTUP_KILL_AFTER_MS);
    check_stopped(srv);
}

static void p_on_worker_gone(pool_t *p)
{
    server_t *srv = pool_owner(p);
    if (pool_state(p) == PS_DRAINING)
        timers_defer(&srv->timers, &srv->gc_timer);
    check_stopped(srv);
}

static const pool_events_t pool_events = {
    .on_capacity = p_on_capacity,
    .on_answer = p_on_answer,
    .on_lost = p_on_lost,
    .on_degraded = p_on_degraded,
    .on_started = p_on_started,
    .on_startup_failed = p_on_startup_failed,
    .on_worker_gone = p_on_worker_gone,
};

static pool_t *new_pool(server_t *srv, const cfg_pool_t *pc)
{
    return pool_create(pc, &srv->pool_env, &pool_events, srv);
}

/* The directories of uhw's own SDKs beside the binary: DIR/NAME in a build tree, DIR/../lib/uhw/NAME
 * once installed. Looked up once, at start. */
static void find_sdks(server_t *srv)
{
    static const char *const vars[3][2] = {{"PATH", "sh"}, {"PYTHONPATH", "python"}, {"NODE_PATH", "node"}};
    size_t n = 0;
    if (srv->self_dir != NULL) {
        srv->prepend[n][0] = "PATH";
        srv->prepend[n][1] = srv->self_dir; /* the full uhw, for `uhw status` from a worker */
        ++n;
    }
    for (size_t i = 0; i < 3 && srv->self_dir != NULL; ++i) {
        char dir[4096];
        struct stat st;
        snprintf(dir, sizeof(dir), "%s/%s", srv->self_dir, vars[i][1]);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            snprintf(dir, sizeof(dir), "%s/../lib/uhw/%s", srv->self_dir, vars[i][1]);
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && n < 4) {
            srv->sdk_dirs[i] = strdup(dir);
            srv->prepend[n][0] = vars[i][0];
            srv->prepend[n][1] = srv->sdk_dirs[i];
            ++n;
        }
    }
    srv->pool_env.prepend = srv->prepend;
    srv->pool_env.nprepend = n;
}

/* ---------------------------------------------------------------- status */

static const char *phase_name(phase_t p)
{
    return p == PHASE_STARTING ? "starting" : p == PHASE_RUNNING ? "running" : "stopping";
}

/* Fills `v`; `listen` must have room for every public listener. */
static void status_view(server_t *srv, status_view_t *v, const char **listen)
{
    const listener_t *ls;
    size_t n = front_public_listeners(&srv->front, &ls);
    for (size_t i = 0; i < n; ++i)
        listen[i] = ls[i].addr;
    *v = (status_view_t){
        .state = phase_name(srv->phase),
        .config = srv->cfg->path,
        .started_wall_ms = srv->started_wall_ms,
        .uptime_ms = now_ms() - srv->started_mono_ms,
        .listen = listen,
        .nlisten = n,
        .pending = dispatch_pending(srv->dispatch),
        .connections = front_connections(&srv->front),
        .counters = dispatch_counters(srv->dispatch),
        .pools = srv->pools,
        .npools = srv->npools,
        .nrouted = srv->nrouted,
    };
}

static json_t *c_status(void *ctx)
{
    server_t *srv = ctx;
    const char *listen[srv->front.nlisteners + 1];
    status_view_t v;
    status_view(srv, &v, listen);
    return status_json(&v);
}

static char *c_metrics(void *ctx, size_t *len)
{
    server_t *srv = ctx;
    const char *listen[srv->front.nlisteners + 1];
    status_view_t v;
    status_view(srv, &v, listen);
    return metrics_text(&v, len);
}

/* ---------------------------------------------------------------- reload */

static void retire_config(server_t *srv, uhw_config_t *cfg)
{
    uhw_config_t **r = realloc(srv->retired, (srv->nretired + 1) * sizeof(*r));
    if (r == NULL)
        abort();
    srv->retired = r;
    srv->retired[srv->nretired++] = cfg;
    timers_defer(&srv->timers, &srv->gc_timer);
}

/* Frees drained pools, then configs no pool points into any more. */
static void on_gc(utimer_t *t)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, gc_timer, t);
    for (size_t i = srv->nrouted; i < srv->npools;) {
        if (pool_drained(srv->pools[i])) {
            log_msg(LOG_INFO, NULL, "pool '%s' drained and removed", pool_name(srv->pools[i]));
            pool_free(srv->pools[i]);
            srv->pools[i] = srv->pools[--srv->npools];
        } else {
            ++i;
        }
    }
    for (size_t i = 0; i < srv->nretired;) {
        int used = 0;
        const uhw_config_t *rc = srv->retired[i];
        for (size_t k = srv->nrouted; k < srv->npools && !used; ++k) {
            const cfg_pool_t *pc = pool_cfg(srv->pools[k]);
            used = pc >= rc->pools && pc < rc->pools + rc->npools;
        }
        if (!used) {
            config_free(srv->retired[i]);
            srv->retired[i] = srv->retired[--srv->nretired];
        } else {
            ++i;
        }
    }
}

static pool_t *find_pool(pool_t **pools, size_t n, const char *name, size_t *at)
{
    for (size_t i = 0; i < n; ++i) {
        if (pools[i] != NULL && strcmp(pool_name(pools[i]), name) == 0) {
            *at = i;
            return pools[i];
        }
    }
    return NULL;
}

/* Switches to `nc` (validated): pools added, changed, removed. */
static void apply_config(server_t *srv, uhw_config_t *nc, reload_result_t *res)
{
    reload_compare_front(srv->cfg, nc, res);
    /* h2o reads this limit per request, so it can change now */
    srv->front.conf.max_request_entity_size = nc->max_body;
    size_t nold = srv->nrouted, ndraining = srv->npools - srv->nrouted;
    pool_t **old = srv->pools;
    pool_t **pools = calloc(nc->npools + nold + ndraining + 1, sizeof(*pools));
    if (pools == NULL)
        abort();
    for (size_t i = 0; i < nc->npools; ++i) {
        const cfg_pool_t *pc = &nc->pools[i];
        size_t at;
        pool_t *p = find_pool(old, nold, pc->name, &at);
        if (p == NULL) {
            p = new_pool(srv, pc);
            pool_start(p, 0);
            reload_note(res, "pool '%s' added (%u worker%s)", pc->name, pc->workers, pc->workers == 1 ? "" : "s");
        } else {
            old[at] = NULL;
            unsigned diff = config_pool_diff(pool_cfg(p), pc);
            /* `uhw scale` may have moved the size off the old file's value: the reload brings it back */
            unsigned size = pool_size(p), filed = pool_cfg(p)->workers;
            pool_apply_config(p, pc, diff);
            if (diff & CFG_DIFF_PROCESS)
                reload_note(res, "pool '%s' changed: replacing its workers one by one", pc->name);
            else if (diff & CFG_DIFF_SETTINGS)
                reload_note(res, "pool '%s': new settings sent to its workers (no restart)", pc->name);
            if (size != pc->workers && size != filed)
                reload_note(res, "pool '%s' now has %u worker%s (was %u, set by uhw scale)", pc->name, pc->workers,
                            pc->workers == 1 ? "" : "s", size);
            else if (size != pc->workers || (diff & CFG_DIFF_SLOTS))
                reload_note(res, "pool '%s' now has %u worker%s", pc->name, pc->workers, pc->workers == 1 ? "" : "s");
            if (diff == CFG_DIFF_LIVE)
                reload_note(res, "pool '%s': new limits apply to the next request (no restart)", pc->name);
        }
        pools[i] = p;
    }
    size_t n = nc->npools;
    for (size_t i = 0; i < nold; ++i) {
        if (old[i] == NULL)
            continue;
        reload_note(res, "pool '%s' removed: it finishes its requests, then its workers stop", pool_name(old[i]));
        pool_drain(old[i]);
        pools[n++] = old[i];
    }
    for (size_t i = nold; i < nold + ndraining; ++i)
        pools[n++] = old[i];
    free(old);
    srv->pools = pools;
    srv->npools = n;
    srv->nrouted = nc->npools;

    uhw_config_t *oc = srv->cfg;
    srv->cfg = nc;
    dispatch_set_config(srv->dispatch, nc);
    front_set_pools(&srv->front, nc, srv->pools, srv->nrouted);
    srv->victims.cfg = &nc->victims;
    srv->victims.cwd = nc->dir;
    if ((oc->victims.log == NULL) != (nc->victims.log == NULL) ||
        (oc->victims.log != NULL && strcmp(oc->victims.log, nc->victims.log) != 0)) {
        char err[512];
        victims_close(&srv->victims);
        if (victims_open(&srv->victims, err, sizeof(err)) != 0)
            reload_note(res, "%s; victims are not written to a file", err);
    }
    retire_config(srv, oc);
    timers_defer(&srv->timers, &srv->gc_timer);
    res->applied = 1;
    if (res->notes.len == 0)
        reload_note(res, "no change");
    log_msg(LOG_INFO, NULL, "reloaded %s: %zu pool%s", nc->path, nc->npools, nc->npools == 1 ? "" : "s");
}

static json_t *reload_json(const reload_result_t *res, int *status)
{
    json_t *list = json_array();
    const cfg_errors_t *lines = res->applied ? &res->notes : &res->errors;
    for (size_t i = 0; i < lines->len; ++i)
        json_array_append_new(list, json_string(lines->items[i]));
    if (res->applied) {
        *status = 200;
        return json_pack("{s:s, s:o}", "result", "reloaded", "changes", list);
    }
    *status = 422;
    return json_pack("{s:s, s:s, s:o}", "error", "Configuration not reloaded", "reason",
                     "the previous configuration stays in use", "errors", list);
}

static void reload_answer(server_t *srv, const reload_result_t *res)
{
    reload_job_t *job = &srv->reload;
    while (job->waiters != NULL) {
        reload_waiter_t *wt = job->waiters;
        job->waiters = wt->next;
        int status;
        json_t *o = reload_json(res, &status);
        wt->done(wt->arg, status, o);
        free(wt);
    }
}

static void *reload_thread(void *arg)
{
    reload_job_t *job = arg;
    job->loaded = reload_load(job->current, job->self_dir, &job->res);
    uint64_t one = 1;
    ssize_t n = write(job->efd, &one, sizeof(one));
    (void)n;
    return NULL;
}

/* The thread is done: apply what it validated, or report why not. */
static void on_reload_done(h2o_socket_t *sock, const char *err)
{
    (void)err;
    server_t *srv = sock->data;
    reload_job_t *job = &srv->reload;
    uint64_t v;
    if (read(job->efd, &v, sizeof(v)) != sizeof(v) || !job->running)
        return;
    pthread_join(job->thread, NULL);
    job->running = 0;
    if (job->loaded == NULL) {
        for (size_t i = 0; i < job->res.errors.len; ++i)
            log_msg(LOG_ERROR, NULL, "reload refused: %s", job->res.errors.items[i]);
        log_msg(LOG_ERROR, NULL, "reload refused (the file has errors); still running the previous configuration");
        notify_systemd("READY=1\nSTATUS=reload refused; running the previous configuration");
    } else if (srv->phase != PHASE_RUNNING) {
        config_free(job->loaded);
        reload_refusal(&job->res, "the server began to stop during the reload");
        log_msg(LOG_WARNING, NULL, "reload dropped: the server is stopping");
    } else {
        apply_config(srv, job->loaded, &job->res);
        notify_systemd("READY=1\nSTATUS=running");
    }
    job->loaded = NULL;
    reload_answer(srv, &job->res);
    reload_result_free(&job->res);
}

/* SIGHUP (done NULL) or POST /reload. */
static void reload_start(server_t *srv, void (*done)(void *arg, int status, json_t *result), void *arg)
{
    reload_job_t *job = &srv->reload;
    if (done != NULL) {
        reload_waiter_t *wt = calloc(1, sizeof(*wt));
        if (wt == NULL)
            abort();
        wt->done = done;
        wt->arg = arg;
        wt->next = job->waiters;
        job->waiters = wt;
    }
    if (job->running)
        return; /* its outcome answers this one too */
    reload_result_init(&job->res);
    if (srv->phase != PHASE_RUNNING || job->sock == NULL) {
        reload_refusal(&job->res, "the server is %s; try again once it is running",
                       srv->phase == PHASE_STARTING ? "still starting" : "stopping");
        log_msg(LOG_WARNING, NULL, "reload refused: %s", job->res.errors.items[0]);
        reload_answer(srv, &job->res);
        reload_result_free(&job->res);
        return;
    }
    notify_systemd("RELOADING=1\nSTATUS=reloading");
    log_msg(LOG_INFO, NULL, "reloading %s", srv->cfg->path);
    job->current = srv->cfg;
    job->self_dir = srv->self_dir;
    job->loaded = NULL;
    if (pthread_create(&job->thread, NULL, reload_thread, job) != 0) {
        reload_refusal(&job->res, "cannot start the reload: %s", strerror(errno));
        log_msg(LOG_ERROR, NULL, "reload refused: %s", job->res.errors.items[0]);
        reload_answer(srv, &job->res);
        reload_result_free(&job->res);
        return;
    }
    job->running = 1;
}

static void c_reload(void *ctx, void (*done)(void *arg, int status, json_t *result), void *arg)
{
    reload_start(ctx, done, arg);
}

/* ---------------------------------------------------------------- control operations */

static void c_stop(void *ctx, void (*done)(void *arg, int status, json_t *result), void *arg)
{
    server_t *srv = ctx;
    if (done != NULL) {
        reload_waiter_t *wt = calloc(1, sizeof(*wt));
        if (wt == NULL)
            abort();
        wt->done = done;
        wt->arg = arg;
        wt->next = srv->stop_waiters;
        srv->stop_waiters = wt;
    }
    stop_begin(srv, "stop requested on the control socket");
}

/* Tells `uhw stop --wait` the exit code (a short answer on a UNIX socket: written at once). */
static void answer_stop_waiters(server_t *srv, int code)
{
    while (srv->stop_waiters != NULL) {
        reload_waiter_t *wt = srv->stop_waiters;
        srv->stop_waiters = wt->next;
        wt->done(wt->arg, 200, json_pack("{s:s, s:i}", "result", "stopped", "exit_code", code));
        free(wt);
    }
}

static pool_t *routed_pool(server_t *srv, const char *name)
{
    size_t at;
    return find_pool(srv->pools, srv->nrouted, name, &at);
}

static int c_restart(void *ctx, const char *name)
{
    server_t *srv = ctx;
    pool_t *p = routed_pool(srv, name);
    if (p == NULL)
        return -1;
    if (srv->phase != PHASE_RUNNING)
        return -2;
    pool_restart(p);
    return 0;
}

static int c_scale(void *ctx, const char *name, unsigned workers)
{
    server_t *srv = ctx;
    pool_t *p = routed_pool(srv, name);
    if (p == NULL)
        return -1;
    if (srv->phase != PHASE_RUNNING)
        return -2;
    pool_scale(p, workers);
    return 0;
}

/* `uhw tail`: where each followed slot's reading stands. */
typedef struct tail_cursor {
    char pool[64];
    int slot;                   /* -1: every slot */
    unsigned last;              /* lines back, for a worker seen for the first time */
    struct {
        pid_t pid;
        uint64_t next;          /* its next line */
    } at[1024];
} tail_cursor_t;

typedef struct tail_emit {
    void (*emit)(void *arg, const char *line);
    void *arg;
    char prefix[96];
} tail_emit_t;

static void tail_line(void *arg, const char *text)
{
    tail_emit_t *te = arg;
    char *line;
    if (asprintf(&line, "%s%s", te->prefix, text) < 0)
        abort();
    te->emit(te->arg, line);
    free(line);
}

static int c_tail_read(void *ctx, void *cursor, void (*emit)(void *arg, const char *line), void *arg)
{
    server_t *srv = ctx;
    tail_cursor_t *c = cursor;
    pool_t *p = routed_pool(srv, c->pool);
    if (p == NULL)
        return -1;
    /* Stopping, and every worker is gone: nothing more will be written, so a follower ends
     * (its client exits) instead of holding the stop's last stage open. */
    int ended = srv->phase == PHASE_STOPPING && srv->stop_stage == STOP_FLUSH;
    for (unsigned s = 0; s < pool_size(p) && s < 1024; ++s) {
        if (c->slot >= 0 && s != (unsigned)c->slot)
            continue;
        worker_t *w = pool_slot_worker(p, s);
        if (w == NULL)
            continue;
        if (c->at[s].pid != worker_pid(w)) { /* a new process in the slot: from its last lines */
            uint64_t seq = worker_tail_seq(w);
            c->at[s].pid = worker_pid(w);
            c->at[s].next = seq > c->last ? seq - c->last : 0;
        }
        tail_emit_t te = {.emit = emit, .arg = arg};
        snprintf(te.prefix, sizeof(te.prefix), "[%s] ", worker_who(w));
        c->at[s].next = worker_tail(w, c->at[s].next, tail_line, &te);
    }
    return ended ? -1 : 0;
}

static void *c_tail_open(void *ctx, const char *name, int slot, unsigned last, int *status)
{
    server_t *srv = ctx;
    pool_t *p = routed_pool(srv, name);
    *status = 404;
    if (p == NULL || strlen(name) >= sizeof(((tail_cursor_t *)0)->pool) || (slot >= 0 && (unsigned)slot >= pool_size(p)))
        return NULL;
    tail_cursor_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    snprintf(c->pool, sizeof(c->pool), "%s", name);
    c->slot = slot;
    c->last = last;
    return c;
}

static void c_tail_close(void *ctx, void *cursor)
{
    (void)ctx;
    free(cursor);
}

static const control_ops_t control_ops = {
    .status = c_status,
    .metrics = c_metrics,
    .stop = c_stop,
    .reload = c_reload,
    .restart = c_restart,
    .scale = c_scale,
    .tail_open = c_tail_open,
    .tail_read = c_tail_read,
    .tail_close = c_tail_close,
};

/* ---------------------------------------------------------------- stop */

static void stop_begin(server_t *srv, const char *why)
{
    if (srv->phase >= PHASE_STOPPING)
        return;
    notify_systemd("STOPPING=1\nSTATUS=stopping");
    front_stop_accepting(&srv->front);
    if (srv->phase == PHASE_STARTING) {
        log_msg(LOG_INFO, NULL, "stopping during start-up (%s)", why);
        srv->phase = PHASE_STOPPING;
        srv->stop_stage = STOP_WORKERS;
        for (size_t i = 0; i < srv->npools; ++i)
            pool_stop(srv->pools[i]);
        check_stopped(srv);
        return;
    }
    size_t pending = dispatch_pending(srv->dispatch);
    log_msg(LOG_INFO, NULL, "stopping (%s): no new connections; %zu request%s pending, waiting up to %llu ms", why,
            pending, pending == 1 ? "" : "s", (unsigned long long)srv->cfg->shutdown_timeout_ms);
    srv->phase = PHASE_STOPPING;
    srv->stop_stage = STOP_DRAIN;
    timers_schedule(&srv->timers, &srv->stop_timer, now_ms() + srv->cfg->shutdown_timeout_ms);
    check_stopped(srv);
}

static void stop_workers(server_t *srv)
{
    srv->stop_stage = STOP_WORKERS;
    timers_cancel(&srv->timers, &srv->stop_timer);
    for (size_t i = 0; i < srv->npools; ++i)
        pool_stop(srv->pools[i]);
}

static int workers_remaining(const server_t *srv)
{
    for (size_t i = 0; i < srv->npools; ++i)
        if (pool_has_workers(srv->pools[i]))
            return 1;
    return 0;
}

/* Moves the stop forward, from the main loop: it is asked from deep inside request and worker
 * callbacks that must not see pools stop under them. */
static void check_stopped(server_t *srv)
{
    if (srv->phase == PHASE_STOPPING)
        timers_defer(&srv->timers, &srv->stop_check);
}

static void on_stop_check(utimer_t *t)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, stop_check, t);
    if (srv->phase != PHASE_STOPPING)
        return;
    if (srv->stop_stage == STOP_DRAIN && dispatch_pending(srv->dispatch) == 0)
        stop_workers(srv);
    if (srv->stop_stage == STOP_WORKERS && !workers_remaining(srv)) {
        srv->stop_stage = STOP_FLUSH;
        timers_schedule(&srv->timers, &srv->stop_timer, now_ms() + FLUSH_GRACE_MS);
    }
    if (srv->stop_stage == STOP_FLUSH) {
        size_t waiting = 0; /* `uhw stop --wait` holds a connection open until the very end */
        for (const reload_waiter_t *wt = srv->stop_waiters; wt != NULL; wt = wt->next)
            ++waiting;
        if (dispatch_live(srv->dispatch) == 0 && front_connections(&srv->front) <= waiting)
            srv->phase = PHASE_DONE;
        else /* connections close without telling us: look again shortly */
            timers_schedule(&srv->timers, &srv->stop_check, now_ms() + 20);
    }
}

/* The last pending request was answered: a stop in STOP_DRAIN can go on. */
static void on_dispatch_idle(void *arg)
{
    check_stopped(arg);
}

static void on_stop_timer(utimer_t *t)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, stop_timer, t);
    if (srv->stop_stage == STOP_DRAIN) {
        size_t pending = dispatch_pending(srv->dispatch);
        log_msg(LOG_WARNING, NULL, "shutdown_timeout passed with %zu request%s pending; answering them 503", pending,
                pending == 1 ? "" : "s");
        dispatch_fail_all(srv->dispatch, srv->pools, srv->npools);
        stop_workers(srv);
    } else if (srv->stop_stage == STOP_FLUSH) {
        size_t live = dispatch_live(srv->dispatch), conns = front_connections(&srv->front);
        log_msg(LOG_WARNING, NULL,
                "%zu response%s still being sent, %zu client connection%s still open after %d ms; exiting anyway",
                live, live == 1 ? "" : "s", conns, conns == 1 ? "" : "s", FLUSH_GRACE_MS);
        exit_now(srv, srv->exit_code);
    }
    check_stopped(srv);
}

/* Leaves at once: every worker group gets SIGKILL, the control socket goes, and the process exits
 * without unwinding h2o (which cannot be torn down with client connections still open). */
static void exit_now(server_t *srv, int code)
{
    answer_stop_waiters(srv, code);
    for (size_t i = 0; i < srv->npools; ++i)
        pool_kill_all(srv->pools[i]);
    victims_dispose(&srv->victims);
    front_release_control(&srv->front);
    log_msg(LOG_INFO, NULL, "stopped");
    log_flush();
    _exit(code);
}

/* ---------------------------------------------------------------- signals */

/* SIGUSR1, as nginx and PHP-FPM do it for logrotate's postrotate: the log files are opened again
 * by their paths (the old ones were moved away). */
static void reopen_logs(server_t *srv)
{
    char done[256] = "", err[512];
    size_t len = 0;
    int rc = log_reopen();
    if (rc != 0)
        len += (size_t)snprintf(done + len, sizeof(done) - len, "%sstderr file%s", len ? ", " : "", rc < 0 ? " (failed)" : "");
    rc = front_reopen_logs(&srv->front);
    if (rc != 0)
        len += (size_t)snprintf(done + len, sizeof(done) - len, "%saccess_log%s", len ? ", " : "", rc < 0 ? " (failed)" : "");
    if (srv->victims.cfg->log != NULL) {
        victims_close(&srv->victims);
        rc = victims_open(&srv->victims, err, sizeof(err));
        len += (size_t)snprintf(done + len, sizeof(done) - len, "%svictims log%s", len ? ", " : "", rc != 0 ? " (failed)" : "");
        if (rc != 0)
            log_msg(LOG_ERROR, NULL, "SIGUSR1: %s", err);
    }
    log_msg(LOG_INFO, NULL, "SIGUSR1: reopened %s", len != 0 ? done : "nothing (no log file)");
}

static void on_signal(h2o_socket_t *sock, const char *err)
{
    (void)err;
    server_t *srv = sock->data;
    struct signalfd_siginfo si[16];
    ssize_t n;
    while ((n = read(srv->sigfd, si, sizeof(si))) > 0) {
        for (size_t i = 0; i < (size_t)n / sizeof(si[0]); ++i) {
            switch (si[i].ssi_signo) {
            case SIGCHLD:
                reaper_reap(&srv->reaper);
                break;
            case SIGTERM:
                stop_begin(srv, "SIGTERM");
                break;
            case SIGQUIT:
                stop_begin(srv, "SIGQUIT");
                break;
            case SIGINT:
                if (srv->sigint_count++ == 0) {
                    stop_begin(srv, "SIGINT; press Ctrl-C again to stop at once");
                } else {
                    log_msg(LOG_WARNING, NULL, "second SIGINT: killing every worker and exiting now");
                    exit_now(srv, srv->exit_code);
                }
                break;
            case SIGHUP:
                reload_start(srv, NULL, NULL); /* logs the errors or the changes itself */
                break;
            case SIGUSR1:
                reopen_logs(srv);
                break;
            }
        }
    }
}

/* Blocks the signals the loop reads from a signalfd. `old` is always set, even on failure. */
static int setup_signals(server_t *srv, sigset_t *old)
{
    sigset_t mask;
    sigprocmask(SIG_SETMASK, NULL, old);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGUSR1);
    /* An ignored signal is discarded, not queued for the signalfd: uhw started by a shell in the
     * background (SIGINT, SIGQUIT ignored) or by nohup (SIGHUP) must still hear them. */
    for (int sig = 1; sig < NSIG; ++sig)
        if (sigismember(&mask, sig) == 1)
            signal(sig, SIG_DFL);
    if (sigprocmask(SIG_BLOCK, &mask, old) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe or socket is an error return, not a death */
    srv->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    return srv->sigfd < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- main */

static void on_tick(utimer_t *t)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, tick, t);
    if (srv->phase == PHASE_RUNNING)
        for (size_t i = 0; i < srv->nrouted; ++i)
            pool_check_rss(srv->pools[i]);
    timers_schedule(&srv->timers, t, now_ms() + 1000);
}

/* uhw's timers run as an h2o zero-timeout callback, inside h2o_evloop_run, never between two of
 * its calls: h2o 2.2.5 expects a socket write that completes at once to be followed by its
 * callback in the same turn of its loop, or it leaves the socket polled for writing with no
 * callback (and aborts on `sock->super._cb.write != NULL` once it is writable). */
static void on_run_timers(h2o_timeout_entry_t *entry)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, run_timers, entry);
    timers_run(&srv->timers);
}

static void run_loop(server_t *srv)
{
    while (srv->phase != PHASE_DONE) {
        int32_t wait = timers_wait(&srv->timers, INT32_MAX);
        if (wait == 0 && !h2o_timeout_is_linked(&srv->run_timers))
            h2o_timeout_link(srv->front.loop, &srv->front.ctx.zero_timeout, &srv->run_timers);
        h2o_evloop_run(srv->front.loop, wait);
    }
    if (h2o_timeout_is_linked(&srv->run_timers))
        h2o_timeout_unlink(&srv->run_timers);
}

static void cleanup(server_t *srv)
{
    reload_job_t *job = &srv->reload;
    if (job->running) { /* the thread only reads the config: let it finish */
        pthread_join(job->thread, NULL);
        config_free(job->loaded);
        reload_refusal(&job->res, "the server stopped");
        reload_answer(srv, &job->res);
        reload_result_free(&job->res);
    }
    if (job->sock != NULL)
        h2o_socket_close(job->sock);
    if (srv->sigsock != NULL)
        h2o_socket_close(srv->sigsock); /* closes sigfd too */
    else if (srv->sigfd >= 0)
        close(srv->sigfd);
    /* h2o next: disposing of its requests settles ours, which may still talk to workers. Then what
     * uses the loop (worker pipes, victims.command), then the loop. */
    front_close(&srv->front);
    if (srv->dispatch != NULL)
        dispatch_free(srv->dispatch);
    for (size_t i = 0; i < srv->npools; ++i)
        pool_free(srv->pools[i]);
    free(srv->pools);
    for (size_t i = 0; i < srv->nretired; ++i)
        config_free(srv->retired[i]);
    free(srv->retired);
    victims_dispose(&srv->victims);
    front_free(&srv->front);
    timers_dispose(&srv->timers);
    for (size_t i = 0; i < 3; ++i)
        free(srv->sdk_dirs[i]);
}

int server_run(uhw_config_t *cfg, const char *self_dir)
{
    server_t *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        abort();
    sigset_t old_mask;
    char err[512];
    srv->cfg = cfg;
    srv->self_dir = self_dir != NULL ? strdup(self_dir) : NULL;
    srv->sigfd = -1;
    srv->started_wall_ms = wall_ms();
    srv->started_mono_ms = now_ms();
    log_start();
    srand((unsigned)(time(NULL) ^ getpid()));
    timers_init(&srv->timers, NULL, NULL);
    utimer_init(&srv->stop_timer, on_stop_timer);
    utimer_init(&srv->stop_check, on_stop_check);
    utimer_init(&srv->gc_timer, on_gc);
    utimer_init(&srv->tick, on_tick);
    timers_schedule(&srv->timers, &srv->tick, now_ms() + 1000);
    srv->victims = (victims_t){.cfg = &cfg->victims, .cwd = cfg->dir, .log_fd = -1, .timers = &srv->timers,
                               .reaper = &srv->reaper};
    srv->dispatch = dispatch_create(cfg, &srv->timers, &srv->victims);
    dispatch_on_idle(srv->dispatch, on_dispatch_idle, srv);

    int rc = 1;
    if (setup_signals(srv, &old_mask) != 0) {
        log_msg(LOG_CRITICAL, NULL, "cannot set up signal handling: %s", strerror(errno));
        goto Exit;
    }
    if (victims_open(&srv->victims, err, sizeof(err)) != 0 ||
        front_init(&srv->front, cfg, srv->dispatch, err, sizeof(err)) != 0) {
        log_msg(LOG_CRITICAL, NULL, "%s", err);
        goto Exit;
    }
    control_register(srv->front.control_host, &control_ops, srv, &srv->timers);
    srv->victims.loop = srv->front.loop;
    srv->io_ctx = (workerio_ctx_t){.loop = srv->front.loop, .reaper = &srv->reaper};
    srv->pool_env = (pool_env_t){.timers = &srv->timers, .io = &workerio_ops, .io_ctx = &srv->io_ctx, .worker_dirs = 1};
    find_sdks(srv);
    if ((srv->reload.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0) {
        srv->reload.sock = h2o_evloop_socket_create(srv->front.loop, srv->reload.efd, H2O_SOCKET_FLAG_DONT_READ);
        srv->reload.sock->data = srv;
        h2o_socket_read_start(srv->reload.sock, on_reload_done);
    }
    srv->sigsock = h2o_evloop_socket_create(srv->front.loop, srv->sigfd, H2O_SOCKET_FLAG_DONT_READ);
    srv->sigsock->data = srv;
    h2o_socket_read_start(srv->sigsock, on_signal);

    srv->npools = srv->nrouted = cfg->npools;
    srv->pools = calloc(cfg->npools + 1, sizeof(*srv->pools));
    if (srv->pools == NULL)
        abort();
    for (size_t i = 0; i < cfg->npools; ++i)
        srv->pools[i] = new_pool(srv, &cfg->pools[i]);
    front_set_pools(&srv->front, cfg, srv->pools, srv->nrouted);
    if (geteuid() != 0) {
        for (size_t i = 0; i < cfg->npools; ++i)
            if (cfg->pools[i].user != NULL) {
                log_msg(LOG_INFO, NULL, "uhw is not running as root: workers run as the current user, "
                                        "and the pools' `user` settings do not apply");
                break;
            }
    }
    log_msg(LOG_INFO, NULL, "uhw %s starting (pid %d): %s, %zu pool%s, %u worker%s", UHW_VERSION, (int)getpid(),
            cfg->path, cfg->npools, cfg->npools == 1 ? "" : "s", config_total_workers(cfg),
            config_total_workers(cfg) == 1 ? "" : "s");
    srv->phase = PHASE_STARTING;
    for (size_t i = 0; i < srv->npools && srv->phase == PHASE_STARTING; ++i)
        pool_start(srv->pools[i], 1);

    srv->run_timers.cb = on_run_timers;
    run_loop(srv);
    rc = srv->exit_code;
    answer_stop_waiters(srv, rc);
    for (int i = 0; i < 50 && front_connections(&srv->front) != 0; ++i)
        h2o_evloop_run(srv->front.loop, 10); /* the waiters read their answer and hang up */
    if (rc == 0)
        log_msg(LOG_INFO, NULL, "stopped");

Exit:
    cleanup(srv);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    log_flush();
    free(srv->self_dir);
    config_free(srv->cfg); /* the one in use: after reloads, not the one passed in */
    free(srv);
    return rc;
}
