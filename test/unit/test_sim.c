/*
 * test_sim.c — a deterministic simulation of the supervisor's core.
 *
 * The real dispatch, pool and worker state machines (and the real victims, timer, frame and
 * config code) run against simulated processes, pipes and clients, with no process, socket or
 * clock of the system: a seeded random scheduler interleaves every event the core can see —
 * stdout bytes arriving split at any byte, stdout EOF and the reap in either order, h2o's
 * proceed, clients that leave before, during or after their answer (sometimes inside h2o_send
 * itself, as HTTP/1 does when it closes a connection), timeouts on a virtual clock, processes
 * that crash, hang, retire themselves, close stdout, stop reading, write garbage or break the
 * protocol, Capacity changes, reloads, scaling, restarts and a stop — and after every step checks:
 *
 *   - no request gets two final answers (h2o itself asserts this too);
 *   - no response reaches a client other than the one whose request the worker answered;
 *   - a request no process ever read is never answered as a victim;
 *   - at the end of a run, every client still there got its answer, every process was reaped,
 *     and the counters agree with what the clients saw (victims, requests, 5xx);
 *   - under SANITIZE=1: no use after free, no leak.
 *
 * The clients are real h2o_req_t with a final ostream of the test's own (what a connection
 * would write). Environment: UHW_SIM_STEPS (default 200000), UHW_SIM_SEED (a run's seed, to
 * replay it), UHW_SIM_VERBOSE=1. A failing run prints its seed.
 */
#include <errno.h>
#include <setjmp.h>
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
#include <h2o.h>

#include "config.h"
#include "dispatch.h"
#include "frame.h"
#include "log.h"
#include "pool.h"
#include "timer.h"
#include "uhw.pb-c.h"
#include "victims.h"
#include "worker.h"

#define MAX_CLIENTS 64
#define PIPE_SIZE 4096 /* a small pipe: writes block often */

/* ---------------------------------------------------------------- randomness */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    /* xorshift64*: deterministic for a seed, whatever libc does */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static unsigned below(unsigned n)
{
    return n == 0 ? 0 : (unsigned)(rnd() % n);
}
static int chance(unsigned percent)
{
    return below(100) < percent;
}

/* ---------------------------------------------------------------- the simulated world */

typedef struct sim sim_t;
typedef struct sproc sproc_t;
typedef struct client client_t;

/* A request as the simulated worker process read it. */
typedef struct job {
    uint64_t id;
    char path[32];
    int started;      /* StreamStart sent */
    int chunks;       /* StreamData sent */
    int cancelled;
    struct job *next;
} job_t;

typedef enum personality {
    P_NORMAL,   /* answers, sometimes streams */
    P_SLOW,     /* takes its time; sometimes never answers */
    P_RETIRE,   /* exits 0 after a few answers (PHP_FCGI_MAX_REQUESTS) */
    P_ROGUE,    /* crashes, closes stdout, writes garbage, breaks the protocol */
} personality_t;

struct sproc {
    sim_t *sim;
    worker_t *w;
    pid_t pid;
    personality_t who;
    unsigned budget;        /* P_RETIRE: answers before it exits */
    frame_buf_t in;         /* everything uhw wrote to its stdin */
    size_t consumed;        /* of `in`: what it read */
    int stdin_closed;       /* uhw closed its end */
    frame_buf_t out;        /* what it wrote to stdout, not delivered yet */
    int out_closed;         /* it closed stdout (or died) */
    int eof_delivered;
    int paused;             /* uhw does not read its stdout */
    int want_write;
    int ready;
    int alive;
    int status;             /* wait status once dead */
    int shutting;           /* got Shutdown / EOF: finishes, then exits 0 */
    int stuck;              /* reads nothing any more */
    unsigned answered;
    uint64_t last_answered;  /* an id it answered: no longer its own */
    job_t *jobs;
    sproc_t *next;
};

struct client {
    sim_t *sim;
    h2o_conn_t conn;
    h2o_req_t req;
    h2o_ostream_t ostr;
    int live;               /* the h2o_req_t is initialised and not disposed */
    int gone;               /* the client left (disposed before its final) */
    char path[32];
    int status;             /* response status, once headers went out */
    int finals;
    int error_final;        /* the final send was H2O_SEND_STATE_ERROR */
    int proceed_owed;       /* an in-progress send waits for h2o_proceed_response */
    int read;               /* a process read its Request frame */
    frame_buf_t body;
};

struct sim {
    uint64_t seed;
    uint64_t clock;         /* virtual ms */
    timers_t timers;
    dispatch_t *d;
    victims_t victims;
    uhw_config_t *cfgs[8];  /* every config loaded in this run (kept until the end) */
    size_t ncfgs;
    pool_t *pool;
    sproc_t *procs;
    pid_t next_pid;
    client_t clients[MAX_CLIENTS];
    unsigned nclients;      /* used slots in clients[] */
    unsigned submitted;
    int stopped;
    char victims_path[64];
    unsigned violations;
    char why[512];
    /* counted by the clients */
    unsigned seen_requests, seen_5xx, seen_victims;
    unsigned idle_calls;    /* dispatch_on_idle callbacks: a stop waits for them */
};

