/*
 * cgi.c — `uhw cgi`, see cgi.h. The life of one request (a "job"):
 *
 *   request ─▶ map the path (cgi_map) ─▶ environment (cgi_env) ─▶ vfork+exec (cgi_spawn)
 *           ─▶ body written to the script's stdin as the pipe takes it
 *           ─▶ stdout read as it comes: header block (cgi_head), then the body
 *           ─▶ finished once stdout is at EOF *and* the script has been reaped:
 *                exit 0 (or exit N after a valid header block) → Response (small, fast)
 *                  or StreamStart/StreamData/StreamEnd (large, or still writing after
 *                  STREAM_AFTER_MS: SSE-like scripts)
 *                killed by a signal → RequestFailed 500 "died"
 *                exit N without a valid header block → RequestFailed 500 "exited"
 *                exit 0 with a bad header block → 502
 *
 *   deadline (the request's timeout, a little early so uhw gets our RequestFailed before
 *   its own 504 and writes the victims record) → SIGKILL the group → RequestFailed 504.
 *   Once streaming, uhw no longer times the request out: the deadline becomes "no output
 *   for the pool's timeout".
 *   Cancel from uhw → SIGTERM the group, SIGKILL after KILL_GRACE_MS; finished once reaped,
 *   so the slot is not offered again while the script still runs.
 *
 * Nothing blocks: pipes are non-blocking and watched by libuhw's loop; children are
 * reaped with waitpid(WNOHANG) when the signalfd reports SIGCHLD. SIGTERM/SIGINT to the
 * worker take the scripts' process groups down before the worker dies of the signal.
 */
#include "cgi.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cgi_env.h"
#include "cgi_head.h"
#include "cgi_map.h"
#include "cgi_spawn.h"
#include "libuhw.h"
#include "proc.h"

#define READ_CHUNK 65536
#define STREAM_AFTER_BYTES (256 * 1024) /* a body larger than this is streamed */
#define STREAM_AFTER_MS 50              /* headers out, body still coming after this: stream it */
#define KILL_GRACE_MS 1000              /* SIGTERM → SIGKILL for a cancelled script */
#define TERM_GRACE_MS 200               /* the same when the worker itself is terminated */
#define MAX_CONCURRENCY 1024
/* One buffer per job, never moved (the parsed headers point into it): room for the
 * longest header block, the body kept before streaming starts, and one more read. */
#define BUF_SIZE (CGI_HEAD_MAX_BYTES + STREAM_AFTER_BYTES + READ_CHUNK)

typedef enum { PH_HEAD, PH_BODY, PH_STREAM } phase_t;       /* where the script's output is */
typedef enum { KILL_NONE, KILL_TIMEOUT, KILL_CANCEL } kill_t; /* why we stopped the script */

typedef struct job {
    uhw_req_t *req;         /* NULL: the slot is free */
    pid_t pid;              /* the script, until reaped */
    pid_t pgid;             /* its process group (= its pid), kept after reaping */
    int wstatus;
    int in_fd, out_fd;      /* our ends of its stdin and stdout, or -1 */
    uhw_watch_t *in_w, *out_w;
    size_t in_off;          /* body bytes written to its stdin */
    uhw_timer_t *deadline, *flush, *kill_timer;
    char *buf;              /* BUF_SIZE bytes (allocated on first use): stdout not sent yet */
    size_t len;
    size_t head_len;        /* bytes of buf that are the header block (PH_BODY) */
    cgi_head_t head;
    phase_t phase;
    kill_t killed;
    int bad_head;           /* the header block is unusable: 502 once the script is gone */
    unsigned timeout_ms;    /* the request's timeout when it arrived; 0: none */
    uint64_t last_out_ms;
    char script[128];       /* SCRIPT_NAME, for log lines */
} job_t;

typedef struct cgi {
    cgi_map_t map;
    char **base_env;
    job_t *jobs;
    unsigned njobs;
    int devnull;            /* stdin of scripts that get no body */
    int sigfd;
    int term_sig;           /* SIGTERM/SIGINT received: dying once the scripts are down */
    sigset_t sigs;          /* blocked, read from sigfd */
} cgi_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad request";
    case 403: return "Forbidden";
    case 404: return "Not found";
    case 501: return "Not implemented";
    case 502: return "Bad CGI response";
    case 503: return "Service unavailable";
    default: return "Internal server error";
    }
}

