/*
 * worker.c — one worker process; see worker.h.
 *
 * The lifecycle is one table, actions[state][event], as in s6-supervise: every
 * transition is a row below, every action a small function. "-" ignores the event.
 *
 *   state        READY       DEADLINE      RETIRE   STOP    TERMINATE  FAULT   STDOUT_EOF  REAPED
 *   STARTING     ready       ready_timeout stop     stop    terminate  fault   eof         reaped
 *   READY        twice       stuck?        retire   stop    terminate  fault   eof         reaped
 *   RETIRING     twice       stuck?        -        stop    terminate  fault   eof         reaped
 *   DRAINING     -           sigterm       -        -       terminate  fault   eof         reaped
 *   CLOSING      -           fault         -        -       -          fault   -           reaped
 *   TERMINATING  -           sigkill       -        -       -          fault   -           reaped
 *   KILLED       -           -             -        -       -          -       -           reaped
 *   EXITED       -           -             -        -       -          late    -           -
 *
 * Frames are read in one place (process_input) and never from inside a callback of the
 * layers above: when the dispatch layer lets a held-back worker go (worker_unhold), reading
 * resumes on the next turn of the loop. Writes to stdin are batched: frames queued during
 * one turn of the loop go out in one write at the start of the next.
 *
 * A request whose Request frame the worker never read from its stdin pipe is not lost with
 * the worker: the pipe still holds it when the worker dies (FIONREAD on our end says how
 * much), so on_lost tells the dispatch layer where the worker stopped reading.
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <h2o/memory.h>

#include "log.h"

#define CLOSING_GRACE_MS 500    /* stdout ended: how long to wait for the exit before calling it a fault */
#define STDERR_LINE_MAX 4096    /* longer lines are logged in pieces */
#define TAIL_LINES 200          /* stderr lines kept for `uhw tail` and start-up failures... */
#define TAIL_BYTES (64 << 10)   /* ... within this many bytes */
#define STARTUP_TAIL 10         /* lines shown when start-up fails */
#define LOG_RATE 200            /* log lines per second a worker may send (stderr and Log frames) */
#define LOG_BURST 400

typedef enum worker_event {
    WE_READY,      /* a Ready frame */
    WE_DEADLINE,   /* the state's deadline passed */
    WE_RETIRE,     /* owner: replaced, serve until the successor is Ready */
    WE_STOP,       /* owner: graceful stop */
    WE_TERMINATE,  /* owner: stop without grace */
    WE_FAULT,      /* uhw found it broken: kill it */
    WE_STDOUT_EOF, /* its stdout ended */
    WE_REAPED,     /* its process ended */
    WE_COUNT
} worker_event_t;

typedef struct wevent {
    worker_event_t kind;
    const Uhw__V1__Ready *ready; /* WE_READY */
    const char *reason;          /* WE_FAULT: "stuck", "protocol", "ready_timeout", "stdout_closed" */
    const char *detail;          /* WE_FAULT */
    int http_status;             /* WE_FAULT: what its requests get (500, or 502 after a protocol error) */
    uint64_t kill_after_ms;      /* WE_TERMINATE */
    int status;                  /* WE_REAPED: wait status */
} wevent_t;

typedef enum stdin_state { STDIN_OPEN, STDIN_CLOSE_AFTER_FLUSH, STDIN_CLOSED } stdin_state_t;

struct worker {
    worker_state_t state;
    const worker_events_t *ev;
    void *owner;
    const worker_io_ops_t *io_ops;
    void *io;                      /* the port's handle; NULL once closed */
    timers_t *timers;
    worker_params_t params;
    pid_t pid;
    unsigned slot;
    char who[80];                  /* "api#2 pid=123" */
    char command[128];             /* the program, for "cannot start" */
    char *dir;                     /* its private directory, or NULL */
    char info[128];                /* Ready.info */
    /* stdout */
    frame_buf_t rbuf;              /* bytes read, not parsed yet */
    int parsing;                   /* inside process_input (a guard: it must never nest) */
    unsigned held;                 /* worker_hold count: no reading while > 0 */
    utimer_t resume_timer;         /* reading resumes on the next loop turn */
    /* stdin */
    frame_buf_t wbuf;              /* frames not written yet */
    stdin_state_t stdin_state;
    uint64_t stdin_written;        /* bytes written to the pipe so far */
    uint64_t stdin_queued;         /* bytes written or waiting in wbuf */
    utimer_t flush_timer;
    /* stderr */
    frame_buf_t ebuf;              /* an unfinished line */
    char *tail[TAIL_LINES];        /* line n (counting from 0) is tail[n % TAIL_LINES] */
    uint64_t tail_seq;             /* lines written so far */
    uint64_t tail_first;           /* the oldest line still kept */
    size_t tail_bytes;
    double log_tokens;             /* rate limit of its log lines */
    uint64_t log_refill_at;
    uint64_t log_dropped;
    /* requests */
    unsigned ninflight;
    unsigned concurrency;          /* min(pool cap, Ready) */
    unsigned capacity;             /* latest Capacity (starts at concurrency); 0 = paused */
    uint64_t assigned, answered;
    h2o_linklist_t requests;       /* the dispatch layer's list */
    h2o_linklist_t owner_link;     /* the owner's list */
    /* time */
    uint64_t spawned_mono, spawned_wall, ready_mono, last_activity;
    utimer_t deadline;
    /* what happened, for the exit's classification */
    int stop_asked;                /* STOP or TERMINATE was asked: its exit is planned */
    const char *fault;             /* set when killed for a fault */
    int fault_status;              /* 500, or 502 for protocol errors */
    char fault_detail[400];
    int lost;                      /* on_lost was called */
    unsigned victims;              /* what on_lost reported */
    char exec_error[160];          /* set when exec failed */
};

