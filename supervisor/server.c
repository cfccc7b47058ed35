/*
 * server.c — `uhw serve`: start-up, the main loop, signals, reaping, stop.
 *
 * The main loop is h2o's evloop; uhw's own deadlines (timer.c) bound how long
 * it may block, and a signalfd turns SIGCHLD/SIGTERM/SIGINT/SIGHUP into
 * ordinary readable events, so nothing ever runs in a signal handler.
 *
 * Start-up:  bind listeners (not accepting) -> spawn every worker -> every
 *            pool running -> accept.  A worker failing before Ready -> exit 3.
 * Stop:      stage 0 stop accepting, let pending requests finish (shutdown_timeout,
 *            then 503) -> stage 1 Shutdown every worker (TERM/KILL escalation in
 *            worker.c) -> stage 2 let the last responses flush -> exit.
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "reload.h"
#include "version.h"
#include "worker.h"

#define FLUSH_GRACE_MS 2000         /* stage 2: how long responses may take to reach slow clients */
#define STARTUP_KILL_AFTER_MS 1000  /* a failed start-up does not wait kill_timeout */

static void on_stop_timer(utimer_t *t);

/* Every pool with processes: the configured ones, then those draining after a reload. */
static size_t all_pools(const server_t *srv)
{
    return srv->npools + srv->ndraining;
}

static pool_t *pool_at(const server_t *srv, size_t i)
{
    return i < srv->npools ? srv->pools[i] : srv->draining[i - srv->npools];
}

void server_count_status(server_t *srv, int status)
{
    counters_t *c = &srv->counters;
    ++c->requests;
    if (status >= 200 && status < 300)
        ++c->s2xx;
    else if (status >= 300 && status < 400)
        ++c->s3xx;
    else if (status >= 400 && status < 500)
        ++c->s4xx;
    else if (status >= 500)
        ++c->s5xx;
}

void server_watch_child(server_t *srv, child_watch_t *cw)
{
    cw->next = srv->children;
    srv->children = cw;
}

static int workers_remaining(const server_t *srv)
{
    for (size_t i = 0; i < all_pools(srv); ++i)
        if (!h2o_linklist_is_empty(&pool_at(srv, i)->workers))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- reload bookkeeping */

void server_add_draining(server_t *srv, pool_t *pool)
{
    pool_t **d = realloc(srv->draining, (srv->ndraining + 1) * sizeof(*d));
    if (d == NULL)
        abort();
    srv->draining = d;
    srv->draining[srv->ndraining++] = pool;
    server_pool_drained(srv);
}

void server_retire_config(server_t *srv, uhw_config_t *cfg)
{
    uhw_config_t **r = realloc(srv->retired, (srv->nretired + 1) * sizeof(*r));
    if (r == NULL)
        abort();
    srv->retired = r;
    srv->retired[srv->nretired++] = cfg;
    server_pool_drained(srv);
}

void server_pool_drained(server_t *srv)
{
    if (!utimer_active(&srv->gc_timer))
        timers_schedule(&srv->timers, &srv->gc_timer, 0);
}

/* Frees drained pools, then configs no pool points into any more. */
static void on_gc(utimer_t *t)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, gc_timer, t);
    for (size_t i = 0; i < srv->ndraining;) {
        if (pool_drained(srv->draining[i])) {
            log_msg(LOG_INFO, NULL, "pool '%s' drained and removed", srv->draining[i]->cfg->name);
            pool_free(srv->draining[i]);
            srv->draining[i] = srv->draining[--srv->ndraining];
        } else {
            ++i;
        }
    }
    for (size_t i = 0; i < srv->nretired;) {
        int used = 0;
        for (size_t k = 0; k < srv->ndraining && !used; ++k)
            used = srv->draining[k]->owner == srv->retired[i];
        if (!used) {
            config_free(srv->retired[i]);
            srv->retired[i] = srv->retired[--srv->nretired];
        } else {
            ++i;
        }
    }
}