static sim_t *S;

/* What the runs did, so a report can say the simulation exercised something. */
static struct {
    unsigned long clients, answered, streams, victims, left, spawned, reaped, holds, reloads, stops, timeouts;
} totals;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (S->violations++ == 0)
        vsnprintf(S->why, sizeof(S->why), fmt, ap);
    va_end(ap);
}

static uint64_t sim_clock(void *ctx)
{
    return ((sim_t *)ctx)->clock;
}

/* ---------------------------------------------------------------- processes (worker_io_ops_t) */

static void *io_start(void *ctx, worker_t *w, const proc_spec_t *spec, pid_t *pid)
{
    (void)spec;
    sim_t *sim = ctx;
    sproc_t *p = calloc(1, sizeof(*p));
    p->sim = sim;
    p->w = w;
    p->pid = ++sim->next_pid;
    p->alive = 1;
    unsigned r = below(100);
    p->who = r < 55 ? P_NORMAL : r < 70 ? P_SLOW : r < 85 ? P_RETIRE : P_ROGUE;
    p->budget = 1 + below(4);
    frame_buf_init(&p->in);
    frame_buf_init(&p->out);
    p->next = sim->procs;
    sim->procs = p;
    *pid = p->pid;
    ++totals.spawned;
    return p;
}

static ssize_t io_write(void *io, const uint8_t *data, size_t n)
{
    sproc_t *p = io; /* uhw keeps a read end of the pipe: a dead reader means a pipe that fills up */
    size_t unread = frame_buf_size(&p->in) - p->consumed;
    size_t room = unread < PIPE_SIZE ? PIPE_SIZE - unread : 0;
    if (room == 0) {
        errno = EAGAIN;
        return -1;
    }
    size_t k = n < room ? n : room;
    if (k > 1 && chance(30))
        k = 1 + below((unsigned)k); /* a partial write */
    frame_buf_append(&p->in, data, k);
    return (ssize_t)k;
}

static void io_want_write(void *io)
{
    ((sproc_t *)io)->want_write = 1;
}

static void io_close_stdin(void *io)
{
    ((sproc_t *)io)->stdin_closed = 1;
}

static void io_read_stdout(void *io, int on)
{
    totals.holds += !on && !((sproc_t *)io)->paused;
    ((sproc_t *)io)->paused = !on;
}

static size_t io_stdin_unread(void *io)
{
    sproc_t *p = io;
    return frame_buf_size(&p->in) - p->consumed;
}

static void proc_die(sproc_t *p, int status)
{
    if (!p->alive)
        return;
    p->alive = 0;
    p->status = status;
    p->out_closed = 1;
}

static void io_signal(void *io, int sig)
{
    sproc_t *p = io;
    if (sig == SIGKILL || sig == SIGTERM)
        proc_die(p, sig); /* a wait status of "killed by sig" */
}

static void proc_free(sproc_t *p)
{
    for (sproc_t **pp = &p->sim->procs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    while (p->jobs != NULL) {
        job_t *j = p->jobs;
        p->jobs = j->next;
        free(j);
    }
    frame_buf_free(&p->in);
    frame_buf_free(&p->out);
    free(p);
}

static void io_close(void *io)
{
    sproc_t *p = io;
    p->w = NULL; /* the worker is being freed; the process (if alive) is killed by the group kill */
    proc_free(p);
}

static const worker_io_ops_t sim_io = {
    .start = io_start,
    .write = io_write,
    .want_write = io_want_write,
    .close_stdin = io_close_stdin,
    .read_stdout = io_read_stdout,
    .stdin_unread = io_stdin_unread,
    .signal = io_signal,
    .close = io_close,
};

/* ---------------------------------------------------------------- what a process writes */

static void emit(sproc_t *p, Uhw__V1__FromWorker *m)
{
    if (p->out_closed)
        return;
    frame_append(&p->out, &m->base);
}

static void emit_ready(sproc_t *p)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Ready r = UHW__V1__READY__INIT;
    r.protocol = 1;
    r.concurrency = 1 + below(4);
    m.msg_case = UHW__V1__FROM_WORKER__MSG_READY;
    m.ready = &r;
    emit(p, &m);
    p->ready = 1;
}

static void emit_response(sproc_t *p, uint64_t id, const char *path)
{
    char body[48];
    snprintf(body, sizeof(body), "P:%s", path);
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Response r = UHW__V1__RESPONSE__INIT;
    Uhw__V1__Header h = UHW__V1__HEADER__INIT, *hp = &h;
    h.name = "content-type";
    h.value.data = (uint8_t *)"text/plain";
    h.value.len = 10;
    r.id = id;
    r.status = 200;
    r.n_headers = 1;
    r.headers = &hp;
    r.body.data = (uint8_t *)body;
    r.body.len = strlen(body);
    m.msg_case = UHW__V1__FROM_WORKER__MSG_RESPONSE;
    m.response = &r;
    emit(p, &m);
}