/* A JSON error like uhw's own: {"error": ..., "reason": ..., "request_id": N}. */
static void respond_error(uhw_req_t *req, int status, const char *reason)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "error", reason_phrase(status), "reason", reason, "request_id",
                          (json_int_t)req->id);
    char *body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    uhw_header_t h = {"Content-Type", (const uint8_t *)"application/json", 16};
    if (uhw_respond(req, (unsigned)status, &h, 1, body, body != NULL ? strlen(body) : 0) != 0)
        uhw_stream_end(req, "error"); /* cancelled meanwhile, or a stream started: still finish it */
    free(body);
}

/* ---------------------------------------------------------------- job state */

static void close_in(job_t *j)
{
    if (j->in_fd < 0)
        return;
    uhw_unwatch(j->in_w);
    close(j->in_fd);
    j->in_fd = -1;
    j->in_w = NULL;
}

static void close_out(job_t *j)
{
    if (j->out_fd < 0)
        return;
    uhw_unwatch(j->out_w);
    close(j->out_fd);
    j->out_fd = -1;
    j->out_w = NULL;
}

/* The slot is free again; the output buffer is kept for the next request. */
static void job_reset(job_t *j)
{
    close_in(j);
    close_out(j);
    uhw_timer_cancel(j->deadline);
    uhw_timer_cancel(j->flush);
    uhw_timer_cancel(j->kill_timer);
    j->deadline = j->flush = j->kill_timer = NULL;
    j->req = NULL;
    j->pid = j->pgid = 0;
    j->len = j->head_len = j->in_off = 0;
    j->phase = PH_HEAD;
    j->killed = KILL_NONE;
    j->bad_head = 0;
}

static void on_kill_timer(void *arg)
{
    job_t *j = arg;
    j->kill_timer = NULL;
    if (j->pid != 0)
        kill(-j->pgid, SIGKILL);
}

/* Stops the script's whole process group; its output no longer matters. The job is
 * finished once the script has been reaped. */
static void kill_job(job_t *j, kill_t why, int sig)
{
    if (j->killed == KILL_NONE)
        j->killed = why;
    if (j->pid != 0 || j->out_fd >= 0) /* after reaping, only while something may hold its stdout */
        kill(-j->pgid, sig);
    close_in(j);
    close_out(j);
    if (sig != SIGKILL && j->pid != 0 && j->kill_timer == NULL)
        j->kill_timer = uhw_after(KILL_GRACE_MS, on_kill_timer, j);
}

/* ---------------------------------------------------------------- output to uhw */

static void start_stream(job_t *j)
{
    uhw_timer_cancel(j->flush);
    j->flush = NULL;
    if (uhw_stream_start(j->req, j->head.status, j->head.headers, j->head.nheaders) != 0) {
        uhw_log_req(j->req, UHW_LOG_ERROR, "%s: cannot start the response: %s", j->script, strerror(errno));
        kill_job(j, KILL_CANCEL, SIGKILL);
        return;
    }
    uhw_stream_write(j->req, j->buf + j->head_len, j->len - j->head_len);
    j->len = j->head_len = 0; /* the headers were sent: their bytes may go */
    j->phase = PH_STREAM;
}

static void on_flush(void *arg)
{
    job_t *j = arg;
    j->flush = NULL;
    if (j->phase == PH_BODY && j->out_fd >= 0)
        start_stream(j); /* still writing: let the client see what it has so far */
}

static void signal_detail(int sig, char *buf, size_t bufsz)
{
    char name[32];
    snprintf(buf, bufsz, "killed by %s", proc_signal_name(sig, name, sizeof(name)));
}

