/*
 * worker.c — one worker process; see worker.h.
 *
 * The lifecycle, in one place (each row is one case of a switch below):
 *
 *   state     event              action
 *   --------  -----------------  ----------------------------------------------------
 *   STARTING  Ready frame        -> READY; send Configure; the pool may now use it
 *   STARTING  deadline           ready_timeout: kill (SIGKILL to the group)
 *   READY     deadline           requests in flight and no frame for stuck_timeout: kill
 *   READY     protocol error     kill; its requests get 502
 *   any live  stop               Shutdown frame, close stdin -> STOPPING
 *   STOPPING  deadline           graceful_timeout: SIGTERM; then kill_timeout: SIGKILL
 *   any       kill               SIGKILL, requests answered now -> STOPPING
 *   any       exit (reaped)      drain pipes; requests still owned are victims;
 *                                -> EXITED; the pool decides restart/backoff/degraded
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "policy.h"
#include "pool.h"
#include "proc.h"
#include "server.h"

#define READ_CHUNK 65536
#define READ_ROUNDS 8           /* chunks per readiness callback, so one chatty worker can't starve others */
#define STDERR_LINE_MAX 4096    /* longer lines are logged in pieces */
#define TAIL_LINES (sizeof(((worker_t *)0)->tail) / sizeof(char *))

static void on_deadline(utimer_t *t);
static void on_stdout(h2o_socket_t *sock, const char *err);
static void on_stderr(h2o_socket_t *sock, const char *err);
static void on_execfail(h2o_socket_t *sock, const char *err);
static void flush_stdin(worker_t *w);

const char *worker_state_name(worker_state_t s)
{
    switch (s) {
    case WS_STARTING:
        return "starting";
    case WS_READY:
        return "ready";
    case WS_STOPPING:
        return "stopping";
    case WS_EXITED:
        return "exited";
    }
    return "unknown";
}

static server_t *srv_of(const worker_t *w)
{
    return w->pool->srv;
}

static timers_t *timers_of(const worker_t *w)
{
    return &w->pool->srv->timers;
}

static h2o_socket_t *wrap_fd(worker_t *w, int fd, int dont_read)
{
    if (fd < 0)
        return NULL;
    h2o_socket_t *sock = h2o_evloop_socket_create(srv_of(w)->front.loop, fd, dont_read ? H2O_SOCKET_FLAG_DONT_READ : 0);
    sock->data = w;
    return sock;
}

static void close_sock(h2o_socket_t **sock)
{
    if (*sock != NULL) {
        (*sock)->data = NULL; /* a callback h2o still delivers must not touch the worker */
        h2o_socket_close(*sock);
        *sock = NULL;
    }
}

/* ---------------------------------------------------------------- spawning */

/* Lets workers find uhw's own helpers and SDKs without any setup: the directory of the
 * running uhw (DIR) goes first on PATH, and the SDKs the build or `make install` put beside
 * it go before that: DIR/sh (the lean shell helpers) on PATH, DIR/python on PYTHONPATH,
 * DIR/node on NODE_PATH in a build tree (build/uhw); DIR/../lib/uhw/{sh,python,node} once
 * installed. */
static void add_sdk_paths(proc_env_t *env, const char *self_dir)
{
    static const struct {
        const char *var, *sub;
    } sdks[] = {{"PATH", "sh"}, {"PYTHONPATH", "python"}, {"NODE_PATH", "node"}};
    char dir[4096];
    struct stat st;
    proc_env_prepend(env, "PATH", self_dir, "/usr/local/bin:/usr/bin:/bin");
    for (size_t i = 0; i < sizeof(sdks) / sizeof(sdks[0]); ++i) {
        snprintf(dir, sizeof(dir), "%s/%s", self_dir, sdks[i].sub);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            snprintf(dir, sizeof(dir), "%s/../lib/uhw/%s", self_dir, sdks[i].sub);
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            proc_env_prepend(env, sdks[i].var, dir, NULL);
    }
}