typedef void action_fn(worker_t *w, const wevent_t *e);
static void step(worker_t *w, const wevent_t *e);
static void process_input(worker_t *w, int draining);
static void arm_deadline(worker_t *w, uint64_t at);
static void settle(worker_t *w, int status, const exit_info_t *ei);

const char *worker_state_name(worker_state_t s)
{
    static const char *const names[] = {"starting", "ready",  "retiring", "draining",
                                        "closing",  "terminating", "killed", "exited"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static uint64_t now(const worker_t *w)
{
    return timers_now(w->timers);
}

static void send_signal(worker_t *w, int sig)
{
    if (w->io != NULL)
        w->io_ops->signal(w->io, sig);
}

/* ---------------------------------------------------------------- writing stdin */

static void flush_stdin(worker_t *w)
{
    while (w->stdin_state != STDIN_CLOSED && frame_buf_size(&w->wbuf) != 0 && w->io != NULL) {
        ssize_t n = w->io_ops->write(w->io, frame_buf_bytes(&w->wbuf), frame_buf_size(&w->wbuf));
        if (n > 0) {
            frame_buf_consume(&w->wbuf, (size_t)n);
            w->stdin_written += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            w->io_ops->want_write(w->io);
            return;
        }
        /* It cannot take more (it died, or stdin is broken): its exit or its stdout settles the
         * rest. The bytes stay unwritten, so its requests count as unread. */
        log_msg(LOG_DEBUG, w->who, "stdin closed: %s", n < 0 ? strerror(errno) : "short write");
        frame_buf_reset(&w->wbuf);
        w->stdin_state = STDIN_CLOSED;
        return;
    }
    if (w->stdin_state == STDIN_CLOSE_AFTER_FLUSH && frame_buf_size(&w->wbuf) == 0) {
        w->stdin_state = STDIN_CLOSED; /* EOF on stdin: "finish and exit" */
        if (w->io != NULL)
            w->io_ops->close_stdin(w->io);
    }
}

static void on_flush_timer(utimer_t *t)
{
    flush_stdin(H2O_STRUCT_FROM_MEMBER(worker_t, flush_timer, t));
}

void worker_io_writable(worker_t *w)
{
    flush_stdin(w);
}

uint64_t worker_send(worker_t *w, const ProtobufCMessage *msg)
{
    if (w->stdin_state != STDIN_OPEN)
        return UINT64_MAX;
    size_t before = frame_buf_size(&w->wbuf);
    if (frame_append(&w->wbuf, msg) != 0)
        abort();
    uint64_t at = w->stdin_queued;
    w->stdin_queued += frame_buf_size(&w->wbuf) - before;
    timers_defer(w->timers, &w->flush_timer);
    return at;
}

/* Closes stdin once what is queued is written (a Shutdown frame, typically). */
static void close_stdin_after_flush(worker_t *w)
{
    if (w->stdin_state == STDIN_OPEN)
        w->stdin_state = STDIN_CLOSE_AFTER_FLUSH;
    flush_stdin(w);
}

static void close_stdin_now(worker_t *w)
{
    frame_buf_reset(&w->wbuf);
    if (w->stdin_state != STDIN_CLOSED && w->io != NULL)
        w->io_ops->close_stdin(w->io);
    w->stdin_state = STDIN_CLOSED;
}

/* Where the worker stopped reading its stdin: everything queued after this offset is unread. */
static uint64_t stdin_consumed(const worker_t *w)
{
    uint64_t unread = w->io != NULL ? w->io_ops->stdin_unread(w->io) : 0;
    return unread <= w->stdin_written ? w->stdin_written - unread : 0;
}

void worker_configure(worker_t *w, const Uhw__V1__Setting *const *settings, size_t n)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Configure conf = UHW__V1__CONFIGURE__INIT;
    conf.n_settings = n; /* may be 0: an empty Configure clears what the worker had */
    conf.settings = (Uhw__V1__Setting **)settings;
    m.msg_case = UHW__V1__TO_WORKER__MSG_CONFIGURE;
    m.configure = &conf;
    worker_send(w, &m.base);
}

static void send_shutdown(worker_t *w)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Shutdown sd = UHW__V1__SHUTDOWN__INIT;
    uint64_t g = w->params.graceful_timeout_ms;
    sd.grace_ms = g > UINT32_MAX ? UINT32_MAX : (uint32_t)g;
    m.msg_case = UHW__V1__TO_WORKER__MSG_SHUTDOWN;
    m.shutdown = &sd;
    worker_send(w, &m.base);
}

/* ---------------------------------------------------------------- logging its lines */

/* Whether one more line of this worker may be logged now (a token bucket). Lines over the
 * rate are counted and the count is logged once the worker is below the rate again. */
