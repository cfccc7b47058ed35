/*
 * test_helpers.c — the shell-worker helpers (uhw ready/recv/reply/stream/sse/ndjson/
 * log/keepalive), called in-process with fd 0 fed from a pipe and fd 1 captured.
 *
 * The important property: whatever bytes a request carries, `eval "$(uhw recv)"` in
 * /bin/sh sets variables equal to them byte for byte and runs nothing. The tests eval
 * recv's real output in /bin/sh with hostile paths, queries and headers and check both.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "helpers.h" /* cmd/ is not on the include path */
#include "uhw.pb-c.h"

static char tmpdir[64];   /* a fresh directory per test */
static char marker[128];  /* created by any injected command */

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/uhw-test-helpers.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(marker, sizeof(marker), "%s/pwned", tmpdir);
    unsetenv("UHW_REQUEST_ID");
    unsetenv("UHW_BODY_FILE");
    unsetenv("UHW_WORKER_DIR");
    unsetenv("TMPDIR");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- fd plumbing */

typedef struct run {
    int rc;
    uint8_t *out; /* what the verb wrote to fd 1 */
    size_t out_len;
} run_t;

/* Runs fn(argv) with fd 0 reading `in` (n bytes; the rest of the pipe is left in *rest_fd
 * when rest_fd is not NULL, else closed) and fd 1 captured; fd 2 silenced when quiet. */
static run_t run_verb(int (*fn)(int, char **), char **argv, const void *in, size_t n, int *rest_fd, int quiet)
{
    int argc = 0;
    while (argv[argc] != NULL)
        ++argc;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_true(n <= 60000); /* fits in the pipe: no writer thread needed */
    if (n != 0)
        assert_int_equal(write(p[1], in, n), (ssize_t)n);
    close(p[1]);
    int out = memfd_create("out", 0);
    assert_true(out >= 0);
    int saved0 = dup(0), saved1 = dup(1), saved2 = dup(2);
    dup2(p[0], 0);
    dup2(out, 1);
    if (quiet) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        close(null);
    }
    run_t r = {0};
    r.rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved0, 0);
    dup2(saved1, 1);
    dup2(saved2, 2);
    close(saved0);
    close(saved1);
    close(saved2);
    if (rest_fd != NULL)
        *rest_fd = p[0];
    else
        close(p[0]);
    off_t len = lseek(out, 0, SEEK_END);
    r.out_len = (size_t)len;
    r.out = malloc(r.out_len + 1);
    assert_int_equal(pread(out, r.out, r.out_len, 0), (ssize_t)r.out_len);
    r.out[r.out_len] = '\0';
    close(out);
    return r;
}

/* The single FromWorker frame in r's output. */
static Uhw__V1__FromWorker *only_frame(const run_t *r)
{
    size_t hdr, len;
    assert_int_equal(frame_parse(r->out, r->out_len, FRAME_DEFAULT_MAX, &hdr, &len), FRAME_OK);
    assert_int_equal(hdr + len, r->out_len);
    Uhw__V1__FromWorker *m = uhw__v1__from_worker__unpack(NULL, len, r->out + hdr);
    assert_non_null(m);
    return m;
}

static void append_to_worker(frame_buf_t *b, Uhw__V1__ToWorker *m)
{
    assert_int_equal(frame_append(b, &m->base), 0);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    *n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    buf[*n] = '\0';
    return buf;
}

/* Runs a /bin/sh script; returns its exit status. */
static int sh(const char *script)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Replaces MARKER with the marker path (malloc'd). */
static char *with_marker(const char *s)
{
    char *out = malloc(strlen(s) + strlen(marker) + 1);
    const char *m = strstr(s, "MARKER");
    if (m == NULL) {
        strcpy(out, s);
    } else {
        memcpy(out, s, (size_t)(m - s));
        strcpy(out + (m - s), marker);
        strcat(out, m + 6);
    }
    return out;
}

/* ---------------------------------------------------------------- recv */

static void add_header(Uhw__V1__Header *h, Uhw__V1__Header **pp, size_t *n, const char *name, const char *value)
{
    Uhw__V1__Header init = UHW__V1__HEADER__INIT;
    h[*n] = init;
    h[*n].name = (char *)name;
    h[*n].value.data = (uint8_t *)value;
    h[*n].value.len = strlen(value);
    pp[*n] = &h[*n];
    ++*n;
}

static void append_request(frame_buf_t *b, uint64_t id, const char *path, const char *query, Uhw__V1__Header **hs,
                           size_t nh, const void *body, size_t body_len)
{
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Request r = UHW__V1__REQUEST__INIT;
    r.id = id;
    r.method = "POST";
    r.path = (char *)path;
    r.query = (char *)query;
    r.headers = hs;
    r.n_headers = nh;
    r.body.data = (uint8_t *)body;
    r.body.len = body_len;
    r.remote_addr = "192.0.2.1";
    r.remote_port = 40000;
    r.scheme = "http";
    r.http_version = "HTTP/1.1";
    r.pool = "sh";
    r.timeout_ms = 29000;
    m.msg_case = UHW__V1__TO_WORKER__MSG_REQUEST;
    m.request = &r;
    append_to_worker(b, &m);
}

/* Evals `output` like a worker loop does and prints each variable to DIR/NAME. */
static void eval_to_files(const uint8_t *output, size_t n, const char *const *vars, size_t nvars)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/recv.out", tmpdir);
    write_file(path, output, n);
    char script[8192];
    int k = snprintf(script, sizeof(script), "cd '%s' || exit 9; req=$(cat recv.out); eval \"$req\" || exit 8;",
                     tmpdir);
    for (size_t i = 0; i < nvars; ++i)
        k += snprintf(script + k, sizeof(script) - (size_t)k,
                      " if [ -n \"${%s+set}\" ]; then printf %%s \"$%s\" > var.%s; fi;", vars[i], vars[i], vars[i]);
    assert_true((size_t)k < sizeof(script));
    /* The same environment recv saw (HTTP_STALE), so its unset can be checked. */
    assert_int_equal(sh(script), 0);
}