/* The script is gone and its output read: answer the request. */
static void finish(job_t *j)
{
    uhw_req_t *req = j->req;
    int st = j->wstatus;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    char detail[512];
    if (j->killed == KILL_TIMEOUT) {
        snprintf(detail, sizeof(detail), "CGI script %s timed out after %u ms: killed (pid %d)", j->script,
                 j->timeout_ms, (int)j->pgid);
        uhw_fail(req, 504, "timeout", code, sig, (unsigned)j->pgid, detail);
    } else if (j->killed == KILL_CANCEL) {
        uhw_stream_end(req, "cancelled"); /* uhw has answered already: this frees the slot */
    } else if (sig != 0 && !(j->bad_head && sig == SIGPIPE)) {
        char what[64];
        signal_detail(sig, what, sizeof(what));
        snprintf(detail, sizeof(detail), "CGI script %s %s (pid %d)", j->script, what, (int)j->pgid);
        uhw_log_req(req, UHW_LOG_ERROR, "%s", detail);
        uhw_fail(req, 500, "died", -1, sig, (unsigned)j->pgid, detail);
    } else if (j->bad_head || j->phase == PH_HEAD) {
        if (!j->bad_head && j->len != 0)
            cgi_head_parse(j->buf, j->len, &j->head, NULL, NULL); /* says what is wrong with it */
        const char *why = j->len == 0 && !j->bad_head ? "no output at all" : j->head.problem;
        if (code > 0) {
            snprintf(detail, sizeof(detail), "CGI script %s exited with code %d without a valid response (%s)",
                     j->script, code, why);
            uhw_log_req(req, UHW_LOG_ERROR, "%s", detail);
            uhw_fail(req, 500, "exited", code, 0, (unsigned)j->pgid, detail);
        } else {
            snprintf(detail, sizeof(detail), "CGI script %s: bad header block: %s", j->script, why);
            uhw_log_req(req, UHW_LOG_ERROR, "%s", detail);
            respond_error(req, 502, detail);
        }
    } else {
        if (code != 0)
            uhw_log_req(req, UHW_LOG_WARNING, "CGI script %s exited with code %d after a complete response: passed on",
                        j->script, code);
        if (j->phase == PH_STREAM) {
            uhw_stream_write(req, j->buf, j->len);
            uhw_stream_end(req, NULL);
        } else if (uhw_respond(req, j->head.status, j->head.headers, j->head.nheaders, j->buf + j->head_len,
                               j->len - j->head_len) != 0) {
            respond_error(req, 502, "the CGI response could not be sent"); /* not expected: headers were checked */
        }
    }
    job_reset(j);
}

static void maybe_finish(job_t *j)
{
    if (j->req != NULL && j->pid == 0 && j->out_fd < 0)
        finish(j);
}

/* ---------------------------------------------------------------- the script's pipes */

static void on_drop(void *arg, const char *name, size_t name_len, const char *why)
{
    job_t *j = arg;
    uhw_log_req(j->req, UHW_LOG_WARNING, "CGI script %s: header %.*s dropped: %s", j->script, (int)name_len, name, why);
}

/* The header block cannot be used: stop reading (a script still writing gets SIGPIPE),
 * answer once it is gone. */
static void bad_head(job_t *j)
{
    j->bad_head = 1;
    close_out(j);
    maybe_finish(j);
}

static void on_output(int fd, short revents, void *arg)
{
    (void)revents;
    job_t *j = arg;
    if (j->buf == NULL && (j->buf = malloc(BUF_SIZE)) == NULL) {
        uhw_log_req(j->req, UHW_LOG_ERROR, "out of memory reading CGI output");
        kill_job(j, KILL_CANCEL, SIGKILL);
        maybe_finish(j);
        return;
    }
    ssize_t n = read(fd, j->buf + j->len, READ_CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (n < 0)
            uhw_log_req(j->req, UHW_LOG_ERROR, "reading CGI output: %s", strerror(errno));
        close_out(j);
        maybe_finish(j);
        return;
    }
    j->len += (size_t)n;
    j->last_out_ms = now_ms();
    switch (j->phase) {
    case PH_HEAD: {
        size_t hl = cgi_head_end(j->buf, j->len);
        if (hl == 0 || hl > CGI_HEAD_MAX_BYTES) {
            if (j->len > CGI_HEAD_MAX_BYTES) {
                snprintf(j->head.problem, sizeof(j->head.problem), "no blank line within the first %d bytes",
                         CGI_HEAD_MAX_BYTES);
                bad_head(j);
            }
            return;
        }
        if (cgi_head_parse(j->buf, hl, &j->head, on_drop, j) != 0) {
            bad_head(j);
            return;
        }
        j->head_len = hl;
        j->phase = PH_BODY;
    }
        /* fall through */
    case PH_BODY:
        if (j->len - j->head_len > STREAM_AFTER_BYTES)
            start_stream(j);
        else if (j->flush == NULL)
            j->flush = uhw_after(STREAM_AFTER_MS, on_flush, j);
        return;
    case PH_STREAM:
        uhw_stream_write(j->req, j->buf, j->len);
        j->len = 0;
        return;
    }
}