static int log_allowed(worker_t *w)
{
    uint64_t t = now(w);
    if (t > w->log_refill_at) {
        w->log_tokens += (double)(t - w->log_refill_at) * LOG_RATE / 1000.0;
        if (w->log_tokens > LOG_BURST)
            w->log_tokens = LOG_BURST;
        w->log_refill_at = t;
    }
    if (w->log_tokens < 1) {
        ++w->log_dropped;
        return 0;
    }
    w->log_tokens -= 1;
    if (w->log_dropped != 0) {
        log_msg(LOG_WARNING, w->who, "%llu log line%s suppressed (over %d lines/s)", (unsigned long long)w->log_dropped,
                w->log_dropped == 1 ? "" : "s", LOG_RATE);
        w->log_dropped = 0;
    }
    return 1;
}

/* Keeps the line for `uhw tail`: the last TAIL_LINES lines, at most TAIL_BYTES of them. */
static void remember_line(worker_t *w, const char *line, size_t len)
{
    char *copy = strndup(line, len);
    if (copy == NULL)
        return;
    while (w->tail_first < w->tail_seq &&
           (w->tail_seq - w->tail_first >= TAIL_LINES || w->tail_bytes + len > TAIL_BYTES)) {
        char **old = &w->tail[w->tail_first++ % TAIL_LINES];
        w->tail_bytes -= strlen(*old);
        free(*old);
        *old = NULL;
    }
    w->tail[w->tail_seq++ % TAIL_LINES] = copy;
    w->tail_bytes += len;
}

uint64_t worker_tail(const worker_t *w, uint64_t after, void (*line)(void *arg, const char *text), void *arg)
{
    for (uint64_t n = after > w->tail_first ? after : w->tail_first; n < w->tail_seq; ++n)
        line(arg, w->tail[n % TAIL_LINES]);
    return w->tail_seq;
}

uint64_t worker_tail_seq(const worker_t *w)
{
    return w->tail_seq;
}

static void stderr_line(worker_t *w, const char *line, size_t len)
{
    if (len != 0 && line[len - 1] == '\r')
        --len;
    remember_line(w, line, len);
    if (log_allowed(w))
        log_raw(LOG_INFO, w->who, line, len);
}

/* Logs each complete line in ebuf; with `flush`, the unfinished one too. */
static void split_stderr(worker_t *w, int flush)
{
    for (;;) {
        const char *p = (const char *)frame_buf_bytes(&w->ebuf);
        size_t n = frame_buf_size(&w->ebuf);
        const char *nl = n != 0 ? memchr(p, '\n', n) : NULL;
        if (nl != NULL) {
            stderr_line(w, p, (size_t)(nl - p));
            frame_buf_consume(&w->ebuf, (size_t)(nl - p) + 1);
        } else if (n >= STDERR_LINE_MAX || (flush && n != 0)) {
            size_t k = n < STDERR_LINE_MAX ? n : STDERR_LINE_MAX;
            stderr_line(w, p, k);
            frame_buf_consume(&w->ebuf, k);
        } else {
            return;
        }
    }
}

void worker_io_stderr(worker_t *w, const char *p, size_t n)
{
    if (frame_buf_append(&w->ebuf, p, n) != 0)
        abort();
    split_stderr(w, 0);
}

void worker_io_stderr_eof(worker_t *w)
{
    split_stderr(w, 1);
}

char *worker_stderr_tail(const worker_t *w)
{
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    uint64_t from = w->tail_seq > STARTUP_TAIL ? w->tail_seq - STARTUP_TAIL : 0;
    for (uint64_t i = from > w->tail_first ? from : w->tail_first; i < w->tail_seq; ++i) {
        const char *line = w->tail[i % TAIL_LINES];
        size_t need = len + strlen(line) + 8;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *n = realloc(out, cap);
            if (n == NULL)
                break;
            out = n;
        }
        len += (size_t)snprintf(out + len, cap - len, "\n    %s", line);
    }
    return out;
}

void worker_io_exec_failed(worker_t *w, const char *why)
{
    snprintf(w->exec_error, sizeof(w->exec_error), "%s", why);
    log_msg(LOG_ERROR, w->who, "cannot start '%s': %s", w->command, why);
}

/* ---------------------------------------------------------------- reading stdout */

uint64_t worker_frame_id(const Uhw__V1__FromWorker *m)
{
    switch (m->msg_case) {
    case UHW__V1__FROM_WORKER__MSG_RESPONSE:
        return m->response->id;
    case UHW__V1__FROM_WORKER__MSG_STREAM_START:
        return m->stream_start->id;
    case UHW__V1__FROM_WORKER__MSG_STREAM_DATA:
        return m->stream_data->id;
    case UHW__V1__FROM_WORKER__MSG_STREAM_END:
        return m->stream_end->id;
    case UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE:
        return m->keep_alive->id;
    case UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED:
        return m->request_failed->id;
    default:
        return 0;
    }
}

