/*
 * test_libuhw.c — the C worker SDK, driven like the supervisor drives a worker: uhw_run
 * runs in a forked child whose stdin/stdout are pipes; the test writes ToWorker frames
 * and checks the FromWorker frames that come back (Ready, Response, streams, Log),
 * Cancel of a deferred request, SSE and NDJSON framing, refused headers, timers,
 * Configure, Shutdown and EOF. The child reports what it saw through Log frames.
 * Query and header lookups are tested in-process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "libuhw.h"
#include "uhw.pb-c.h"

/* ---------------------------------------------------------------- the worker (child side) */

static void finish_later(void *arg)
{
    uhw_respond_text(arg, 201, "text/plain", "later\n");
}

static void log_timer(void *arg)
{
    uhw_log(UHW_LOG_INFO, "timer %s", (const char *)arg);
}

static void timers_done(void *arg)
{
    uhw_respond_text(arg, 200, NULL, "timers\n");
}

/* /watch: a deferred request answered when a pipe becomes readable (a timer writes it). */
typedef struct watch_job {
    uhw_req_t *req;
    int fds[2];
    uhw_watch_t *w;
} watch_job_t;

static void watch_write(void *arg)
{
    watch_job_t *j = arg;
    if (write(j->fds[1], "piped", 5) != 5)
        uhw_log(UHW_LOG_ERROR, "write failed");
}

static void watch_ready(int fd, short revents, void *arg)
{
    watch_job_t *j = arg;
    char buf[16];
    ssize_t n = read(fd, buf, sizeof(buf));
    uhw_unwatch(j->w);
    uhw_log_req(j->req, UHW_LOG_DEBUG, "readable=%d", (revents & POLLIN) != 0);
    uhw_respond(j->req, 200, NULL, 0, buf, n > 0 ? (size_t)n : 0);
    close(j->fds[0]);
    close(j->fds[1]);
    free(j);
}

/* A pipe the test opens (writes a byte to) to let a blocked handler go on: what the worker
 * sends before it blocks must reach the test while it is blocked. Created before fork. */
static int gate[2] = {-1, -1};

static void wait_gate(void)
{
    /* Bounded: when the test fails it never opens the gate, and the worker must not stay
     * blocked (holding the test's stdout) after the test run. */
    struct pollfd pfd = {.fd = gate[0], .events = POLLIN};
    char c;
    if (poll(&pfd, 1, 10000) != 1 || read(gate[0], &c, 1) != 1)
        uhw_log(UHW_LOG_ERROR, "the gate did not open");
}

/* Byte i of chunk k of /big: a pattern that shows a lost, repeated or reordered byte. */
static uint8_t big_byte(size_t k, size_t i)
{
    return (uint8_t)(i * 7 + k * 13 + (i >> 8));
}

#define BIG_CHUNK ((size_t)100 << 10) /* each larger than libuhw's 64 KiB flush threshold */
#define BIG_CHUNKS 3