worker_t *worker_spawn(pool_t *pool, unsigned slot_id)
{
    const cfg_pool_t *pc = pool->cfg;
    server_t *srv = pool->srv;
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
    if (srv->self_dir != NULL)
        add_sdk_paths(&env, srv->self_dir);

    proc_spec_t spec = {
        .argv = pc->argv,
        .envp = env.items,
        .cwd = pc->cwd,
        .pipe_stdin = 1,
        .pipe_stdout = 1,
        .pipe_stderr = 1,
        .change_user = pool->change_user,
        .uid = pool->uid,
        .gid = pool->gid,
        .groups = pool->groups,
        .ngroups = pool->ngroups,
    };
    proc_t p;
    int rc = proc_spawn(&spec, &p);
    int saved = errno;
    proc_env_free(&env);
    if (rc != 0) {
        log_msg(LOG_ERROR, NULL, "pool '%s': cannot start worker %u: %s", pc->name, slot_id, strerror(saved));
        return NULL;
    }

    worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        abort();
    w->pool = pool;
    w->slot_id = slot_id;
    w->pid = p.pid;
    w->state = WS_STARTING;
    w->generation = pool->generation;
    w->recycle_after = policy_recycle_after(pc->max_requests, pc->max_requests_jitter, (double)rand() / ((double)RAND_MAX + 1));
    snprintf(w->who, sizeof(w->who), "%s#%u pid=%d", pc->name, slot_id, (int)p.pid);
    frame_buf_init(&w->wbuf);
    frame_buf_init(&w->wbuf_sending);
    frame_buf_init(&w->rbuf);
    frame_buf_init(&w->ebuf);
    h2o_linklist_init_anchor(&w->inflight);
    w->spawned_mono = now_ms();
    w->spawned_wall = wall_ms();
    w->in = wrap_fd(w, p.in_fd, 0);
    w->out = wrap_fd(w, p.out_fd, 1);
    w->err = wrap_fd(w, p.err_fd, 1);
    w->execfail = wrap_fd(w, p.execfail_fd, 1);
    h2o_socket_read_start(w->out, on_stdout);
    h2o_socket_read_start(w->err, on_stderr);
    h2o_socket_read_start(w->execfail, on_execfail);
    utimer_init(&w->deadline, on_deadline);
    timers_schedule(timers_of(w), &w->deadline, w->spawned_mono + pc->ready_timeout_ms);
    h2o_linklist_insert(&pool->workers, &w->pool_link);
    log_msg(LOG_DEBUG, w->who, "started");
    return w;
}

/* ---------------------------------------------------------------- writing to stdin */

void worker_send(worker_t *w, const ProtobufCMessage *msg)
{
    if (w->in == NULL)
        return; /* stdin is closed: the worker is stopping or gone; its requests are settled elsewhere */
    if (frame_append(&w->wbuf, msg) != 0)
        abort();
    flush_stdin(w);
}

static void on_stdin_written(h2o_socket_t *sock, const char *err)
{
    worker_t *w = sock->data;
    if (w == NULL)
        return;
    frame_buf_reset(&w->wbuf_sending);
    if (err != NULL) {
        /* EPIPE: the worker closed stdin or died; the reaper settles its requests. */
        log_msg(LOG_DEBUG, w->who, "stdin closed: %s", err);
        close_sock(&w->in);
        frame_buf_reset(&w->wbuf);
        return;
    }
    flush_stdin(w);
}

/* Hands buffered frames to h2o; one write is outstanding at a time, the rest accumulates. */
static void flush_stdin(worker_t *w)
{
    if (w->in == NULL || h2o_socket_is_writing(w->in))
        return;
    if (frame_buf_size(&w->wbuf) == 0) {
        if (w->close_in_after_flush)
            close_sock(&w->in); /* EOF on stdin: "finish and exit" */
        return;
    }
    frame_buf_t tmp = w->wbuf_sending;
    w->wbuf_sending = w->wbuf;
    w->wbuf = tmp;
    frame_buf_reset(&w->wbuf);
    h2o_iovec_t buf = h2o_iovec_init(frame_buf_bytes(&w->wbuf_sending), frame_buf_size(&w->wbuf_sending));
    h2o_socket_write(w->in, &buf, 1, on_stdin_written);
}

/* ---------------------------------------------------------------- reading stdout */

static void vkill(worker_t *w, const char *reason, const char *fmt, va_list ap);