static void fault(worker_t *w, int status, const char *reason, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fault(worker_t *w, int status, const char *reason, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    wevent_t e = {.kind = WE_FAULT, .reason = reason, .detail = detail, .http_status = status};
    step(w, &e);
}

static void bad_bytes(worker_t *w, const uint8_t *p, size_t n, const char *what)
{
    char ex[160];
    log_excerpt(ex, sizeof(ex), p, n, 40);
    fault(w, 502, "protocol", "%s: %s — write logs to stderr, not stdout", what, ex);
}

static void on_log_frame(worker_t *w, const Uhw__V1__Log *l)
{
    if (!log_allowed(w))
        return;
    log_level_t level = (unsigned)l->level <= LOG_CRITICAL ? (log_level_t)l->level : LOG_INFO;
    const char *msg = l->message != NULL ? l->message : "";
    if (l->id != 0)
        log_msg(level, w->who, "id=%llu %s", (unsigned long long)l->id, msg);
    else
        log_raw(level, w->who, msg, strlen(msg));
}

static void on_capacity_frame(worker_t *w, const Uhw__V1__Capacity *c)
{
    unsigned before = worker_free_capacity(w);
    w->capacity = c->concurrency < w->params.concurrency ? c->concurrency : w->params.concurrency;
    log_msg(LOG_DEBUG, w->who, "capacity %u", w->capacity);
    if (worker_free_capacity(w) > before)
        w->ev->on_capacity(w);
}

/* One decoded frame. Takes ownership of `m`. */
static void handle_frame(worker_t *w, Uhw__V1__FromWorker *m)
{
    char why[400] = "";
    worker_verdict_t v = WV_DONE;
    switch (m->msg_case) {
    case UHW__V1__FROM_WORKER__MSG_READY: {
        wevent_t e = {.kind = WE_READY, .ready = m->ready};
        step(w, &e);
        break;
    }
    case UHW__V1__FROM_WORKER__MSG_LOG:
        on_log_frame(w, m->log);
        break;
    case UHW__V1__FROM_WORKER__MSG_CAPACITY:
        on_capacity_frame(w, m->capacity);
        break;
    case UHW__V1__FROM_WORKER__MSG_RESPONSE:
    case UHW__V1__FROM_WORKER__MSG_STREAM_START:
    case UHW__V1__FROM_WORKER__MSG_STREAM_DATA:
    case UHW__V1__FROM_WORKER__MSG_STREAM_END:
    case UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE:
    case UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED:
        if (w->ready_mono == 0) {
            v = WV_BROKEN;
            snprintf(why, sizeof(why), "sent an answer before Ready");
        } else {
            v = w->ev->on_answer(w, m, why, sizeof(why));
        }
        break;
    default:
        /* A message from a newer protocol revision: ignore it (forward compatibility). */
        log_msg(LOG_DEBUG, w->who, "ignored a frame of unknown type");
        break;
    }
    if (v != WV_KEPT)
        uhw__v1__from_worker__free_unpacked(m, NULL);
    if (v == WV_BROKEN)
        fault(w, 502, "protocol", "%s", why);
}

/* Parses every complete frame in rbuf, in order. Stops when the worker is held back (unless
 * `draining`: its process is gone and nothing it wrote may be lost) or killed. Frame validity
 * depends on the bytes alone: a complete frame passes the same structure check as a partial one
 * (every top-level field length-delimited) before protobuf-c decodes it. */
static void process_input(worker_t *w, int draining)
{
    if (w->parsing)
        return; /* never nested: the outer call goes on with what is left */
    w->parsing = 1;
    size_t max_frame = w->params.max_frame;
    while (w->state != WS_KILLED && w->fault == NULL && (draining || w->held == 0)) {
        const uint8_t *p = frame_buf_bytes(&w->rbuf), *msg;
        size_t n = frame_buf_size(&w->rbuf), len;
        if (n == 0)
            break;
        frame_status_t st = frame_take(&w->rbuf, max_frame, &msg, &len);
        if (st == FRAME_NEED_MORE) {
            if (!frame_plausible(p, n, max_frame))
                bad_bytes(w, p, n, "worker wrote non-protocol bytes to stdout");
            break;
        }
        if (st != FRAME_OK) {
            /* Usually text: "{"... announces 123 bytes; a real frame over max_frame is rarer. */
            bad_bytes(w, p, n,
                      st == FRAME_TOO_BIG ? "worker wrote a frame longer than max_frame, or non-protocol bytes"
                                          : "worker wrote non-protocol bytes to stdout");
            break;
        }
        if (!frame_plausible(p, (size_t)(msg - p) + len, max_frame)) { /* as when it came in pieces */
            bad_bytes(w, p, (size_t)(msg - p) + len, "worker wrote non-protocol bytes to stdout");
            break;
        }
        Uhw__V1__FromWorker *m = uhw__v1__from_worker__unpack(NULL, len, msg);
        if (m == NULL) {
            char ex[160];
            fault(w, 502, "protocol", "worker wrote a frame that does not decode as FromWorker: %s",
                  log_excerpt(ex, sizeof(ex), msg, len, 40));
            break;
        }
        w->last_activity = now(w);
        handle_frame(w, m);
    }
    w->parsing = 0;
}

frame_buf_t *worker_io_inbuf(worker_t *w)
{
    return &w->rbuf;
}

void worker_io_stdout(worker_t *w)
{
    if (w->fault != NULL || w->state == WS_EXITED) {
        frame_buf_reset(&w->rbuf); /* after a fault, nothing it says counts any more */
        return;
    }
    /* (KILLED by a stop's SIGKILL: the bytes wait in rbuf, whole frames and all, for the reap) */
    process_input(w, 0);
}

void worker_io_stdout_eof(worker_t *w)
{
    wevent_t e = {.kind = WE_STDOUT_EOF};
    step(w, &e);
}

/* ---------------------------------------------------------------- requests */

void worker_assign(worker_t *w)
{
    ++w->assigned;
    if (w->ninflight++ == 0) {
        w->last_activity = now(w);
        if ((w->state == WS_READY || w->state == WS_RETIRING) && w->held == 0)
            arm_deadline(w, w->last_activity + w->params.stuck_timeout_ms);
    }
}

void worker_release(worker_t *w, int answered)
{
    if (w->ninflight != 0)
        --w->ninflight;
    if (answered)
        ++w->answered;
}

void worker_hold(worker_t *w)
{
    if (w->held++ == 0) {
        timers_cancel(w->timers, &w->resume_timer);
        if (w->io != NULL && w->state != WS_KILLED && w->state != WS_EXITED)
            w->io_ops->read_stdout(w->io, 0);
        if (w->state == WS_READY || w->state == WS_RETIRING)
            timers_cancel(w->timers, &w->deadline); /* the stuck clock stands still */
    }
}

void worker_unhold(worker_t *w)
{
    if (w->held == 0 || --w->held != 0)
        return;
    w->last_activity = now(w); /* it could not be heard while held: its clock starts again */
    timers_defer(w->timers, &w->resume_timer);
}

static void on_resume_timer(utimer_t *t)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, resume_timer, t);
    if (w->held != 0 || w->state == WS_KILLED || w->state == WS_EXITED)
        return;
    process_input(w, 0); /* frames read before the hold */
    if (w->held != 0 || w->state == WS_KILLED || w->state == WS_EXITED)
        return;
    if (w->io != NULL)
        w->io_ops->read_stdout(w->io, 1);
    if ((w->state == WS_READY || w->state == WS_RETIRING) && w->ninflight != 0)
        arm_deadline(w, w->last_activity + w->params.stuck_timeout_ms);
}