static void handler(uhw_req_t *req, void *ctx)
{
    (void)ctx;
    const char *p = req->path;
    if (strcmp(p, "/hello") == 0) {
        uhw_header_t h[] = {{"Content-Type", (const uint8_t *)"text/plain", 10}, {"X-T", (const uint8_t *)"1", 1}};
        uhw_respond(req, 200, h, 2, "hi", 2);
    } else if (strcmp(p, "/defer") == 0) {
        /* left open: finished by on_cancel */
    } else if (strcmp(p, "/later") == 0) {
        uhw_after(50, finish_later, req);
    } else if (strcmp(p, "/sse") == 0) {
        uhw_sse_event(req, "up", "5", "a\nb\r\nc\rd", 0);
        uhw_sse_event(req, NULL, NULL, "", 1500);
        int rc = uhw_sse_event(req, "bad\nevent", NULL, "x", 0);
        uhw_log_req(req, UHW_LOG_DEBUG, "bad event rc=%d einval=%d", rc, errno == EINVAL);
        uhw_stream_end(req, NULL);
    } else if (strcmp(p, "/badheader") == 0) {
        uhw_header_t bad[] = {{"X-A", (const uint8_t *)"a\r\nInjected: 1", 14}};
        uhw_header_t hop[] = {{"Connection", (const uint8_t *)"close", 5}};
        int rc1 = uhw_respond(req, 200, bad, 1, "x", 1);
        int e1 = errno;
        int rc2 = uhw_stream_start(req, 200, hop, 1);
        int e2 = errno;
        int rc3 = uhw_respond(req, 99, NULL, 0, NULL, 0);
        uhw_log_req(req, UHW_LOG_INFO, "rc=%d,%d,%d einval=%d", rc1, rc2, rc3, e1 == EINVAL && e2 == EINVAL);
        uhw_respond_text(req, 200, NULL, "ok\n");
    } else if (strcmp(p, "/ndjson") == 0) {
        int rc = uhw_ndjson(req, "{\"a\":\n1}");
        uhw_log_req(req, UHW_LOG_INFO, "newline rc=%d", rc);
        uhw_ndjson(req, "{\"a\":1}");
        uhw_ndjson(req, "[2]");
        uhw_stream_end(req, NULL);
    } else if (strcmp(p, "/abort") == 0) {
        uhw_stream_start(req, 200, NULL, 0);
        uhw_stream_write(req, "part", 4);
        uhw_stream_end(req, "backend failed");
    } else if (strcmp(p, "/timers") == 0) {
        uhw_after(30, log_timer, "30");
        uhw_after(10, log_timer, "10");
        uhw_timer_t *t = uhw_after(15, log_timer, "cancelled");
        uhw_after(20, log_timer, "20");
        uhw_after(0, log_timer, "0a");
        uhw_after(0, log_timer, "0b");
        uhw_timer_cancel(t);
        uhw_after(40, timers_done, req);
    } else if (strcmp(p, "/watch") == 0) {
        watch_job_t *j = calloc(1, sizeof(*j));
        j->req = req;
        if (pipe(j->fds) != 0 || (j->w = uhw_watch(j->fds[0], POLLIN, watch_ready, j)) == NULL) {
            uhw_respond_text(req, 500, NULL, "watch failed\n");
            free(j);
            return;
        }
        uhw_after(20, watch_write, j);
    } else if (strcmp(p, "/fail") == 0) {
        int bad = uhw_fail(req, 404, "died", -1, 0, 0, NULL); /* not a failure status: refused */
        uhw_log_req(req, UHW_LOG_INFO, "fail 404 rc=%d einval=%d", bad, errno == EINVAL);
        uhw_fail(req, 0, NULL, -1, 11, 4242, "killed by SIGSEGV");
    } else if (strcmp(p, "/fail-stream") == 0) {
        uhw_stream_start(req, 200, NULL, 0);
        uhw_fail(req, 504, "timeout", -1, 9, 7, NULL);
    } else if (strcmp(p, "/gate") == 0) {
        /* Output is gathered until the turn ends; uhw_flush sends it before we block. */
        uhw_stream_start(req, 200, NULL, 0);
        uhw_stream_write(req, "before", 6);
        uhw_flush();
        wait_gate();
        uhw_stream_end(req, NULL);
    } else if (strcmp(p, "/keepalive-gate") == 0) {
        uhw_keepalive(req); /* goes out at once, without uhw_flush */
        wait_gate();
        uhw_respond_text(req, 200, NULL, "after\n");
    } else if (strcmp(p, "/big") == 0) {
        /* More than the output buffer holds, then block: the data must already be out. */
        static uint8_t chunk[BIG_CHUNK];
        uhw_stream_start(req, 200, NULL, 0);
        for (size_t k = 0; k < BIG_CHUNKS; ++k) {
            for (size_t i = 0; i < BIG_CHUNK; ++i)
                chunk[i] = big_byte(k, i);
            uhw_stream_write(req, chunk, BIG_CHUNK);
        }
        wait_gate();
        uhw_log_req(req, UHW_LOG_INFO, "big done");
        uhw_stream_end(req, NULL);
    } else if (strcmp(p, "/exit") == 0) {
        uhw_respond_text(req, 200, NULL, "bye\n"); /* gathered: exit() must still send it */
        exit(7);
    } else if (strcmp(p, "/fork") == 0) {
        uhw_respond_text(req, 200, NULL, "parent\n"); /* pending while the child exits */
        pid_t pid = fork();
        if (pid == 0)
            exit(0); /* inherited a copy of the pending output: must not write it */
        if (pid > 0)
            waitpid(pid, NULL, 0);
    } else if (strcmp(p, "/headers") == 0) {
        /* Every request header back as a response header "X-<name>" (more than libuhw keeps
         * inline), and the body back as the body. */
        uhw_header_t h[32];
        static char names[32][64];
        size_t n = req->nheaders < 32 ? req->nheaders : 32;
        for (size_t i = 0; i < n; ++i) {
            snprintf(names[i], sizeof(names[i]), "X-%s", req->headers[i].name);
            h[i] = (uhw_header_t){names[i], req->headers[i].value, req->headers[i].value_len};
        }
        uhw_respond(req, 200, h, n, req->body, req->body_len);
    } else if (strcmp(p, "/setting") == 0) {
        const char *v = uhw_setting("k");
        uhw_respond_text(req, 200, NULL, v != NULL ? v : "(null)");
    } else if (strcmp(p, "/info") == 0) {
        char buf[64];
        const char *q = uhw_query_param(req, "x", buf, sizeof(buf));
        const char *h = uhw_header_get(req, "X-Thing");
        uhw_log_req(req, UHW_LOG_INFO, "x=%s h=%s body=%zu remote=%s:%u scheme=%s version=%s pool=%s timeout=%u",
                    q != NULL ? q : "-", h != NULL ? h : "-", req->body_len, req->remote_addr, req->remote_port,
                    req->scheme, req->http_version, req->pool, req->timeout_ms);
        uhw_respond(req, 200, NULL, 0, req->body, req->body_len);
    } else {
        uhw_respond_text(req, 404, NULL, "no\n");
    }
}