static void expect_var(const char *name, const void *value, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/var.%s", tmpdir, name);
    if (value == NULL) {
        if (access(path, F_OK) == 0)
            fail_msg("%s should be unset", name);
        return;
    }
    size_t got_n;
    char *got = read_file(path, &got_n);
    if (got_n != n || memcmp(got, value, n) != 0)
        fail_msg("%s = [%s], expected [%.*s]", name, got, (int)n, (const char *)value);
    free(got);
}

static void expect_var_str(const char *name, const char *value)
{
    expect_var(name, value, value != NULL ? strlen(value) : 0);
}

static void test_recv_hostile_round_trip(void **state)
{
    (void)state;
    char *path = with_marker("/a b/'$(touch MARKER)'/`touch MARKER`;\"x\"\\");
    char *query = with_marker("q=';touch MARKER;'&r=$(touch MARKER)\n&s=\\'");
    char *hv1 = with_marker("it's $(touch MARKER) `touch MARKER` ; \" \\ \\'");
    char *hv2 = with_marker("'; touch MARKER; echo '");
    Uhw__V1__Header h[8], *hp[8];
    size_t nh = 0;
    add_header(h, hp, &nh, "x-evil", hv1);
    add_header(h, hp, &nh, "X-Evil", hv2); /* same variable: joined */
    add_header(h, hp, &nh, "content-type", "text/plain; x='$(touch MARKER)'");
    add_header(h, hp, &nh, "content-length", "999");
    add_header(h, hp, &nh, "accept-encoding", "gzip");
    add_header(h, hp, &nh, "proxy", "http://evil:8080"); /* httpoxy: never exported */
    add_header(h, hp, &nh, "weird.name$(x)", "w");
    add_header(h, hp, &nh, "x-empty", ""); /* all values empty: an empty, never-allocated buffer */
    static const char body[] = "body with '$(touch MARKER)'\0and a NUL";
    frame_buf_t in;
    frame_buf_init(&in);
    append_request(&in, 123456789012345ULL, path, query, hp, nh, body, sizeof(body) - 1);

    char body_file[256];
    snprintf(body_file, sizeof(body_file), "%s/body", tmpdir);
    setenv("UHW_BODY_FILE", body_file, 1);
    setenv("HTTP_STALE", "from the previous request", 1);
    char *argv[] = {"recv", NULL};
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 0);
    assert_int_equal(r.rc, 0);

    static const char *const vars[] = {"UHW_REQUEST_ID", "REQUEST_METHOD", "PATH_INFO", "QUERY_STRING",
                                       "CONTENT_TYPE",   "CONTENT_LENGTH", "REMOTE_ADDR", "REMOTE_PORT",
                                       "REQUEST_SCHEME", "SERVER_PROTOCOL", "UHW_TIMEOUT_MS", "UHW_BODY_FILE",
                                       "HTTP_X_EVIL",    "HTTP_ACCEPT_ENCODING", "HTTP_PROXY", "HTTP_STALE",
                                       "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_WEIRD_NAME__X_", "HTTP_X_EMPTY"};
    eval_to_files(r.out, r.out_len, vars, sizeof(vars) / sizeof(vars[0]));
    unsetenv("HTTP_STALE");
    unsetenv("UHW_BODY_FILE");

    assert_int_equal(access(marker, F_OK), -1); /* nothing ran */
    expect_var_str("UHW_REQUEST_ID", "123456789012345");
    expect_var_str("REQUEST_METHOD", "POST");
    expect_var_str("PATH_INFO", path);
    expect_var_str("QUERY_STRING", query);
    expect_var_str("CONTENT_TYPE", "text/plain; x='$(touch MARKER)'");
    expect_var_str("CONTENT_LENGTH", "37"); /* the body's length, not the header */
    expect_var_str("REMOTE_ADDR", "192.0.2.1");
    expect_var_str("REMOTE_PORT", "40000");
    expect_var_str("REQUEST_SCHEME", "http");
    expect_var_str("SERVER_PROTOCOL", "HTTP/1.1");
    expect_var_str("UHW_TIMEOUT_MS", "29000");
    expect_var_str("UHW_BODY_FILE", body_file);
    char joined[512];
    snprintf(joined, sizeof(joined), "%s, %s", hv1, hv2);
    expect_var_str("HTTP_X_EVIL", joined);
    expect_var_str("HTTP_ACCEPT_ENCODING", "gzip");
    expect_var_str("HTTP_WEIRD_NAME__X_", NULL); /* not a name a shell variable can stand for */
    expect_var_str("HTTP_X_EMPTY", "");
    expect_var_str("HTTP_PROXY", NULL);
    expect_var_str("HTTP_STALE", NULL);
    expect_var_str("HTTP_CONTENT_TYPE", NULL);
    expect_var_str("HTTP_CONTENT_LENGTH", NULL);

    /* The body, byte for byte (NUL included), in a private file. */
    size_t n;
    char *got = read_file(body_file, &n);
    assert_int_equal(n, sizeof(body) - 1);
    assert_memory_equal(got, body, n);
    free(got);
    struct stat st;
    assert_int_equal(stat(body_file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    free(r.out);
    frame_buf_free(&in);
    free(path);
    free(query);
    free(hv1);
    free(hv2);
}

/* Only [A-Za-z0-9-] names become variables: X_Forwarded_For or X.Forwarded.For would map
 * to HTTP_X_FORWARDED_FOR too and let a client forge what a proxy sets (like nginx's
 * underscores_in_headers off, they are dropped). */
static void test_recv_header_names_cannot_collide(void **state)
{
    (void)state;
    Uhw__V1__Header h[6], *hp[6];
    size_t nh = 0;
    add_header(h, hp, &nh, "X_Forwarded_For", "6.6.6.6");
    add_header(h, hp, &nh, "X-Forwarded-For", "192.0.2.7");
    add_header(h, hp, &nh, "x.forwarded.for", "6.6.6.7");
    add_header(h, hp, &nh, "x-forwarded-for", "198.51.100.1"); /* the same header: joined */
    add_header(h, hp, &nh, "X-Real_IP", "6.6.6.8");
    add_header(h, hp, &nh, "", "empty name");
    frame_buf_t in;
    frame_buf_init(&in);
    append_request(&in, 9, "/", "", hp, nh, "", 0);
    char body_file[256];
    snprintf(body_file, sizeof(body_file), "%s/body", tmpdir);
    setenv("UHW_BODY_FILE", body_file, 1);
    char *argv[] = {"recv", NULL};
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 0);
    unsetenv("UHW_BODY_FILE");
    assert_int_equal(r.rc, 0);
    static const char *const vars[] = {"HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_"};
    eval_to_files(r.out, r.out_len, vars, 3);
    expect_var_str("HTTP_X_FORWARDED_FOR", "192.0.2.7, 198.51.100.1");
    expect_var_str("HTTP_X_REAL_IP", NULL);
    expect_var_str("HTTP_", NULL);
    assert_null(strstr((char *)r.out, "6.6.6"));
    free(r.out);
    frame_buf_free(&in);
}

