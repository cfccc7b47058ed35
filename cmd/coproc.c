/*
 * coproc.c — `uhw coproc`: the one helper process behind the bash fast path (cmd/sh/uhw.sh).
 *
 * `. uhw.sh` starts it as a bash coprocess. It holds the worker's protocol pipes for the
 * life of the script — fd 0: ToWorker frames from uhw, fd 1: FromWorker frames to uhw — and
 * takes commands from bash on fd 3, answering on fd 4 (the exchange: fields.h). So a
 * request costs the script no process at all: a command to write, one byte to read, one
 * file to map into an array. Commands run the same verbs as `uhw VERB` (helpers.h), with
 * the same options and checks.
 *
 * It keeps the promise every worker must keep, that each request gets an answer: when the
 * script asks for the next request, or ends, without having answered the current one (a
 * refused reply, a forgotten one), the coprocess answers 500, or aborts the started stream,
 * and logs why.
 *
 * Its private directory (workdir.h) holds the request, its body and json output. On the way
 * out (end of input, Shutdown, the script gone, SIGTERM) it removes its files, and the
 * directory too if it made it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fields.h"
#include "frame.h"
#include "helper_args.h"
#include "helpers.h"
#include "workdir.h"

enum { FD_PROTO_IN = 0, FD_PROTO_OUT = 1, FD_CMD = 3, FD_TOKEN = 4 };
#define READ_MIN ((size_t)64 << 10)

typedef enum { REQ_NONE, REQ_OPEN, REQ_STREAMING } req_state_t;

typedef struct coproc {
    frame_buf_t cmds;             /* bytes from bash not yet run */
    frame_buf_t frames;           /* bytes from uhw not yet decoded */
    frame_buf_t scratch;          /* DIR/request's next content */
    workdir_t dir;
    workdir_file_t request, body; /* DIR/request, DIR/body */
    char *json_path;
    char *cwd;                    /* the directory bash last asked for */
    size_t max_frame;
    Uhw__V1__ToWorker *configure; /* the last Configure not yet handed to bash, or NULL */
    uint64_t id;                  /* the request bash is working on */
    req_state_t state;
} coproc_t;

static volatile sig_atomic_t stop_signal; /* SIGTERM & co.: leave (tidily) at the next read */

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* Appends what one read of fd gives: 1, 0 at end of input, -1 on error or a stop signal.
 * Reads at least as much as is buffered, so a large command costs O(size) in all. */