static void on_tick(utimer_t *t)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, tick, t);
    if (srv->phase == PHASE_RUNNING)
        for (size_t i = 0; i < srv->npools; ++i)
            pool_check_rss(srv->pools[i]);
    timers_schedule(&srv->timers, t, now_ms() + 1000);
}

static void reload_on_signal(server_t *srv)
{
    reload_result_t res;
    server_reload(srv, &res); /* logs the errors or the changes itself */
    reload_result_free(&res);
}

/* ---------------------------------------------------------------- start-up */

void server_check_started(server_t *srv)
{
    if (srv->phase != PHASE_STARTING)
        return;
    unsigned workers = 0;
    for (size_t i = 0; i < srv->npools; ++i) {
        if (srv->pools[i]->state != PS_RUNNING)
            return;
        workers += srv->pools[i]->nslots;
    }
    srv->phase = PHASE_RUNNING;
    front_start_accepting(srv);
    const listener_t *ls;
    size_t n = front_public_listeners(srv, &ls);
    char urls[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(urls); ++i)
        len += (size_t)snprintf(urls + len, sizeof(urls) - len, "%s%s://%s", i ? " " : "",
                                ls[i].accept.ssl_ctx != NULL ? "https" : "http", ls[i].addr);
    log_msg(LOG_INFO, NULL, "uhw %s ready in %llu ms: %zu pool%s, %u worker%s; listening on %s (control socket %s)",
            UHW_VERSION, (unsigned long long)(now_ms() - srv->started_mono_ms), srv->npools, srv->npools == 1 ? "" : "s",
            workers, workers == 1 ? "" : "s", urls, srv->cfg->control);
    notify_systemd("READY=1\nSTATUS=running");
}

/* Stops every worker at once (no Shutdown grace): used when start-up failed. */
static void terminate_all(server_t *srv)
{
    for (size_t i = 0; i < all_pools(srv); ++i) {
        pool_t *pool = pool_at(srv, i);
        pool->state = PS_STOPPING;
        for (h2o_linklist_t *n = pool->workers.next; n != &pool->workers; n = n->next)
            worker_terminate(H2O_STRUCT_FROM_MEMBER(worker_t, pool_link, n), STARTUP_KILL_AFTER_MS);
        for (unsigned k = 0; k < pool->nslots; ++k)
            timers_cancel(&srv->timers, &pool->slots[k].respawn);
    }
}

void server_startup_failed(server_t *srv, worker_t *w, const char *what)
{
    if (srv->exit_code == 3)
        return; /* the first failure is the story; the others are its consequences */
    const cfg_pool_t *pc = w->pool->cfg;
    char *tail = worker_stderr_tail(w);
    char cmd[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < pc->argc && len < sizeof(cmd); ++i)
        len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i ? " " : "", pc->argv[i]);
    log_msg(LOG_CRITICAL, NULL,
            "startup failed: pool '%s' worker %u (pid %d, command: %s) %s before sending Ready. %s%s",
            pc->name, w->slot_id, (int)w->pid, cmd, what,
            tail != NULL && tail[0] ? "Its last stderr lines:" : "It wrote nothing to stderr.", tail != NULL ? tail : "");
    free(tail);
    srv->exit_code = 3;
    srv->phase = PHASE_STOPPING;
    srv->stop_stage = 1;
    terminate_all(srv);
    server_check_stopped(srv);
}

/* ---------------------------------------------------------------- stop */

void server_stop(server_t *srv, const char *why)
{
    if (srv->phase >= PHASE_STOPPING)
        return;
    if (srv->phase == PHASE_STARTING) {
        notify_systemd("STOPPING=1");
        log_msg(LOG_INFO, NULL, "stopping during start-up (%s)", why);
        srv->phase = PHASE_STOPPING;
        srv->stop_stage = 1;
        front_stop_accepting(srv);
        for (size_t i = 0; i < all_pools(srv); ++i)
            pool_stop(pool_at(srv, i));
        server_check_stopped(srv);
        return;
    }
    notify_systemd("STOPPING=1\nSTATUS=stopping");
    log_msg(LOG_INFO, NULL, "stopping (%s): no new connections; %zu request%s pending, waiting up to %llu ms", why,
            srv->pending, srv->pending == 1 ? "" : "s", (unsigned long long)srv->cfg->shutdown_timeout_ms);
    srv->phase = PHASE_STOPPING;
    srv->stop_stage = 0;
    front_stop_accepting(srv);
    timers_schedule(&srv->timers, &srv->stop_timer, now_ms() + srv->cfg->shutdown_timeout_ms);
    server_check_stopped(srv);
}