/* A request whose header values are all empty (clang UBSan once saw NULL + 0 here). */
static void test_recv_empty_header_values(void **state)
{
    (void)state;
    Uhw__V1__Header h[1], *hp[1];
    size_t nh = 0;
    add_header(h, hp, &nh, "x-empty", "");
    frame_buf_t in;
    frame_buf_init(&in);
    append_request(&in, 8, "/", "", hp, nh, "", 0);
    char body_file[256];
    snprintf(body_file, sizeof(body_file), "%s/body", tmpdir);
    setenv("UHW_BODY_FILE", body_file, 1);
    char *argv[] = {"recv", NULL};
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 0);
    unsetenv("UHW_BODY_FILE");
    assert_int_equal(r.rc, 0);
    static const char *const vars[] = {"HTTP_X_EMPTY"};
    eval_to_files(r.out, r.out_len, vars, 1);
    expect_var_str("HTTP_X_EMPTY", "");
    free(r.out);
    frame_buf_free(&in);
}

static void test_recv_reads_one_frame(void **state)
{
    (void)state;
    frame_buf_t in;
    frame_buf_init(&in);
    append_request(&in, 1, "/first", "", NULL, 0, "", 0);
    append_request(&in, 2, "/second", "", NULL, 0, "x", 1);
    char body_file[256];
    snprintf(body_file, sizeof(body_file), "%s/body", tmpdir);
    setenv("UHW_BODY_FILE", body_file, 1);
    char *argv[] = {"recv", NULL};
    int rest;
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), &rest, 0);
    unsetenv("UHW_BODY_FILE");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr((char *)r.out, "export UHW_REQUEST_ID='1'\n"));
    assert_non_null(strstr((char *)r.out, "export PATH_INFO='/first'\n"));
    assert_null(strstr((char *)r.out, "second"));
    /* An empty body still gives an (empty) file. */
    size_t n;
    free(read_file(body_file, &n));
    assert_int_equal(n, 0);
    /* The second frame is still in the pipe, whole. */
    frame_buf_t b;
    frame_buf_init(&b);
    assert_int_equal(frame_read_fd(rest, &b, FRAME_DEFAULT_MAX), FRAME_OK);
    Uhw__V1__ToWorker *m = uhw__v1__to_worker__unpack(NULL, frame_buf_size(&b), frame_buf_bytes(&b));
    assert_non_null(m);
    assert_int_equal(m->msg_case, UHW__V1__TO_WORKER__MSG_REQUEST);
    assert_int_equal(m->request->id, 2);
    uhw__v1__to_worker__free_unpacked(m, NULL);
    assert_int_equal(frame_read_fd(rest, &b, FRAME_DEFAULT_MAX), FRAME_NEED_MORE); /* then EOF */
    close(rest);
    frame_buf_free(&b);
    frame_buf_free(&in);
    free(r.out);
}