/* ---------------------------------------------------------------- the table's actions */

static void arm_deadline(worker_t *w, uint64_t at)
{
    timers_schedule(w->timers, &w->deadline, at);
}

static void a_ignore(worker_t *w, const wevent_t *e)
{
    (void)w;
    (void)e;
}

static void a_ready(worker_t *w, const wevent_t *e)
{
    const Uhw__V1__Ready *r = e->ready;
    if (r->protocol != 1) {
        fault(w, 502, "protocol", "speaks protocol version %u; this uhw speaks version 1", r->protocol);
        return;
    }
    unsigned c = r->concurrency == 0 ? 1 : r->concurrency;
    w->concurrency = c < w->params.concurrency ? c : w->params.concurrency;
    w->capacity = w->concurrency;
    snprintf(w->info, sizeof(w->info), "%s", r->info != NULL ? r->info : "");
    w->state = WS_READY;
    w->ready_mono = now(w);
    timers_cancel(w->timers, &w->deadline);
    log_msg(LOG_DEBUG, w->who, "ready (concurrency %u)%s%s", w->concurrency, w->info[0] ? ": " : "", w->info);
    w->ev->on_ready(w);
}

static void a_ready_twice(worker_t *w, const wevent_t *e)
{
    (void)e;
    log_msg(LOG_WARNING, w->who, "sent Ready twice; ignored");
}

static void a_ready_timeout(worker_t *w, const wevent_t *e)
{
    (void)e;
    fault(w, 500, "ready_timeout", "did not send Ready within ready_timeout (%llu ms)",
          (unsigned long long)w->params.ready_timeout_ms);
}

/* The stuck clock is lazy: frames only move last_activity; the check happens here. */
static void a_stuck_check(worker_t *w, const wevent_t *e)
{
    (void)e;
    if (w->ninflight == 0 || w->held != 0)
        return;
    uint64_t t = now(w), limit = w->params.stuck_timeout_ms;
    if (t - w->last_activity >= limit)
        fault(w, 500, "stuck", "stuck: no frame for %llu ms with %u request%s in flight",
              (unsigned long long)(t - w->last_activity), w->ninflight, w->ninflight == 1 ? "" : "s");
    else
        arm_deadline(w, w->last_activity + limit);
}

static void a_retire(worker_t *w, const wevent_t *e)
{
    (void)e;
    w->state = WS_RETIRING;
}

static void a_stop(worker_t *w, const wevent_t *e)
{
    (void)e;
    w->stop_asked = 1;
    w->state = WS_DRAINING;
    send_shutdown(w);
    close_stdin_after_flush(w);
    arm_deadline(w, now(w) + w->params.graceful_timeout_ms);
    log_msg(LOG_DEBUG, w->who, "stopping");
}

static void a_terminate(worker_t *w, const wevent_t *e)
{
    w->stop_asked = 1;
    w->state = WS_TERMINATING;
    close_stdin_now(w);
    send_signal(w, SIGTERM);
    arm_deadline(w, now(w) + e->kill_after_ms);
}