static void protocol_error(worker_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void protocol_error(worker_t *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vkill(w, "protocol", fmt, ap);
    va_end(ap);
}

static void describe_bad_bytes(worker_t *w, const char *what)
{
    char ex[160];
    log_excerpt(ex, sizeof(ex), frame_buf_bytes(&w->rbuf), frame_buf_size(&w->rbuf), 40);
    protocol_error(w, "%s: %s — write logs to stderr, not stdout", what, ex);
}

static void on_ready_frame(worker_t *w, const Uhw__V1__Ready *r)
{
    const cfg_pool_t *pc = w->pool->cfg;
    if (w->state != WS_STARTING) {
        log_msg(LOG_WARNING, w->who, "sent Ready twice; ignored");
        return;
    }
    if (r->protocol != 1) {
        protocol_error(w, "speaks protocol version %u; this uhw speaks version 1", r->protocol);
        return;
    }
    unsigned c = r->concurrency == 0 ? 1 : r->concurrency;
    w->concurrency = c < pc->concurrency ? c : pc->concurrency;
    w->capacity = w->concurrency;
    snprintf(w->info, sizeof(w->info), "%s", r->info != NULL ? r->info : "");
    w->state = WS_READY;
    w->ever_ready = 1;
    w->ready_mono = now_ms();
    timers_cancel(timers_of(w), &w->deadline);
    log_msg(LOG_DEBUG, w->who, "ready (concurrency %u)%s%s", w->concurrency, w->info[0] ? ": " : "", w->info);
    if (pc->settings.len != 0)
        worker_configure(w);
    pool_on_worker_ready(w);
}

void worker_configure(worker_t *w)
{
    const cfg_pool_t *pc = w->pool->cfg;
    size_t n = pc->settings.len; /* may be 0: an empty Configure clears what the worker had */
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Configure conf = UHW__V1__CONFIGURE__INIT;
    Uhw__V1__Setting *items = calloc(n + 1, sizeof(*items));
    Uhw__V1__Setting **ptrs = calloc(n + 1, sizeof(*ptrs));
    if (items == NULL || ptrs == NULL)
        abort();
    for (size_t i = 0; i < n; ++i) {
        uhw__v1__setting__init(&items[i]);
        items[i].key = pc->settings.items[i].key;
        items[i].value = pc->settings.items[i].value;
        ptrs[i] = &items[i];
    }
    conf.n_settings = n;
    conf.settings = ptrs;
    m.msg_case = UHW__V1__TO_WORKER__MSG_CONFIGURE;
    m.configure = &conf;
    worker_send(w, &m.base);
    free(ptrs);
    free(items);
}

static void on_log_frame(worker_t *w, const Uhw__V1__Log *l)
{
    log_level_t level = (unsigned)l->level <= LOG_CRITICAL ? (log_level_t)l->level : LOG_INFO;
    const char *msg = l->message != NULL ? l->message : "";
    if (l->id != 0)
        log_msg(level, w->who, "id=%llu %s", (unsigned long long)l->id, msg);
    else
        log_raw(level, w->who, msg, strlen(msg));
}

/* Handles one decoded frame; takes ownership of `m`. */
static void handle_frame(worker_t *w, Uhw__V1__FromWorker *m)
{
    int kept = 0;
    switch (m->msg_case) {
    case UHW__V1__FROM_WORKER__MSG_READY:
        on_ready_frame(w, m->ready);
        break;
    case UHW__V1__FROM_WORKER__MSG_LOG:
        on_log_frame(w, m->log);
        break;
    case UHW__V1__FROM_WORKER__MSG_CAPACITY: {
        unsigned c = m->capacity->concurrency, cap = w->pool->cfg->concurrency;
        w->capacity = c < cap ? c : cap;
        log_msg(LOG_DEBUG, w->who, "capacity %u", w->capacity);
        dispatch_pump(w->pool);
        break;
    }
    case UHW__V1__FROM_WORKER__MSG_RESPONSE:
    case UHW__V1__FROM_WORKER__MSG_STREAM_START:
    case UHW__V1__FROM_WORKER__MSG_STREAM_DATA:
    case UHW__V1__FROM_WORKER__MSG_STREAM_END:
    case UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE:
    case UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED:
        if (w->state == WS_STARTING)
            protocol_error(w, "sent an answer before Ready");
        else
            kept = dispatch_on_frame(w, m);
        break;
    default:
        /* A message from a newer protocol revision: ignore it (forward compatibility). */
        log_msg(LOG_DEBUG, w->who, "ignored a frame of unknown type");
        break;
    }
    if (!kept)
        uhw__v1__from_worker__free_unpacked(m, NULL);
}

/* Parses every complete frame in rbuf. Stops early when the worker is killed or when a
 * stream asks for backpressure (unless draining a dead worker). Returns -1 if killed. */
static int process_frames(worker_t *w, int draining)
{
    size_t max_frame = w->pool->cfg->max_frame;
    while (draining || w->backpressure == 0) {
        const uint8_t *msg;
        size_t len;
        frame_status_t st = frame_take(&w->rbuf, max_frame, &msg, &len);
        if (st == FRAME_NEED_MORE) {
            if (!frame_plausible(frame_buf_bytes(&w->rbuf), frame_buf_size(&w->rbuf), max_frame)) {
                describe_bad_bytes(w, "worker wrote non-protocol bytes to stdout");
                return -1;
            }
            break;
        }
        if (st == FRAME_TOO_BIG) {
            /* Usually text: "{"... announces 123 bytes; a real frame over max_frame is rarer. */
            describe_bad_bytes(w, "worker wrote a frame longer than max_frame, or non-protocol bytes");
            return -1;
        }
        if (st != FRAME_OK) {
            describe_bad_bytes(w, "worker wrote non-protocol bytes to stdout");
            return -1;
        }
        Uhw__V1__FromWorker *m = uhw__v1__from_worker__unpack(NULL, len, msg);
        if (m == NULL) {
            char ex[160];
            protocol_error(w, "worker wrote a frame that does not decode as FromWorker: %s",
                           log_excerpt(ex, sizeof(ex), msg, len, 40));
            return -1;
        }
        w->last_activity = now_ms();
        handle_frame(w, m);
        if (w->kill_reason != NULL)
            return -1;
    }
    return 0;
}

/* One read of up to `chunk` bytes from a non-blocking pipe into `b`. Returns the bytes read,
 * 0 when nothing is available now, -1 at EOF or on an error. */
static ssize_t read_some(int fd, frame_buf_t *b, size_t chunk)
{
    uint8_t *dst = frame_buf_reserve(b, chunk);
    if (dst == NULL)
        abort();
    for (;;) {
        ssize_t n = read(fd, dst, chunk);
        if (n > 0) {
            frame_buf_commit(b, (size_t)n);
            return n;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

/* Reads what is available (bounded), then parses. At EOF stdout is closed; the exit that
 * follows (reaped via SIGCHLD) settles everything else. */
static void read_stdout(worker_t *w, int draining)
{
    int fd = h2o_socket_get_fd(w->out);
    for (int round = 0; draining || round < READ_ROUNDS; ++round) {
        if (!draining && w->backpressure != 0)
            return;
        ssize_t n = read_some(fd, &w->rbuf, READ_CHUNK);
        if (n > 0) {
            if (process_frames(w, draining) != 0 || w->out == NULL)
                return;
            continue;
        }
        if (n == 0)
            return;
        /* EOF or error */
        if (frame_buf_size(&w->rbuf) != 0 && w->kill_reason == NULL) {
            char ex[160];
            log_excerpt(ex, sizeof(ex), frame_buf_bytes(&w->rbuf), frame_buf_size(&w->rbuf), 40);
            log_msg(LOG_ERROR, w->who, "stdout ended inside a frame (truncated frame): %s", ex);
        }
        close_sock(&w->out);
        return;
    }
}

static void on_stdout(h2o_socket_t *sock, const char *err)
{
    (void)err;
    worker_t *w = sock->data;
    if (w != NULL)
        read_stdout(w, 0);
}

void worker_backpressure(worker_t *w, int delta)
{
    unsigned before = w->backpressure;
    w->backpressure = (unsigned)((int)w->backpressure + delta);
    if (w->out == NULL)
        return;
    if (before == 0 && w->backpressure != 0) {
        h2o_socket_read_stop(w->out);
    } else if (before != 0 && w->backpressure == 0) {
        /* Frames already read may be waiting in rbuf: handle them before reading more. */
        if (process_frames(w, 0) == 0 && w->out != NULL && w->backpressure == 0)
            h2o_socket_read_start(w->out, on_stdout);
    }
}

/* ---------------------------------------------------------------- stderr and exec failure */

static void remember_line(worker_t *w, const char *line, size_t len)
{
    char *copy = strndup(line, len);
    if (copy == NULL)
        return;
    free(w->tail[w->tail_next]);
    w->tail[w->tail_next] = copy;
    w->tail_next = (w->tail_next + 1) % TAIL_LINES;
}

static void stderr_line(worker_t *w, const char *line, size_t len)
{
    if (len != 0 && line[len - 1] == '\r')
        --len;
    log_raw(LOG_INFO, w->who, line, len);
    remember_line(w, line, len);
}

/* Logs each complete line in ebuf; with `flush`, the unfinished one too. */
static void split_stderr(worker_t *w, int flush)
{
    for (;;) {
        const char *p = (const char *)frame_buf_bytes(&w->ebuf);
        size_t n = frame_buf_size(&w->ebuf);
        const char *nl = memchr(p, '\n', n);
        if (nl != NULL) {
            stderr_line(w, p, (size_t)(nl - p));
            frame_buf_consume(&w->ebuf, (size_t)(nl - p) + 1);
        } else if (n >= STDERR_LINE_MAX || (flush && n != 0)) {
            stderr_line(w, p, n < STDERR_LINE_MAX ? n : STDERR_LINE_MAX);
            frame_buf_consume(&w->ebuf, n < STDERR_LINE_MAX ? n : STDERR_LINE_MAX);
        } else {
            return;
        }
    }
}

static void read_stderr(worker_t *w, int draining)
{
    int fd = h2o_socket_get_fd(w->err);
    for (int round = 0; draining || round < READ_ROUNDS; ++round) {
        ssize_t n = read_some(fd, &w->ebuf, 16384);
        if (n > 0) {
            split_stderr(w, 0);
            continue;
        }
        if (n == 0)
            return;
        split_stderr(w, 1); /* EOF or error: log the unfinished line too */
        close_sock(&w->err);
        return;
    }
}

static void on_stderr(h2o_socket_t *sock, const char *err)
{
    (void)err;
    worker_t *w = sock->data;
    if (w != NULL)
        read_stderr(w, 0);
}

static void read_execfail(worker_t *w)
{
    proc_execfail_t f;
    ssize_t n = read(h2o_socket_get_fd(w->execfail), &f, sizeof(f));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == (ssize_t)sizeof(f)) {
        w->exec_failed = 1;
        proc_execfail_str(&f, w->exec_error, sizeof(w->exec_error));
        log_msg(LOG_ERROR, w->who, "cannot start '%s': %s", w->pool->cfg->argv[w->pool->cfg->shell ? 2 : 0],
                w->exec_error);
    }
    close_sock(&w->execfail); /* EOF: exec succeeded */
}

static void on_execfail(h2o_socket_t *sock, const char *err)
{
    (void)err;
    worker_t *w = sock->data;
    if (w != NULL)
        read_execfail(w);
}

char *worker_stderr_tail(const worker_t *w)
{
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    for (unsigned i = 0; i < TAIL_LINES; ++i) {
        const char *line = w->tail[(w->tail_next + i) % TAIL_LINES];
        if (line == NULL)
            continue;
        size_t need = len + strlen(line) + 8;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *n = realloc(out, cap);
            if (n == NULL)
                break;
            out = n;
        }
        len += (size_t)sprintf(out + len, "\n    %s", line);
    }
    return out;
}

/* ---------------------------------------------------------------- requests and deadlines */

unsigned worker_free_capacity(const worker_t *w)
{
    if (w->state != WS_READY || w->kill_reason != NULL)
        return 0;
    unsigned limit = w->capacity < w->concurrency ? w->capacity : w->concurrency;
    return w->ninflight < limit ? limit - w->ninflight : 0;
}

void worker_on_assign(worker_t *w)
{
    uint64_t now = now_ms();
    if (w->ninflight++ == 0)
        w->last_activity = now;
    ++w->requests;
    if (w->state == WS_READY && !utimer_active(&w->deadline))
        timers_schedule(timers_of(w), &w->deadline, w->last_activity + w->pool->cfg->stuck_timeout_ms);
    if (w->recycle_after != 0 && w->requests == w->recycle_after)
        pool_recycle(w, "max_requests");
}

void worker_on_release(worker_t *w)
{
    --w->ninflight;
}

static void send_signal(worker_t *w, int sig)
{
    if (w->pid > 0 && kill(-w->pid, sig) != 0 && errno != ESRCH)
        log_msg(LOG_WARNING, w->who, "cannot signal process group: %s", strerror(errno));
}

static void on_deadline(utimer_t *t)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, deadline, t);
    const cfg_pool_t *pc = w->pool->cfg;
    uint64_t now = now_ms();
    switch (w->state) {
    case WS_STARTING:
        worker_kill(w, "ready_timeout", "did not send Ready within ready_timeout (%llu ms)",
                    (unsigned long long)pc->ready_timeout_ms);
        break;
    case WS_READY:
        /* Lazy stuck clock: frames only move last_activity; the check happens here. */
        if (w->ninflight == 0)
            break;
        if (now - w->last_activity >= pc->stuck_timeout_ms) {
            worker_kill(w, "stuck", "stuck: no frame for %llu ms with %u request%s in flight",
                        (unsigned long long)(now - w->last_activity), w->ninflight, w->ninflight == 1 ? "" : "s");
        } else {
            timers_schedule(timers_of(w), &w->deadline, w->last_activity + pc->stuck_timeout_ms);
        }
        break;
    case WS_STOPPING:
        if (w->stop_stage == 0) {
            log_msg(LOG_WARNING, w->who, "still running %llu ms after Shutdown; sending SIGTERM",
                    (unsigned long long)pc->graceful_timeout_ms);
            send_signal(w, SIGTERM);
            w->stop_stage = 1;
            timers_schedule(timers_of(w), &w->deadline, now + pc->kill_timeout_ms);
        } else if (w->stop_stage == 1) {
            log_msg(LOG_WARNING, w->who, "still running %llu ms after SIGTERM; sending SIGKILL",
                    (unsigned long long)pc->kill_timeout_ms);
            send_signal(w, SIGKILL);
            w->stop_stage = 2;
        }
        break;
    case WS_EXITED:
        break;
    }
}