static void on_cancel(uhw_req_t *req, int reason, void *ctx)
{
    (void)ctx;
    int w = uhw_stream_write(req, "x", 1);
    int e = errno;
    int k = uhw_keepalive(req);
    uhw_log_req(req, UHW_LOG_WARNING, "cancel reason=%d cancelled=%d write=%d,%d ecanceled=%d", reason,
                uhw_cancelled(req), w, k, e == ECANCELED);
    uhw_respond_text(req, 200, NULL, "never seen");
}

static void on_configure(const uhw_setting_t *s, size_t n, void *ctx)
{
    (void)ctx;
    uhw_log(UHW_LOG_INFO, "configure n=%zu %s=%s", n, n != 0 ? s[0].key : "-", n != 0 ? s[0].value : "-");
}

static void on_shutdown(unsigned grace_ms, void *ctx)
{
    (void)ctx;
    uhw_log(UHW_LOG_INFO, "shutdown grace=%u stopping=%d", grace_ms, uhw_stopping());
}

/* ---------------------------------------------------------------- the supervisor (test side) */

typedef struct child {
    pid_t pid;
    int to;   /* the worker's stdin */
    int from; /* the worker's stdout */
    int err;  /* the worker's stderr (non-blocking), read by wait_exit into `log` */
    char log[4096];
    size_t nlog;
} child_t;

/* A worker on pipes; out_flags O_DIRECT makes its stdout a packet pipe (one read = one write). */
static child_t spawn_with(int out_flags)
{
    int in[2], out[2], err[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe2(out, out_flags), 0);
    assert_int_equal(pipe2(err, O_NONBLOCK), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* libuhw's own complaints go to stderr: captured, so the test can check them and the
         * test run shows no stray "uhw: protocol error" lines. */
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        uhw_options_t o = {.concurrency = 4, .info = "test", .on_cancel = on_cancel,
                           .on_configure = on_configure, .on_shutdown = on_shutdown};
        int rc = uhw_run_opts(&o, handler, NULL);
        exit(rc == 0 ? 0 : 3);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    return (child_t){.pid = pid, .to = in[1], .from = out[0], .err = err[0]};
}

static child_t spawn(void)
{
    return spawn_with(0);
}

/* The next frame from the worker (fails the test after 5 s). */
static Uhw__V1__FromWorker *next(child_t *c)
{
    struct pollfd pfd = {.fd = c->from, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    frame_buf_t b;
    frame_buf_init(&b);
    assert_int_equal(frame_read_fd(c->from, &b, FRAME_DEFAULT_MAX), FRAME_OK);
    Uhw__V1__FromWorker *m = uhw__v1__from_worker__unpack(NULL, frame_buf_size(&b), frame_buf_bytes(&b));
    frame_buf_free(&b);
    assert_non_null(m);
    return m;
}

static Uhw__V1__FromWorker *next_of(child_t *c, Uhw__V1__FromWorker__MsgCase kind, uint64_t id)
{
    Uhw__V1__FromWorker *m = next(c);
    if (m->msg_case != kind)
        fail_msg("expected frame kind %d, got %d", (int)kind, (int)m->msg_case);
    uint64_t got = kind == UHW__V1__FROM_WORKER__MSG_RESPONSE       ? m->response->id
                   : kind == UHW__V1__FROM_WORKER__MSG_STREAM_START ? m->stream_start->id
                   : kind == UHW__V1__FROM_WORKER__MSG_STREAM_DATA  ? m->stream_data->id
                   : kind == UHW__V1__FROM_WORKER__MSG_STREAM_END   ? m->stream_end->id
                   : kind == UHW__V1__FROM_WORKER__MSG_LOG          ? m->log->id
                   : kind == UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED ? m->request_failed->id
                                                                    : id;
    assert_int_equal(got, id);
    return m;
}

static void expect_log(child_t *c, uint64_t id, const char *text)
{
    Uhw__V1__FromWorker *m = next_of(c, UHW__V1__FROM_WORKER__MSG_LOG, id);
    assert_string_equal(m->log->message, text);
    uhw__v1__from_worker__free_unpacked(m, NULL);
}

static void expect_data(child_t *c, uint64_t id, const char *text)
{
    Uhw__V1__FromWorker *m = next_of(c, UHW__V1__FROM_WORKER__MSG_STREAM_DATA, id);
    assert_int_equal(m->stream_data->data.len, strlen(text));
    assert_memory_equal(m->stream_data->data.data, text, strlen(text));
    uhw__v1__from_worker__free_unpacked(m, NULL);
}

static void expect_response(child_t *c, uint64_t id, unsigned status, const char *body)
{
    Uhw__V1__FromWorker *m = next_of(c, UHW__V1__FROM_WORKER__MSG_RESPONSE, id);
    assert_int_equal(m->response->status, status);
    if (body != NULL) {
        assert_int_equal(m->response->body.len, strlen(body));
        assert_memory_equal(m->response->body.data, body, strlen(body));
    }
    uhw__v1__from_worker__free_unpacked(m, NULL);
}

static void expect_end(child_t *c, uint64_t id, const char *error)
{
    Uhw__V1__FromWorker *m = next_of(c, UHW__V1__FROM_WORKER__MSG_STREAM_END, id);
    assert_string_equal(m->stream_end->error, error);
    uhw__v1__from_worker__free_unpacked(m, NULL);
}

static void send_msg(child_t *c, Uhw__V1__ToWorker *m)
{
    assert_int_equal(frame_write_fd(c->to, &m->base), 0);
}

static void send_request_full(child_t *c, uint64_t id, const char *path, const char *query, Uhw__V1__Header **hs,
                              size_t nh, const char *body)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Request r = UHW__V1__REQUEST__INIT;
    r.id = id;
    r.method = "GET";
    r.path = (char *)path;
    r.query = (char *)query;
    r.headers = hs;
    r.n_headers = nh;
    r.body.data = (uint8_t *)body;
    r.body.len = body != NULL ? strlen(body) : 0;
    r.remote_addr = "10.0.0.1";
    r.remote_port = 4321;
    r.scheme = "https";
    r.http_version = "HTTP/2";
    r.pool = "api";
    r.timeout_ms = 30000;
    m.msg_case = UHW__V1__TO_WORKER__MSG_REQUEST;
    m.request = &r;
    send_msg(c, &m);
}

static void send_request(child_t *c, uint64_t id, const char *path)
{
    send_request_full(c, id, path, "", NULL, 0, NULL);
}

static void send_cancel(child_t *c, uint64_t id, Uhw__V1__Cancel__Reason reason)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Cancel x = UHW__V1__CANCEL__INIT;
    x.id = id;
    x.reason = reason;
    m.msg_case = UHW__V1__TO_WORKER__MSG_CANCEL;
    m.cancel = &x;
    send_msg(c, &m);
}