static void a_sigterm(worker_t *w, const wevent_t *e)
{
    (void)e;
    log_msg(LOG_WARNING, w->who, "still running %llu ms after Shutdown; sending SIGTERM",
            (unsigned long long)w->params.graceful_timeout_ms);
    wevent_t t = {.kind = WE_TERMINATE, .kill_after_ms = w->params.kill_timeout_ms};
    a_terminate(w, &t);
}

static void a_sigkill(worker_t *w, const wevent_t *e)
{
    (void)e;
    log_msg(LOG_WARNING, w->who, "still running after SIGTERM; sending SIGKILL");
    w->state = WS_KILLED;
    send_signal(w, SIGKILL);
}

/* The exit information of a fault, before or after the process ended (its status then). */
static void exit_info_fault(const worker_t *w, exit_info_t *ei)
{
    if (ei->reason == NULL) { /* not reaped yet: the SIGKILL we sent is what will end it */
        ei->code = -1;
        ei->signal = SIGKILL;
    }
    ei->reason = w->fault;
    ei->at_wall_ms = wall_ms();
    snprintf(ei->detail, sizeof(ei->detail), "%s", w->fault_detail);
}

static void record_fault(worker_t *w, const wevent_t *e)
{
    w->fault = e->reason;
    w->fault_status = e->http_status;
    snprintf(w->fault_detail, sizeof(w->fault_detail), "%s", e->detail);
}

/* Killed for a fault: nothing it says from now on counts, and its requests are settled now. */
static void a_fault(worker_t *w, const wevent_t *e)
{
    record_fault(w, e);
    log_msg(LOG_ERROR, w->who, "killing worker: %s", w->fault_detail);
    w->state = WS_KILLED;
    send_signal(w, SIGKILL);
    timers_cancel(w->timers, &w->deadline);
    timers_cancel(w->timers, &w->resume_timer);
    if (w->io != NULL)
        w->io_ops->read_stdout(w->io, 0);
    frame_buf_reset(&w->rbuf);
    exit_info_t ei;
    memset(&ei, 0, sizeof(ei));
    exit_info_fault(w, &ei);
    settle(w, w->fault_status, &ei);
    close_stdin_now(w);
}

/* A protocol error in what it wrote just before its exit: its requests get 502, its exit
 * counts as a fault. (It is already gone: nothing to kill.) */
static void a_fault_late(worker_t *w, const wevent_t *e)
{
    if (w->fault != NULL)
        return;
    record_fault(w, e);
    log_msg(LOG_ERROR, w->who, "%s", w->fault_detail);
}

/* Its stdout ended while it may still run: it can answer nothing any more. Usually this is its
 * exit, seen a moment before the reap; if the reap does not follow soon, it closed stdout and
 * goes on running — a fault. */
static void a_eof(worker_t *w, const wevent_t *e)
{
    (void)e;
    w->state = WS_CLOSING;
    arm_deadline(w, now(w) + CLOSING_GRACE_MS);
}

static void a_closing_deadline(worker_t *w, const wevent_t *e)
{
    (void)e;
    fault(w, 502, "stdout_closed", "closed its stdout but kept running (%u ms); it can answer nothing",
          CLOSING_GRACE_MS);
}

static void describe_status(int status, exit_info_t *ei)
{
    char sig[32];
    ei->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    ei->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (ei->signal != 0) {
        ei->reason = "died";
        snprintf(ei->detail, sizeof(ei->detail), "killed by %s%s", proc_signal_name(ei->signal, sig, sizeof(sig)),
                 WCOREDUMP(status) ? " (core dumped)" : "");
    } else {
        ei->reason = "exited";
        snprintf(ei->detail, sizeof(ei->detail), "exited with code %d", ei->code);
    }
}