/* The value recv exported for NAME (unquoted: the tests use no quotes in paths); malloc'd or NULL. */
static char *exported(const run_t *r, const char *name)
{
    char key[128];
    snprintf(key, sizeof(key), "export %s='", name);
    const char *p = strstr((const char *)r->out, key);
    if (p == NULL)
        return NULL;
    p += strlen(key);
    return strndup(p, strcspn(p, "'"));
}

/* Gives a file to another user (nobody) when we are root: the attacker of the tests below. */
static int give_away(const char *path)
{
    return geteuid() == 0 && chown(path, 65534, 65534) == 0;
}

/* Without UHW_WORKER_DIR (a worker run outside uhw), the body goes to a new private
 * directory: a file planted at the old predictable name ${TMPDIR}/uhw-body.<ppid>, readable
 * by all, receives nothing. */
static void test_recv_default_body_file(void **state)
{
    (void)state;
    char planted[256];
    snprintf(planted, sizeof(planted), "%s/uhw-body.%ld", tmpdir, (long)getppid());
    write_file(planted, "", 0);
    assert_int_equal(chmod(planted, 0666), 0);
    give_away(planted);
    frame_buf_t in;
    frame_buf_init(&in);
    append_request(&in, 3, "/", "", NULL, 0, "password=hunter2", 16);
    append_request(&in, 4, "/", "", NULL, 0, "second", 6);
    setenv("TMPDIR", tmpdir, 1);
    char *argv[] = {"recv", NULL};
    int rest;
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), &rest, 0);
    assert_int_equal(r.rc, 0);
    struct stat st;
    assert_int_equal(stat(planted, &st), 0);
    assert_int_equal(st.st_size, 0);
    char *body = exported(&r, "UHW_BODY_FILE"), *dir = exported(&r, "UHW_WORKER_DIR");
    assert_non_null(body);
    assert_non_null(dir);
    assert_int_equal(strncmp(body, dir, strlen(dir)), 0);
    assert_string_equal(body + strlen(dir), "/body");
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(stat(body, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t n;
    char *got = read_file(body, &n);
    assert_string_equal(got, "password=hunter2");
    free(got);
    free(r.out);

    /* The next call (in the shell: after eval) reuses that directory. */
    setenv("UHW_WORKER_DIR", dir, 1);
    int saved0 = dup(0);
    dup2(rest, 0);
    close(rest);
    r = run_verb(cmd_recv, argv, "", 0, NULL, 0);
    (void)r;
    free(r.out);
    dup2(saved0, 0);
    close(saved0);
    unsetenv("UHW_WORKER_DIR");
    unsetenv("TMPDIR");
    free(body);
    free(dir);
    frame_buf_free(&in);
}

/* $UHW_WORKER_DIR (from uhw) holds the body; one that is not private is refused. */
static void test_recv_worker_dir(void **state)
{
    (void)state;
    char dir[256], link[256], body[300];
    snprintf(dir, sizeof(dir), "%s/w", tmpdir);
    snprintf(link, sizeof(link), "%s/link", tmpdir);
    snprintf(body, sizeof(body), "%s/body", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    frame_buf_t in;
    frame_buf_init(&in);
    append_request(&in, 5, "/", "", NULL, 0, "secret", 6);
    char *argv[] = {"recv", NULL};
    setenv("UHW_WORKER_DIR", dir, 1);
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 0);
    assert_int_equal(r.rc, 0);
    char *got_body = exported(&r, "UHW_BODY_FILE");
    assert_string_equal(got_body, body);
    free(got_body);
    assert_null(exported(&r, "UHW_WORKER_DIR")); /* uhw's: nothing to tell */
    size_t n;
    char *got = read_file(body, &n);
    assert_string_equal(got, "secret");
    free(got);
    free(r.out);

    /* Open to others, a symlink, someone else's: refused, nothing printed. */
    assert_int_equal(chmod(dir, 0755), 0);
    r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 1);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    free(r.out);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(symlink(dir, link), 0);
    setenv("UHW_WORKER_DIR", link, 1);
    r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 1);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    free(r.out);
    if (give_away(dir)) {
        setenv("UHW_WORKER_DIR", dir, 1);
        r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 1);
        assert_int_equal(r.rc, 1);
        assert_int_equal(r.out_len, 0);
        free(r.out);
    }
    unsetenv("UHW_WORKER_DIR");
    frame_buf_free(&in);
}