static void on_input(int fd, short revents, void *arg)
{
    (void)revents;
    job_t *j = arg;
    ssize_t n = write(fd, j->req->body + j->in_off, j->req->body_len - j->in_off);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        close_in(j); /* EPIPE: the script did not read its whole body, which is its business */
        return;
    }
    j->in_off += (size_t)n;
    if (j->in_off == j->req->body_len)
        close_in(j); /* EOF tells the script the body is complete */
}

static void on_deadline(void *arg)
{
    job_t *j = arg;
    j->deadline = NULL;
    if (j->phase == PH_STREAM) {
        uint64_t idle = now_ms() - j->last_out_ms;
        if (idle < j->timeout_ms) {
            j->deadline = uhw_after((unsigned)(j->timeout_ms - idle), on_deadline, j);
            return;
        }
    }
    uhw_log_req(j->req, UHW_LOG_ERROR, "CGI script %s (pid %d) %s (%u ms): killing its process group", j->script,
                (int)j->pgid, j->phase == PH_STREAM ? "sent nothing for the request's timeout" : "is still running as the request's timeout runs out",
                j->timeout_ms);
    kill_job(j, KILL_TIMEOUT, SIGKILL);
    maybe_finish(j);
}

/* ---------------------------------------------------------------- requests */

static job_t *free_job(cgi_t *c)
{
    for (unsigned i = 0; i < c->njobs; ++i)
        if (c->jobs[i].req == NULL && c->jobs[i].pgid == 0)
            return &c->jobs[i];
    return NULL;
}

/* Makes a pipe with our end non-blocking; both ends close-on-exec. */
static int make_pipe(int fds[2], int ours)
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    return fcntl(fds[ours], F_SETFL, O_NONBLOCK);
}

static void on_request(uhw_req_t *req, void *ctx)
{
    cgi_t *c = ctx;
    job_t *j = free_job(c);
    if (j == NULL) {
        respond_error(req, 503, "every script slot of this worker is busy");
        return;
    }
    cgi_target_t t;
    const char *why;
    int status = cgi_map_resolve(&c->map, req->path, &t, &why);
    if (status != 0) {
        /* A missing page is routine; a refusal says something about the site or a client. */
        int level = status == 404 ? UHW_LOG_INFO : status == 500 ? UHW_LOG_ERROR : UHW_LOG_WARNING;
        uhw_log_req(req, level, "%s %s: %d, %s", req->method, req->path, status, why);
        respond_error(req, status, why);
        return;
    }
    snprintf(j->script, sizeof(j->script), "%s", t.script_name[0] != '\0' ? t.script_name : t.filename);
    char **env = cgi_env_build(c->base_env, req, &t, c->map.root);
    char *argv[CGI_MAP_MAX_ARGS + 2];
    size_t argc = 0;
    if (t.interp != NULL)
        for (size_t i = 0; i < t.interp->argc; ++i)
            argv[argc++] = t.interp->argv[i];
    argv[argc++] = (char *)t.filename;
    argv[argc] = NULL;
    int out[2] = {-1, -1}, in[2] = {-1, -1}, err = 0;
    pid_t pid = -1;
    if (env == NULL)
        err = ENOMEM;
    else if (make_pipe(out, 0) != 0 || (req->body_len != 0 && make_pipe(in, 1) != 0))
        err = errno;
    else
        pid = cgi_spawn(&(cgi_spawn_spec_t){.path = argv[0], .argv = argv, .envp = env, .dir = t.dir,
                                            .stdin_fd = req->body_len != 0 ? in[0] : c->devnull, .stdout_fd = out[1]},
                        &err);
    free(env);
    if (out[1] >= 0)
        close(out[1]);
    if (in[0] >= 0)
        close(in[0]);
    if (pid < 0) {
        if (out[0] >= 0)
            close(out[0]);
        if (in[1] >= 0)
            close(in[1]);
        char msg[PATH_MAX + 200];
        snprintf(msg, sizeof(msg), "cannot run %s: %s%s", argv[0], strerror(err),
                 err == ENOENT && t.interp == NULL ? " (is the interpreter on its #! line installed?)" : "");
        uhw_log_req(req, UHW_LOG_ERROR, "%s", msg);
        cgi_target_free(&t);
        respond_error(req, 500, msg);
        return;
    }
    cgi_target_free(&t);
    req->user = j;
    j->req = req;
    j->pid = j->pgid = pid;
    j->out_fd = out[0];
    j->in_fd = in[1];
    j->timeout_ms = req->timeout_ms;
    j->last_out_ms = now_ms();
    j->out_w = uhw_watch(j->out_fd, POLLIN, on_output, j);
    if (j->in_fd >= 0)
        j->in_w = uhw_watch(j->in_fd, POLLOUT, on_input, j);
    if (j->timeout_ms != 0) {
        /* Fire a little before uhw's own 504 so our RequestFailed (with the victims record)
         * gets there first: a fifth of the timeout, at most a second. */
        unsigned margin = j->timeout_ms / 5 < 1000 ? j->timeout_ms / 5 : 1000;
        j->deadline = uhw_after(j->timeout_ms - margin, on_deadline, j);
    }
    if (j->out_w == NULL || (j->in_fd >= 0 && j->in_w == NULL)) {
        uhw_log_req(req, UHW_LOG_ERROR, "out of memory watching a CGI script");
        kill_job(j, KILL_CANCEL, SIGKILL);
    }
}

