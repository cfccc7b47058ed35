/*
 * test_coproc.c — `uhw coproc` driven as uhw.sh and uhw would drive it: a child process with
 * the protocol pipes on fds 0 and 1 and uhw.sh's pipes on 3 and 4. Checks the hello, recv
 * (request file, body file), the verbs, json, the 500 for an unanswered request, the
 * aborted stream, Shutdown, end of input, and that its private directory goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fields.h"
#include "frame.h"
#include "helpers.h"
#include "reqvars.h"
#include "uhw.pb-c.h"

static char tmpdir[64];

typedef struct co {
    pid_t pid;
    int proto_in;  /* we write ToWorker frames */
    int proto_out; /* we read FromWorker frames */
    int cmd;       /* we write commands */
    int token;     /* we read the hello and tokens */
    char dir[256]; /* its private directory */
} co_t;

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/uhw-test-coproc.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    setenv("TMPDIR", tmpdir, 1);
    unsetenv("UHW_WORKER_DIR");
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("TMPDIR");
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The helper's stderr (its complaints about refused commands) goes to this file, so the
 * tests can check them and the test run shows no stray error lines. */
static void stderr_path(char *buf, size_t size)
{
    snprintf(buf, size, "%s/coproc.stderr", tmpdir);
}

static char *slurp(const char *path, size_t *n);

/* Whether the helper has written `text` to its stderr since it started. */
static void expect_stderr(const char *text)
{
    char path[128];
    stderr_path(path, sizeof(path));
    size_t n;
    char *got = slurp(path, &n);
    if (strstr(got, text) == NULL)
        fail_msg("expected \"%s\" on the helper's stderr, got \"%s\"", text, got);
    free(got);
}

static void start(co_t *c)
{
    int in[2], out[2], cmd[2], tok[2];
    char errpath[128];
    stderr_path(errpath, sizeof(errpath));
    int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    assert_true(err >= 0);
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(cmd), 0);
    assert_int_equal(pipe(tok), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        /* Move everything above 4 first, so the dup2s below cannot clobber a pipe end. */
        int fds[5] = {fcntl(in[0], F_DUPFD, 10), fcntl(out[1], F_DUPFD, 10), fcntl(cmd[0], F_DUPFD, 10),
                      fcntl(tok[1], F_DUPFD, 10), fcntl(err, F_DUPFD, 10)};
        dup2(fds[0], 0);
        dup2(fds[1], 1);
        dup2(fds[2], 3);
        dup2(fds[3], 4);
        dup2(fds[4], 2);
        char *argv[] = {"coproc", NULL};
        _exit(helper_coproc(&helper_stdio, 1, argv)); /* closes every fd above 4 itself */
    }
    close(in[0]);
    close(out[1]);
    close(cmd[0]);
    close(tok[1]);
    close(err);
    c->proto_in = in[1];
    c->proto_out = out[0];
    c->cmd = cmd[1];
    c->token = tok[0];
    /* Hello: FIELDS_HELLO \0 DIR \0 */
    char hello[512];
    size_t n = 0;
    int nuls = 0;
    while (nuls < 2) {
        assert_true(n < sizeof(hello));
        assert_int_equal(read(c->token, hello + n, 1), 1);
        nuls += hello[n++] == '\0';
    }
    assert_string_equal(hello, FIELDS_HELLO);
    strcpy(c->dir, hello + strlen(hello) + 1);
    assert_int_equal(strncmp(c->dir, tmpdir, strlen(tmpdir)), 0);
}

/* Sends one command: CWD ARGC ARGS... (NULL-terminated list). */
static void command(co_t *c, ...)
{
    frame_buf_t b;
    frame_buf_init(&b);
    const char *args[32];
    int argc = 0;
    va_list ap;
    va_start(ap, c);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        args[argc++] = a;
    va_end(ap);
    char num[16];
    snprintf(num, sizeof(num), "%d", argc);
    frame_buf_append(&b, tmpdir, strlen(tmpdir) + 1);
    frame_buf_append(&b, num, strlen(num) + 1);
    for (int i = 0; i < argc; ++i)
        frame_buf_append(&b, args[i], strlen(args[i]) + 1);
    assert_int_equal(frame_write_all(c->cmd, frame_buf_bytes(&b), frame_buf_size(&b)), 0);
    frame_buf_free(&b);
}

static char token(co_t *c)
{
    char t = 0;
    ssize_t r = read(c->token, &t, 1);
    return r == 1 ? t : 0; /* 0: end of file */
}

static Uhw__V1__FromWorker *from_worker(co_t *c)
{
    frame_buf_t b;
    frame_buf_init(&b);
    assert_int_equal(frame_read_fd(c->proto_out, &b, FRAME_DEFAULT_MAX), FRAME_OK);
    Uhw__V1__FromWorker *m = uhw__v1__from_worker__unpack(NULL, frame_buf_size(&b), frame_buf_bytes(&b));
    assert_non_null(m);
    frame_buf_free(&b);
    return m;
}

static void to_worker(co_t *c, Uhw__V1__ToWorker *m)
{
    assert_int_equal(frame_write_fd(c->proto_in, &m->base), 0);
}

static void send_request(co_t *c, uint64_t id, const char *path, const void *body, size_t len)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Request r = UHW__V1__REQUEST__INIT;
    Uhw__V1__Header h = UHW__V1__HEADER__INIT, *hs[] = {&h};
    h.name = "X-Test";
    h.value.data = (uint8_t *)"yes";
    h.value.len = 3;
    r.id = id;
    r.method = "POST";
    r.path = (char *)path;
    r.headers = hs;
    r.n_headers = 1;
    r.body.data = (uint8_t *)body;
    r.body.len = len;
    m.msg_case = UHW__V1__TO_WORKER__MSG_REQUEST;
    m.request = &r;
    to_worker(c, &m);
}