/* An explicit $UHW_BODY_FILE is written only if it is our own regular file (or new). */
static void test_recv_body_file_not_ours(void **state)
{
    (void)state;
    char planted[256];
    snprintf(planted, sizeof(planted), "%s/planted", tmpdir);
    write_file(planted, "", 0);
    assert_int_equal(chmod(planted, 0666), 0);
    if (!give_away(planted))
        skip(); /* needs root to play the other user */
    frame_buf_t in;
    frame_buf_init(&in);
    append_request(&in, 6, "/", "", NULL, 0, "secret", 6);
    setenv("UHW_BODY_FILE", planted, 1);
    char *argv[] = {"recv", NULL};
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 1);
    unsetenv("UHW_BODY_FILE");
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    struct stat st;
    assert_int_equal(stat(planted, &st), 0);
    assert_int_equal(st.st_size, 0);
    free(r.out);
    frame_buf_free(&in);
}

static void test_recv_configure_cancel_then_request(void **state)
{
    (void)state;
    frame_buf_t in;
    frame_buf_init(&in);
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Configure cf = UHW__V1__CONFIGURE__INIT;
    Uhw__V1__Setting s1 = UHW__V1__SETTING__INIT, s2 = UHW__V1__SETTING__INIT;
    s1.key = "db.url";
    s1.value = "postgres://x/'y'";
    s2.key = "Mode";
    s2.value = "$(touch MARKER)";
    Uhw__V1__Setting *ss[] = {&s1, &s2};
    cf.settings = ss;
    cf.n_settings = 2;
    m.msg_case = UHW__V1__TO_WORKER__MSG_CONFIGURE;
    m.configure = &cf;
    append_to_worker(&in, &m);
    Uhw__V1__ToWorker mc = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Cancel c = UHW__V1__CANCEL__INIT;
    c.id = 77;
    mc.msg_case = UHW__V1__TO_WORKER__MSG_CANCEL;
    mc.cancel = &c;
    append_to_worker(&in, &mc);
    append_request(&in, 4, "/after", "", NULL, 0, "", 0);
    char body_file[256];
    snprintf(body_file, sizeof(body_file), "%s/body", tmpdir);
    setenv("UHW_BODY_FILE", body_file, 1);
    setenv("UHW_SETTING_OLD", "stale", 1);
    char *argv[] = {"recv", NULL};
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 1);
    assert_int_equal(r.rc, 0);
    static const char *const vars[] = {"UHW_SETTING_DB_URL", "UHW_SETTING_MODE", "UHW_SETTING_OLD", "PATH_INFO"};
    eval_to_files(r.out, r.out_len, vars, 4);
    unsetenv("UHW_BODY_FILE");
    unsetenv("UHW_SETTING_OLD");
    expect_var_str("UHW_SETTING_DB_URL", "postgres://x/'y'");
    expect_var_str("UHW_SETTING_MODE", "$(touch MARKER)");
    expect_var_str("UHW_SETTING_OLD", NULL);
    expect_var_str("PATH_INFO", "/after");
    free(r.out);
    frame_buf_free(&in);
}