void worker_stop(worker_t *w)
{
    if (w->state == WS_STOPPING || w->state == WS_EXITED)
        return;
    const cfg_pool_t *pc = w->pool->cfg;
    w->state = WS_STOPPING;
    w->planned_stop = 1;
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Shutdown sd = UHW__V1__SHUTDOWN__INIT;
    sd.grace_ms = pc->graceful_timeout_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)pc->graceful_timeout_ms;
    m.msg_case = UHW__V1__TO_WORKER__MSG_SHUTDOWN;
    m.shutdown = &sd;
    w->close_in_after_flush = 1;
    worker_send(w, &m.base);
    flush_stdin(w); /* closes stdin now if nothing was queued (or stdin is already gone) */
    w->stop_stage = 0;
    timers_schedule(timers_of(w), &w->deadline, now_ms() + pc->graceful_timeout_ms);
    log_msg(LOG_DEBUG, w->who, "stopping");
}

void worker_terminate(worker_t *w, uint64_t kill_after_ms)
{
    if (w->state == WS_EXITED)
        return;
    w->planned_stop = 1;
    w->state = WS_STOPPING;
    close_sock(&w->in);
    send_signal(w, SIGTERM);
    w->stop_stage = 1;
    timers_schedule(timers_of(w), &w->deadline, now_ms() + kill_after_ms);
}