static void emit_stream(sproc_t *p, job_t *j, int what)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    if (what == 0) {
        Uhw__V1__StreamStart s = UHW__V1__STREAM_START__INIT;
        s.id = j->id;
        s.status = 200;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_START;
        m.stream_start = &s;
        emit(p, &m);
    } else if (what == 1) {
        /* sometimes a lot at once: past uhw's high water mark (1 MiB), the worker is held back */
        static char data[600 << 10];
        size_t len = 0, max = chance(10) ? sizeof(data) : 256;
        while (len + 40 < max)
            len += (size_t)snprintf(data + len, sizeof(data) - len, "P:%s;", j->path);
        Uhw__V1__StreamData s = UHW__V1__STREAM_DATA__INIT;
        s.id = j->id;
        s.data.data = (uint8_t *)data;
        s.data.len = len;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_DATA;
        m.stream_data = &s;
        emit(p, &m);
    } else {
        Uhw__V1__StreamEnd s = UHW__V1__STREAM_END__INIT;
        s.id = j->id;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_END;
        m.stream_end = &s;
        emit(p, &m);
    }
}

static void emit_small(sproc_t *p, int kind, uint64_t id)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__KeepAlive k = UHW__V1__KEEP_ALIVE__INIT;
    Uhw__V1__Log l = UHW__V1__LOG__INIT;
    Uhw__V1__Capacity c = UHW__V1__CAPACITY__INIT;
    Uhw__V1__RequestFailed f = UHW__V1__REQUEST_FAILED__INIT;
    switch (kind) {
    case 0:
        k.id = id;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE;
        m.keep_alive = &k;
        break;
    case 1:
        l.message = "busy";
        l.id = id;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_LOG;
        m.log = &l;
        break;
    case 2:
        c.concurrency = below(4);
        m.msg_case = UHW__V1__FROM_WORKER__MSG_CAPACITY;
        m.capacity = &c;
        break;
    default:
        f.id = id;
        f.status = 500;
        f.reason = "died";
        f.exit_code = -1;
        f.signal = SIGSEGV;
        f.detail = "a child died";
        m.msg_case = UHW__V1__FROM_WORKER__MSG_REQUEST_FAILED;
        m.request_failed = &f;
        break;
    }
    emit(p, &m);
}

static client_t *client_by_path(const char *path)
{
    unsigned n = (unsigned)strtoul(path + 3, NULL, 10); /* "/c/N" */
    return n < S->nclients ? &S->clients[n] : NULL;
}

static void job_done(sproc_t *p, job_t *j)
{
    p->last_answered = j->id;
    for (job_t **jp = &p->jobs; *jp != NULL; jp = &(*jp)->next) {
        if (*jp == j) {
            *jp = j->next;
            free(j);
            break;
        }
    }
    ++p->answered;
}

/* The process reads one frame from its stdin, if a whole one is there. */
static void proc_read(sproc_t *p)
{
    size_t n = frame_buf_size(&p->in) - p->consumed, hdr, len;
    if (n == 0)
        return; /* nothing written yet: the buffer may have no memory (no NULL + 0) */
    const uint8_t *base = frame_buf_bytes(&p->in) + p->consumed;
    if (frame_parse(base, n, FRAME_DEFAULT_MAX, &hdr, &len) != FRAME_OK)
        return;
    Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, len, base + hdr);
    p->consumed += hdr + len;
    if (m == NULL) {
        violation("seed %llu: uhw wrote a frame that does not decode", (unsigned long long)S->seed);
        return;
    }
    if (m->msg_case == UHW__V1__TO_WORKER__MSG_REQUEST) {
        job_t *j = calloc(1, sizeof(*j));
        j->id = m->request->id;
        snprintf(j->path, sizeof(j->path), "%s", m->request->path);
        j->next = p->jobs;
        p->jobs = j;
        client_t *c = client_by_path(j->path);
        if (c != NULL)
            c->read = 1;
        if (getenv("UHW_SIM_VERBOSE") != NULL)
            fprintf(stderr, "# t=%llu pid %d reads id=%llu %s\n", (unsigned long long)S->clock, (int)p->pid,
                    (unsigned long long)j->id, j->path);
    } else if (m->msg_case == UHW__V1__TO_WORKER__MSG_CANCEL) {
        for (job_t *j = p->jobs; j != NULL; j = j->next)
            if (j->id == m->cancel->id)
                j->cancelled = 1;
    } else if (m->msg_case == UHW__V1__TO_WORKER__MSG_SHUTDOWN) {
        p->shutting = 1;
    }
    uhw__v1__to_worker__free_unpacked(m, NULL);
}