static void a_reaped(worker_t *w, const wevent_t *e)
{
    worker_state_t was = w->state;
    w->state = WS_EXITED; /* before anything else: from here it is given nothing */
    timers_cancel(w->timers, &w->deadline);
    timers_cancel(w->timers, &w->resume_timer);
    /* Everything it wrote before exiting is in rbuf: a response written just before the exit
     * still reaches its client. (After a fault, rbuf was dropped.) */
    if (was != WS_KILLED || w->fault == NULL) {
        process_input(w, 1);
        if (frame_buf_size(&w->rbuf) != 0 && w->fault == NULL) {
            char ex[160];
            log_excerpt(ex, sizeof(ex), frame_buf_bytes(&w->rbuf), frame_buf_size(&w->rbuf), 40);
            log_msg(LOG_ERROR, w->who, "stdout ended inside a frame (truncated frame): %s", ex);
        }
    }
    split_stderr(w, 1);

    exit_info_t ei;
    memset(&ei, 0, sizeof(ei));
    ei.at_wall_ms = wall_ms();
    describe_status(e->status, &ei);
    if (w->fault != NULL) {
        exit_info_fault(w, &ei);
    } else if (w->exec_error[0] != '\0') {
        ei.reason = "exec_failed";
        snprintf(ei.detail, sizeof(ei.detail), "cannot start: %s", w->exec_error);
    }
    if (!w->lost)
        settle(w, w->fault != NULL ? w->fault_status : 500, &ei);

    exit_facts_t facts = {
        .ever_ready = w->ready_mono != 0,
        .planned = w->stop_asked,
        .faulted = w->fault != NULL,
        .code = WIFEXITED(e->status) ? WEXITSTATUS(e->status) : -1,
        .signal = WIFSIGNALED(e->status) ? WTERMSIG(e->status) : 0,
        .in_flight = w->victims,
        .answered = w->answered,
    };
    exit_class_t cls = policy_classify_exit(&facts);
    if (cls == EXIT_PLANNED) {
        ei.reason = "stopped";
    } else if (cls == EXIT_RETIRED) {
        ei.reason = "retired";
        snprintf(ei.detail, sizeof(ei.detail), "exited with code 0 after %llu request%s (retired itself)",
                 (unsigned long long)w->answered, w->answered == 1 ? "" : "s");
    }
    uint64_t lived = now(w) - w->spawned_mono;
    if (cls == EXIT_PLANNED || cls == EXIT_RETIRED)
        log_msg(LOG_INFO, w->who, "%s (%s) after %llu.%03llus, %llu request%s", cls == EXIT_RETIRED ? "retired" : "stopped",
                cls == EXIT_RETIRED ? "exited with code 0" : ei.detail, (unsigned long long)(lived / 1000),
                (unsigned long long)(lived % 1000), (unsigned long long)w->assigned, w->assigned == 1 ? "" : "s");
    else
        log_msg(LOG_ERROR, w->who, "worker exited unexpectedly: %s, after %llu.%03llus and %llu request%s", ei.detail,
                (unsigned long long)(lived / 1000), (unsigned long long)(lived % 1000), (unsigned long long)w->assigned,
                w->assigned == 1 ? "" : "s");
    /* Its process group does not outlive it: a child it left behind would hold its pipes. */
    send_signal(w, SIGKILL);
    if (w->io != NULL) {
        w->io_ops->close(w->io);
        w->io = NULL;
    }
    w->stdin_state = STDIN_CLOSED;
    w->ev->on_exit(w, cls, &ei); /* frees w */
}

/* Its requests: tell the owner once, with where it stopped reading its stdin. */
static void settle(worker_t *w, int status, const exit_info_t *ei)
{
    if (w->lost)
        return;
    w->lost = 1;
    w->victims = w->ev->on_lost(w, status, ei, stdin_consumed(w));
}

static action_fn *const actions[WS_EXITED + 1][WE_COUNT] = {
    /*                READY          DEADLINE            RETIRE    STOP      TERMINATE    FAULT    STDOUT_EOF REAPED */
    [WS_STARTING] = {a_ready, a_ready_timeout, a_stop, a_stop, a_terminate, a_fault, a_eof, a_reaped},
    [WS_READY] = {a_ready_twice, a_stuck_check, a_retire, a_stop, a_terminate, a_fault, a_eof, a_reaped},
    [WS_RETIRING] = {a_ready_twice, a_stuck_check, a_ignore, a_stop, a_terminate, a_fault, a_eof, a_reaped},
    [WS_DRAINING] = {a_ignore, a_sigterm, a_ignore, a_ignore, a_terminate, a_fault, a_eof, a_reaped},
    [WS_CLOSING] = {a_ignore, a_closing_deadline, a_ignore, a_ignore, a_ignore, a_fault, a_ignore, a_reaped},
    [WS_TERMINATING] = {a_ignore, a_sigkill, a_ignore, a_ignore, a_ignore, a_fault, a_ignore, a_reaped},
    [WS_KILLED] = {a_ignore, a_ignore, a_ignore, a_ignore, a_ignore, a_ignore, a_ignore, a_reaped},
    [WS_EXITED] = {a_ignore, a_ignore, a_ignore, a_ignore, a_ignore, a_fault_late, a_ignore, a_ignore},
};

static void step(worker_t *w, const wevent_t *e)
{
    actions[w->state][e->kind](w, e);
}

static void on_deadline(utimer_t *t)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, deadline, t);
    wevent_t e = {.kind = WE_DEADLINE};
    step(w, &e);
}

/* ---------------------------------------------------------------- the owner's requests */

void worker_retire(worker_t *w)
{
    wevent_t e = {.kind = WE_RETIRE};
    step(w, &e);
}

void worker_stop(worker_t *w)
{
    wevent_t e = {.kind = WE_STOP};
    step(w, &e);
}

void worker_terminate(worker_t *w, uint64_t kill_after_ms)
{
    wevent_t e = {.kind = WE_TERMINATE, .kill_after_ms = kill_after_ms};
    step(w, &e);
}

void worker_kill(worker_t *w, const char *reason, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    fault(w, strcmp(reason, "protocol") == 0 ? 502 : 500, reason, "%s", detail);
}

void worker_kill_now(worker_t *w)
{
    send_signal(w, SIGKILL);
}

void worker_io_reaped(worker_t *w, int status)
{
    wevent_t e = {.kind = WE_REAPED, .status = status};
    step(w, &e);
}

/* ---------------------------------------------------------------- life */