static void stop_workers(server_t *srv)
{
    srv->stop_stage = 1;
    timers_cancel(&srv->timers, &srv->stop_timer);
    for (size_t i = 0; i < all_pools(srv); ++i)
        pool_stop(pool_at(srv, i));
}

/* Moves the stop forward. Deferred to the main loop (a zero-delay timer), because it is
 * called from deep inside request and worker callbacks that must not see pools stop under them. */
void server_check_stopped(server_t *srv)
{
    if (srv->phase == PHASE_STOPPING && !utimer_active(&srv->stop_check))
        timers_schedule(&srv->timers, &srv->stop_check, 0);
}

static void on_stop_check(utimer_t *t)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, stop_check, t);
    if (srv->phase != PHASE_STOPPING)
        return;
    if (srv->stop_stage == 0 && srv->pending == 0)
        stop_workers(srv);
    if (srv->stop_stage == 1 && !workers_remaining(srv)) {
        srv->stop_stage = 2;
        timers_schedule(&srv->timers, &srv->stop_timer, now_ms() + FLUSH_GRACE_MS);
    }
    if (srv->stop_stage == 2) {
        if (srv->live_requests == 0 && front_idle(srv))
            srv->phase = PHASE_DONE;
        else /* connections close without telling us: look again shortly */
            timers_schedule(&srv->timers, &srv->stop_check, now_ms() + 20);
    }
}

static void on_stop_timer(utimer_t *t)
{
    server_t *srv = H2O_STRUCT_FROM_MEMBER(server_t, stop_timer, t);
    if (srv->stop_stage == 0) {
        log_msg(LOG_WARNING, NULL, "shutdown_timeout passed with %zu request%s pending; answering them 503",
                srv->pending, srv->pending == 1 ? "" : "s");
        dispatch_fail_all(srv);
        stop_workers(srv);
    } else if (srv->stop_stage == 2) {
        log_msg(LOG_WARNING, NULL, "%zu response%s still being sent to slow clients after %d ms; exiting anyway",
                srv->live_requests, srv->live_requests == 1 ? "" : "s", FLUSH_GRACE_MS);
        srv->phase = PHASE_DONE;
    }
    server_check_stopped(srv);
}

/* A second Ctrl-C: kill everything now and leave. */
static void stop_now(server_t *srv)
{
    log_msg(LOG_WARNING, NULL, "second SIGINT: killing every worker and exiting now");
    for (size_t i = 0; i < all_pools(srv); ++i)
        for (h2o_linklist_t *n = pool_at(srv, i)->workers.next; n != &pool_at(srv, i)->workers; n = n->next)
            worker_kill_now(H2O_STRUCT_FROM_MEMBER(worker_t, pool_link, n));
    srv->force_exit = 1;
}

/* ---------------------------------------------------------------- signals and reaping */

static worker_t *find_worker(server_t *srv, pid_t pid)
{
    for (size_t i = 0; i < all_pools(srv); ++i)
        for (h2o_linklist_t *n = pool_at(srv, i)->workers.next; n != &pool_at(srv, i)->workers; n = n->next) {
            worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, pool_link, n);
            if (w->pid == pid)
                return w;
        }
    return NULL;
}