/* Appends what the worker wrote to stderr so far to c->log (kept NUL-terminated; the
 * rest is dropped once it is full, so a chatty worker cannot block on a full pipe). */
static void drain_stderr(child_t *c)
{
    char buf[1024];
    ssize_t n;
    while ((n = read(c->err, buf, sizeof(buf))) > 0) {
        size_t room = sizeof(c->log) - 1 - c->nlog, take = (size_t)n < room ? (size_t)n : room;
        memcpy(c->log + c->nlog, buf, take);
        c->nlog += take;
    }
    c->log[c->nlog] = '\0';
}

/* Waits (up to 5 s) for the worker to exit; returns its exit code (or 128 + signal).
 * Its stderr is in c->log then. */
static int wait_exit(child_t *c)
{
    int st = 0;
    for (int i = 0; i < 500; ++i) {
        drain_stderr(c);
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid) {
            drain_stderr(c); /* the writer is gone: everything it wrote is in the pipe */
            close(c->to);
            close(c->from);
            close(c->err);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    fail_msg("worker did not exit");
    return -1;
}

/* The worker exits with `code`, having written `stderr_text` to stderr (a substring), or
 * nothing at all when it is NULL. */
static void expect_exit(child_t *c, int code, const char *stderr_text)
{
    assert_int_equal(wait_exit(c), code);
    if (stderr_text == NULL) {
        assert_string_equal(c->log, "");
    } else if (strstr(c->log, stderr_text) == NULL) {
        fail_msg("expected \"%s\" on the worker's stderr, got \"%s\"", stderr_text, c->log);
    }
}

static child_t start(void)
{
    child_t c = spawn();
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_READY, 0);
    assert_int_equal(m->ready->protocol, 1);
    assert_int_equal(m->ready->concurrency, 4);
    assert_string_equal(m->ready->info, "test");
    uhw__v1__from_worker__free_unpacked(m, NULL);
    return c;
}

static void close_stdin(child_t *c)
{
    close(c->to);
    c->to = open("/dev/null", O_WRONLY); /* keeps wait_exit's close harmless */
}

/* ---------------------------------------------------------------- tests */

static void test_ready_respond_eof(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 42, "/hello");
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_RESPONSE, 42);
    assert_int_equal(m->response->status, 200);
    assert_int_equal(m->response->body.len, 2);
    assert_memory_equal(m->response->body.data, "hi", 2);
    assert_int_equal(m->response->n_headers, 2);
    assert_string_equal(m->response->headers[0]->name, "Content-Type");
    assert_memory_equal(m->response->headers[0]->value.data, "text/plain", 10);
    assert_string_equal(m->response->headers[1]->name, "X-T");
    uhw__v1__from_worker__free_unpacked(m, NULL);
    send_request(&c, 43, "/nope");
    expect_response(&c, 43, 404, "no\n");
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

