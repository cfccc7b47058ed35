/*
 * replay_exec.c — see replay_exec.h.
 *
 * One poll() loop over the worker's stdout (frames), stderr (kept as a tail), stdin (the
 * Request frame, written as the pipe takes it), the exec-failure pipe and a pidfd (its
 * exit). The phases: waiting for Ready → request sent, waiting for the answer → answered,
 * stdin closed, waiting for the exit. Each phase has a deadline.
 */
#include "replay_exec.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "uhw.pb-c.h"

#define PRINT_BODY_MAX 4096
#define TAIL_BYTES 4096         /* stderr kept for the report */
#define TAIL_LINES 20
#define EXIT_WAIT_MS 5000       /* after the answer, for the worker to leave on EOF */
#define MAX_FRAME ((size_t)1 << 30)
#define READ_CHUNK 65536

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- the Request frame */

/* "1.2.3.4:5" or "[::1]:5" → address and port. */
static void split_remote(const char *remote, char *addr, size_t addrsz, unsigned *port)
{
    *port = 0;
    snprintf(addr, addrsz, "%s", remote != NULL ? remote : "");
    char *colon = strrchr(addr, ':');
    if (colon == NULL || (addr[0] == '[' && colon < strchr(addr, ']')))
        return;
    *port = (unsigned)strtoul(colon + 1, NULL, 10);
    *colon = '\0';
    size_t n = strlen(addr);
    if (addr[0] == '[' && n >= 2 && addr[n - 1] == ']') {
        memmove(addr, addr + 1, n - 2);
        addr[n - 2] = '\0';
    }
}

int replay_request_frame(const victim_record_t *v, unsigned timeout_ms, frame_buf_t *out)
{
    Uhw__V1__Header *hs = calloc(v->nheaders + 1, sizeof(*hs));
    Uhw__V1__Header **hp = calloc(v->nheaders + 1, sizeof(*hp));
    if (hs == NULL || hp == NULL) {
        free(hs);
        free(hp);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < v->nheaders; ++i) {
        if (v->headers[i].redacted)
            continue;
        uhw__v1__header__init(&hs[n]);
        hs[n].name = v->headers[i].name;
        hs[n].value.data = v->headers[i].value;
        hs[n].value.len = v->headers[i].value_len;
        hp[n] = &hs[n];
        ++n;
    }
    char addr[128];
    unsigned port;
    split_remote(v->remote, addr, sizeof(addr), &port);
    Uhw__V1__Request rq = UHW__V1__REQUEST__INIT;
    rq.id = v->id;
    rq.method = v->method;
    rq.path = v->path;
    rq.query = v->query;
    rq.headers = hp;
    rq.n_headers = n;
    rq.body.data = v->body;
    rq.body.len = v->body_len;
    rq.remote_addr = addr;
    rq.remote_port = port;
    rq.scheme = "http";
    rq.http_version = "HTTP/1.1";
    rq.pool = v->pool != NULL ? v->pool : "";
    rq.timeout_ms = timeout_ms;
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    m.msg_case = UHW__V1__TO_WORKER__MSG_REQUEST;
    m.request = &rq;
    int rc = frame_append(out, &m.base);
    free(hp);
    free(hs);
    return rc;
}

void replay_print_body(FILE *out, const void *body, size_t len)
{
    const unsigned char *p = body;
    int text = 1;
    for (size_t i = 0; i < len && text; ++i)
        text = p[i] >= 0x20 || p[i] == '\n' || p[i] == '\r' || p[i] == '\t';
    if (len == 0)
        fprintf(out, "(no body)\n");
    else if (!text)
        fprintf(out, "(%zu bytes, binary)\n", len);
    else if (len > PRINT_BODY_MAX)
        fprintf(out, "%.*s\n... (%zu bytes in all)\n", PRINT_BODY_MAX, (const char *)body, len);
    else
        fprintf(out, "%.*s%s", (int)len, (const char *)body, p[len - 1] == '\n' ? "" : "\n");
}