/* One thing a running process does. */
static void proc_act(sproc_t *p)
{
    if (!p->alive || p->stuck)
        return;
    if (!p->ready) {
        if (chance(97))
            emit_ready(p);
        else if (chance(50))
            proc_die(p, W_EXITCODE(1, 0)); /* a start-up failure */
        else
            p->stuck = 1; /* never Ready: ready_timeout */
        return;
    }
    if (p->shutting && p->jobs == NULL) {
        proc_die(p, W_EXITCODE(0, 0));
        return;
    }
    if (p->stdin_closed && p->consumed == frame_buf_size(&p->in) && p->jobs == NULL) {
        proc_die(p, W_EXITCODE(0, 0)); /* EOF on stdin: finish and exit */
        return;
    }
    unsigned r = below(100);
    if (p->who == P_ROGUE && r < 6) {
        switch (below(6)) {
        case 0:
            proc_die(p, SIGSEGV);
            break;
        case 1:
            p->out_closed = 1; /* closes stdout, keeps running */
            break;
        case 2:
            frame_buf_append(&p->out, "hello, I am text on stdout\n", 27);
            break;
        case 3:
            if (p->jobs != NULL) /* StreamData before StreamStart */
                emit_stream(p, p->jobs, p->jobs->started ? 0 : 1);
            break;
        case 4: /* a second answer for an id it answered already: not its own any more */
            if (p->last_answered != 0)
                emit_response(p, p->last_answered, "/c/999");
            break;
        default:
            p->stuck = 1; /* hangs */
            break;
        }
        return;
    }
    if (r < 40 || p->jobs == NULL) {
        proc_read(p);
        return;
    }
    if (r < 45) {
        emit_small(p, below(3), p->jobs->id); /* KeepAlive, Log, Capacity */
        return;
    }
    if (p->who == P_SLOW && chance(60))
        return;
    /* progress a request */
    job_t *j = p->jobs;
    for (unsigned k = below(3); k > 0 && j->next != NULL; --k)
        j = j->next;
    if (chance(2)) {
        emit_small(p, 3, j->id); /* RequestFailed: a child it ran for this request died */
        job_done(p, j);
    } else if (!j->started && (j->cancelled || chance(65))) {
        emit_response(p, j->id, j->path);
        job_done(p, j);
    } else if (!j->started) {
        emit_stream(p, j, 0);
        j->started = 1;
    } else if (j->chunks < 8 && !j->cancelled && chance(75)) {
        emit_stream(p, j, 1);
        ++j->chunks;
    } else {
        emit_stream(p, j, 2);
        job_done(p, j);
    }
    if (p->who == P_RETIRE && p->answered >= p->budget && p->jobs == NULL)
        proc_die(p, W_EXITCODE(0, 0)); /* retires itself */
}

/* uhw reads some of its stdout: 1..n bytes, the split anywhere. */
static void proc_deliver(sproc_t *p)
{
    if (p->w == NULL)
        return;
    size_t n = frame_buf_size(&p->out);
    if (n != 0 && !p->paused) {
        size_t k = chance(50) ? n : 1 + below((unsigned)n);
        frame_buf_t *in = worker_io_inbuf(p->w);
        frame_buf_append(in, frame_buf_bytes(&p->out), k);
        frame_buf_consume(&p->out, k);
        if (p->out_closed && frame_buf_size(&p->out) == 0 && !p->eof_delivered && chance(50)) {
            p->eof_delivered = 1; /* the end in the same read, as workerio does it */
            worker_io_stdout_eof(p->w);
        }
        if (p->w != NULL)
            worker_io_stdout(p->w);
    } else if (n == 0 && p->out_closed && !p->eof_delivered && !p->paused) {
        p->eof_delivered = 1;
        worker_io_stdout_eof(p->w);
    }
}

/* The process is gone: what it wrote is read to the end, then the reap. */
static void proc_reap(sproc_t *p)
{
    if (p->alive || p->w == NULL)
        return;
    frame_buf_t *in = worker_io_inbuf(p->w);
    frame_buf_append(in, frame_buf_bytes(&p->out), frame_buf_size(&p->out));
    frame_buf_reset(&p->out);
    ++totals.reaped;
    worker_io_reaped(p->w, p->status); /* frees the worker, which closes (frees) p */
}

/* ---------------------------------------------------------------- clients */

static socklen_t peer(h2o_conn_t *conn, struct sockaddr *sa)
{
    (void)conn;
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    memset(in, 0, sizeof(*in));
    in->sin_family = AF_INET;
    in->sin_port = htons(40000);
    in->sin_addr.s_addr = htonl(0x7f000001);
    return sizeof(*in);
}

static const h2o_conn_callbacks_t conn_callbacks = {.get_sockname = peer, .get_peername = peer};
static h2o_pathconf_t no_filters; /* no filter: sends reach the client's own final ostream */
static const char *const victim_errors[] = {"\"Worker crashed\"", "\"Bad worker response\"", NULL};