static void test_recv_eof_shutdown_garbage(void **state)
{
    (void)state;
    char *argv[] = {"recv", NULL};
    /* EOF: exit 1, nothing printed. */
    run_t r = run_verb(cmd_recv, argv, "", 0, NULL, 0);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    free(r.out);
    /* Configure then Shutdown: exit 1, nothing printed (not even the settings). */
    frame_buf_t in;
    frame_buf_init(&in);
    Uhw__V1__ToWorker m = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Configure cf = UHW__V1__CONFIGURE__INIT;
    m.msg_case = UHW__V1__TO_WORKER__MSG_CONFIGURE;
    m.configure = &cf;
    append_to_worker(&in, &m);
    Uhw__V1__ToWorker ms = UHW__V1__TO_WORKER__INIT;
    Uhw__V1__Shutdown sd = UHW__V1__SHUTDOWN__INIT;
    ms.msg_case = UHW__V1__TO_WORKER__MSG_SHUTDOWN;
    ms.shutdown = &sd;
    append_to_worker(&in, &ms);
    r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 0);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    free(r.out);
    /* A truncated frame and bytes that do not decode: exit 1 with a message. */
    r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), 1, NULL, 1);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    free(r.out);
    r = run_verb(cmd_recv, argv, "\x04\xff\xff\xff\xff", 5, NULL, 1);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    free(r.out);
    /* Bad usage. */
    char *bad[] = {"recv", "extra", NULL};
    r = run_verb(cmd_recv, bad, "", 0, NULL, 1);
    assert_int_equal(r.rc, 2);
    free(r.out);
    frame_buf_free(&in);
}

/* A frame over $UHW_MAX_FRAME (the pool's max_frame) is refused from its prefix. */
static void test_recv_max_frame(void **state)
{
    (void)state;
    char body[200];
    memset(body, 'b', sizeof(body));
    frame_buf_t in;
    frame_buf_init(&in);
    append_request(&in, 1, "/", "", NULL, 0, body, sizeof(body));
    char body_file[256];
    snprintf(body_file, sizeof(body_file), "%s/body", tmpdir);
    setenv("UHW_BODY_FILE", body_file, 1);
    setenv("UHW_MAX_FRAME", "100", 1);
    char *argv[] = {"recv", NULL};
    run_t r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 1);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    free(r.out);
    setenv("UHW_MAX_FRAME", "4096", 1);
    r = run_verb(cmd_recv, argv, frame_buf_bytes(&in), frame_buf_size(&in), NULL, 0);
    assert_int_equal(r.rc, 0);
    free(r.out);
    unsetenv("UHW_MAX_FRAME");
    unsetenv("UHW_BODY_FILE");
    frame_buf_free(&in);
}

/* ---------------------------------------------------------------- senders */

static void test_reply(void **state)
{
    (void)state;
    char *argv[] = {"reply", "-i", "5", "-s", "404", "-t", "text/plain", "-H", "X-A:  b c ", "--", "-body-", NULL};
    run_t r = run_verb(cmd_reply, argv, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    Uhw__V1__FromWorker *m = only_frame(&r);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_RESPONSE);
    assert_int_equal(m->response->id, 5);
    assert_int_equal(m->response->status, 404);
    assert_int_equal(m->response->n_headers, 2);
    assert_string_equal(m->response->headers[0]->name, "Content-Type");
    assert_memory_equal(m->response->headers[0]->value.data, "text/plain", 10);
    assert_string_equal(m->response->headers[1]->name, "X-A");
    assert_int_equal(m->response->headers[1]->value.len, 3);
    assert_memory_equal(m->response->headers[1]->value.data, "b c", 3);
    assert_int_equal(m->response->body.len, 6);
    assert_memory_equal(m->response->body.data, "-body-", 6);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);

    /* Id from the environment, body from stdin, default status, no headers. */
    setenv("UHW_REQUEST_ID", "9", 1);
    char *argv2[] = {"reply", "-", NULL};
    r = run_verb(cmd_reply, argv2, "from\0stdin", 10, NULL, 0);
    assert_int_equal(r.rc, 0);
    m = only_frame(&r);
    assert_int_equal(m->response->id, 9);
    assert_int_equal(m->response->status, 200);
    assert_int_equal(m->response->n_headers, 0);
    assert_int_equal(m->response->body.len, 10);
    assert_memory_equal(m->response->body.data, "from\0stdin", 10);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);

    /* Body from a file; no body at all. */
    char file[256];
    snprintf(file, sizeof(file), "%s/f", tmpdir);
    write_file(file, "file body", 9);
    char *argv3[] = {"reply", "-f", file, NULL};
    r = run_verb(cmd_reply, argv3, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    m = only_frame(&r);
    assert_int_equal(m->response->body.len, 9);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);
    char *argv4[] = {"reply", "-s", "204", NULL};
    r = run_verb(cmd_reply, argv4, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    m = only_frame(&r);
    assert_int_equal(m->response->status, 204);
    assert_int_equal(m->response->body.len, 0);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);
    unsetenv("UHW_REQUEST_ID");
}