/* ---------------------------------------------------------------- running the worker */

enum { PH_READY, PH_ANSWER, PH_EXIT };

typedef struct run {
    FILE *out;
    const replay_exec_opts_t *o;
    const victim_record_t *v;
    proc_t p;
    int pidfd;
    int phase;
    int result;            /* REPLAY_* once decided, -1 before */
    uint64_t started, deadline;
    frame_buf_t to;        /* the Request frame, being written */
    frame_buf_t from;      /* the worker's stdout, not parsed yet */
    frame_buf_t stream;    /* a streamed body */
    int streaming;
    char tail[TAIL_BYTES]; /* the end of its stderr */
    size_t tail_len;
    int exited, wstatus;
    int exit_reported;
} run_t;

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void decide(run_t *r, int result)
{
    if (r->result < 0)
        r->result = result;
}

/* Enters the last phase: close the worker's stdin (EOF: "no more requests"), wait for it. */
static void after_answer(run_t *r)
{
    r->phase = PH_EXIT;
    close_fd(&r->p.in_fd);
    r->deadline = now_ms() + EXIT_WAIT_MS;
}

static void print_headers(run_t *r, Uhw__V1__Header **hs, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        fprintf(r->out, "< %s: %.*s\n", hs[i]->name, (int)hs[i]->value.len, (const char *)hs[i]->value.data);
    fprintf(r->out, "<\n");
}