static int read_more(int fd, frame_buf_t *b)
{
    size_t want = frame_buf_size(b) > READ_MIN ? frame_buf_size(b) : READ_MIN;
    uint8_t *dst = frame_buf_reserve(b, want);
    if (dst == NULL)
        return -1;
    for (;;) {
        if (stop_signal)
            return -1;
        ssize_t r = read(fd, dst, want);
        if (r > 0) {
            frame_buf_commit(b, (size_t)r);
            return 1;
        }
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static int token(char t)
{
    return frame_write_all(FD_TOKEN, &t, 1);
}

static void log_frame(uint64_t id, const char *msg)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    Uhw__V1__Log lg = UHW__V1__LOG__INIT;
    lg.level = UHW__V1__LOG__LEVEL__ERROR;
    lg.message = (char *)msg;
    lg.id = id;
    m.msg_case = UHW__V1__FROM_WORKER__MSG_LOG;
    m.log = &lg;
    (void)frame_write_fd(FD_PROTO_OUT, &m.base);
}

/* The current request must not be left hanging: answer 500, or abort its stream. */
static void finish_unanswered(coproc_t *c, const char *why)
{
    Uhw__V1__FromWorker m = UHW__V1__FROM_WORKER__INIT;
    char msg[200];
    if (c->state == REQ_OPEN) {
        static const char body[] = "{\"error\":\"No response\",\"reason\":\"the worker's script did not answer\"}";
        Uhw__V1__Header ct = UHW__V1__HEADER__INIT, *hs[] = {&ct};
        ct.name = "Content-Type";
        ct.value.data = (uint8_t *)"application/json";
        ct.value.len = strlen("application/json");
        Uhw__V1__Response r = UHW__V1__RESPONSE__INIT;
        r.id = c->id;
        r.status = 500;
        r.headers = hs;
        r.n_headers = 1;
        r.body.data = (uint8_t *)body;
        r.body.len = sizeof(body) - 1;
        m.msg_case = UHW__V1__FROM_WORKER__MSG_RESPONSE;
        m.response = &r;
        snprintf(msg, sizeof(msg), "the script %s without answering the request: answered 500", why);
        log_frame(c->id, msg);
        (void)frame_write_fd(FD_PROTO_OUT, &m.base);
    } else if (c->state == REQ_STREAMING) {
        Uhw__V1__StreamEnd se = UHW__V1__STREAM_END__INIT;
        se.id = c->id;
        se.error = "the worker's script did not end the stream";
        m.msg_case = UHW__V1__FROM_WORKER__MSG_STREAM_END;
        m.stream_end = &se;
        snprintf(msg, sizeof(msg), "the script %s without ending the stream: aborted", why);
        log_frame(c->id, msg);
        (void)frame_write_fd(FD_PROTO_OUT, &m.base);
    }
    c->state = REQ_NONE;
}

/* Hands request q to bash: body and fields to their files, 'R' on the token pipe. 0 or -1. */
static int deliver(coproc_t *c, const Uhw__V1__Request *q)
{
    frame_buf_reset(&c->scratch);
    if (workdir_file_put(&c->body, q->body.data, q->body.len) != 0) {
        fprintf(stderr, "uhw coproc: body file %s: %s\n", c->body.path, strerror(errno));
        return -1;
    }
    if (fields_request(&c->scratch, q, c->body.path, c->configure != NULL ? c->configure->configure : NULL) != 0 ||
        workdir_file_put(&c->request, frame_buf_bytes(&c->scratch), frame_buf_size(&c->scratch)) != 0) {
        fprintf(stderr, "uhw coproc: request file %s: %s\n", c->request.path, strerror(errno));
        return -1;
    }
    if (c->configure != NULL) {
        uhw__v1__to_worker__free_unpacked(c->configure, NULL);
        c->configure = NULL;
    }
    char num[32];
    snprintf(num, sizeof(num), "%" PRIu64, q->id);
    setenv("UHW_REQUEST_ID", num, 1); /* the verbs' default id, as after `eval "$(uhw recv)"` */
    c->id = q->id;
    c->state = REQ_OPEN;
    return token('R');
}

/* recv: frames until a Request (delivered: 1), or the end: 0 (end of input, Shutdown) or -1. */
static int next_request(coproc_t *c)
{
    finish_unanswered(c, "asked for the next request");
    for (;;) {
        const uint8_t *msg;
        size_t len;
        frame_status_t st = frame_take(&c->frames, c->max_frame, &msg, &len);
        if (st == FRAME_NEED_MORE) {
            int r = read_more(FD_PROTO_IN, &c->frames);
            if (r > 0)
                continue;
            if (r == 0 && frame_buf_size(&c->frames) != 0)
                fprintf(stderr, "uhw coproc: stdin ended inside a frame\n");
            return r;
        }
        if (st != FRAME_OK) {
            fprintf(stderr, "uhw coproc: protocol error on stdin: %s\n", frame_status_str(st));
            return -1;
        }
        Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, len, msg);
        if (m == NULL) {
            fprintf(stderr, "uhw coproc: protocol error on stdin: a frame does not decode\n");
            return -1;
        }
        switch (m->msg_case) {
        case UHW__V1__TO_WORKER__MSG_REQUEST: {
            int r = deliver(c, m->request);
            uhw__v1__to_worker__free_unpacked(m, NULL);
            return r == 0 ? 1 : -1;
        }
        case UHW__V1__TO_WORKER__MSG_CONFIGURE:
            if (c->configure != NULL)
                uhw__v1__to_worker__free_unpacked(c->configure, NULL);
            c->configure = m; /* handed to bash with the next request */
            continue;
        case UHW__V1__TO_WORKER__MSG_SHUTDOWN:
            uhw__v1__to_worker__free_unpacked(m, NULL);
            return 0;
        case UHW__V1__TO_WORKER__MSG_CANCEL:
            /* Only for a request already answered, or waiting in a queue we never see. */
            fprintf(stderr, "uhw coproc: skipped Cancel for request %" PRIu64 "\n", m->cancel->id);
            break;
        default:
            break; /* newer protocol: ignored */
        }
        uhw__v1__to_worker__free_unpacked(m, NULL);
    }
}

/* json: runs `uhw json` into DIR/json; 'J' or 'E' on the token pipe. 0 or -1. */
static int run_json(coproc_t *c, const fields_cmd_t *cmd)
{
    int fd = workdir_create_file(c->json_path);
    if (fd < 0) {
        fprintf(stderr, "uhw coproc: %s: %s\n", c->json_path, strerror(errno));
        return token('E');
    }
    helper_io_t io = {.in = -1, .out = fd};
    int rc = helper_json(&io, cmd->argc, cmd->argv);
    close(fd);
    return token(rc == 0 ? 'J' : 'E');
}