static void reap(server_t *srv)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        worker_t *w = find_worker(srv, pid);
        if (w != NULL) {
            worker_on_exit(w, status);
            continue;
        }
        for (child_watch_t **p = &srv->children; *p != NULL; p = &(*p)->next) {
            if ((*p)->pid == pid) {
                child_watch_t *cw = *p;
                *p = cw->next;
                cw->on_exit(cw, status);
                break;
            }
        }
    }
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
                reap(srv);
                break;
            case SIGTERM:
                server_stop(srv, "SIGTERM");
                break;
            case SIGQUIT:
                server_stop(srv, "SIGQUIT");
                break;
            case SIGINT:
                if (srv->sigint_count++ == 0)
                    server_stop(srv, "SIGINT; press Ctrl-C again to stop at once");
                else
                    stop_now(srv);
                break;
            case SIGHUP:
                reload_on_signal(srv);
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
    if (sigprocmask(SIG_BLOCK, &mask, old) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe or socket is an error return, not a death */
    srv->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    return srv->sigfd < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- main */

static void cleanup(server_t *srv)
{
    for (size_t i = 0; i < all_pools(srv); ++i)
        pool_free(pool_at(srv, i));
    free(srv->pools);
    free(srv->draining);
    srv->npools = srv->ndraining = 0;
    for (size_t i = 0; i < srv->nretired; ++i)
        config_free(srv->retired[i]);
    free(srv->retired);
    srv->nretired = 0;
    while (srv->children != NULL) { /* still running at exit (victims.command): don't leave it behind */
        child_watch_t *cw = srv->children;
        srv->children = cw->next;
        kill(-cw->pid, SIGKILL);
        waitpid(cw->pid, NULL, 0);
        cw->on_exit(cw, 0);
    }
    if (srv->sigsock != NULL)
        h2o_socket_close(srv->sigsock);
    else if (srv->sigfd >= 0)
        close(srv->sigfd);
    srv->sigsock = NULL;
    front_dispose(srv);
    victims_close(srv);
    dispatch_dispose(srv);
    timers_dispose(&srv->timers);
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
    srand((unsigned)(time(NULL) ^ getpid()));
    timers_init(&srv->timers);
    utimer_init(&srv->stop_timer, on_stop_timer);
    utimer_init(&srv->stop_check, on_stop_check);
    utimer_init(&srv->gc_timer, on_gc);
    utimer_init(&srv->tick, on_tick);
    timers_schedule(&srv->timers, &srv->tick, now_ms() + 1000);
    srv->victims.log_fd = -1;

    int rc = 1;
    if (setup_signals(srv, &old_mask) != 0) {
        log_msg(LOG_CRITICAL, NULL, "cannot set up signal handling: %s", strerror(errno));
        goto Exit;
    }
    if (victims_open(srv, err, sizeof(err)) != 0 || front_init(srv, err, sizeof(err)) != 0) {
        log_msg(LOG_CRITICAL, NULL, "%s", err);
        goto Exit;
    }
    srv->sigsock = h2o_evloop_socket_create(srv->front.loop, srv->sigfd, H2O_SOCKET_FLAG_DONT_READ);
    ((h2o_socket_t *)srv->sigsock)->data = srv;
    h2o_socket_read_start(srv->sigsock, on_signal);

    srv->npools = cfg->npools;
    srv->pools = calloc(cfg->npools, sizeof(*srv->pools));
    if (srv->pools == NULL)
        abort();
    for (size_t i = 0; i < cfg->npools; ++i) {
        srv->pools[i] = pool_create(srv, &cfg->pools[i]);
        srv->pools[i]->owner = cfg;
    }
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
        pool_start(srv->pools[i]);

    while (srv->phase != PHASE_DONE && !srv->force_exit) {
        timers_run(&srv->timers, now_ms());
        if (srv->phase == PHASE_DONE || srv->force_exit)
            break;
        h2o_evloop_run(srv->front.loop, timers_wait(&srv->timers, now_ms(), INT32_MAX));
    }
    rc = srv->exit_code;
    if (rc == 0)
        log_msg(LOG_INFO, NULL, "stopped");

Exit:
    cleanup(srv);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    free(srv->self_dir);
    config_free(srv->cfg); /* the one in use: after reloads, not the one passed in */
    free(srv);
    return rc;
}