/* One frame from the worker. */
static void on_frame(run_t *r, Uhw__V1__FromWorker *m)
{
    static const char *const levels[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
    switch (m->msg_case) {
    case UHW__V1__FROM_WORKER__MSG_READY:
        if (r->phase != PH_READY) {
            fprintf(r->out, "-- a second Ready (ignored)\n");
            return;
        }
        fprintf(r->out, "-- ready after %llu ms (concurrency %u)%s%s\n", (unsigned long long)(now_ms() - r->started),
                m->ready->concurrency != 0 ? m->ready->concurrency : 1, m->ready->info[0] ? ": " : "",
                m->ready->info);
        if (replay_request_frame(r->v, r->o->timeout_ms, &r->to) != 0) {
            fprintf(r->out, "-- out of memory building the Request frame\n");
            decide(r, REPLAY_CANNOT);
            after_answer(r);
            return;
        }
        fprintf(r->out, "-- sent Request id=%llu\n", (unsigned long long)r->v->id);
        r->phase = PH_ANSWER;
        r->deadline = now_ms() + r->o->timeout_ms;
        return;
    case UHW__V1__FROM_WORKER__MSG_LOG:
        fprintf(r->out, "-- log %s: %s\n", levels[m->log->level <= 4 ? m->log->level : 4], m->log->message);
        return;
    case UHW__V1__FROM_WORKER__MSG_RESPONSE:
        fprintf(r->out, "< %u\n", m->response->status != 0 ? m->response->status : 200);
        print_headers(r, m->response->headers, m->response->n_headers);
        replay_print_body(r->out, m->response->body.data, m->response->body.len);
        fprintf(r->out, "-- the worker answered\n");
        decide(r, REPLAY_ANSWERED);
        after_answer(r);
        return;
    case UHW__V1__FROM_WORKER__MSG_STREAM_START:
        fprintf(r->out, "< %u (streamed)\n", m->stream_start->status != 0 ? m->stream_start->status : 200);
        print_headers(r, m->stream_start->headers, m->stream_start->n_headers);
        r->streaming = 1;
        return;
    case UHW__V1__FROM_WORKER__MSG_STREAM_DATA:
        if (frame_buf_append(&r->stream, m->stream_data->data.data, m->stream_data->data.len) != 0)
            fprintf(r->out, "-- out of memory keeping the stream\n");
        return;
    case UHW__V1__FROM_WORKER__MSG_STREAM_END:
        replay_print_body(r->out, frame_buf_size(&r->stream) != 0 ? frame_buf_bytes(&r->stream) : NULL,
                          frame_buf_size(&r->stream));
        if (m->stream_end->error[0] != '\0') {
            fprintf(r->out, "-- the worker aborted the stream: %s\n", m->stream_end->error);
            decide(r, REPLAY_FAILED);
        } else {
            fprintf(r->out, "-- the worker answered\n");
            decide(r, REPLAY_ANSWERED);
        }
        after_answer(r);
        return;
    case UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED: {
        const Uhw__V1__RequestFailed *f = m->request_failed;
        char sig[32] = "";
        if (f->signal != 0)
            proc_signal_name((int)f->signal, sig, sizeof(sig));
        fprintf(r->out, "-- the worker reports the request failed (RequestFailed): status %u, reason %s", f->status ? f->status : 500,
                f->reason);
        if (f->exit_code >= 0)
            fprintf(r->out, ", exit code %d", f->exit_code);
        if (sig[0] != '\0')
            fprintf(r->out, ", signal %s", sig);
        if (f->pid != 0)
            fprintf(r->out, ", pid %u", f->pid);
        fprintf(r->out, "\n--   %s\n", f->detail);
        decide(r, REPLAY_FAILED);
        after_answer(r);
        return;
    }
    default:
        return; /* KeepAlive, Capacity: nothing to report */
    }
}

/* Parses what stdout has brought; -1 on a protocol error (reported). */
static int parse_frames(run_t *r)
{
    for (;;) {
        const uint8_t *msg;
        size_t len;
        frame_status_t st = frame_take(&r->from, MAX_FRAME, &msg, &len);
        if (st == FRAME_NEED_MORE)
            return 0;
        Uhw__V1__FromWorker *m = st == FRAME_OK ? uhw__v1__from_worker__unpack(NULL, len, msg) : NULL;
        if (m == NULL) {
            fprintf(r->out, "-- protocol error: the worker wrote %s to stdout\n",
                    st == FRAME_OK ? "a frame that does not decode" : frame_status_str(st));
            return -1;
        }
        on_frame(r, m);
        uhw__v1__from_worker__free_unpacked(m, NULL);
    }
}

/* Reads stdout once: 1 if bytes came, 0 if none now, -1 once it is closed. */
static int on_stdout(run_t *r)
{
    uint8_t *dst = frame_buf_reserve(&r->from, READ_CHUNK);
    ssize_t n = dst != NULL ? read(r->p.out_fd, dst, READ_CHUNK) : -1;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        close_fd(&r->p.out_fd);
        if (r->phase != PH_EXIT)
            fprintf(r->out, "-- the worker closed its stdout before answering\n");
        return -1;
    }
    frame_buf_commit(&r->from, (size_t)n);
    if (parse_frames(r) != 0) {
        close_fd(&r->p.out_fd);
        decide(r, REPLAY_FAILED);
        after_answer(r);
        return -1;
    }
    return 1;
}

/* Reads stderr once into the tail: 1 if bytes came, 0 if none now, -1 once it is closed. */
static int on_stderr(run_t *r)
{
    char buf[4096];
    ssize_t n = read(r->p.err_fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        close_fd(&r->p.err_fd);
        return -1;
    }
    size_t k = (size_t)n;
    if (k >= TAIL_BYTES) { /* keep the end */
        memcpy(r->tail, buf + k - TAIL_BYTES, TAIL_BYTES);
        r->tail_len = TAIL_BYTES;
        return 1;
    }
    if (r->tail_len + k > TAIL_BYTES) {
        size_t drop = r->tail_len + k - TAIL_BYTES;
        memmove(r->tail, r->tail + drop, r->tail_len - drop);
        r->tail_len -= drop;
    }
    memcpy(r->tail + r->tail_len, buf, k);
    r->tail_len += k;
    return 1;
}

static void on_stdin(run_t *r)
{
    ssize_t n = write(r->p.in_fd, frame_buf_bytes(&r->to), frame_buf_size(&r->to));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        fprintf(r->out, "-- the worker's stdin is closed: %s\n", strerror(errno));
        close_fd(&r->p.in_fd);
        return;
    }
    frame_buf_consume(&r->to, (size_t)n);
}