static int is_victim_answer(const client_t *c)
{
    const char *b = (const char *)frame_buf_bytes(&c->body);
    size_t n = frame_buf_size(&c->body);
    for (size_t i = 0; victim_errors[i] != NULL; ++i)
        if (n != 0 && memmem(b, n, victim_errors[i], strlen(victim_errors[i])) != NULL)
            return 1;
    return c->error_final && c->status == 200; /* a stream cut by a death */
}

/* What the client's connection writes: the checks on every send happen here. */
static void client_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t st)
{
    client_t *c = H2O_STRUCT_FROM_MEMBER(client_t, ostr, self);
    if (!c->live || c->gone)
        violation("seed %llu: a send to %s after its client left", (unsigned long long)S->seed, c->path);
    if (c->finals != 0)
        violation("seed %llu: a send to %s after its final answer", (unsigned long long)S->seed, c->path);
    if (c->status == 0) {
        c->status = req->res.status;
        ++S->seen_requests;
        if (c->status >= 500)
            ++S->seen_5xx;
    }
    for (size_t i = 0; i < n; ++i)
        frame_buf_append(&c->body, bufs[i].base, bufs[i].len);
    /* a worker's bytes carry the path it answered (uhw's own JSON errors may quote other bytes) */
    const char *b = (const char *)frame_buf_bytes(&c->body);
    size_t len = frame_buf_size(&c->body);
    for (const char *at = len != 0 && b[0] != '{' ? memmem(b, len, "P:", 2) : NULL; at != NULL;
         at = memmem(at + 2, len - (size_t)(at + 2 - b), "P:", 2)) {
        size_t plen = strlen(c->path);
        if ((size_t)(b + len - at) < 2 + plen || memcmp(at + 2, c->path, plen) != 0 ||
            ((size_t)(b + len - at) > 2 + plen && at[2 + plen] != ';'))
            violation("seed %llu: %s got another request's answer: %.40s", (unsigned long long)S->seed, c->path, at);
    }
    if (h2o_send_state_is_in_progress(st)) {
        c->proceed_owed = 1;
        if (chance(2)) { /* the connection breaks inside a send */
            c->live = 0;
            c->gone = 1;
            c->proceed_owed = 0;
            h2o_dispose_request(req);
        }
        return;
    }
    c->finals = 1;
    c->error_final = st == H2O_SEND_STATE_ERROR;
    ++totals.answered;
    totals.streams += c->status == 200 && frame_buf_size(&c->body) > 0 && memmem(frame_buf_bytes(&c->body),
                                                                                  frame_buf_size(&c->body), ";", 1) != NULL;
    totals.timeouts += c->status == 504;
    if (is_victim_answer(c)) {
        ++S->seen_victims;
        if (!c->read)
            violation("seed %llu: %s was never read by a worker but was answered as a victim", (unsigned long long)S->seed,
                      c->path);
    }
    if (chance(5)) { /* HTTP/1 closes the connection inside the send */
        c->live = 0;
        h2o_dispose_request(req);
    }
}

static void client_submit(void)
{
    if (S->nclients == MAX_CLIENTS || S->stopped)
        return;
    client_t *c = &S->clients[S->nclients];
    memset(c, 0, sizeof(*c));
    c->sim = S;
    snprintf(c->path, sizeof(c->path), "/c/%u", S->nclients++);
    c->conn.callbacks = &conn_callbacks;
    h2o_init_request(&c->req, &c->conn, NULL);
    c->req.input.method = c->req.method = h2o_iovec_init(H2O_STRLIT("GET"));
    c->req.input.path = c->req.path = c->req.path_normalized = h2o_iovec_init(c->path, strlen(c->path));
    c->req.query_at = SIZE_MAX;
    c->req.input.authority = c->req.authority = h2o_iovec_init(H2O_STRLIT("sim"));
    c->req.input.scheme = c->req.scheme = &H2O_URL_SCHEME_HTTP;
    c->req.version = 0x200;
    c->req.pathconf = &no_filters;
    c->ostr.do_send = client_send;
    c->req._ostr_top = &c->ostr;
    frame_buf_init(&c->body);
    c->live = 1;
    ++S->submitted;
    ++totals.clients;
    dispatch_submit(S->d, S->pool, &c->req);
}

static void client_proceed(client_t *c)
{
    if (!c->live || !c->proceed_owed)
        return;
    c->proceed_owed = 0;
    h2o_proceed_response(&c->req);
}

/* The client leaves: before, during or after its answer. */
static void client_leave(client_t *c)
{
    if (!c->live)
        return;
    c->live = 0;
    if (c->finals == 0) {
        c->gone = 1;
        ++totals.left;
    }
    c->proceed_owed = 0;
    h2o_dispose_request(&c->req);
}