static void test_request_fields(void **state)
{
    (void)state;
    child_t c = start();
    Uhw__V1__Header h1 = UHW__V1__HEADER__INIT, h2 = UHW__V1__HEADER__INIT;
    h1.name = "accept";
    h1.value.data = (uint8_t *)"*/*";
    h1.value.len = 3;
    h2.name = "x-thing";
    h2.value.data = (uint8_t *)"v a l";
    h2.value.len = 5;
    Uhw__V1__Header *hs[] = {&h1, &h2};
    send_request_full(&c, 5, "/info", "y=1&x=a%20b+c%2", hs, 2, "the body");
    expect_log(&c, 5,
               "x=a b c%2 h=v a l body=8 remote=10.0.0.1:4321 scheme=https version=HTTP/2 pool=api timeout=30000");
    expect_response(&c, 5, 200, "the body");
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

static void test_cancel_deferred(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 7, "/defer");
    send_request(&c, 8, "/hello"); /* the loop goes on while 7 is open */
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_RESPONSE, 8);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    send_cancel(&c, 999, UHW__V1__CANCEL__REASON__CLIENT_GONE); /* unknown: ignored */
    send_cancel(&c, 7, UHW__V1__CANCEL__REASON__TIMEOUT);
    expect_log(&c, 7, "cancel reason=1 cancelled=1 write=-1,-1 ecanceled=1");
    /* The final frame is still sent (it frees the slot), without the body. */
    m = next_of(&c, UHW__V1__FROM_WORKER__MSG_RESPONSE, 7);
    assert_int_equal(m->response->body.len, 0);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    send_cancel(&c, 7, UHW__V1__CANCEL__REASON__TIMEOUT); /* finished: ignored */
    send_request(&c, 9, "/hello");
    m = next_of(&c, UHW__V1__FROM_WORKER__MSG_RESPONSE, 9);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

static void test_sse_framing(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 3, "/sse");
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_STREAM_START, 3);
    assert_int_equal(m->stream_start->status, 200);
    assert_true(m->stream_start->n_headers >= 1);
    assert_string_equal(m->stream_start->headers[0]->name, "Content-Type");
    assert_int_equal(m->stream_start->headers[0]->value.len, 17);
    assert_memory_equal(m->stream_start->headers[0]->value.data, "text/event-stream", 17);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    expect_data(&c, 3, "event: up\nid: 5\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    expect_data(&c, 3, "retry: 1500\ndata: \n\n");
    expect_log(&c, 3, "bad event rc=-1 einval=1");
    expect_end(&c, 3, "");
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

static void test_ndjson_and_abort(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 4, "/ndjson");
    expect_log(&c, 4, "newline rc=-1");
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_STREAM_START, 4);
    assert_memory_equal(m->stream_start->headers[0]->value.data, "application/x-ndjson", 20);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    expect_data(&c, 4, "{\"a\":1}\n");
    expect_data(&c, 4, "[2]\n");
    expect_end(&c, 4, "");
    send_request(&c, 5, "/abort");
    m = next_of(&c, UHW__V1__FROM_WORKER__MSG_STREAM_START, 5);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    expect_data(&c, 5, "part");
    expect_end(&c, 5, "backend failed");
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

/* uhw_fail: RequestFailed with every field, refused statuses, defaults, after a stream started. */
static void test_request_failed(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 21, "/fail");
    expect_log(&c, 21, "fail 404 rc=-1 einval=1");
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED, 21);
    const Uhw__V1__RequestFailed *f = m->request_failed;
    assert_int_equal(f->id, 21);
    assert_int_equal(f->status, 500);
    assert_string_equal(f->reason, "died");
    assert_int_equal(f->exit_code, -1);
    assert_int_equal(f->signal, 11);
    assert_int_equal(f->pid, 4242);
    assert_string_equal(f->detail, "killed by SIGSEGV");
    uhw__v1__from_worker__free_unpacked(m, NULL);
    send_request(&c, 22, "/fail-stream");
    m = next_of(&c, UHW__V1__FROM_WORKER__MSG_STREAM_START, 22);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    m = next_of(&c, UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED, 22);
    assert_int_equal(m->request_failed->status, 504);
    assert_string_equal(m->request_failed->reason, "timeout");
    assert_string_equal(m->request_failed->detail, "");
    uhw__v1__from_worker__free_unpacked(m, NULL);
    /* Both requests are finished: EOF ends the worker at once. */
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

static void test_refused_headers(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 6, "/badheader");
    expect_log(&c, 6, "rc=-1,-1,-1 einval=1");
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_RESPONSE, 6); /* and nothing before it */
    assert_int_equal(m->response->status, 200);
    assert_int_equal(m->response->n_headers, 1);
    assert_string_equal(m->response->headers[0]->name, "Content-Type");
    uhw__v1__from_worker__free_unpacked(m, NULL);
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

static void test_timers(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 10, "/timers");
    expect_log(&c, 0, "timer 0a");
    expect_log(&c, 0, "timer 0b");
    expect_log(&c, 0, "timer 10");
    expect_log(&c, 0, "timer 20");
    expect_log(&c, 0, "timer 30");
    expect_response(&c, 10, 200, "timers\n");
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

static void test_watch_fd(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 17, "/watch");
    send_request(&c, 18, "/hello"); /* answered while 17 waits on its pipe */
    expect_response(&c, 18, 200, "hi");
    expect_log(&c, 17, "readable=1");
    expect_response(&c, 17, 200, "piped");
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 0, NULL);
}

static void test_eof_waits_for_open_requests(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 11, "/later");
    close_stdin(&c); /* uhw_run must keep going until 11 is answered */
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_response(&c, 11, 201, "later\n");
    expect_exit(&c, 0, NULL);
}

static void test_eof_with_stranded_request(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 12, "/defer");
    close_stdin(&c); /* nothing can ever finish 12: uhw_run gives up with -1 */
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    expect_exit(&c, 3, "uhw: stdin closed with 1 request(s) open and nothing left to finish them\n");
}