static void vkill(worker_t *w, const char *reason, const char *fmt, va_list ap)
{
    if (w->kill_reason != NULL || w->state == WS_EXITED)
        return;
    w->kill_reason = reason;
    vsnprintf(w->kill_detail, sizeof(w->kill_detail), fmt, ap);
    log_msg(LOG_ERROR, w->who, "killing worker: %s", w->kill_detail);
    send_signal(w, SIGKILL);
    w->state = WS_STOPPING;
    w->stop_stage = 2;
    timers_cancel(timers_of(w), &w->deadline);
    /* Nothing it says from now on counts. */
    close_sock(&w->out);
    close_sock(&w->in);
    frame_buf_reset(&w->rbuf);
    exit_info_t ei = {.reason = reason, .code = -1, .signal = SIGKILL, .at_wall_ms = wall_ms()};
    snprintf(ei.detail, sizeof(ei.detail), "%s", w->kill_detail);
    dispatch_fail_worker(w, strcmp(reason, "protocol") == 0 ? 502 : 500, &ei);
}

void worker_kill(worker_t *w, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vkill(w, reason, fmt, ap);
    va_end(ap);
}

void worker_kill_now(worker_t *w)
{
    send_signal(w, SIGKILL);
}

/* ---------------------------------------------------------------- exit */