/* The exec-failure pipe: EOF once exec succeeded; a proc_execfail_t if it did not. */
static void on_execfail(run_t *r, char *const *argv)
{
    proc_execfail_t f;
    ssize_t n = read(r->p.execfail_fd, &f, sizeof(f));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    close_fd(&r->p.execfail_fd);
    if (n == (ssize_t)sizeof(f)) {
        char why[256];
        fprintf(r->out, "-- cannot start %s: %s\n", argv[0], proc_execfail_str(&f, why, sizeof(why)));
        decide(r, REPLAY_CANNOT);
    }
}

static void on_exit_status(run_t *r)
{
    if (waitpid(r->p.pid, &r->wstatus, WNOHANG) != r->p.pid)
        return;
    r->exited = 1;
    close_fd(&r->pidfd);
}

/* "the worker was killed by SIGSEGV before answering", once. */
static void report_exit(run_t *r)
{
    if (r->exit_reported)
        return;
    r->exit_reported = 1;
    char sig[32];
    const char *when = r->phase == PH_READY ? " before Ready" : r->phase == PH_ANSWER ? " before answering" : "";
    if (WIFSIGNALED(r->wstatus))
        fprintf(r->out, "-- the worker was killed by %s%s\n", proc_signal_name(WTERMSIG(r->wstatus), sig, sizeof(sig)),
                when);
    else
        fprintf(r->out, "-- the worker exited with code %d%s\n", WEXITSTATUS(r->wstatus), when);
}

static void report_tail(run_t *r)
{
    if (r->tail_len == 0)
        return;
    /* The last TAIL_LINES lines of what we kept. */
    size_t start = r->tail_len, lines = 0;
    if (r->tail[start - 1] == '\n')
        --start;
    while (start > 0 && lines < TAIL_LINES) {
        --start;
        if (r->tail[start] == '\n' && ++lines == TAIL_LINES) {
            ++start;
            break;
        }
    }
    fprintf(r->out, "-- stderr (last lines):\n");
    const char *p = r->tail + start, *end = r->tail + r->tail_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        fprintf(r->out, "   %.*s\n", (int)n, p);
        p += n + 1;
    }
}

static char **worker_env(const victim_record_t *v, const char *self_dir, proc_env_t *env)
{
    char num[32];
    proc_env_init(env, 0);
    proc_env_set(env, "UHW_POOL", v->pool != NULL ? v->pool : "replay");
    snprintf(num, sizeof(num), "%d", v->worker);
    proc_env_set(env, "UHW_WORKER", num);
    proc_env_set(env, "UHW_PROTOCOL", "1");
    snprintf(num, sizeof(num), "%zu", FRAME_DEFAULT_MAX);
    proc_env_set(env, "UHW_MAX_FRAME", num);
    if (self_dir != NULL)
        proc_env_prepend(env, "PATH", self_dir, "/usr/local/bin:/usr/bin:/bin");
    return env->items;
}