static void test_shutdown_and_configure(void **state)
{
    (void)state;
    child_t c = start();
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Configure cf = UHW__V1__CONFIGURE__INIT;
    Uhw__V1__Setting s = UHW__V1__SETTING__INIT;
    s.key = "k";
    s.value = "v1";
    Uhw__V1__Setting *ss[] = {&s};
    cf.settings = ss;
    cf.n_settings = 1;
    m.msg_case = UHW__V1__TO_WORKER__MSG_CONFIGURE;
    m.configure = &cf;
    send_msg(&c, &m);
    expect_log(&c, 0, "configure n=1 k=v1");
    send_request(&c, 13, "/setting");
    expect_response(&c, 13, 200, "v1");
    s.value = "v2";
    send_msg(&c, &m);
    expect_log(&c, 0, "configure n=1 k=v2");
    send_request(&c, 14, "/setting");
    expect_response(&c, 14, 200, "v2");

    send_request(&c, 15, "/later");
    Uhw__V1__ToWorker sh = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Shutdown sd = UHW__V1__SHUTDOWN__INIT;
    sd.grace_ms = 500;
    sh.msg_case = UHW__V1__TO_WORKER__MSG_SHUTDOWN;
    sh.shutdown = &sd;
    send_msg(&c, &sh);
    expect_log(&c, 0, "shutdown grace=500 stopping=1");
    expect_response(&c, 15, 201, "later\n");
    /* stdin still open: Shutdown alone ends the loop once nothing is open. */
    expect_exit(&c, 0, NULL);
}

static void test_protocol_error(void **state)
{
    (void)state;
    child_t c = start();
    static const char junk[] = "\x05garbage, not a frame";
    assert_int_equal(write(c.to, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
    expect_exit(&c, 3, "uhw: protocol error: a frame from the supervisor does not decode\n");
}

static void test_supervisor_gone(void **state)
{
    (void)state;
    child_t c = start();
    close(c.from); /* nobody reads the worker's output any more */
    c.from = open("/dev/null", O_RDONLY);
    send_request(&c, 16, "/hello");
    expect_exit(&c, 0, NULL); /* EPIPE: quiet exit, not SIGPIPE */
}

/* Requests of every size, one after the other (each reuses the memory the last one gave
 * back): a big one spills out of the request's inline memory, a small one follows; every
 * header and body byte comes back as sent, with more response headers than fit inline. */
static void test_request_memory(void **state)
{
    (void)state;
    child_t c = start();
    static char bigval[10000], body[100000];
    memset(bigval, 'v', sizeof(bigval) - 1);
    for (size_t i = 0; i < sizeof(body) - 1; ++i)
        body[i] = (char)('a' + i % 26);
    for (int round = 0; round < 3; ++round) {
        size_t nh = round == 1 ? 2 : 12;
        Uhw__V1__Header hv[12], *hs[12];
        char names[12][16], vals[12][16];
        for (size_t i = 0; i < nh; ++i) {
            Uhw__V1__Header init = UHW__V1__HEADER__INIT;
            hv[i] = init;
            snprintf(names[i], sizeof(names[i]), "h%d-%zu", round, i);
            snprintf(vals[i], sizeof(vals[i]), "v%d.%zu", round, i);
            hv[i].name = names[i];
            hv[i].value.data = (uint8_t *)(i == 3 && round != 1 ? bigval : vals[i]);
            hv[i].value.len = strlen((const char *)hv[i].value.data);
            hs[i] = &hv[i];
        }
        uint64_t id = 60 + (uint64_t)round;
        send_request_full(&c, id, "/headers", "", hs, nh, round == 1 ? "small" : body);
        Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_RESPONSE, id);
        assert_int_equal(m->response->n_headers, nh);
        for (size_t i = 0; i < nh; ++i) {
            char want[32];
            snprintf(want, sizeof(want), "X-%s", names[i]);
            assert_string_equal(m->response->headers[i]->name, want);
            assert_int_equal(m->response->headers[i]->value.len, hv[i].value.len);
            assert_memory_equal(m->response->headers[i]->value.data, hv[i].value.data, hv[i].value.len);
        }
        const char *want_body = round == 1 ? "small" : body;
        assert_int_equal(m->response->body.len, strlen(want_body));
        assert_memory_equal(m->response->body.data, want_body, strlen(want_body));
        uhw__v1__from_worker__free_unpacked(m, NULL);
    }
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    assert_int_equal(wait_exit(&c), 0);
}

/* ---------------------------------------------------------------- batching */

/* Like spawn(), but the worker's stdout is a packet-mode pipe (O_DIRECT): each write(2) of
 * up to PIPE_BUF bytes is one packet, and one read returns one packet, so the test sees
 * how many writes the worker made. */
static child_t spawn_packet(void)
{
    return spawn_with(O_DIRECT);
}

/* The frames of the worker's next write (one packet), unpacked into m[] (at most max);
 * returns how many. Fails on a partial frame: a write holds whole frames. */
static size_t next_write(child_t *c, Uhw__V1__FromWorker **m, size_t max)
{
    struct pollfd pfd = {.fd = c->from, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    static uint8_t buf[65536];
    ssize_t n = read(c->from, buf, sizeof(buf));
    assert_true(n > 0);
    assert_true(n < 4096); /* PIPE_BUF: larger writes would be split into several packets */
    size_t k = 0, off = 0;
    while (off < (size_t)n) {
        size_t hdr, len;
        assert_int_equal(frame_parse(buf + off, (size_t)n - off, FRAME_DEFAULT_MAX, &hdr, &len), FRAME_OK);
        assert_true(k < max);
        m[k] = uhw__v1__from_worker__unpack(NULL, len, buf + off + hdr);
        assert_non_null(m[k]);
        ++k;
        off += hdr + len;
    }
    return k;
}

/* The frame kinds and ids of m[0..n) as text, "response:100 log:101 ...", to compare whole. */
static void describe(Uhw__V1__FromWorker **m, size_t n, char *out, size_t outsz)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; ++i) {
        const char *kind = "?";
        uint64_t id = 0;
        switch (m[i]->msg_case) {
        case UHW__V1__FROM_WORKER__MSG_READY: kind = "ready"; break;
        case UHW__V1__FROM_WORKER__MSG_RESPONSE: kind = "response"; id = m[i]->response->id; break;
        case UHW__V1__FROM_WORKER__MSG_STREAM_START: kind = "start"; id = m[i]->stream_start->id; break;
        case UHW__V1__FROM_WORKER__MSG_STREAM_DATA: kind = "data"; id = m[i]->stream_data->id; break;
        case UHW__V1__FROM_WORKER__MSG_STREAM_END: kind = "end"; id = m[i]->stream_end->id; break;
        case UHW__V1__FROM_WORKER__MSG_LOG: kind = "log"; id = m[i]->log->id; break;
        default: break;
        }
        len += (size_t)snprintf(out + len, outsz - len, "%s%s:%llu", i != 0 ? " " : "", kind, (unsigned long long)id);
        assert_true(len < outsz);
        uhw__v1__from_worker__free_unpacked(m[i], NULL);
    }
}