static void on_cancel(uhw_req_t *req, int reason, void *ctx)
{
    (void)ctx;
    job_t *j = req->user;
    if (j == NULL)
        return;
    uhw_log_req(req, UHW_LOG_INFO, "request cancelled (%s): stopping CGI script %s (pid %d)",
                reason == UHW_CANCEL_CLIENT_GONE ? "client gone"
                : reason == UHW_CANCEL_TIMEOUT   ? "timeout"
                                                 : "shutdown",
                j->script, (int)j->pgid);
    if (reason == UHW_CANCEL_TIMEOUT)
        kill_job(j, KILL_TIMEOUT, SIGKILL); /* it had the whole timeout already */
    else
        kill_job(j, KILL_CANCEL, SIGTERM);
    maybe_finish(j);
}

/* ---------------------------------------------------------------- signals */

static void reap(cgi_t *c)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (unsigned i = 0; i < c->njobs; ++i) {
            job_t *j = &c->jobs[i];
            if (j->pid != pid)
                continue;
            j->pid = 0;
            j->wstatus = st;
            close_in(j);
            uhw_timer_cancel(j->kill_timer);
            j->kill_timer = NULL;
            maybe_finish(j);
            break;
        }
    }
}

/* Dies of the signal that asked us to, as we would have without the signalfd. */
static void die_of(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    signal(sig, SIG_DFL);
    raise(sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    _exit(128 + sig); /* not reached */
}

static void on_term_timer(void *arg)
{
    cgi_t *c = arg;
    for (unsigned i = 0; i < c->njobs; ++i)
        if (c->jobs[i].pid != 0)
            kill(-c->jobs[i].pgid, SIGKILL);
    die_of(c->term_sig);
}

/* SIGTERM/SIGINT: the scripts' process groups would outlive us; take them down first. */
static void terminate(cgi_t *c, int sig)
{
    if (c->term_sig != 0)
        return;
    c->term_sig = sig;
    int running = 0;
    for (unsigned i = 0; i < c->njobs; ++i) {
        if (c->jobs[i].pid != 0) {
            kill(-c->jobs[i].pgid, SIGTERM);
            running = 1;
        }
    }
    if (!running || uhw_after(TERM_GRACE_MS, on_term_timer, c) == NULL)
        on_term_timer(c);
}

static void on_signal(int fd, short revents, void *arg)
{
    (void)revents;
    cgi_t *c = arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            reap(c);
        else
            terminate(c, (int)si.ssi_signo);
    }
}