int replay_exec(const victim_record_t *v, char *const *argv, const replay_exec_opts_t *o, FILE *out)
{
    run_t r = {.out = out, .o = o, .v = v, .pidfd = -1, .result = -1, .phase = PH_READY};
    frame_buf_init(&r.to);
    frame_buf_init(&r.from);
    frame_buf_init(&r.stream);
    proc_env_t env;
    proc_spec_t spec = {.argv = argv, .envp = worker_env(v, o->self_dir, &env), .pipe_stdin = 1, .pipe_stdout = 1,
                        .pipe_stderr = 1};
    int rc = proc_spawn(&spec, &r.p);
    proc_env_free(&env);
    if (rc != 0) {
        fprintf(out, "-- cannot start %s: %s\n", argv[0], strerror(errno));
        return REPLAY_CANNOT;
    }
    r.started = now_ms();
    r.deadline = r.started + o->ready_timeout_ms;
    r.pidfd = pidfd_open(r.p.pid, 0);
    fprintf(out, "-- started %s (pid %d)\n", argv[0], (int)r.p.pid);

    while (!(r.exited && r.p.out_fd < 0 && r.p.err_fd < 0)) {
        struct pollfd pf[5];
        int idx[5], n = 0;
        int fds[5] = {r.p.out_fd, r.p.err_fd, frame_buf_size(&r.to) != 0 ? r.p.in_fd : -1, r.p.execfail_fd,
                      r.exited ? -1 : r.pidfd};
        for (int i = 0; i < 5; ++i) {
            if (fds[i] < 0)
                continue;
            pf[n] = (struct pollfd){.fd = fds[i], .events = i == 2 ? POLLOUT : POLLIN};
            idx[n++] = i;
        }
        uint64_t now = now_ms();
        if (r.exited && now >= r.deadline)
            break; /* gone, but something it started holds its pipes */
        if (!r.exited && now >= r.deadline) {
            if (r.phase == PH_READY)
                fprintf(out, "-- no Ready within %u ms\n", o->ready_timeout_ms);
            else if (r.phase == PH_ANSWER)
                fprintf(out, "-- no answer within %u ms\n", o->timeout_ms);
            else
                fprintf(out, "-- still running %d ms after its stdin closed\n", EXIT_WAIT_MS);
            fprintf(out, "-- killing the worker's process group (SIGKILL)\n");
            kill(-r.p.pid, SIGKILL);
            decide(&r, r.phase == PH_READY ? REPLAY_CANNOT : r.phase == PH_ANSWER ? REPLAY_FAILED : r.result);
            r.phase = PH_EXIT;
            r.deadline = now + EXIT_WAIT_MS;
            continue;
        }
        if (poll(pf, (nfds_t)n, (int)(r.deadline - now)) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < n; ++k) {
            if (pf[k].revents == 0)
                continue;
            switch (idx[k]) {
            case 0:
                if (r.p.out_fd >= 0)
                    (void)on_stdout(&r);
                break;
            case 1:
                (void)on_stderr(&r);
                break;
            case 2:
                if (r.p.in_fd >= 0)
                    on_stdin(&r);
                break;
            case 3:
                on_execfail(&r, argv);
                break;
            case 4:
                on_exit_status(&r);
                break;
            }
        }
        if (r.pidfd < 0 && !r.exited)
            on_exit_status(&r); /* no pidfd (old kernel): look each turn */
        if (r.exited && r.result < 0 && r.p.execfail_fd >= 0)
            on_execfail(&r, argv); /* it may have failed to exec */
        if (r.exited && r.phase != PH_EXIT) {
            /* Read what it wrote before it went (its answer may be there), then report. */
            while (r.p.out_fd >= 0 && r.result < 0 && on_stdout(&r) == 1)
                ;
            if (r.result < 0) {
                report_exit(&r);
                decide(&r, REPLAY_FAILED);
            }
            r.phase = PH_EXIT;
            r.deadline = now_ms() + EXIT_WAIT_MS;
        }
    }
    if (!r.exited) {
        kill(-r.p.pid, SIGKILL);
        while (waitpid(r.p.pid, &r.wstatus, 0) < 0 && errno == EINTR)
            ;
        r.exited = 1;
    }
    if (r.result != REPLAY_CANNOT)
        report_exit(&r);
    kill(-r.p.pid, SIGKILL); /* whatever it started in its group */
    while (r.p.err_fd >= 0 && on_stderr(&r) == 1)
        ;
    report_tail(&r);
    close_fd(&r.p.in_fd);
    close_fd(&r.p.out_fd);
    close_fd(&r.p.err_fd);
    close_fd(&r.p.execfail_fd);
    close_fd(&r.pidfd);
    frame_buf_free(&r.to);
    frame_buf_free(&r.from);
    frame_buf_free(&r.stream);
    return r.result >= 0 ? r.result : REPLAY_FAILED;
}