/* ---------------------------------------------------------------- the run */

static void p_on_capacity(pool_t *p)
{
    dispatch_pump(S->d, p);
}
static worker_verdict_t p_on_answer(pool_t *p, worker_t *w, Uhw__V1__FromWorker *m, char *why, size_t whysz)
{
    return dispatch_on_answer(S->d, p, w, m, why, whysz);
}
static unsigned p_on_lost(pool_t *p, worker_t *w, int status, const exit_info_t *ei, uint64_t consumed)
{
    return dispatch_on_lost(S->d, p, w, status, ei, consumed);
}
static void p_on_degraded(pool_t *p)
{
    dispatch_fail_queue(S->d, p, 503, "Service unavailable", 0);
}
static void p_on_started(pool_t *p)
{
    (void)p;
}
static void p_on_startup_failed(pool_t *p, worker_t *w, const char *detail)
{
    (void)p;
    (void)w;
    (void)detail;
}
static void p_on_worker_gone(pool_t *p)
{
    (void)p;
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

static uhw_config_t *load(const char *victims, unsigned workers, unsigned concurrency, unsigned max_restarts,
                          const char *settings)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "listen: [127.0.0.1:0]\n"
             "max_pending: 40\n"
             "victims: {log: %s}\n"
             "pools:\n"
             "  - name: sim\n"
             "    command: [/bin/true]\n"
             "    workers: %u\n"
             "    concurrency: %u\n"
             "    timeout: 3s\n"
             "    stuck_timeout: 2s\n"
             "    ready_timeout: 1s\n"
             "    max_restarts: %u\n"
             "    restart_window: 10s\n"
             "    degraded_retry: 2s\n"
             "    backoff: {initial: 10ms, max: 200ms, reset_after: 1s}\n"
             "    graceful_timeout: 500ms\n"
             "    kill_timeout: 200ms\n"
             "    queue_limit: 30\n"
             "    settings: {%s}\n",
             victims, workers, concurrency, max_restarts, settings);
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load_buffer("sim.yaml", yaml, strlen(yaml), &errs);
    if (cfg == NULL)
        fail_msg("sim config: %s", errs.len ? errs.items[0] : "?");
    cfg_errors_free(&errs);
    S->cfgs[S->ncfgs++] = cfg;
    return cfg;
}

/* The victims log: one JSON line per victim; marks each client recorded. Returns the count. */
static unsigned read_victims(const char *path, unsigned char *recorded)
{
    FILE *f = fopen(path, "r");
    unsigned n = 0;
    char line[8192];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        ++n;
        const char *at = strstr(line, "\"path\":\"/c/");
        if (at != NULL) {
            unsigned k = (unsigned)strtoul(at + 11, NULL, 10);
            if (k < MAX_CLIENTS)
                recorded[k] = 1;
        }
    }
    if (f != NULL)
        fclose(f);
    return n;
}

static sproc_t *random_proc(void)
{
    unsigned n = 0;
    for (sproc_t *p = S->procs; p != NULL; p = p->next)
        ++n;
    if (n == 0)
        return NULL;
    unsigned k = below(n);
    sproc_t *p = S->procs;
    while (k-- > 0)
        p = p->next;
    return p;
}

/* One step of the scheduler. */
/* dispatch_on_idle: called exactly when the pending count falls to 0. */
static void on_idle(void *arg)
{
    sim_t *sim = arg;
    ++sim->idle_calls;
    if (dispatch_pending(sim->d) != 0)
        violation("seed %llu: the idle callback ran with %zu requests pending", (unsigned long long)sim->seed,
                  dispatch_pending(sim->d));
}

static void step_once(void);

/* One step, and the idle invariant: pending > 0 before and 0 after means the owner was told (a
 * stop waiting for the last answer would otherwise wait for shutdown_timeout). */
static void step(void)
{
    size_t before = dispatch_pending(S->d);
    unsigned calls = S->idle_calls;
    step_once();
    if (before != 0 && dispatch_pending(S->d) == 0 && S->idle_calls == calls)
        violation("seed %llu: pending fell from %zu to 0 without the idle callback", (unsigned long long)S->seed,
                  before);
}