worker_t *worker_spawn(const worker_spec_t *spec)
{
    worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        abort();
    w->state = WS_STARTING;
    w->ev = spec->events;
    w->owner = spec->owner;
    w->io_ops = spec->io;
    w->timers = spec->timers;
    w->params = *spec->params;
    w->slot = spec->slot;
    snprintf(w->command, sizeof(w->command), "%s", spec->command != NULL ? spec->command : "");
    w->dir = spec->dir != NULL ? strdup(spec->dir) : NULL;
    frame_buf_init(&w->rbuf);
    frame_buf_init(&w->wbuf);
    frame_buf_init(&w->ebuf);
    h2o_linklist_init_anchor(&w->requests);
    utimer_init(&w->deadline, on_deadline);
    utimer_init(&w->flush_timer, on_flush_timer);
    utimer_init(&w->resume_timer, on_resume_timer);
    w->log_tokens = LOG_BURST;
    w->spawned_mono = w->log_refill_at = now(w);
    w->spawned_wall = wall_ms();
    w->io = spec->io->start(spec->io_ctx, w, spec->proc, &w->pid);
    if (w->io == NULL) {
        log_msg(LOG_ERROR, NULL, "pool '%s': cannot start worker %u: %s", spec->pool, spec->slot, strerror(errno));
        worker_free(w);
        return NULL;
    }
    snprintf(w->who, sizeof(w->who), "%s#%u pid=%d", spec->pool, spec->slot, (int)w->pid);
    arm_deadline(w, w->spawned_mono + w->params.ready_timeout_ms);
    log_msg(LOG_DEBUG, w->who, "started");
    return w;
}

void worker_free(worker_t *w)
{
    timers_cancel(w->timers, &w->deadline);
    timers_cancel(w->timers, &w->flush_timer);
    timers_cancel(w->timers, &w->resume_timer);
    if (w->io != NULL)
        w->io_ops->close(w->io);
    frame_buf_free(&w->rbuf);
    frame_buf_free(&w->wbuf);
    frame_buf_free(&w->ebuf);
    for (unsigned i = 0; i < TAIL_LINES; ++i)
        free(w->tail[i]);
    free(w->dir);
    if (h2o_linklist_is_linked(&w->owner_link))
        h2o_linklist_unlink(&w->owner_link);
    free(w);
}

/* ---------------------------------------------------------------- accessors */

worker_state_t worker_state(const worker_t *w) { return w->state; }
void *worker_owner(const worker_t *w) { return w->owner; }
unsigned worker_slot(const worker_t *w) { return w->slot; }
pid_t worker_pid(const worker_t *w) { return w->pid; }
const char *worker_who(const worker_t *w) { return w->who; }
const char *worker_info(const worker_t *w) { return w->info; }
const char *worker_dir(const worker_t *w) { return w->dir; }
unsigned worker_in_flight(const worker_t *w) { return w->ninflight; }
uint64_t worker_requests(const worker_t *w) { return w->assigned; }
uint64_t worker_spawned_wall(const worker_t *w) { return w->spawned_wall; }
uint64_t worker_spawned_mono(const worker_t *w) { return w->spawned_mono; }
h2o_linklist_t *worker_requests_list(worker_t *w) { return &w->requests; }
h2o_linklist_t *worker_owner_link(worker_t *w) { return &w->owner_link; }
worker_t *worker_from_owner_link(h2o_linklist_t *l) { return H2O_STRUCT_FROM_MEMBER(worker_t, owner_link, l); }

const char *worker_status_state(const worker_t *w)
{
    switch (w->state) {
    case WS_STARTING:
        return "starting";
    case WS_READY:
    case WS_RETIRING:
        return "ready";
    case WS_EXITED:
        return "exited";
    default:
        return "stopping";
    }
}

json_t *worker_status_json(const worker_t *w)
{
    char at[40];
    json_t *o = json_object();
    json_object_set_new(o, "pid", json_integer(w->pid));
    json_object_set_new(o, "state", json_string(worker_status_state(w)));
    json_object_set_new(o, "in_flight", json_integer(w->ninflight));
    json_object_set_new(o, "requests", json_integer((json_int_t)w->assigned));
    json_object_set_new(o, "started_at", json_string(iso8601(w->spawned_wall, at, sizeof(at))));
    if (w->state == WS_READY || w->state == WS_RETIRING)
        json_object_set_new(o, "concurrency", json_integer(worker_concurrency(w)));
    if (w->info[0] != '\0')
        json_object_set_new(o, "info", json_string(w->info));
    return o;
}

void worker_set_params(worker_t *w, const worker_params_t *p)
{
    w->params = *p;
    if (w->concurrency > p->concurrency)
        w->concurrency = p->concurrency;
    if (w->capacity > p->concurrency)
        w->capacity = p->concurrency;
}

unsigned worker_concurrency(const worker_t *w)
{
    return w->capacity < w->concurrency ? w->capacity : w->concurrency;
}

unsigned worker_free_capacity(const worker_t *w)
{
    if (w->state != WS_READY && w->state != WS_RETIRING)
        return 0;
    unsigned limit = worker_concurrency(w);
    return w->ninflight < limit ? limit - w->ninflight : 0;
}

int worker_alive(const worker_t *w)
{
    return w->state == WS_STARTING || w->state == WS_READY || w->state == WS_RETIRING || w->state == WS_DRAINING;
}