static void test_reply_refusals(void **state)
{
    (void)state;
    static const char *const cases[][8] = {
        {"reply", "body", NULL},                              /* no id anywhere */
        {"reply", "-i", "x1", NULL},                          /* bad id */
        {"reply", "-i", "1", "-s", "99", NULL},               /* bad status */
        {"reply", "-i", "1", "-s", "600", NULL},
        {"reply", "-i", "1", "-H", "X-A: a\r\nInjected: 1", NULL},
        {"reply", "-i", "1", "-H", "Connection: close", NULL}, /* hop-by-hop */
        {"reply", "-i", "1", "-H", "no colon", NULL},
        {"reply", "-i", "1", "-H", "Bad Name: x", NULL},
        {"reply", "-i", "1", "-t", "a\nb", NULL},
        {"reply", "-i", "1", "one", "two", NULL},             /* two bodies */
        {"reply", "-i", "1", "-f", "/x", "body", NULL},       /* file and body */
        {"reply", "-i", "1", "-q", NULL},                     /* unknown option */
        {"reply", "-i", NULL},                                /* missing value */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        run_t r = run_verb(cmd_reply, (char **)cases[i], "", 0, NULL, 1);
        if (r.rc != 2 || r.out_len != 0)
            fail_msg("case %zu: rc=%d, %zu bytes sent", i, r.rc, r.out_len);
        free(r.out);
    }
    /* A missing file is a runtime error (1), still nothing sent. */
    char *argv[] = {"reply", "-i", "1", "-f", "/nonexistent/file", NULL};
    run_t r = run_verb(cmd_reply, argv, "", 0, NULL, 1);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.out_len, 0);
    free(r.out);
}

static void test_stream(void **state)
{
    (void)state;
    setenv("UHW_REQUEST_ID", "12", 1);
    char *start[] = {"stream", "start", "-s", "201", "-t", "text/event-stream", NULL};
    run_t r = run_verb(cmd_stream, start, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    Uhw__V1__FromWorker *m = only_frame(&r);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_STREAM_START);
    assert_int_equal(m->stream_start->id, 12);
    assert_int_equal(m->stream_start->status, 201);
    assert_int_equal(m->stream_start->n_headers, 1);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);

    char *data[] = {"stream", "data", "-i", "13", "chunk\n", NULL};
    r = run_verb(cmd_stream, data, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    m = only_frame(&r);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_STREAM_DATA);
    assert_int_equal(m->stream_data->id, 13);
    assert_int_equal(m->stream_data->data.len, 6);
    assert_memory_equal(m->stream_data->data.data, "chunk\n", 6);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);

    char *end[] = {"stream", "end", "--error", "backend died", NULL};
    r = run_verb(cmd_stream, end, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    m = only_frame(&r);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_STREAM_END);
    assert_string_equal(m->stream_end->error, "backend died");
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);

    char *end2[] = {"stream", "end", NULL};
    r = run_verb(cmd_stream, end2, "", 0, NULL, 0);
    m = only_frame(&r);
    assert_string_equal(m->stream_end->error, "");
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);

    static const char *const bad[][4] = {{"stream", NULL}, {"stream", "middle", NULL}, {"stream", "data", NULL},
                                         {"stream", "start", "body", NULL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        r = run_verb(cmd_stream, (char **)bad[i], "", 0, NULL, 1);
        assert_int_equal(r.rc, 2);
        assert_int_equal(r.out_len, 0);
        free(r.out);
    }
    unsetenv("UHW_REQUEST_ID");
}

static void expect_data_frame(const run_t *r, uint64_t id, const char *text)
{
    assert_int_equal(r->rc, 0);
    Uhw__V1__FromWorker *m = only_frame(r);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_STREAM_DATA);
    assert_int_equal(m->stream_data->id, id);
    if (m->stream_data->data.len != strlen(text) || memcmp(m->stream_data->data.data, text, strlen(text)) != 0)
        fail_msg("data [%.*s], expected [%s]", (int)m->stream_data->data.len, m->stream_data->data.data, text);
    uhw__v1__from_worker__free_unpacked(m, NULL);
}

static void test_sse(void **state)
{
    (void)state;
    char *argv[] = {"sse",    "-i",   "3", "--event", "tick", "--id", "7", "--retry",
                    "2000", "line 1\nline 2\r\nline 3", NULL};
    run_t r = run_verb(cmd_sse, argv, "", 0, NULL, 0);
    expect_data_frame(&r, 3, "event: tick\nid: 7\nretry: 2000\ndata: line 1\ndata: line 2\ndata: line 3\n\n");
    free(r.out);
    char *argv2[] = {"sse", "-i", "3", "", NULL};
    r = run_verb(cmd_sse, argv2, "", 0, NULL, 0);
    expect_data_frame(&r, 3, "data: \n\n");
    free(r.out);
    char *bad1[] = {"sse", "-i", "3", "--event", "a\nb", "x", NULL};
    char *bad2[] = {"sse", "-i", "3", NULL};
    char *bad3[] = {"sse", "-i", "3", "--retry", "soon", "x", NULL};
    char **bad[] = {bad1, bad2, bad3};
    for (size_t i = 0; i < 3; ++i) {
        r = run_verb(cmd_sse, bad[i], "", 0, NULL, 1);
        assert_int_equal(r.rc, 2);
        assert_int_equal(r.out_len, 0);
        free(r.out);
    }
}