/* Appends a Request frame to b (several go to the worker in one write). */
static void add_request(frame_buf_t *b, uint64_t id, const char *path)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Request r = UHW__V1__REQUEST__INIT;
    r.id = id;
    r.method = "GET";
    r.path = (char *)path;
    m.msg_case = UHW__V1__TO_WORKER__MSG_REQUEST;
    m.request = &r;
    assert_int_equal(frame_append(b, &m.base), 0);
}

/* Several requests (and a Cancel) in one write to the worker: all are handled in that
 * turn, and everything they produce comes back in one write, in the order produced. */
static void test_batch_one_read_one_write(void **state)
{
    (void)state;
    child_t c = spawn_packet();
    Uhw__V1__FromWorker *m[32];
    char got[1024];
    describe(m, next_write(&c, m, 32), got, sizeof(got));
    assert_string_equal(got, "ready:0");

    frame_buf_t b;
    frame_buf_init(&b);
    add_request(&b, 100, "/hello");
    add_request(&b, 101, "/sse");
    Uhw__V1__ToWorker x = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Cancel cancel = UHW__V1__CANCEL__INIT;
    cancel.id = 999; /* unknown: ignored, but the frames after it are still handled */
    x.msg_case = UHW__V1__TO_WORKER__MSG_CANCEL;
    x.cancel = &cancel;
    assert_int_equal(frame_append(&b, &x.base), 0);
    add_request(&b, 102, "/nope");
    add_request(&b, 103, "/hello");
    assert_true(frame_buf_size(&b) < 4096); /* one atomic write: the worker reads it whole */
    assert_int_equal(write(c.to, frame_buf_bytes(&b), frame_buf_size(&b)), (ssize_t)frame_buf_size(&b));
    frame_buf_free(&b);

    describe(m, next_write(&c, m, 32), got, sizeof(got));
    assert_string_equal(got, "response:100 start:101 data:101 data:101 log:101 end:101 response:102 response:103");

    close_stdin(&c);
    describe(m, next_write(&c, m, 32), got, sizeof(got));
    assert_string_equal(got, "log:0"); /* shutdown, in a turn of its own */
    assert_int_equal(wait_exit(&c), 0);
}

/* The frames of one request arrive one by one in another's: a stream larger than the output
 * buffer goes out whole, in order, while its handler is still running (bounded buffer). */
static void test_stream_larger_than_buffer(void **state)
{
    (void)state;
    assert_int_equal(pipe(gate), 0);
    child_t c = start();
    frame_buf_t b;
    frame_buf_init(&b);
    add_request(&b, 30, "/hello");
    add_request(&b, 31, "/big");
    add_request(&b, 32, "/hello");
    assert_int_equal(write(c.to, frame_buf_bytes(&b), frame_buf_size(&b)), (ssize_t)frame_buf_size(&b));
    frame_buf_free(&b);

    expect_response(&c, 30, 200, "hi");
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_STREAM_START, 31);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    for (size_t k = 0; k < BIG_CHUNKS; ++k) {
        m = next_of(&c, UHW__V1__FROM_WORKER__MSG_STREAM_DATA, 31); /* the handler is blocked on the gate */
        assert_int_equal(m->stream_data->data.len, BIG_CHUNK);
        for (size_t i = 0; i < BIG_CHUNK; ++i)
            if (m->stream_data->data.data[i] != big_byte(k, i))
                fail_msg("chunk %zu byte %zu: %u, expected %u", k, i, m->stream_data->data.data[i], big_byte(k, i));
        uhw__v1__from_worker__free_unpacked(m, NULL);
    }
    assert_int_equal(write(gate[1], "g", 1), 1);
    expect_log(&c, 31, "big done");
    expect_end(&c, 31, "");
    expect_response(&c, 32, 200, "hi");
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    assert_int_equal(wait_exit(&c), 0);
    close(gate[0]);
    close(gate[1]);
}