/* Runs one command from bash; 1 to go on, 0 at the end (of input, Shutdown), -1 on failure. */
static int run_command(coproc_t *c, const fields_cmd_t *cmd)
{
    if (c->cwd == NULL || strcmp(c->cwd, cmd->cwd) != 0) {
        free(c->cwd);
        c->cwd = strdup(cmd->cwd);
        if (chdir(cmd->cwd) != 0)
            fprintf(stderr, "uhw coproc: cd %s: %s\n", cmd->cwd, strerror(errno));
    }
    const char *name = cmd->argv[0];
    if (strcmp(name, "recv") == 0)
        return next_request(c);
    if (strcmp(name, "json") == 0)
        return run_json(c, cmd) == 0 ? 1 : -1;
    const helper_verb_t *v = helpers_find(name);
    if (v == NULL) {
        fprintf(stderr, "uhw coproc: unknown command '%s'\n", name);
        return 1;
    }
    /* No "-" operands: stdin is the protocol, not data. */
    static const helper_io_t io = {.in = -1, .out = FD_PROTO_OUT};
    int rc = v->run(&io, cmd->argc, cmd->argv);
    if (rc == 0 && strcmp(name, "reply") == 0)
        c->state = REQ_NONE;
    else if (rc == 0 && strcmp(name, "stream") == 0 && cmd->argc > 1)
        c->state = strcmp(cmd->argv[1], "start") == 0 ? REQ_STREAMING
                   : strcmp(cmd->argv[1], "end") == 0  ? REQ_NONE
                                                       : c->state;
    return 1;
}

static int setup(coproc_t *c)
{
    if (fcntl(FD_CMD, F_GETFD) < 0 || fcntl(FD_TOKEN, F_GETFD) < 0) {
        fprintf(stderr, "uhw coproc: fds 3 and 4 are not open: this is started by uhw.sh (. uhw.sh), "
                        "not by hand\n");
        return -1;
    }
    /* Only the five fds we use: the script's other fds must not stay open behind its back. */
    close_range(5, ~0U, 0);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: a blocked read returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a peer gone is an error return, and we tidy up */
    c->max_frame = frame_max_from_env();
    if (workdir_open(&c->dir, "coproc") != 0)
        return -1;
    c->json_path = workdir_path(&c->dir, "json");
    if (workdir_file_init(&c->request, &c->dir, "request") != 0 || workdir_file_init(&c->body, &c->dir, "body") != 0 ||
        c->json_path == NULL)
        return -1;
    frame_buf_t hello;
    frame_buf_init(&hello);
    int err = frame_buf_append(&hello, FIELDS_HELLO, sizeof(FIELDS_HELLO)) != 0 ||
              frame_buf_append(&hello, c->dir.path, strlen(c->dir.path) + 1) != 0 ||
              frame_write_all(FD_TOKEN, frame_buf_bytes(&hello), frame_buf_size(&hello)) != 0;
    frame_buf_free(&hello);
    return err ? -1 : 0;
}

static void teardown(coproc_t *c)
{
    /* The body must not outlive the worker, in uhw's directory or in ours. */
    workdir_file_close(&c->request, 1);
    workdir_file_close(&c->body, 1);
    if (c->json_path != NULL)
        (void)unlink(c->json_path);
    free(c->json_path);
    workdir_close(&c->dir);
    free(c->cwd);
    if (c->configure != NULL)
        uhw__v1__to_worker__free_unpacked(c->configure, NULL);
    frame_buf_free(&c->cmds);
    frame_buf_free(&c->frames);
    frame_buf_free(&c->scratch);
}

int helper_coproc(const helper_io_t *io, int argc, char **argv)
{
    static const helper_opt_t specs[] = {{'h', 'h', "help", 0}, {0}};
    const char *verb = "coproc", *val = NULL;
    int i = 1, opt;
    while ((opt = helper_next_opt(argc, argv, &i, specs, &val, verb)) != HOPT_END) {
        if (opt == HOPT_ERR)
            return 2;
        return helper_show_usage(io, verb);
    }
    if (i < argc)
        return helper_usage_error(verb, "unexpected argument '%s'", argv[i]);
    coproc_t c = {.request = {.fd = -1}, .body = {.fd = -1}};
    int ret = setup(&c) == 0 ? 0 : 1;
    while (ret == 0) {
        fields_cmd_t cmd;
        size_t used = 0;
        int got = frame_buf_size(&c.cmds) == 0
                      ? 0
                      : fields_command((char *)frame_buf_bytes(&c.cmds), frame_buf_size(&c.cmds), &used, &cmd);
        if (got < 0) {
            fprintf(stderr, "uhw coproc: a command from uhw.sh is malformed\n");
            ret = 1;
        } else if (got == 0) {
            int r = read_more(FD_CMD, &c.cmds);
            if (r == 0) /* the script ended */
                finish_unanswered(&c, "ended");
            if (r <= 0)
                ret = r == 0 ? 0 : 1;
            if (r == 0)
                break;
        } else {
            int r = run_command(&c, &cmd);
            fields_command_free(&cmd);
            frame_buf_consume(&c.cmds, used);
            if (r <= 0) {
                ret = r == 0 ? 0 : 1;
                break;
            }
        }
    }
    if (stop_signal)
        finish_unanswered(&c, "was stopped by a signal");
    teardown(&c);
    return ret;
}