static void send_shutdown(co_t *c)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Shutdown s = UHW__V1__SHUTDOWN__INIT;
    m.msg_case = UHW__V1__TO_WORKER__MSG_SHUTDOWN;
    m.shutdown = &s;
    to_worker(c, &m);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    *n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

/* Waits for the coprocess; returns its exit status. */
static int finish(co_t *c)
{
    close(c->proto_in);
    close(c->cmd);
    int st;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    close(c->proto_out);
    close(c->token);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_request_cycle(void **state)
{
    (void)state;
    co_t c;
    start(&c);
    command(&c, "ready", "-c", "1", "-i", "test", NULL);
    Uhw__V1__FromWorker *m = from_worker(&c);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_READY);
    assert_string_equal(m->ready->info, "test");
    uhw__v1__from_worker__free_unpacked(m, NULL);

    static const char body[] = "bin\0ary\n";
    send_request(&c, 7, "/first", body, sizeof(body) - 1);
    command(&c, "recv", NULL);
    assert_int_equal(token(&c), 'R');
    char path[300];
    snprintf(path, sizeof(path), "%s/request", c.dir);
    size_t n;
    char *req = slurp(path, &n);
    assert_string_equal(req, "7");                            /* UHW_REQUEST_ID */
    assert_string_equal(req + strlen(req) + 1, "POST");       /* REQUEST_METHOD */
    const char *field = req;
    for (int i = 0; i < REQVARS_FIXED; ++i) /* to UHW_BODY_FILE's field */
        field += strlen(field) + 1;
    snprintf(path, sizeof(path), "%s/body", c.dir);
    assert_string_equal(field, path);
    char *bodyf = slurp(field, &n);
    assert_int_equal(n, sizeof(body) - 1);
    assert_memory_equal(bodyf, body, n);
    free(bodyf);
    free(req);
    struct stat st;
    assert_int_equal(stat(c.dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* The verbs default to the current request: reply, with a file relative to CWD. */
    char file[300];
    snprintf(file, sizeof(file), "%s/answer", tmpdir);
    FILE *f = fopen(file, "w");
    fputs("from a file", f);
    fclose(f);
    command(&c, "reply", "-t", "text/plain", "-f", "answer", NULL);
    m = from_worker(&c);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_RESPONSE);
    assert_int_equal(m->response->id, 7);
    assert_int_equal(m->response->body.len, 11);
    uhw__v1__from_worker__free_unpacked(m, NULL);

    /* json: 'J' and the object in DIR/json. */
    command(&c, "json", "a=b", "n:=1", NULL);
    assert_int_equal(token(&c), 'J');
    snprintf(path, sizeof(path), "%s/json", c.dir);
    char *json = slurp(path, &n);
    assert_string_equal(json, "{\"a\":\"b\",\"n\":1}\n");
    free(json);
    command(&c, "json", "n:=nope", NULL);
    assert_int_equal(token(&c), 'E');
    expect_stderr("uhw json: invalid JSON for key 'n'");

    /* A second request, smaller: the request file shrinks with it. */
    send_request(&c, 8, "/2", "", 0);
    command(&c, "recv", NULL);
    assert_int_equal(token(&c), 'R');
    snprintf(path, sizeof(path), "%s/body", c.dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    command(&c, "reply", "ok", NULL);
    uhw__v1__from_worker__free_unpacked(from_worker(&c), NULL);

    /* Shutdown: no token, end of file; exit 0; directory gone. */
    send_shutdown(&c);
    command(&c, "recv", NULL);
    assert_int_equal(token(&c), 0);
    assert_int_equal(finish(&c), 0);
    assert_int_equal(stat(c.dir, &st), -1);
}

static void test_unanswered(void **state)
{
    (void)state;
    co_t c;
    start(&c);
    /* A refused reply leaves the request open: the next recv answers it 500. */
    send_request(&c, 1, "/a", "", 0);
    command(&c, "recv", NULL);
    assert_int_equal(token(&c), 'R');
    command(&c, "reply", "-H", "Bad Name: x", "never", NULL);
    send_request(&c, 2, "/b", "", 0);
    command(&c, "recv", NULL);
    Uhw__V1__FromWorker *m = from_worker(&c);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_LOG);
    assert_int_equal(m->log->id, 1);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    m = from_worker(&c);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_RESPONSE);
    assert_int_equal(m->response->id, 1);
    assert_int_equal(m->response->status, 500);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    assert_int_equal(token(&c), 'R');
    expect_stderr("uhw reply: refused header 'Bad Name'");

    /* A stream left open when the script ends (end of its commands): aborted. */
    command(&c, "stream", "start", NULL);
    uhw__v1__from_worker__free_unpacked(from_worker(&c), NULL);
    close(c.cmd);
    c.cmd = open("/dev/null", O_WRONLY);
    m = from_worker(&c);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_LOG);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    m = from_worker(&c);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_STREAM_END);
    assert_int_equal(m->stream_end->id, 2);
    assert_true(m->stream_end->error[0] != '\0');
    uhw__v1__from_worker__free_unpacked(m, NULL);
    assert_int_equal(finish(&c), 0);
    struct stat st;
    assert_int_equal(stat(c.dir, &st), -1);
}

static void test_not_by_hand(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(3);
        close(4);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        char *argv[] = {"coproc", NULL};
        _exit(helper_coproc(&helper_stdio, 1, argv));
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(WEXITSTATUS(st), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unanswered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_by_hand, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