static void describe_exit(worker_t *w, int status, exit_info_t *ei)
{
    char sig[32];
    memset(ei, 0, sizeof(*ei));
    ei->at_wall_ms = wall_ms();
    ei->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    ei->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (w->kill_reason != NULL) {
        ei->reason = w->kill_reason;
        snprintf(ei->detail, sizeof(ei->detail), "%s", w->kill_detail);
    } else if (w->exec_failed) {
        ei->reason = "exec_failed";
        snprintf(ei->detail, sizeof(ei->detail), "cannot start: %s", w->exec_error);
    } else if (ei->signal != 0) {
        ei->reason = w->planned_stop ? "stopped" : "died";
        snprintf(ei->detail, sizeof(ei->detail), "killed by %s%s", proc_signal_name(ei->signal, sig, sizeof(sig)),
                 WCOREDUMP(status) ? " (core dumped)" : "");
    } else {
        ei->reason = w->planned_stop ? "stopped" : "exited";
        snprintf(ei->detail, sizeof(ei->detail), "exited with code %d", ei->code);
    }
}

void worker_on_exit(worker_t *w, int status)
{
    timers_cancel(timers_of(w), &w->deadline);
    /* The process is gone, so everything it wrote is already in the pipes: read it all,
     * so a response written just before exiting still reaches its client. */
    if (w->execfail != NULL)
        read_execfail(w);
    if (w->out != NULL)
        read_stdout(w, 1);
    if (w->err != NULL)
        read_stderr(w, 1);
    close_sock(&w->out);
    close_sock(&w->err);
    close_sock(&w->in);
    close_sock(&w->execfail);

    exit_info_t ei;
    describe_exit(w, status, &ei);
    uint64_t lived = now_ms() - w->spawned_mono;
    if (w->planned_stop && w->kill_reason == NULL)
        log_msg(LOG_INFO, w->who, "stopped (%s) after %llu.%03llus, %llu request%s", ei.detail,
                (unsigned long long)(lived / 1000), (unsigned long long)(lived % 1000),
                (unsigned long long)w->requests, w->requests == 1 ? "" : "s");
    else
        log_msg(LOG_ERROR, w->who, "worker exited unexpectedly: %s, after %llu.%03llus and %llu request%s", ei.detail,
                (unsigned long long)(lived / 1000), (unsigned long long)(lived % 1000),
                (unsigned long long)w->requests, w->requests == 1 ? "" : "s");
    if (w->kill_reason == NULL)
        dispatch_fail_worker(w, 500, &ei);
    w->state = WS_EXITED;
    pool_on_worker_exit(w, &ei);
}

void worker_free(worker_t *w)
{
    timers_cancel(timers_of(w), &w->deadline);
    close_sock(&w->out);
    close_sock(&w->err);
    close_sock(&w->in);
    close_sock(&w->execfail);
    frame_buf_free(&w->wbuf);
    frame_buf_free(&w->wbuf_sending);
    frame_buf_free(&w->rbuf);
    frame_buf_free(&w->ebuf);
    for (unsigned i = 0; i < TAIL_LINES; ++i)
        free(w->tail[i]);
    if (h2o_linklist_is_linked(&w->pool_link))
        h2o_linklist_unlink(&w->pool_link);
    free(w);
}