static void step_once(void)
{
    unsigned r = below(1000);
    sproc_t *p = random_proc();
    client_t *c = S->nclients != 0 ? &S->clients[below(S->nclients)] : NULL;
    if (r < 60) {
        client_submit();
    } else if (r < 400) {
        if (p != NULL)
            proc_act(p);
    } else if (r < 640) {
        if (p != NULL)
            proc_deliver(p);
    } else if (r < 680) {
        if (p != NULL && !p->alive && chance(60))
            proc_reap(p);
    } else if (r < 800) {
        if (c != NULL)
            client_proceed(c);
    } else if (r < 830) {
        if (c != NULL && (c->finals != 0 || chance(15)))
            client_leave(c);
    } else if (r < 850) {
        if (p != NULL && p->want_write && p->w != NULL) {
            p->want_write = 0;
            worker_io_writable(p->w);
        }
    } else if (r < 990) {
        S->clock += below(chance(90) ? 20 : 800);
    } else if (r < 993 && !S->stopped && S->ncfgs < sizeof(S->cfgs) / sizeof(S->cfgs[0])) {
        /* reload: settings, size, or the process itself */
        unsigned what = below(3);
        uhw_config_t *nc = load(S->victims_path, what == 1 ? 1 + below(4) : pool_cfg(S->pool)->workers,
                                pool_cfg(S->pool)->concurrency, pool_cfg(S->pool)->max_restarts,
                                what == 0 ? "k: v2" : "k: v");
        unsigned diff = config_pool_diff(pool_cfg(S->pool), &nc->pools[0]);
        if (what == 2)
            diff |= CFG_DIFF_PROCESS;
        pool_apply_config(S->pool, &nc->pools[0], diff);
        dispatch_set_config(S->d, nc);
        ++totals.reloads;
    } else if (r < 995 && !S->stopped) {
        pool_restart(S->pool);
    } else if (r < 997 && !S->stopped && pool_state(S->pool) == PS_RUNNING) {
        pool_scale(S->pool, 1 + below(4));
    } else if (r < 998 && !S->stopped && chance(30)) {
        /* stop: what is pending gets 503 Shutting down, every worker is asked to stop */
        S->stopped = 1;
        dispatch_fail_all(S->d, &S->pool, 1);
        pool_stop(S->pool);
    }
    timers_run(&S->timers);
}

static int settled(void)
{
    for (unsigned i = 0; i < S->nclients; ++i)
        if (S->clients[i].live)
            return 0;
    return S->procs == NULL && !pool_has_workers(S->pool);
}

/* After the random part: time goes on, clients take their answers and leave, processes end. */
static void drain(void)
{
    if (!S->stopped) {
        S->stopped = 1;
        dispatch_fail_all(S->d, &S->pool, 1);
        pool_stop(S->pool);
    }
    for (unsigned round = 0; round < 200000 && !settled(); ++round) {
        for (sproc_t *p = S->procs, *next; p != NULL; p = next) {
            next = p->next;
            if (p->alive && !p->stuck && chance(50))
                proc_act(p);
            proc_deliver(p);
            if (!p->alive && chance(50))
                proc_reap(p);
        }
        for (unsigned i = 0; i < S->nclients; ++i) {
            client_t *c = &S->clients[i];
            if (c->proceed_owed)
                client_proceed(c);
            else if (c->live && c->finals != 0 && chance(30))
                client_leave(c);
        }
        for (sproc_t *p = S->procs; p != NULL; p = p->next)
            if (p->want_write && p->w != NULL) {
                p->want_write = 0;
                worker_io_writable(p->w);
            }
        S->clock += below(50);
        timers_run(&S->timers);
    }
}