/* ---------------------------------------------------------------- the verb */

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "uhw cgi: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'uhw help cgi'.\n");
    return 2;
}

int cmd_cgi(int argc, char **argv)
{
    static const struct option opts[] = {{"concurrency", required_argument, NULL, 'c'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"interpreter", required_argument, NULL, 'x'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    unsigned concurrency = 1;
    const char *prefix = "";
    char *interps[CGI_MAP_MAX_INTERPS];
    size_t ninterps = 0;
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "+c:p:x:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': {
            char *end;
            unsigned long n = strtoul(optarg, &end, 10);
            if (*end != '\0' || n < 1 || n > MAX_CONCURRENCY)
                return usage_error("-c wants a number from 1 to 1024, not '%s'", optarg);
            concurrency = (unsigned)n;
            break;
        }
        case 'p':
            prefix = optarg;
            break;
        case 'x':
            if (ninterps == CGI_MAP_MAX_INTERPS)
                return usage_error("too many -x options (at most 16): '%s'", optarg);
            interps[ninterps++] = optarg;
            break;
        case 'h':
            printf("usage: uhw cgi %s\n\n%s\n", CGI_USAGE_ARGS, CGI_USAGE_TEXT);
            return 0;
        default:
            return usage_error("unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return usage_error("%s", argc - optind == 0 ? "missing SCRIPT_OR_DIR" : "one SCRIPT_OR_DIR only");
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, "uhw cgi: this is a worker: its stdout speaks uhw's protocol. Run it as a pool's command,\n"
                        "e.g. command: [uhw, cgi, ./cgi-bin] (see 'uhw help cgi').\n");
        return 2;
    }

    cgi_t c = {.devnull = -1, .sigfd = -1};
    char err[PATH_MAX + 200];
    if (cgi_map_init(&c.map, argv[optind], prefix, interps, ninterps, err, sizeof(err)) != 0) {
        fprintf(stderr, "uhw cgi: %s\n", err);
        return 2;
    }
    extern char **environ;
    int rc = 1;
    c.base_env = cgi_env_base(environ);
    c.jobs = calloc(concurrency, sizeof(*c.jobs));
    c.njobs = concurrency;
    c.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    sigemptyset(&c.sigs);
    sigaddset(&c.sigs, SIGCHLD);
    sigaddset(&c.sigs, SIGTERM);
    sigaddset(&c.sigs, SIGINT);
    if (c.base_env == NULL || c.jobs == NULL || c.devnull < 0 || sigprocmask(SIG_BLOCK, &c.sigs, NULL) != 0 ||
        (c.sigfd = signalfd(-1, &c.sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        uhw_watch(c.sigfd, POLLIN, on_signal, &c) == NULL) {
        fprintf(stderr, "uhw cgi: cannot set up: %s\n", strerror(errno));
        goto Out;
    }
    for (unsigned i = 0; i < concurrency; ++i) {
        c.jobs[i] = (job_t){.in_fd = -1, .out_fd = -1};
    }
    char info[PATH_MAX + 64];
    snprintf(info, sizeof(info), "uhw cgi %s (%u at once)", c.map.script != NULL ? c.map.script : c.map.root,
             concurrency);
    uhw_options_t uo = {.concurrency = concurrency, .info = info, .on_cancel = on_cancel};
    rc = uhw_run_opts(&uo, on_request, &c) == 0 ? 0 : 1;
Out:
    if (c.jobs != NULL) {
        for (unsigned i = 0; i < c.njobs; ++i) {
            if (c.jobs[i].pid != 0) /* uhw_run failed with scripts running: they must not outlive us */
                kill(-c.jobs[i].pgid, SIGKILL);
            if (c.jobs[i].in_fd >= 0) /* libuhw has freed the watches already */
                close(c.jobs[i].in_fd);
            if (c.jobs[i].out_fd >= 0)
                close(c.jobs[i].out_fd);
            free(c.jobs[i].buf);
        }
    }
    free(c.jobs);
    free(c.base_env);
    if (c.devnull >= 0)
        close(c.devnull);
    if (c.sigfd >= 0)
        close(c.sigfd);
    cgi_map_free(&c.map);
    return rc;
}