static void test_ndjson(void **state)
{
    (void)state;
    char *argv[] = {"ndjson", "-i", "4", "{ \"a\" : [1, 2.50, \"x y\\n\"],\n \"b\": {\"c\" : null} }", NULL};
    run_t r = run_verb(cmd_ndjson, argv, "", 0, NULL, 0);
    expect_data_frame(&r, 4, "{\"a\":[1,2.50,\"x y\\n\"],\"b\":{\"c\":null}}\n");
    free(r.out);
    char *argv2[] = {"ndjson", "-i", "4", "-", NULL};
    r = run_verb(cmd_ndjson, argv2, " 42 ", 4, NULL, 0);
    expect_data_frame(&r, 4, "42\n");
    free(r.out);
    static const char *const bad[] = {"{\"a\":", "{a:1}", "[1,]", "", "1 2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        char *a[] = {"ndjson", "-i", "4", (char *)bad[i], NULL};
        r = run_verb(cmd_ndjson, a, "", 0, NULL, 1);
        if (r.rc != 2 || r.out_len != 0)
            fail_msg("ndjson '%s': rc=%d, %zu bytes sent", bad[i], r.rc, r.out_len);
        free(r.out);
    }
}

static void test_ready_log_keepalive(void **state)
{
    (void)state;
    char *ready[] = {"ready", "-c", "3", "-i", "my worker", NULL};
    run_t r = run_verb(cmd_ready, ready, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    Uhw__V1__FromWorker *m = only_frame(&r);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_READY);
    assert_int_equal(m->ready->protocol, 1);
    assert_int_equal(m->ready->concurrency, 3);
    assert_string_equal(m->ready->info, "my worker");
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);
    char *ready2[] = {"ready", NULL};
    r = run_verb(cmd_ready, ready2, "", 0, NULL, 0);
    m = only_frame(&r);
    assert_int_equal(m->ready->concurrency, 1);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);

    setenv("UHW_REQUEST_ID", "21", 1);
    char *log[] = {"log", "WARNING", "disk", "almost", "full", NULL};
    r = run_verb(cmd_log, log, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    m = only_frame(&r);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_LOG);
    assert_int_equal(m->log->level, UHW__V1__LOG__LEVEL__WARNING);
    assert_string_equal(m->log->message, "disk almost full");
    assert_int_equal(m->log->id, 21);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);

    char *ka[] = {"keepalive", NULL};
    r = run_verb(cmd_keepalive, ka, "", 0, NULL, 0);
    assert_int_equal(r.rc, 0);
    m = only_frame(&r);
    assert_int_equal(m->msg_case, UHW__V1__FROM_WORKER__MSG_KEEP_ALIVE);
    assert_int_equal(m->keep_alive->id, 21);
    uhw__v1__from_worker__free_unpacked(m, NULL);
    free(r.out);
    unsetenv("UHW_REQUEST_ID");

    char *bad1[] = {"log", "loud", "x", NULL};
    char *bad2[] = {"log", "info", NULL};
    char *bad3[] = {"ready", "-c", "-1", NULL};
    char *bad4[] = {"keepalive", "-i", "nope", NULL};
    struct { int (*fn)(int, char **); char **argv; } bad[] = {
        {cmd_log, bad1}, {cmd_log, bad2}, {cmd_ready, bad3}, {cmd_keepalive, bad4}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        r = run_verb(bad[i].fn, bad[i].argv, "", 0, NULL, 1);
        assert_int_equal(r.rc, 2);
        assert_int_equal(r.out_len, 0);
        free(r.out);
    }
}

static void test_usage(void **state)
{
    (void)state;
    static const char *const verbs[] = {"ready", "recv", "reply", "stream", "sse", "ndjson", "log", "keepalive"};
    int (*const fns[])(int, char **) = {cmd_ready, cmd_recv, cmd_reply, cmd_stream,
                                        cmd_sse,   cmd_ndjson, cmd_log, cmd_keepalive};
    for (size_t i = 0; i < 8; ++i) {
        const char *u = helpers_usage(verbs[i]);
        assert_non_null(u);
        assert_true(strncmp(u, "usage: uhw ", 11) == 0);
        assert_non_null(strstr(helpers_summary(), verbs[i]));
        /* --help: exit 0; stdout is not a terminal here, so the text goes to stderr and
         * nothing reaches the protocol pipe. */
        char *argv[] = {(char *)verbs[i], "--help", NULL};
        run_t r = run_verb(fns[i], argv, "", 0, NULL, 1);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.out_len, 0);
        free(r.out);
    }
    assert_null(helpers_usage("serve"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recv_hostile_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_empty_header_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_header_names_cannot_collide, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_reads_one_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_default_body_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_worker_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_body_file_not_ours, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_configure_cancel_then_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_eof_shutdown_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_max_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ndjson, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_log_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