static void run_one(uint64_t seed, unsigned steps)
{
    sim_t *sim = calloc(1, sizeof(*sim));
    S = sim;
    sim->seed = seed;
    ++totals.stops; /* every run ends with a stop */
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    srand((unsigned)seed); /* the pool's backoff jitter */
    sim->clock = 1000;
    snprintf(sim->victims_path, sizeof(sim->victims_path), "/tmp/uhw-sim-%d-%llu.jsonl", (int)getpid(),
             (unsigned long long)seed);
    unlink(sim->victims_path);
    timers_init(&sim->timers, sim_clock, sim);
    uhw_config_t *cfg = load(sim->victims_path, 1 + below(3), 1 + below(4), chance(50) ? 0 : 4, "k: v");
    sim->victims = (victims_t){.cfg = &cfg->victims, .cwd = cfg->dir, .log_fd = -1, .timers = &sim->timers};
    char err[256];
    assert_int_equal(victims_open(&sim->victims, err, sizeof(err)), 0);
    sim->d = dispatch_create(cfg, &sim->timers, &sim->victims);
    dispatch_on_idle(sim->d, on_idle, sim);
    pool_env_t env = {.timers = &sim->timers, .io = &sim_io, .io_ctx = sim};
    sim->pool = pool_create(&cfg->pools[0], &env, &pool_events, sim);
    pool_start(sim->pool, 0);

    for (unsigned i = 0; i < steps && sim->violations == 0; ++i)
        step();
    if (sim->violations == 0)
        drain();

    if (sim->violations == 0 && !settled())
        violation("seed %llu: not settled after the drain (clients or processes left)", (unsigned long long)seed);
    if (sim->violations == 0) {
        for (unsigned i = 0; i < sim->nclients; ++i) {
            client_t *c = &sim->clients[i];
            if (!c->gone && c->finals != 1)
                violation("seed %llu: %s never got a final answer", (unsigned long long)seed, c->path);
        }
    }
    /* Victims: every recorded one is a client answered as a victim, every client answered 500/502
     * for a death is recorded; a stream cut without a record can only be the stop's doing. */
    const counters_t *k = dispatch_counters(sim->d);
    unsigned char rec[MAX_CLIENTS] = {0};
    unsigned recorded = read_victims(sim->victims_path, rec);
    totals.victims += recorded;
    if (sim->violations == 0 && k->victims != recorded)
        violation("seed %llu: %llu victims counted, %u recorded", (unsigned long long)seed,
                  (unsigned long long)k->victims, recorded);
    for (unsigned i = 0; i < sim->nclients && sim->violations == 0; ++i) {
        client_t *c = &sim->clients[i];
        int cut = c->error_final && c->status == 200, answered = c->finals != 0 && is_victim_answer(c) && !cut;
        if (rec[i] && !c->read)
            violation("seed %llu: %s is recorded as a victim but no worker read it", (unsigned long long)seed, c->path);
        /* (a stream whose worker died may lose its client before the cut reaches it) */
        if (rec[i] && !answered && !cut && !(c->gone && c->status == 200))
            violation("seed %llu: %s is recorded as a victim but was not answered as one (status %d, finals %d, %s, "
                      "body %.*s)", (unsigned long long)seed, c->path, c->status, c->finals, c->gone ? "gone" : "there",
                      (int)frame_buf_size(&c->body), (const char *)frame_buf_bytes(&c->body));
        if (answered && !rec[i])
            violation("seed %llu: %s was answered as a victim but not recorded", (unsigned long long)seed, c->path);
        if (cut && !rec[i] && !sim->stopped)
            violation("seed %llu: %s's stream was cut, but it is no victim and uhw did not stop", (unsigned long long)seed,
                      c->path);
    }
    if (sim->violations == 0 && (k->requests != sim->seen_requests || k->s5xx != sim->seen_5xx))
        violation("seed %llu: counters: %llu requests / %llu 5xx, clients saw %u / %u", (unsigned long long)seed,
                  (unsigned long long)k->requests, (unsigned long long)k->s5xx, sim->seen_requests, sim->seen_5xx);
    if (sim->violations == 0 && dispatch_pending(sim->d) != 0)
        violation("seed %llu: %zu requests still pending", (unsigned long long)seed, dispatch_pending(sim->d));

    /* teardown: whatever a failed run left */
    for (unsigned i = 0; i < sim->nclients; ++i)
        if (sim->clients[i].live)
            client_leave(&sim->clients[i]);
    dispatch_free(sim->d);
    pool_free(sim->pool);
    while (sim->procs != NULL)
        proc_free(sim->procs);
    for (unsigned i = 0; i < sim->nclients; ++i)
        frame_buf_free(&sim->clients[i].body);
    victims_close(&sim->victims);
    for (size_t i = 0; i < sim->ncfgs; ++i)
        config_free(sim->cfgs[i]);
    timers_dispose(&sim->timers);
    unlink(sim->victims_path);
    if (sim->violations != 0) {
        fprintf(stderr, "# simulation failed: %s\n# replay with UHW_SIM_SEED=%llu\n", sim->why, (unsigned long long)seed);
        free(sim);
        fail();
    }
    free(sim);
}

static void test_simulation(void **state)
{
    (void)state;
    const char *e = getenv("UHW_SIM_STEPS");
    unsigned long total = e != NULL ? strtoul(e, NULL, 10) : 200000;
    const char *one = getenv("UHW_SIM_SEED");
    unsigned per_run = 2000;
    if (one != NULL) {
        run_one(strtoull(one, NULL, 10), per_run);
        return;
    }
    uint64_t base = (uint64_t)time(NULL) * 1000 + (uint64_t)getpid() % 1000;
    unsigned long done = 0, runs = 0;
    for (uint64_t seed = base; done < total; ++seed, ++runs) {
        if (getenv("UHW_SIM_VERBOSE") != NULL)
            fprintf(stderr, "# seed %llu\n", (unsigned long long)seed);
        run_one(seed, per_run);
        done += per_run;
    }
    printf("# simulation: %lu random steps in %lu runs, seeds %llu..%llu, all invariants held\n", done, runs,
           (unsigned long long)base, (unsigned long long)(base + runs - 1));
    printf("# %lu requests (%lu answered, %lu streamed, %lu timed out, %lu clients left early, %lu victims); "
           "%lu processes started, %lu reaped, %lu held back; %lu reloads, %lu stops\n",
           totals.clients, totals.answered, totals.streams, totals.timeouts, totals.left, totals.victims, totals.spawned,
           totals.reaped, totals.holds, totals.reloads, totals.stops);
}

int main(void)
{
    /* the core logs a lot of what the simulation does on purpose */
    setenv("UHW_LOG_LEVEL", getenv("UHW_SIM_VERBOSE") != NULL ? "debug" : "critical", 1);
    log_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simulation),
    };
    return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