/* uhw_flush and uhw_keepalive send at once what a callback produced before it blocks. */
static void test_flush_and_keepalive_before_blocking(void **state)
{
    (void)state;
    assert_int_equal(pipe(gate), 0);
    child_t c = start();
    send_request(&c, 40, "/gate");
    Uhw__V1__FromWorker *m = next_of(&c, UHW__V1__FROM_WORKER__MSG_STREAM_START, 40);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    expect_data(&c, 40, "before"); /* while the handler waits for the gate */
    assert_int_equal(write(gate[1], "g", 1), 1);
    expect_end(&c, 40, "");
    send_request(&c, 41, "/keepalive-gate");
    m = next_of(&c, UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE, 41);
    assert_int_equal(m->keep_alive->id, 41);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    assert_int_equal(write(gate[1], "g", 1), 1);
    expect_response(&c, 41, 200, "after\n");
    close_stdin(&c);
    expect_log(&c, 0, "shutdown grace=0 stopping=1");
    assert_int_equal(wait_exit(&c), 0);
    close(gate[0]);
    close(gate[1]);
}

/* A handler that answers and then calls exit(): the gathered answer still goes out. A child
 * it forks and that exits does not send the parent's pending output a second time. */
static void test_pending_output_at_exit(void **state)
{
    (void)state;
    child_t c = start();
    send_request(&c, 50, "/fork");
    expect_response(&c, 50, 200, "parent\n");
    send_request(&c, 51, "/hello"); /* the next frame is 51's, not a second copy of 50's */
    expect_response(&c, 51, 200, "hi");
    send_request(&c, 52, "/exit");
    expect_response(&c, 52, 200, "bye\n");
    assert_int_equal(wait_exit(&c), 7);
}

/* ---------------------------------------------------------------- in-process */

static void test_query_param(void **state)
{
    (void)state;
    uhw_req_t r = {.query = "a=1&b=x+y%21&empty=&flag&a=2&enc%5Fkey=k&long=0123456789"};
    char buf[8];
    assert_string_equal(uhw_query_param(&r, "a", buf, sizeof(buf)), "1");
    assert_string_equal(uhw_query_param(&r, "b", buf, sizeof(buf)), "x y!");
    assert_string_equal(uhw_query_param(&r, "empty", buf, sizeof(buf)), "");
    assert_string_equal(uhw_query_param(&r, "flag", buf, sizeof(buf)), "");
    assert_string_equal(uhw_query_param(&r, "enc_key", buf, sizeof(buf)), "k");
    errno = 0;
    assert_null(uhw_query_param(&r, "missing", buf, sizeof(buf)));
    assert_int_equal(errno, ENOENT);
    assert_null(uhw_query_param(&r, "long", buf, sizeof(buf)));
    assert_int_equal(errno, ERANGE);
    assert_null(uhw_query_param(&r, "fla", buf, sizeof(buf)));
    uhw_req_t empty = {.query = ""};
    assert_null(uhw_query_param(&empty, "a", buf, sizeof(buf)));
}

static void test_header_get(void **state)
{
    (void)state;
    uhw_header_t hs[] = {{"content-type", (const uint8_t *)"text/plain", 10},
                         {"x-a", (const uint8_t *)"1", 1},
                         {"x-a", (const uint8_t *)"2", 1}};
    uhw_req_t r = {.headers = hs, .nheaders = 3};
    assert_string_equal(uhw_header_get(&r, "Content-Type"), "text/plain");
    assert_string_equal(uhw_header_get(&r, "X-A"), "1");
    assert_null(uhw_header_get(&r, "x-b"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_respond_eof),
        cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_cancel_deferred),
        cmocka_unit_test(test_sse_framing),
        cmocka_unit_test(test_ndjson_and_abort),
        cmocka_unit_test(test_refused_headers),
        cmocka_unit_test(test_request_failed),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_watch_fd),
        cmocka_unit_test(test_eof_waits_for_open_requests),
        cmocka_unit_test(test_eof_with_stranded_request),
        cmocka_unit_test(test_shutdown_and_configure),
        cmocka_unit_test(test_protocol_error),
        cmocka_unit_test(test_supervisor_gone),
        cmocka_unit_test(test_request_memory),
        cmocka_unit_test(test_batch_one_read_one_write),
        cmocka_unit_test(test_stream_larger_than_buffer),
        cmocka_unit_test(test_flush_and_keepalive_before_blocking),
        cmocka_unit_test(test_pending_output_at_exit),
        cmocka_unit_test(test_query_param),
        cmocka_unit_test(test_header_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
