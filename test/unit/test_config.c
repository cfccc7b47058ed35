/*
 * test_config.c — pools.yaml loading: every key and default, path resolution, the
 * duration and size syntaxes, each kind of mistake with its FILE:LINE:COL, and the
 * runtime checks of commands and directories.
 *
 * Fixtures live in test/fixtures/config/ (the suite runs from the repository root);
 * tests that need files of their own write them to a fresh mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define FIXTURES "test/fixtures/config/"

/* ------------------------------------------------------------------ helpers */

/* Per-test scratch directory, removed with everything in it by teardown. */
typedef struct scratch {
    char dir[64];
} scratch_t;

static int setup_scratch(void **state)
{
    scratch_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    strcpy(s->dir, "/tmp/uhw-test-config-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    *state = s;
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown_scratch(void **state)
{
    scratch_t *s = *state;
    nftw(s->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(s);
    return 0;
}

/* Writes `text` to DIR/NAME with `mode`; returns the path (caller frees). */
static char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *path;
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

/* Loads `yaml` written as DIR/pools.yaml; `*path` receives the file name (caller frees). */
static uhw_config_t *load_text(const char *dir, const char *yaml, cfg_errors_t *errs, char **path)
{
    *path = write_file(dir, "pools.yaml", yaml, 0644);
    return config_load(*path, errs);
}

static void print_errors(const cfg_errors_t *errs)
{
    for (size_t i = 0; i < errs->len; ++i)
        print_message("  error: %s\n", errs->items[i]);
}

/* Glob match where only '*' is special (messages are full of '[', '?' and '('). */
static int glob(const char *pat, const char *s)
{
    if (*pat == '\0')
        return *s == '\0';
    if (*pat == '*')
        return glob(pat + 1, s) || (*s != '\0' && glob(pat, s + 1));
    return *pat == *s && glob(pat + 1, s + 1);
}

/* True if some error is FILE:`rest`, where '*' in `rest` matches anything. */
static int has_error(const cfg_errors_t *errs, const char *file, const char *rest)
{
    size_t flen = strlen(file);
    for (size_t i = 0; i < errs->len; ++i) {
        const char *e = errs->items[i];
        if (strncmp(e, file, flen) == 0 && e[flen] == ':' && glob(rest, e + flen + 1))
            return 1;
    }
    return 0;
}

#define assert_error(errs, file, rest)                                        \
    do {                                                                      \
        if (!has_error((errs), (file), (rest))) {                             \
            print_message("missing error: %s:%s\n", (file), (rest));          \
            print_errors(errs);                                               \
            fail();                                                           \
        }                                                                     \
    } while (0)

/* Loads `yaml` and expects it to be rejected with exactly `n` errors, the first `rest`. */
static void expect_errors(const char *dir, const char *yaml, size_t n, const char *rest)
{
    cfg_errors_t errs;
    char *path;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = load_text(dir, yaml, &errs, &path);
    if (cfg != NULL || errs.len != n || !has_error(&errs, path, rest)) {
        print_message("for YAML:\n%s\nexpected %zu error(s), first %s; got %zu:\n", yaml, n, rest, errs.len);
        print_errors(&errs);
        fail();
    }
    config_free(cfg);
    cfg_errors_free(&errs);
    free(path);
}

/* Loads `yaml`, which must be valid; the caller frees the config and *path. */
static uhw_config_t *expect_ok(const char *dir, const char *yaml, char **path)
{
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = load_text(dir, yaml, &errs, path);
    if (cfg == NULL) {
        print_message("for YAML:\n%s\n", yaml);
        print_errors(&errs);
        fail();
    }
    cfg_errors_free(&errs);
    return cfg;
}

static char *abs_fixture_dir(void)
{
    char *dir = realpath(FIXTURES, NULL);
    assert_non_null(dir);
    return dir;
}

static void assert_path(const char *actual, const char *dir, const char *rel)
{
    char *expected;
    assert_true(asprintf(&expected, "%s%s", dir, rel) > 0);
    assert_string_equal(actual, expected);
    free(expected);
}

/* ------------------------------------------------------------------ value parsers */

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t ms;
    } ok[] = {{"250ms", 250}, {"30s", 30000},    {"1.5s", 1500},     {"5m", 300000}, {"1h", 3600000},
              {"0s", 0},      {"0.25s", 250},    {"1.0005s", 1001},  {"2 s", 2000},  {"1.5h", 5400000},
              {"0ms", 0},     {"100ms", 100}};
    static const char *const bad[] = {"30",  "",  "s",   "1.s", ".5s", "-1s", "1d", "1 5s", "1S", "abc",
                                      "1sx", "1e3s", "0x10s", "99999999999999999999s", "1.5"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); ++i) {
        uint64_t ms = 12345;
        if (config_parse_duration(ok[i].text, &ms) != 0)
            fail_msg("'%s' should parse", ok[i].text);
        if (ms != ok[i].ms)
            fail_msg("'%s' gave %llu, expected %llu", ok[i].text, (unsigned long long)ms, (unsigned long long)ok[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        uint64_t ms;
        if (config_parse_duration(bad[i], &ms) != -1)
            fail_msg("'%s' should be rejected", bad[i]);
    }
    uint64_t ms;
    assert_int_equal(config_parse_duration(NULL, &ms), -1);
}

static void test_parse_size(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } ok[] = {{"512", 512},
              {"0", 0},
              {"64KiB", 64 * 1024},
              {"10MiB", 10 * 1024 * 1024},
              {"1GiB", 1024 * 1024 * 1024},
              {"1KB", 1000},
              {"2MB", 2000000},
              {"1GB", 1000000000},
              {"4K", 4096},
              {"3M", 3 * 1024 * 1024},
              {"1G", 1024 * 1024 * 1024},
              {"64kib", 64 * 1024},
              {"64KIB", 64 * 1024},
              {"5kb", 5000},
              {"1.5KiB", 1536},
              {"100B", 100},
              {"2 MiB", 2 * 1024 * 1024}};
    static const char *const bad[] = {"", "KiB", "-1", "1.5", "10 MiBs", "1XB", "1e3", "0x10", "99999999999999999999",
                                      "20000000000GiB", "1.KiB"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); ++i) {
        uint64_t n = 12345;
        if (config_parse_size(ok[i].text, &n) != 0)
            fail_msg("'%s' should parse", ok[i].text);
        if (n != ok[i].bytes)
            fail_msg("'%s' gave %llu, expected %llu", ok[i].text, (unsigned long long)n,
                     (unsigned long long)ok[i].bytes);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        uint64_t n;
        if (config_parse_size(bad[i], &n) != -1)
            fail_msg("'%s' should be rejected", bad[i]);
    }
}

/* ------------------------------------------------------------------ valid configs */

static void check_full_top(const uhw_config_t *cfg, const char *dir)
{
    assert_string_equal(cfg->path, FIXTURES "full.yaml");
    assert_string_equal(cfg->dir, dir);

    static const struct {
        const char *text, *host;
        uint16_t port;
    } listen[] = {{"127.0.0.1:8080", "127.0.0.1", 8080}, {"[::1]:8081", "::1", 8081},
                  {"9000", "127.0.0.1", 9000},           {"*:9001", "0.0.0.0", 9001},
                  {"localhost:9002", "127.0.0.1", 9002}, {"8443", "127.0.0.1", 8443},
                  {"[::]:8444", "::", 8444}};
    assert_int_equal(cfg->nlisten, 7);
    for (size_t i = 0; i < 7; ++i) {
        assert_string_equal(cfg->listen[i].text, listen[i].text);
        assert_string_equal(cfg->listen[i].host, listen[i].host);
        assert_int_equal(cfg->listen[i].port, listen[i].port);
        assert_int_equal(cfg->listen[i].pos.line, (int)i + 3);
        assert_int_equal(cfg->listen[i].pos.col, 5);
        if (i != 5) {
            assert_null(cfg->listen[i].tls_cert);
            assert_null(cfg->listen[i].tls_key);
        }
    }
    assert_path(cfg->listen[5].tls_cert, dir, "/tls/cert.pem");
    assert_string_equal(cfg->listen[5].tls_key, "/etc/uhw/key.pem");

    assert_path(cfg->control, dir, "/run/uhw.sock");
    assert_int_equal(cfg->max_pending, 500);
    assert_int_equal(cfg->max_body, 1024 * 1024);
    assert_int_equal(cfg->shutdown_timeout_ms, 15000);
    assert_string_equal(cfg->health, "/healthz");
    assert_path(cfg->access_log, dir, "/logs/access.log");

    assert_int_equal(cfg->nstatics, 2);
    assert_string_equal(cfg->statics[0].prefix, "/assets/");
    assert_path(cfg->statics[0].dir, dir, "/public");
    assert_int_equal(cfg->statics[0].pos.line, 17);
    assert_int_equal(cfg->statics[0].pos.col, 13);
    assert_string_equal(cfg->statics[1].prefix, "/docs/");
    assert_string_equal(cfg->statics[1].dir, "/srv/docs");

    assert_path(cfg->victims.log, dir, "/logs/victims.jsonl");
    assert_int_equal(cfg->victims.max_body, 4096);
    assert_int_equal(cfg->victims.redact_headers.len, 2);
    assert_string_equal(cfg->victims.redact_headers.items[0], "authorization");
    assert_string_equal(cfg->victims.redact_headers.items[1], "x-api-key");
    assert_non_null(cfg->victims.command);
    assert_string_equal(cfg->victims.command[0], "/bin/sh");
    assert_string_equal(cfg->victims.command[1], "-c");
    assert_string_equal(cfg->victims.command[2], "logger -t uhw-victim");
    assert_null(cfg->victims.command[3]);
    assert_int_equal(cfg->victims.command_shell, 1);
    assert_string_equal(cfg->victims.user, "nobody");
    assert_int_equal(cfg->victims.user_pos.line, 24);
    assert_int_equal(cfg->victims.user_pos.col, 9);
}

static void check_full_api(const cfg_pool_t *p, const char *dir)
{
    assert_string_equal(p->name, "api");
    assert_int_equal(p->pos.line, 26);
    assert_int_equal(p->pos.col, 5);
    assert_int_equal(p->argc, 3);
    assert_path(p->argv[0], dir, "/workers/hello");
    assert_string_equal(p->argv[1], "--greeting");
    assert_string_equal(p->argv[2], "hi");
    assert_null(p->argv[3]);
    assert_int_equal(p->shell, 0);
    assert_string_equal(p->command_text, "./workers/hello");
    assert_int_equal(p->command_pos.line, 27);
    assert_int_equal(p->command_pos.col, 14);
    assert_int_equal(p->workers, 8);

    assert_int_equal(p->nroutes, 3);
    assert_string_equal(p->routes[0].text, "/api/**");
    assert_string_equal(p->routes[0].path, "/api");
    assert_int_equal(p->routes[0].prefix, 1);
    assert_string_equal(p->routes[1].text, "/version");
    assert_string_equal(p->routes[1].path, "/version");
    assert_int_equal(p->routes[1].prefix, 0);
    assert_string_equal(p->routes[2].text, "/**");
    assert_string_equal(p->routes[2].path, "/");
    assert_int_equal(p->routes[2].prefix, 1);

    assert_int_equal(p->concurrency, 16);
    assert_int_equal(p->timeout_ms, 1500);
    assert_int_equal(p->stuck_timeout_ms, 120000);
    assert_int_equal(p->ready_timeout_ms, 250);
    assert_int_equal(p->max_restarts, 0);
    assert_int_equal(p->restart_window_ms, 3600000);
    assert_int_equal(p->degraded_retry_ms, 60000);
    assert_int_equal(p->slow_log_ms, 5000);
    assert_int_equal(p->backoff.initial_ms, 50);
    assert_int_equal(p->backoff.max_ms, 10000);
    assert_true(p->backoff.multiplier == 1.5);
    assert_int_equal(p->backoff.reset_after_ms, 30000);
    assert_int_equal(p->max_requests, 1000);
    assert_int_equal(p->max_requests_jitter, 100);
    assert_int_equal(p->max_rss, 512 * 1024 * 1024);
    assert_int_equal(p->queue_limit, 0);
    assert_int_equal(p->max_frame, 1024);
    assert_int_equal(p->graceful_timeout_ms, 20000);
    assert_int_equal(p->kill_timeout_ms, 1000);
    assert_path(p->cwd, dir, "/data");
    assert_int_equal(p->cwd_pos.line, 46);

    assert_int_equal(p->env.len, 3);
    assert_string_equal(p->env.items[0].key, "GREETING");
    assert_string_equal(p->env.items[0].value, "hello");
    assert_string_equal(p->env.items[1].key, "PORT");
    assert_string_equal(p->env.items[1].value, "8080");
    assert_string_equal(p->env.items[2].key, "DEBUG");
    assert_string_equal(p->env.items[2].value, "true");
    assert_int_equal(p->clear_env, 1);
    assert_string_equal(p->user, "nobody");
    assert_int_equal(p->settings.len, 2);
    assert_string_equal(p->settings.items[0].key, "mode");
    assert_string_equal(p->settings.items[0].value, "fast");
    assert_string_equal(p->settings.items[1].key, "level");
    assert_string_equal(p->settings.items[1].value, "3");
}

static void test_full_config(void **state)
{
    (void)state;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load(FIXTURES "full.yaml", &errs);
    print_errors(&errs);
    assert_non_null(cfg);
    assert_int_equal(errs.len, 0);
    char *dir = abs_fixture_dir();

    check_full_top(cfg, dir);
    assert_int_equal(cfg->npools, 3);
    check_full_api(&cfg->pools[0], dir);

    const cfg_pool_t *sh = &cfg->pools[1];
    assert_string_equal(sh->name, "shell_pool-2");
    assert_int_equal(sh->shell, 1);
    assert_int_equal(sh->argc, 3);
    assert_string_equal(sh->argv[0], "/bin/sh");
    assert_string_equal(sh->argv[1], "-c");
    assert_string_equal(sh->argv[2], "exec python3 -m worker");
    assert_null(sh->argv[3]);
    assert_string_equal(sh->cwd, dir); /* the default: the YAML file's directory */

    const cfg_pool_t *fb = &cfg->pools[2];
    assert_string_equal(fb->name, "fallback");
    assert_string_equal(fb->argv[0], "python3"); /* no '/': left for PATH lookup */
    assert_string_equal(fb->argv[1], "worker.py");
    assert_int_equal(fb->nroutes, 0);
    assert_null(fb->routes);
    assert_string_equal(fb->cwd, "/tmp");

    assert_int_equal(config_total_workers(cfg), 8 + 4 + 4);
    free(dir);
    config_free(cfg);
    cfg_errors_free(&errs);
}

static void test_minimal_defaults(void **state)
{
    (void)state;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load(FIXTURES "minimal.yaml", &errs);
    print_errors(&errs);
    assert_non_null(cfg);
    char *dir = abs_fixture_dir();

    assert_int_equal(cfg->nlisten, 1);
    assert_string_equal(cfg->listen[0].text, "127.0.0.1:8080");
    assert_string_equal(cfg->listen[0].host, "127.0.0.1");
    assert_int_equal(cfg->listen[0].port, 8080);
    assert_null(cfg->listen[0].tls_cert);
    assert_path(cfg->control, dir, "/uhw.sock");
    assert_int_equal(cfg->max_pending, 1000);
    assert_int_equal(cfg->max_body, 10 * 1024 * 1024);
    assert_int_equal(cfg->shutdown_timeout_ms, 10000);
    assert_null(cfg->health);
    assert_null(cfg->access_log);
    assert_int_equal(cfg->nstatics, 0);
    assert_path(cfg->victims.log, dir, "/victims.jsonl");
    assert_int_equal(cfg->victims.max_body, 64 * 1024);
    assert_int_equal(cfg->victims.redact_headers.len, 2);
    assert_string_equal(cfg->victims.redact_headers.items[0], "authorization");
    assert_string_equal(cfg->victims.redact_headers.items[1], "cookie");
    assert_null(cfg->victims.command);
    assert_int_equal(cfg->victims.command_shell, 0);
    assert_null(cfg->victims.user);

    assert_int_equal(cfg->npools, 1);
    const cfg_pool_t *p = &cfg->pools[0];
    assert_string_equal(p->name, "web");
    assert_int_equal(p->argc, 1);
    assert_path(p->argv[0], dir, "/hello");
    assert_null(p->argv[1]);
    assert_int_equal(p->workers, 4);
    assert_int_equal(p->nroutes, 0);
    assert_int_equal(p->concurrency, 1);
    assert_int_equal(p->timeout_ms, 30000);
    assert_int_equal(p->stuck_timeout_ms, 60000);
    assert_int_equal(p->ready_timeout_ms, 10000);
    assert_int_equal(p->max_restarts, 10);
    assert_int_equal(p->restart_window_ms, 300000);
    assert_int_equal(p->degraded_retry_ms, 0);
    assert_int_equal(p->slow_log_ms, 0);
    assert_int_equal(p->backoff.initial_ms, 100);
    assert_int_equal(p->backoff.max_ms, 30000);
    assert_true(p->backoff.multiplier == 2.0);
    assert_int_equal(p->backoff.reset_after_ms, 10000);
    assert_int_equal(p->max_requests, 0);
    assert_int_equal(p->max_requests_jitter, 0);
    assert_int_equal(p->max_rss, 0);
    assert_int_equal(p->queue_limit, 1000);
    assert_int_equal(p->max_frame, 16 * 1024 * 1024);
    assert_int_equal(p->graceful_timeout_ms, 10000);
    assert_int_equal(p->kill_timeout_ms, 5000);
    assert_string_equal(p->cwd, dir);
    assert_int_equal(p->env.len, 0);
    assert_int_equal(p->clear_env, 0);
    assert_null(p->user);
    assert_int_equal(p->settings.len, 0);
    assert_int_equal(config_total_workers(cfg), 4);
    free(dir);
    config_free(cfg);
    cfg_errors_free(&errs);
}

/* Null is accepted exactly where DESIGN says; partial backoff keeps the other defaults. */
static void test_nulls_and_partial_maps(void **state)
{
    scratch_t *s = *state;
    char *path;
    uhw_config_t *cfg = expect_ok(s->dir,
                                  "access_log: \"-\"\n"
                                  "health: ~\n"
                                  "victims: {log: null, command: , user: ~}\n"
                                  "listen: \"[::1]:0\"\n"
                                  "pools:\n"
                                  "  - name: a\n"
                                  "    command: [/bin/true]\n"
                                  "    degraded_retry: null\n"
                                  "    slow_log: null\n"
                                  "    user:\n"
                                  "    backoff: {max: 1m}\n"
                                  "    workers: \"2\"\n",
                                  &path);
    assert_string_equal(cfg->access_log, "-");
    assert_null(cfg->health);
    assert_null(cfg->victims.log);
    assert_null(cfg->victims.command);
    assert_int_equal(cfg->nlisten, 1);
    assert_string_equal(cfg->listen[0].host, "::1");
    assert_int_equal(cfg->listen[0].port, 0);
    assert_int_equal(cfg->pools[0].degraded_retry_ms, 0);
    assert_int_equal(cfg->pools[0].slow_log_ms, 0);
    assert_null(cfg->victims.user);
    assert_null(cfg->pools[0].user);
    assert_int_equal(cfg->pools[0].backoff.max_ms, 60000);
    assert_int_equal(cfg->pools[0].backoff.initial_ms, 100);
    assert_int_equal(cfg->pools[0].workers, 2);
    assert_string_equal(cfg->pools[0].argv[0], "/bin/true");
    config_free(cfg);
    free(path);
}

static void test_path_resolution(void **state)
{
    scratch_t *s = *state;
    char *path, *dir = realpath(s->dir, NULL);
    uhw_config_t *cfg = expect_ok(s->dir,
                                  "control: ../x/./y//ctl.sock\n"
                                  "static: {/s/: sub/dir/}\n"
                                  "victims:\n"
                                  "  log: v.jsonl\n"
                                  "  command: [bin/report, --json]\n"
                                  "pools:\n"
                                  "  - name: a\n"
                                  "    command: [../w/worker.sh]\n"
                                  "    cwd: .\n"
                                  "  - name: b\n"
                                  "    command: [worker]\n"
                                  "    cwd: ..\n"
                                  "    routes: [/b]\n",
                                  &path);
    char *parent = strdup(dir);
    *strrchr(parent, '/') = '\0';
    if (parent[0] == '\0')
        strcpy(parent, "/");
    assert_string_equal(cfg->dir, dir);
    assert_path(cfg->control, parent, "/x/y/ctl.sock");
    assert_path(cfg->statics[0].dir, dir, "/sub/dir");
    assert_path(cfg->victims.log, dir, "/v.jsonl");
    assert_path(cfg->victims.command[0], dir, "/bin/report");
    assert_string_equal(cfg->victims.command[1], "--json");
    assert_null(cfg->victims.command[2]);
    assert_int_equal(cfg->victims.command_shell, 0);
    assert_path(cfg->pools[0].argv[0], parent, "/w/worker.sh");
    assert_string_equal(cfg->pools[0].command_text, "../w/worker.sh");
    assert_string_equal(cfg->pools[0].cwd, dir);
    assert_string_equal(cfg->pools[1].argv[0], "worker");
    assert_string_equal(cfg->pools[1].cwd, parent);
    config_free(cfg);
    free(parent);
    free(dir);
    free(path);
}

/* Text in memory: only `len` bytes count, `name` prefixes messages and anchors relative paths. */
static void test_load_buffer(void **state)
{
    scratch_t *s = *state;
    static const char text[] = "pools:\n  - {name: a, command: [./w]}\nmax_pending: 0\n";
    char *name, *dir = realpath(s->dir, NULL);
    assert_true(asprintf(&name, "%s/in-memory.yaml", s->dir) > 0);
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load_buffer(name, text, strlen(text) - strlen("max_pending: 0\n"), &errs);
    print_errors(&errs);
    assert_non_null(cfg);
    assert_string_equal(cfg->path, name);
    assert_path(cfg->pools[0].argv[0], dir, "/w");
    assert_int_equal(cfg->max_pending, 1000);
    config_free(cfg);

    assert_null(config_load_buffer(name, text, strlen(text), &errs));
    assert_int_equal(errs.len, 1);
    assert_error(&errs, name, "3:14: max_pending must be at least 1, got 0");
    cfg_errors_free(&errs);

    /* A NUL inside the text is the YAML reader's business, not the end of the text. */
    static const char nul[] = "pools:\n  - {name: a, command: x}\n\0\n";
    assert_null(config_load_buffer(name, nul, sizeof(nul) - 1, &errs));
    assert_int_equal(errs.len, 1);
    assert_error(&errs, name, "3:1: cannot read the file: control characters are not allowed*");
    cfg_errors_free(&errs);
    static const char utf8[] = "pools:\n  - {name: \xc3\xa9\xff}\n"; /* é then a byte that starts nothing */
    assert_null(config_load_buffer(name, utf8, sizeof(utf8) - 1, &errs));
    assert_int_equal(errs.len, 1);
    assert_error(&errs, name, "2:13: cannot read the file: invalid leading UTF-8 octet at byte 20");
    cfg_errors_free(&errs);

    assert_null(config_load_buffer("/no-such-dir/x.yaml", text, 10, &errs));
    assert_string_equal(errs.items[0], "/no-such-dir/x.yaml: cannot resolve its directory: No such file or directory");
    cfg_errors_free(&errs);
    free(name);
    free(dir);
}

/* ------------------------------------------------------------------ mistakes */

static void test_three_errors(void **state)
{
    (void)state;
    const char *file = FIXTURES "three_errors.yaml";
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_load(file, &errs));
    if (errs.len != 3)
        print_errors(&errs);
    assert_int_equal(errs.len, 3);
    assert_string_equal(errs.items[0], FIXTURES "three_errors.yaml:4:5: unknown key 'wokers' in pool 'api' "
                                                "(did you mean 'workers'?)");
    assert_string_equal(errs.items[1], FIXTURES "three_errors.yaml:5:14: pool 'api': timeout must be a duration, "
                                                "got '30': duration needs a unit, e.g. 30s, 250ms, 5m, 1h");
    assert_error(&errs, file, "6:11: invalid pool name 'Bad!'*");
    cfg_errors_free(&errs);
}

static void test_did_you_mean(void **state)
{
    (void)state;
    const char *file = FIXTURES "hints.yaml";
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_load(file, &errs));
    assert_int_equal(errs.len, 4);
    assert_error(&errs, file, "1:1: unknown key 'listn' at top level (did you mean 'listen'?)");
    assert_error(&errs, file, "5:5: unknown key 'zzzzzz' in pool 'api'"); /* nothing close: no hint */
    assert_error(&errs, file, "6:15: unknown key 'intial' in backoff of pool 'api' (did you mean 'initial'?)");
    assert_error(&errs, file, "7:11: unknown key 'comand' in victims (did you mean 'command'?)");
    cfg_errors_free(&errs);
}

static void test_duplicate_pool_names(void **state)
{
    (void)state;
    const char *file = FIXTURES "dup_pool.yaml";
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_load(file, &errs));
    assert_int_equal(errs.len, 1);
    assert_error(&errs, file, "5:11: duplicate pool name 'api' (first defined at 2:11)");
    cfg_errors_free(&errs);
}

static void test_two_fallback_pools(void **state)
{
    (void)state;
    const char *file = FIXTURES "two_fallbacks.yaml";
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_load(file, &errs));
    assert_int_equal(errs.len, 1);
    assert_error(&errs, file, "4:5: pool 'second' has no routes, but pool 'first' (at 2:5) is already the fallback "
                              "pool; only one pool may omit routes");
    cfg_errors_free(&errs);
}

static void test_duplicate_routes(void **state)
{
    (void)state;
    const char *file = FIXTURES "dup_route.yaml";
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_load(file, &errs));
    assert_int_equal(errs.len, 2); // "/x" (exact) is not the same route as "/x/**"
    assert_error(&errs, file, "7:14: pool 'b': route '/y' is already used by pool 'a'");
    assert_error(&errs, file, "7:18: pool 'b': route '/x/**' is already used by pool 'a'");
    cfg_errors_free(&errs);
}

static void test_bad_listen(void **state)
{
    (void)state;
    const char *file = FIXTURES "bad_listen.yaml";
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_load(file, &errs));
    assert_int_equal(errs.len, 8);
    assert_error(&errs, file, "2:5: invalid listen address '1.2.3:80': '1.2.3' is not an IPv4 address*");
    assert_error(&errs, file, "3:5: invalid listen address 'example.com:80': *");
    assert_error(&errs, file, "4:5: invalid listen address '127.0.0.1:70000': the port must be a number from 0 "
                              "to 65535, got '70000'");
    assert_error(&errs, file, "5:5: invalid listen address '::1:80': put an IPv6 address in brackets, e.g. "
                              "[::1]:8080");
    assert_error(&errs, file, "6:5: invalid listen address '127.0.0.1': *");
    assert_error(&errs, file, "8:5: duplicate listen address '127.0.0.1:8080' (first at 7:5)");
    assert_error(&errs, file, "9:23: listen tls needs both cert and key (key is missing)");
    assert_error(&errs, file, "10:6: unknown key 'hots' in listen entry (did you mean 'host'?)");
    cfg_errors_free(&errs);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    const char *file = FIXTURES "dup_keys.yaml";
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_load(file, &errs));
    assert_int_equal(errs.len, 2);
    assert_error(&errs, file, "6:5: duplicate key 'workers' in pool 'api' (first at 5:5)");
    assert_error(&errs, file, "7:1: duplicate key 'max_pending' at top level (first at 1:1)");
    cfg_errors_free(&errs);
}

static void test_syntax_error(void **state)
{
    (void)state;
    const char *file = FIXTURES "syntax.yaml";
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_load(file, &errs));
    assert_int_equal(errs.len, 1);
    assert_error(&errs, file, "4:9: YAML syntax error: did not find expected ',' or ']'*");
    cfg_errors_free(&errs);
}

static void test_missing_file(void **state)
{
    (void)state;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    /* Errors already in the list are kept: load appends. */
    cfg_errors_add(&errs, "other.yaml", (cfg_pos_t){1, 2}, "earlier %s", "problem");
    assert_null(config_load(FIXTURES "no-such-file.yaml", &errs));
    assert_int_equal(errs.len, 2);
    assert_string_equal(errs.items[0], "other.yaml:1:2: earlier problem");
    assert_string_equal(errs.items[1], FIXTURES "no-such-file.yaml: cannot open: No such file or directory");
    assert_null(config_load(FIXTURES, &errs));
    assert_int_equal(errs.len, 3);
    assert_string_equal(errs.items[2], FIXTURES ": cannot open: Is a directory");
    cfg_errors_free(&errs);
    assert_int_equal(errs.len, 0);
}

/* config_control_socket: the socket of a file that does not load, as config_load would resolve it. */
static void expect_control(const char *dir, const char *yaml, const char *want_rel)
{
    char *path = write_file(dir, "pools.yaml", yaml, 0644);
    char *real = realpath(dir, NULL), *want, *got = config_control_socket(path);
    assert_non_null(real);
    if (want_rel[0] == '/')
        want = strdup(want_rel);
    else
        assert_true(asprintf(&want, "%s/%s", real, want_rel) > 0);
    assert_non_null(got);
    if (strcmp(got, want) != 0)
        fail_msg("for %s: got %s, want %s", yaml, got, want);
    free(got);
    free(want);
    free(real);
    free(path);
}

static void test_control_socket_lenient(void **state)
{
    const char *d = ((scratch_t *)*state)->dir;
    /* A valid file: the same path config_load gives. */
    const char *valid = "control: run/ctl.sock\npools:\n  - name: a\n    command: [x]\n";
    char *path = write_file(d, "pools.yaml", valid, 0644);
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load(path, &errs);
    assert_non_null(cfg);
    char *got = config_control_socket(path);
    assert_string_equal(got, cfg->control);
    free(got);
    config_free(cfg);
    free(path);
    cfg_errors_free(&errs);
    expect_control(d, valid, "run/ctl.sock");
    /* Broken in every way but control: wrong keys and types, a syntax error after it. */
    expect_control(d, "pools: 3\ncomand: x\ncontrol: './a/../b.sock'\nlisten: [\n", "b.sock");
    expect_control(d, "control: /abs/x.sock\npools:\n  - name: a\n   bad indent: [\n", "/abs/x.sock");
    /* Nested keys named control are not the top-level one; collections are skipped whole. */
    expect_control(d, "victims: {control: no.sock}\npools: [{control: no2.sock}]\ncontrol: yes.sock\n", "yes.sock");
    expect_control(d, "? [a, b]\n: c\ncontrol: k.sock\n", "k.sock");
    /* No usable control: the default next to the file. */
    expect_control(d, "pools: []\n", "uhw.sock");
    expect_control(d, "control: ~\n", "uhw.sock");
    expect_control(d, "control: ''\n", "uhw.sock");
    expect_control(d, "control: [a]\n", "uhw.sock");
    expect_control(d, "control: {a: b}\n", "uhw.sock");
    expect_control(d, "- control: a.sock\n", "uhw.sock");
    expect_control(d, "just text\n", "uhw.sock");
    expect_control(d, "listen: [\ncontrol: late.sock\n", "uhw.sock"); /* the error comes first */
    expect_control(d, "", "uhw.sock");
    expect_control(d, "\x01\x02 not yaml", "uhw.sock");
    /* A file that does not exist in a directory that does: the default; no directory: NULL. */
    char *missing;
    assert_true(asprintf(&missing, "%s/absent.yaml", d) > 0);
    got = config_control_socket(missing);
    assert_non_null(got);
    assert_true(strlen(got) > strlen("/uhw.sock") &&
                strcmp(got + strlen(got) - strlen("/uhw.sock"), "/uhw.sock") == 0);
    free(got);
    free(missing);
    assert_null(config_control_socket("/nonexistent-uhw-dir/pools.yaml"));
}

static void test_document_shape(void **state)
{
    const char *d = ((scratch_t *)*state)->dir;
    expect_errors(d, "", 1, "1:1: the file is empty; expected a mapping with 'pools'");
    expect_errors(d, "# only a comment\n", 1, "1:1: the file is empty*");
    expect_errors(d, "- a\n- b\n", 1, "1:1: the top level must be a mapping with 'pools', got a list");
    expect_errors(d, "max_pending: 3\n", 1, "1:1: missing required key 'pools' (the list of worker pools)");
    expect_errors(d, "pools: []\n", 1, "1:8: pools must list at least one pool");
    expect_errors(d, "pools: api\n", 1, "1:8: pools must be a list of pools, got 'api'");
    expect_errors(d, "pools:\n  - just-a-name\n", 1, "2:5: pool #1 must be a mapping with at least name and command*");
    expect_errors(d, "pools:\n  - {name: a, command: x}\n---\npools: []\n", 1,
                  "3:1: only one YAML document is allowed*");
    expect_errors(d, "pools:\n\t- name: a\n", 1, "2:1: YAML syntax error: *");
    expect_errors(d, "? [a]\n: 1\npools: [{name: a, command: x}]\n", 1, "1:3: keys at top level must be strings");
}

static void test_pool_mistakes(void **state)
{
    const char *d = ((scratch_t *)*state)->dir;
    expect_errors(d, "pools:\n  - command: x\n", 1, "2:5: pool #1: missing required key 'name'");
    expect_errors(d, "pools:\n  - name: a\n", 1, "2:5: pool 'a': missing required key 'command'*");
    expect_errors(d, "pools:\n  - {name: a, command: []}\n", 1, "2:24: pool 'a': command must not be empty*");
    expect_errors(d, "pools:\n  - {name: a, command: '  '}\n", 1, "2:24: pool 'a': command must not be empty");
    expect_errors(d, "pools:\n  - {name: a, command: {x: 1}}\n", 1, "2:24: pool 'a': command must be a list*");
    expect_errors(d, "pools:\n  - {name: a, command: [x, [y]]}\n", 1,
                  "2:28: pool 'a': command must be a list of strings, got a list");
    expect_errors(d, "pools:\n  - {name: a, command: ['', x]}\n", 1,
                  "2:25: pool 'a': command: the program name must not be empty");
    expect_errors(d, "pools:\n  - {name: API, command: x}\n", 1, "2:12: invalid pool name 'API'*");
    expect_errors(d,
                  "pools:\n  - {name: "
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, command: x}\n",
                  1, "2:12: invalid pool name 'aaaa*");
    expect_errors(d, "pools:\n  - {name: [a], command: x}\n", 1, "2:12: pool #1: name must be a name such as api*");
    /* The name is read first wherever it is, so earlier keys' messages already carry it. */
    expect_errors(d, "pools:\n  - workers: 0\n    name: late\n    command: x\n", 1,
                  "2:14: pool 'late': workers must be between 1 and 1024, got 0");
}

static void test_value_mistakes(void **state)
{
    const char *d = ((scratch_t *)*state)->dir;
#define POOL "pools:\n  - name: a\n    command: x\n    "
    expect_errors(d, POOL "workers: many\n", 1, "4:14: pool 'a': workers must be an integer, got 'many'");
    expect_errors(d, POOL "workers: 2000\n", 1, "4:14: pool 'a': workers must be between 1 and 1024, got 2000");
    expect_errors(d, POOL "workers: -1\n", 1, "4:14: pool 'a': workers must not be negative, got -1");
    expect_errors(d, POOL "workers: 2.5\n", 1, "4:14: pool 'a': workers must be an integer, got '2.5'");
    expect_errors(d, POOL "workers: ~\n", 1, "4:14: pool 'a': workers must be an integer, got null");
    expect_errors(d, POOL "concurrency: 10001\n", 1, "4:18: pool 'a': concurrency must be between 1 and 10000*");
    expect_errors(d, POOL "max_restarts: 1000001\n", 1, "4:19: pool 'a': max_restarts must be at most 1000000*");
    expect_errors(d, POOL "queue_limit: 10000001\n", 1, "4:18: pool 'a': queue_limit must be at most 10000000*");
    expect_errors(d, POOL "max_requests: 99999999999999999999999\n", 1,
                  "4:19: pool 'a': max_requests must be at most 18446744073709551615*");
    expect_errors(d, POOL "max_frame: 512\n", 1,
                  "4:16: pool 'a': max_frame must be between 1KiB and 1GiB, got '512'");
    expect_errors(d, POOL "max_frame: 2GiB\n", 1, "4:16: pool 'a': max_frame must be between 1KiB and 1GiB*");
    expect_errors(d, POOL "max_rss: lots\n", 1, "4:14: pool 'a': max_rss must be a size such as 512, 64KiB*");
    expect_errors(d, POOL "max_rss: -5MiB\n", 1, "4:14: pool 'a': max_rss must not be negative, got -5MiB");
    expect_errors(d, POOL "timeout: 0s\n", 1, "4:14: pool 'a': timeout must be greater than 0, got '0s'");
    expect_errors(d, POOL "timeout: -1s\n", 1, "4:14: pool 'a': timeout must not be negative, got -1s");
    expect_errors(d, POOL "timeout: soon\n", 1, "4:14: pool 'a': timeout must be a duration such as 30s*");
    expect_errors(d, POOL "timeout: 1000h\n", 1, "4:14: pool 'a': timeout must be between*");
    expect_errors(d, POOL "restart_window: 0ms\n", 1, "4:21: pool 'a': restart_window must be greater than 0*");
    expect_errors(d, POOL "degraded_retry: 0s\n", 1, "4:21: pool 'a': degraded_retry must be greater than 0 (null*");
    expect_errors(d, POOL "slow_log: 0s\n", 1, "4:15: pool 'a': slow_log must be greater than 0 (null turns it off)*");
    expect_errors(d, POOL "slow_log: 5\n", 1, "4:15: pool 'a': slow_log must be a duration, got '5': duration needs*");
    expect_errors(d, POOL "slow_log: 31d\n", 1, "4:15: pool 'a': slow_log must be a duration such as 30s*");
    expect_errors(d, POOL "slowlog: 5s\n", 1, "4:5: unknown key 'slowlog' in pool 'a' (did you mean 'slow_log'?)");
    expect_errors(d, "victims: {user: ''}\n" POOL "workers: 1\n", 1, "1:17: victims.user must not be empty");
    expect_errors(d, "victims: {user: [a]}\n" POOL "workers: 1\n", 1,
                  "1:17: victims.user must be a string or null, got a list");
    expect_errors(d, "victims: {usr: a}\n" POOL "workers: 1\n", 1,
                  "1:11: unknown key 'usr' in victims (did you mean 'user'?)");
    expect_errors(d, POOL "backoff: {multiplier: 0.5}\n", 1,
                  "4:27: pool 'a': backoff.multiplier must be a number from 1 to 100, got '0.5'");
    expect_errors(d, POOL "backoff: {multiplier: 101}\n", 1, "4:27: pool 'a': backoff.multiplier must be*");
    expect_errors(d, POOL "backoff: {initial: 1m}\n", 1,
                  "4:14: pool 'a': backoff.initial (1m) must not be greater than backoff.max (30s)");
    expect_errors(d, POOL "backoff: 1s\n", 1, "4:14: pool 'a': backoff must be a mapping*");
    expect_errors(d, POOL "clear_env: maybe\n", 1, "4:16: pool 'a': clear_env must be true or false, got 'maybe'");
    expect_errors(d, POOL "user: ''\n", 1, "4:11: pool 'a': user must not be empty");
    expect_errors(d, POOL "cwd: ~\n", 1, "4:10: pool 'a': cwd must be a string, got null");
    expect_errors(d, POOL "env: {1BAD: x, OK: [1]}\n", 2, "4:11: pool 'a': env: invalid name '1BAD'*");
    expect_errors(d, POOL "env: {OK: [1]}\n", 1, "4:15: pool 'a': env.OK must be a string, number or boolean*");
    expect_errors(d, POOL "env: {A: 1, A: 2}\n", 1, "4:17: duplicate key 'A' in env of pool 'a' (first at 4:11)");
    expect_errors(d, POOL "env: [A]\n", 1, "4:10: pool 'a': env must be a mapping of NAME: value, got a list");
    expect_errors(d, POOL "settings: {k: ~}\n", 1, "4:19: pool 'a': settings.k must be*");
    expect_errors(d, "max_pending: 0\n" POOL "workers: 1\n", 1, "1:14: max_pending must be at least 1, got 0");
    expect_errors(d, "max_pending: 99999999999\n" POOL "workers: 1\n", 1, "1:14: max_pending must be at most*");
    expect_errors(d, "max_body: 10\n" "shutdown_timeout: 10\n" POOL "workers: 1\n", 1,
                  "2:19: shutdown_timeout must be a duration, got '10': duration needs a unit*");
    expect_errors(d, "health: healthz\n" POOL "workers: 1\n", 1, "1:9: health must be a path starting with '/'*");
    expect_errors(d, "static: {assets: ./p}\n" POOL "workers: 1\n", 1, "1:10: static prefix 'assets' must start*");
    expect_errors(d, "static: [./p]\n" POOL "workers: 1\n", 1, "1:9: static must be a mapping*");
    expect_errors(d, "victims: {redact_headers: cookie}\n" POOL "workers: 1\n", 1,
                  "1:27: victims.redact_headers must be a list of header names*");
    expect_errors(d, "victims: {max_body: big}\n" POOL "workers: 1\n", 1, "1:21: victims.max_body must be a size*");
    expect_errors(d, "victims: ~\n" POOL "workers: 1\n", 1, "1:10: victims must be a mapping*");
    expect_errors(d, "control: ~\n" POOL "workers: 1\n", 1, "1:10: control must be a string, got null");
    expect_errors(d, "listen: []\n" POOL "workers: 1\n", 1, "1:9: listen must not be empty*");
    expect_errors(d, "listen: [{host: 1.2.3.4}]\n" POOL "workers: 1\n", 1, "1:10: listen entry needs a port*");
    expect_errors(d, "listen: [{port: 80, host: foo}]\n" POOL "workers: 1\n", 1,
                  "1:27: invalid listen address 'foo': 'foo' is not an IP address*");
    expect_errors(d, "listen: {port: 80, tls: {cert: a, key: b, ca: c}}\n" POOL "workers: 1\n", 1,
                  "1:43: unknown key 'ca' in listen tls");
    expect_errors(d, "control: " "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/uhw.sock\n" POOL "workers: 1\n", 1,
                  "1:10: control socket path '/aaa*");
#undef POOL
}

static void test_route_mistakes(void **state)
{
    const char *d = ((scratch_t *)*state)->dir;
#define POOL "pools:\n  - name: a\n    command: x\n    "
    expect_errors(d, POOL "routes: /x\n", 1, "4:13: pool 'a': routes must be a list of paths*");
    expect_errors(d, POOL "routes: []\n", 1,
                  "4:13: pool 'a': routes must not be empty; omit it to make this the fallback pool");
    expect_errors(d, POOL "routes: ~\n", 1, "4:13: pool 'a': routes must be a list of paths*got null");
    expect_errors(d, POOL "routes: [x]\n", 1, "4:14: pool 'a': route 'x' must start with '/'");
    expect_errors(d, POOL "routes: [/a/*]\n", 1, "4:14: pool 'a': route '/a/*': '*' is only allowed as a final*");
    expect_errors(d, POOL "routes: ['/a/**/b']\n", 1, "4:14: pool 'a': route '/a/**/b': '*' is only*");
    expect_errors(d, POOL "routes: [/a**]\n", 1, "4:14: pool 'a': route '/a**': '*' is only*");
    expect_errors(d, POOL "routes: ['/a?x=1']\n", 1, "4:14: pool 'a': route '/a?x=1' must not contain '?'*");
    expect_errors(d, POOL "routes: [/a, /a]\n", 1, "4:18: pool 'a': route '/a' is listed twice");
#undef POOL
}

/* A broken config must not leak what was built before the mistake (checked under ASan). */
static void test_errors_free_everything(void **state)
{
    const char *d = ((scratch_t *)*state)->dir;
    expect_errors(d,
                  "listen: [80, 81, {port: 443, tls: {cert: a, key: b}}]\n"
                  "static: {/a/: x, /b/: y}\n"
                  "victims: {command: [a, b], redact_headers: [X], log: l}\n"
                  "access_log: a.log\nhealth: /h\ncontrol: c.sock\n"
                  "pools:\n"
                  "  - name: a\n    command: [./a, b]\n    routes: [/a, /b/**]\n"
                  "    env: {A: 1}\n    settings: {s: 1}\n    user: u\n    cwd: w\n"
                  "  - name: b\n    command: x y\n"
                  "  - name: c\n    command: z\n    workers: 0\n",
                  2, "17:5: pool 'c' has no routes, but pool 'b' (at 15:5)*");
}

static char *dump_round_trip(const uhw_config_t *cfg, const char *dir);

/* --listen replaces the file's listen, with the syntax of its strings and errors naming the option. */
static void test_set_listen(void **state)
{
    scratch_t *s = *state;
    char *path;
    uhw_config_t *cfg = expect_ok(s->dir, "listen: [127.0.0.1:8080, {port: 8443, tls: {cert: c, key: k}}]\n"
                                          "pools:\n  - {name: a, command: [/bin/true]}\n", &path);
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_int_equal(config_set_listen(cfg, NULL, 0, &errs), 0); /* none given: the file's stay */
    assert_int_equal(cfg->nlisten, 2);
    assert_int_equal(cfg->listen_args.len, 0);

    char *bad[] = {"9090", "example.com:80", "[::1]:8081", "127.0.0.1:9090", "localhost:9090", "::1:80", ""};
    assert_int_equal(config_set_listen(cfg, bad, 7, &errs), -1);
    assert_int_equal(errs.len, 5);
    assert_string_equal(errs.items[0], "--listen: invalid listen address 'example.com:80': 'example.com' is not an "
                                       "IPv4 address (use an IPv4 address, [IPv6], localhost or *; host names are not "
                                       "resolved)");
    assert_string_equal(errs.items[1], "--listen: duplicate listen address '127.0.0.1:9090' (the same as '9090')");
    assert_string_equal(errs.items[2], "--listen: duplicate listen address 'localhost:9090' (the same as '9090')");
    assert_string_equal(errs.items[3], "--listen: invalid listen address '::1:80': put an IPv6 address in brackets, "
                                       "e.g. [::1]:8080");
    assert_string_equal(errs.items[4], "--listen: invalid listen address '': expected HOST:PORT, [IPv6]:PORT or a "
                                       "port number");
    assert_int_equal(cfg->nlisten, 2); /* refused: nothing changed */
    assert_string_equal(cfg->listen[1].tls_cert + strlen(cfg->listen[1].tls_cert) - 2, "/c");
    cfg_errors_free(&errs);

    char *good[] = {"9090", "[::1]:0", "0", "*:8080"};
    assert_int_equal(config_set_listen(cfg, good, 4, &errs), 0);
    assert_int_equal(errs.len, 0);
    assert_int_equal(cfg->nlisten, 4);
    assert_string_equal(cfg->listen[0].text, "9090");
    assert_string_equal(cfg->listen[0].host, "127.0.0.1");
    assert_int_equal(cfg->listen[0].port, 9090);
    assert_null(cfg->listen[0].tls_cert);
    assert_string_equal(cfg->listen[1].host, "::1");
    assert_int_equal(cfg->listen[1].port, 0);
    assert_string_equal(cfg->listen[2].host, "127.0.0.1"); /* port 0 twice is fine: each gets its own port */
    assert_string_equal(cfg->listen[3].host, "0.0.0.0");
    assert_int_equal(cfg->listen_args.len, 4);
    assert_string_equal(cfg->listen_args.items[3], "*:8080");

    /* What a reload does: the new file gets the same addresses, from the running config's own list. */
    assert_int_equal(config_set_listen(cfg, cfg->listen_args.items, cfg->listen_args.len, &errs), 0);
    assert_int_equal(cfg->nlisten, 4);
    assert_string_equal(cfg->listen_args.items[0], "9090");

    /* The dump shows the addresses in use. */
    char *text = dump_round_trip(cfg, s->dir);
    assert_non_null(strstr(text, "listen:\n- 127.0.0.1:9090\n- '[::1]:0'\n- 127.0.0.1:0\n- 0.0.0.0:8080\ncontrol:"));
    free(text);
    config_free(cfg);
    free(path);
}

/* ------------------------------------------------------------------ reload diff */

/* config_pool_diff of pool 'a' written with keys `before`, then with keys `after` (command
 * [/bin/true] unless they say otherwise). */
static unsigned diff_of(const char *dir, const char *before, const char *after)
{
    char *yaml, *path;
    uhw_config_t *cfg[2];
    const char *keys[2] = {before, after};
    for (int i = 0; i < 2; ++i) {
        const char *command = strstr(keys[i], "command:") == NULL ? "    command: [/bin/true]\n" : "";
        assert_true(asprintf(&yaml, "pools:\n  - name: a\n%s%s", command, keys[i]) > 0);
        cfg[i] = expect_ok(dir, yaml, &path);
        free(yaml);
        free(path);
    }
    unsigned d = config_pool_diff(&cfg[0]->pools[0], &cfg[1]->pools[0]);
    config_free(cfg[0]);
    config_free(cfg[1]);
    return d;
}

static void test_pool_diff(void **state)
{
    const char *d = ((scratch_t *)*state)->dir;
    assert_int_equal(diff_of(d, "    timeout: 5s\n", "    timeout: 5000ms\n"), 0);
    assert_int_equal(diff_of(d, "", "    command: [/bin/false]\n"), CFG_DIFF_PROCESS);
    assert_int_equal(diff_of(d, "", "    env: {A: 1}\n"), CFG_DIFF_PROCESS);
    assert_int_equal(diff_of(d, "", "    user: nobody\n"), CFG_DIFF_PROCESS);
    assert_int_equal(diff_of(d, "", "    concurrency: 2\n"), CFG_DIFF_PROCESS);
    assert_int_equal(diff_of(d, "", "    workers: 2\n"), CFG_DIFF_SLOTS);
    assert_int_equal(diff_of(d, "", "    settings: {k: v}\n"), CFG_DIFF_SETTINGS);
    assert_int_equal(diff_of(d, "", "    slow_log: 5s\n"), CFG_DIFF_LIVE);
    assert_int_equal(diff_of(d, "    slow_log: 5s\n", "    slow_log: 6s\n"), CFG_DIFF_LIVE);
    assert_int_equal(diff_of(d, "", "    routes: [/x]\n"), CFG_DIFF_LIVE);
    assert_int_equal(diff_of(d, "", "    backoff: {multiplier: 3}\n"), CFG_DIFF_LIVE);
    assert_int_equal(diff_of(d, "    workers: 1\n", "    workers: 2\n    settings: {k: v}\n    timeout: 1s\n"),
                     CFG_DIFF_SLOTS | CFG_DIFF_SETTINGS | CFG_DIFF_LIVE);
}

/* ------------------------------------------------------------------ dump */

static void assert_same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_true(a == b);
    else
        assert_string_equal(a, b);
}

static void assert_same_argv(char *const *a, char *const *b)
{
    if (a == NULL || b == NULL) {
        assert_true(a == b);
        return;
    }
    for (; *a != NULL && *b != NULL; ++a, ++b)
        assert_string_equal(*a, *b);
    assert_true(*a == NULL && *b == NULL);
}

static void assert_same_kvs(const cfg_kvs_t *a, const cfg_kvs_t *b)
{
    assert_int_equal(a->len, b->len);
    for (size_t i = 0; i < a->len; ++i) {
        assert_string_equal(a->items[i].key, b->items[i].key);
        assert_string_equal(a->items[i].value, b->items[i].value);
    }
}

/* Every value two configs hold (not where they were written, nor their spelling). */
static void assert_same_config(const uhw_config_t *a, const uhw_config_t *b)
{
    assert_int_equal(a->nlisten, b->nlisten);
    for (size_t i = 0; i < a->nlisten; ++i) {
        assert_string_equal(a->listen[i].host, b->listen[i].host);
        assert_int_equal(a->listen[i].port, b->listen[i].port);
        assert_same_str(a->listen[i].tls_cert, b->listen[i].tls_cert);
        assert_same_str(a->listen[i].tls_key, b->listen[i].tls_key);
    }
    assert_string_equal(a->control, b->control);
    assert_int_equal(a->max_pending, b->max_pending);
    assert_int_equal(a->max_body, b->max_body);
    assert_int_equal(a->shutdown_timeout_ms, b->shutdown_timeout_ms);
    assert_same_str(a->health, b->health);
    assert_same_str(a->access_log, b->access_log);
    assert_int_equal(a->nstatics, b->nstatics);
    for (size_t i = 0; i < a->nstatics; ++i) {
        assert_string_equal(a->statics[i].prefix, b->statics[i].prefix);
        assert_string_equal(a->statics[i].dir, b->statics[i].dir);
    }
    assert_same_str(a->victims.log, b->victims.log);
    assert_int_equal(a->victims.max_body, b->victims.max_body);
    assert_int_equal(a->victims.redact_headers.len, b->victims.redact_headers.len);
    for (size_t i = 0; i < a->victims.redact_headers.len; ++i)
        assert_string_equal(a->victims.redact_headers.items[i], b->victims.redact_headers.items[i]);
    assert_same_argv(a->victims.command, b->victims.command);
    assert_int_equal(a->victims.command_shell, b->victims.command_shell);
    assert_same_str(a->victims.user, b->victims.user);
    assert_int_equal(a->npools, b->npools);
    for (size_t i = 0; i < a->npools; ++i) {
        const cfg_pool_t *p = &a->pools[i], *q = &b->pools[i];
        assert_string_equal(p->name, q->name);
        assert_same_argv(p->argv, q->argv);
        assert_int_equal(p->argc, q->argc);
        assert_int_equal(p->shell, q->shell);
        assert_int_equal(p->workers, q->workers);
        assert_int_equal(p->nroutes, q->nroutes);
        for (size_t j = 0; j < p->nroutes; ++j) {
            assert_string_equal(p->routes[j].text, q->routes[j].text);
            assert_string_equal(p->routes[j].path, q->routes[j].path);
            assert_int_equal(p->routes[j].prefix, q->routes[j].prefix);
        }
        assert_same_kvs(&p->env, &q->env);
        assert_same_kvs(&p->settings, &q->settings);
        assert_same_str(p->user, q->user);
        assert_string_equal(p->cwd, q->cwd);
        assert_int_equal(config_pool_diff(p, q), 0); /* every other value of the pool */
        assert_int_equal(p->slow_log_ms, q->slow_log_ms);
        assert_true(p->backoff.multiplier == q->backoff.multiplier);
    }
}

/* Dumps `cfg`, loads the dump back as DIR/dump.yaml and checks it is the same configuration,
 * dumped the same. Returns the dump (caller frees). */
static char *dump_round_trip(const uhw_config_t *cfg, const char *dir)
{
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    char *text = config_dump(cfg, &errs);
    print_errors(&errs);
    assert_non_null(text);
    char *name;
    assert_true(asprintf(&name, "%s/dump.yaml", dir) > 0);
    uhw_config_t *again = config_load_buffer(name, text, strlen(text), &errs);
    if (again == NULL) {
        print_message("the dump does not load:\n%s\n", text);
        print_errors(&errs);
        fail();
    }
    assert_same_config(cfg, again);
    char *text2 = config_dump(again, &errs);
    assert_non_null(text2);
    assert_string_equal(text, text2);
    free(text2);
    config_free(again);
    cfg_errors_free(&errs);
    free(name);
    return text;
}

/* The dump of a fixture is test/fixtures/config/NAME.dump.yaml, with @DIR@ for the fixtures' directory. */
static void check_dump_fixture(const char *name)
{
    char *yaml, *expected_file, *dir = abs_fixture_dir();
    assert_true(asprintf(&yaml, FIXTURES "%s.yaml", name) > 0);
    assert_true(asprintf(&expected_file, FIXTURES "%s.dump.yaml", name) > 0);
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = config_load(yaml, &errs);
    print_errors(&errs);
    assert_non_null(cfg);
    char *text = dump_round_trip(cfg, "/tmp");

    FILE *f = fopen(expected_file, "r");
    assert_non_null(f);
    char line[4096], *expected = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&expected, &len);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *at = strstr(line, "@DIR@");
        if (at != NULL)
            fprintf(out, "%.*s%s%s", (int)(at - line), line, dir, at + 5);
        else
            fputs(line, out);
    }
    fclose(f);
    fclose(out);
    assert_string_equal(text, expected);
    free(expected);
    free(text);
    config_free(cfg);
    cfg_errors_free(&errs);
    free(yaml);
    free(expected_file);
    free(dir);
}

static void test_dump_full(void **state)
{
    (void)state;
    check_dump_fixture("full");
}

static void test_dump_minimal(void **state)
{
    (void)state;
    check_dump_fixture("minimal");
}

/* Strings that YAML would read as something else, or cannot write plain, survive a dump. */
static void test_dump_strings(void **state)
{
    scratch_t *s = *state;
    char *path;
    uhw_config_t *cfg = expect_ok(s->dir,
                                  "health: '/a: b # c'\n"
                                  "access_log: \"-\"\n"
                                  "static: {\"/x y/\": \"./d'ir\\\"\", \"/[a]/\": '{b}'}\n"
                                  "victims: {command: [\"it's\", \"a \\\"b\\\"\", \"- x\"], user: \"null\","
                                  " redact_headers: ['x-a: b', '&anchor', '*alias']}\n"
                                  "pools:\n"
                                  "  - name: a\n"
                                  "    command: \"printf '%s\\\\n' \\\"$X\\\"\\n  # and a second line\\n\"\n"
                                  "    routes: ['/a b', '/é/**', '/:x', '/[x]']\n"
                                  "    user: '~'\n"
                                  "    env:\n"
                                  "      NULL_WORD: 'null'\n"
                                  "      TILDE: '~'\n"
                                  "      EMPTY: ''\n"
                                  "      SPACES: '  both ends  '\n"
                                  "      NEWLINES: \"a\\nb\\n\\nc\\n\"\n"
                                  "      TAB: \"a\\tb\"\n"
                                  "      CTRL: \"\\x01\\x7f\\u0085\\u2028\\ufeff\"\n"
                                  "      UNICODE: \"é 日本 \\U0001F600\"\n"
                                  "      QUOTES: \"'\\\"'\"\n"
                                  "      COLON: 'a: b'\n"
                                  "      HASH: '# not a comment'\n"
                                  "      BOOLISH: 'yes'\n"
                                  "      NUMBER: '0x1F'\n"
                                  "      FLOW: '[a, {b: c}]'\n"
                                  "      TAGGED: '!!str x'\n"
                                  "      PERCENT: '%YAML 1.1'\n"
                                  "      DOC: '---'\n"
                                  "      BACKSLASH: 'C:\\dir\\'\n"
                                  "    settings: {' ': x, '~': 'null', 'k: v': '', 'multi\\nline': \"\\n\"}\n"
                                  "  - name: b\n"
                                  "    command: [/bin/true, '', ' ', '\"']\n"
                                  "    routes: [/b]\n"
                                  "    backoff: {multiplier: 1.0000000000000002}\n"
                                  "  - name: c\n"
                                  "    command: [/bin/true]\n"
                                  "    routes: [/c]\n"
                                  "    backoff: {multiplier: 99.99}\n",
                                  &path);
    /* the loader read what was meant */
    assert_string_equal(cfg->health, "/a: b # c");
    assert_string_equal(cfg->victims.user, "null");
    assert_string_equal(cfg->pools[0].user, "~");
    assert_string_equal(cfg->pools[0].argv[2], "printf '%s\\n' \"$X\"\n  # and a second line\n");
    assert_string_equal(cfg->pools[0].env.items[4].value, "a\nb\n\nc\n");
    assert_string_equal(cfg->pools[0].env.items[6].value, "\x01\x7f\xc2\x85\xe2\x80\xa8\xef\xbb\xbf");
    assert_string_equal(cfg->pools[0].env.items[7].value, "é 日本 \xf0\x9f\x98\x80");
    assert_string_equal(cfg->pools[0].settings.items[0].key, " ");
    assert_string_equal(cfg->pools[0].settings.items[1].key, "~");
    assert_string_equal(cfg->pools[1].argv[1], "");
    assert_true(cfg->pools[1].backoff.multiplier > 1.0);
    char *text = dump_round_trip(cfg, s->dir);
    assert_non_null(strstr(text, "user: \"null\"")); /* quoted: plain null would read as null */
    /* Unicode is written as is, not escaped (libyaml 0.2.5 escapes only what is beyond U+FFFF). */
    assert_non_null(strstr(text, "UNICODE: \"é 日本 \\U0001F600\""));
    assert_non_null(strstr(text, "multiplier: 1.0000000000000002,")); /* the shortest exact spelling */
    assert_non_null(strstr(text, "multiplier: 99.99,"));
    free(text);
    config_free(cfg);
    free(path);

    /* Keys YAML cannot write as simple keys (over 128 characters, or on several lines). */
    char long_key[201], *yaml;
    memset(long_key, 'k', 200);
    long_key[200] = '\0';
    assert_true(asprintf(&yaml, "static: {'/%s/': /x}\npools:\n  - name: a\n    command: [/bin/true]\n"
                                "    settings: {%s: v, \"two\\nlines\": w}\n", long_key, long_key) > 0);
    cfg = expect_ok(s->dir, yaml, &path);
    assert_string_equal(cfg->pools[0].settings.items[1].key, "two\nlines");
    text = dump_round_trip(cfg, s->dir);
    assert_non_null(strstr(text, "? kkkk")); /* the explicit-key form */
    free(text);
    config_free(cfg);
    free(path);
    free(yaml);
}

/* A configuration that cannot be written as YAML (a directory whose name is not UTF-8) is an
 * error, not a broken dump. */
static void test_dump_not_utf8(void **state)
{
    scratch_t *s = *state;
    char *dir, *path;
    assert_true(asprintf(&dir, "%s/bad-\xff", s->dir) > 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    uhw_config_t *cfg = expect_ok(dir, "pools:\n  - {name: a, command: [/bin/true]}\n", &path);
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    assert_null(config_dump(cfg, &errs));
    assert_int_equal(errs.len, 1);
    assert_error(&errs, path, " cannot dump the configuration: *UTF-8*");
    cfg_errors_free(&errs);
    config_free(cfg);
    free(path);
    free(dir);
}

/* ------------------------------------------------------------------ runtime checks */

static void test_runtime_check(void **state)
{
    scratch_t *s = *state;
    char *bin, *yaml, *path;
    assert_true(asprintf(&bin, "%s/bin", s->dir) > 0);
    assert_int_equal(mkdir(bin, 0755), 0);
    free(write_file(s->dir, "exec.sh", "#!/bin/sh\n", 0755));
    free(write_file(s->dir, "plain.txt", "not a program\n", 0644));
    free(write_file(bin, "helper", "#!/bin/sh\n", 0755));
    free(write_file(s->dir, "cert.pem", "x\n", 0644));
    char *subdir;
    assert_true(asprintf(&subdir, "%s/subdir", s->dir) > 0);
    assert_int_equal(mkdir(subdir, 0755), 0);
    free(subdir);

    assert_true(asprintf(&yaml,
                         "listen: [{port: 0, tls: {cert: cert.pem, key: missing-key.pem}}]\n"
                         "static: {/s/: plain.txt}\n"
                         "pools:\n"
                         "  - name: ok\n    command: [./exec.sh]\n    routes: [/ok]\n"
                         "  - name: missing\n    command: [./nope]\n    routes: [/m]\n"
                         "  - name: plain\n    command: [./plain.txt, x]\n    routes: [/p]\n"
                         "  - name: dir\n    command: [./subdir]\n    routes: [/d]\n"
                         "  - name: self\n    command: [helper]\n    routes: [/s]\n"
                         "  - name: envpath\n    command: [helper]\n    env: {PATH: %s}\n    routes: [/e]\n"
                         "  - name: notonpath\n    command: [uhw-no-such-program-here]\n    routes: [/n]\n"
                         "  - name: shell\n    command: exec ./nope\n    cwd: nowhere\n",
                         bin) > 0);
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = load_text(s->dir, yaml, &errs, &path);
    print_errors(&errs);
    assert_non_null(cfg);

    /* As root, every pool without `user` is one more error (covered by test_runtime_user). */
    size_t root_rule = geteuid() == 0 ? cfg->npools : 0;
    size_t n = config_check_runtime(cfg, bin, &errs);
    if (n != 7 + root_rule)
        print_errors(&errs);
    assert_int_equal(n, 7 + root_rule);
    assert_int_equal(errs.len, 7 + root_rule);
    assert_error(&errs, path, "8:14: pool 'missing': command './nope' not found");
    assert_error(&errs, path, "11:14: pool 'plain': command './plain.txt' is not executable");
    assert_error(&errs, path, "14:14: pool 'dir': command './subdir' is a directory");
    assert_error(&errs, path, "24:14: pool 'notonpath': command 'uhw-no-such-program-here' not found");
    assert_error(&errs, path, "28:10: pool 'shell': cwd '*/nowhere' does not exist");
    assert_error(&errs, path, "2:15: static '/s/': directory '*/plain.txt' is not a directory");
    assert_error(&errs, path, "1:10: listen '0': TLS key '*/missing-key.pem' is not readable: No such file*");

    /* Without self_dir, "helper" is found only where the pool's own PATH points. */
    cfg_errors_t again;
    cfg_errors_init(&again);
    assert_int_equal(config_check_runtime(cfg, NULL, &again), 8 + root_rule);
    assert_error(&again, path, "17:14: pool 'self': command 'helper' not found");
    cfg_errors_free(&again);

    config_free(cfg);
    cfg_errors_free(&errs);
    free(yaml);
    free(path);
    free(bin);
}

/* The errors config_check_runtime finds for `control: CONTROL` (omitted when NULL) in DIR/pools.yaml. */
static size_t control_errors(const char *dir, const char *control, cfg_errors_t *errs, char **path)
{
    char *yaml;
    if (control != NULL)
        assert_true(asprintf(&yaml, "pools:\n  - {name: a, command: [/bin/true], user: root, cwd: /}\n"
                                    "control: %s\n", control) > 0);
    else
        assert_true(asprintf(&yaml, "pools:\n  - {name: a, command: [/bin/true], user: root, cwd: /}\n") > 0);
    uhw_config_t *cfg = load_text(dir, yaml, errs, path);
    assert_non_null(cfg);
    size_t n = config_check_runtime(cfg, NULL, errs);
    config_free(cfg);
    free(yaml);
    return n;
}

/* control names a socket uhw may replace: anything else there is refused, untouched. */
static void test_runtime_control(void **state)
{
    scratch_t *s = *state;
    cfg_errors_t errs;
    char *path, *sock, *link;
    cfg_errors_init(&errs);
    free(write_file(s->dir, "precious.txt", "keep me\n", 0644));
    assert_true(asprintf(&sock, "%s/a-dir", s->dir) > 0);
    assert_int_equal(mkdir(sock, 0755), 0);
    free(sock);
    assert_true(asprintf(&sock, "%s/live.sock", s->dir) > 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_true(asprintf(&link, "%s/link.sock", s->dir) > 0);
    assert_int_equal(symlink(sock, link), 0);

    assert_int_equal(control_errors(s->dir, "live.sock", &errs, &path), 0); /* a socket: fine */
    free(path);
    assert_int_equal(control_errors(s->dir, "new.sock", &errs, &path), 0); /* nothing yet: fine */
    free(path);
    assert_int_equal(control_errors(s->dir, "precious.txt", &errs, &path), 1);
    assert_error(&errs, path, "3:10: control: /*/precious.txt exists and is not a socket; refusing to replace it");
    cfg_errors_free(&errs);
    free(path);
    assert_int_equal(control_errors(s->dir, "a-dir", &errs, &path), 1);
    assert_error(&errs, path, "3:10: control: /*/a-dir exists and is not a socket; refusing to replace it");
    cfg_errors_free(&errs);
    free(path);
    assert_int_equal(control_errors(s->dir, "link.sock", &errs, &path), 1); /* replacing it would drop the link */
    assert_error(&errs, path, "3:10: control: /*/link.sock exists and is not a socket*");
    cfg_errors_free(&errs);
    free(path);
    assert_int_equal(control_errors(s->dir, "no-such-dir/uhw.sock", &errs, &path), 1);
    assert_error(&errs, path, "3:10: control: the directory /*/no-such-dir does not exist");
    cfg_errors_free(&errs);
    free(path);
    assert_int_equal(control_errors(s->dir, "precious.txt/uhw.sock", &errs, &path), 1);
    assert_error(&errs, path, "3:10: control: /*/precious.txt is not a directory");
    cfg_errors_free(&errs);
    free(path);

    /* Defaulted: uhw.sock next to the file, and the error at the start of the file. */
    free(write_file(s->dir, "uhw.sock", "not a socket\n", 0644));
    assert_int_equal(control_errors(s->dir, NULL, &errs, &path), 1);
    assert_error(&errs, path, "1:1: control: /*/uhw.sock exists and is not a socket; refusing to replace it");
    cfg_errors_free(&errs);
    free(path);

    struct stat st; /* what was refused is left as it was */
    char *precious;
    assert_true(asprintf(&precious, "%s/precious.txt", s->dir) > 0);
    assert_int_equal(stat(precious, &st), 0);
    assert_true(S_ISREG(st.st_mode) && st.st_size == 8);
    close(fd);
    free(precious);
    free(sock);
    free(link);
}

/* Pools and victims naming root, nobody and a user that does not exist. */
static const char users_yaml[] = "victims: {command: [/bin/cat], user: nobody}\n"
                                 "pools:\n"
                                 "  - name: named\n"
                                 "    command: [/bin/true]\n"
                                 "    user: root\n"
                                 "    cwd: /\n"
                                 "    routes: [/a]\n"
                                 "  - name: ghost\n"
                                 "    command: [/bin/true]\n"
                                 "    user: uhw-no-such-user\n"
                                 "    cwd: /\n"
                                 "    routes: [/b]\n"
                                 "  - name: unnamed\n"
                                 "    command: [/bin/true]\n"
                                 "    cwd: /\n"
                                 "  - name: nobody\n"
                                 "    command: [/bin/true]\n"
                                 "    user: nobody\n"
                                 "    cwd: /\n"
                                 "    routes: [/n]\n";

/* `id` is `user` as the system has it. */
static void assert_identity(const cfg_identity_t *id, const char *user)
{
    struct passwd *pw = getpwnam(user);
    assert_non_null(pw);
    assert_non_null(id);
    assert_int_equal(id->uid, pw->pw_uid);
    assert_int_equal(id->gid, pw->pw_gid);
    assert_string_equal(id->name, user);
    assert_string_equal(id->home, pw->pw_dir);
    int primary = 0;
    for (size_t i = 0; i < id->ngroups; ++i)
        primary |= id->groups[i] == pw->pw_gid;
    assert_true(primary); /* setgroups gets the primary group too, as with initgroups */
}

/* As root: a pool must name its user, every user must exist, and each is resolved. */
static void test_runtime_user_root(void **state)
{
    scratch_t *s = *state;
    if (geteuid() != 0)
        skip(); /* test_runtime_user_unprivileged covers what applies then */
    char *path;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = load_text(s->dir, users_yaml, &errs, &path);
    assert_non_null(cfg);
    for (int round = 0; round < 2; ++round) { /* a second check replaces what the first resolved */
        size_t n = config_check_runtime(cfg, NULL, &errs);
        if (n != 2)
            print_errors(&errs);
        assert_int_equal(n, 2);
        assert_error(&errs, path, "8:5: pool 'ghost': user 'uhw-no-such-user' does not exist");
        assert_error(&errs, path, "13:5: pool 'unnamed': uhw runs as root, so the pool must say which user*");
        assert_identity(cfg->pools[0].run_as, "root");
        assert_int_equal(cfg->pools[0].run_as->uid, 0);
        assert_null(cfg->pools[1].run_as);
        assert_null(cfg->pools[2].run_as);
        assert_identity(cfg->pools[3].run_as, "nobody");
        assert_true(cfg->pools[3].run_as->uid != 0);
        assert_identity(cfg->victims.run_as, "nobody");
        cfg_errors_free(&errs);
    }
    config_free(cfg);
    free(path);
}

/* A victims.user that does not exist is an error where it is written. */
static void test_runtime_victims_user(void **state)
{
    scratch_t *s = *state;
    char *path;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = load_text(s->dir,
                                  "victims:\n  command: [/bin/cat]\n  user: uhw-no-such-user\n"
                                  "pools:\n  - {name: a, command: [/bin/true], user: root, cwd: /}\n",
                                  &errs, &path);
    assert_non_null(cfg);
    assert_int_equal(config_check_runtime(cfg, NULL, &errs), 1);
    assert_error(&errs, path, "3:9: victims: user 'uhw-no-such-user' does not exist");
    assert_null(cfg->victims.run_as);
    config_free(cfg);
    cfg_errors_free(&errs);
    free(path);
}

/* Checks, in a process that runs as nobody, what test_runtime_user_unprivileged expects;
 * returns the number of the first check that failed, or 0. */
static int check_users_unprivileged(uhw_config_t *cfg)
{
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    size_t n = config_check_runtime(cfg, NULL, &errs);
    int failed = 0;
    if (n != 1 || strstr(errs.items[0], "8:5: pool 'ghost': user 'uhw-no-such-user' does not exist") == NULL)
        failed = 1; /* the missing user still is an error; no "uhw runs as root" */
    else if (cfg->pools[0].run_as != NULL || cfg->pools[3].run_as != NULL || cfg->victims.run_as != NULL)
        failed = 2; /* nothing to switch to: workers run as the current user */
    for (size_t i = 0; i < errs.len && failed != 0; ++i)
        fprintf(stderr, "  error: %s\n", errs.items[i]);
    cfg_errors_free(&errs);
    return failed;
}

/* Not root (run as nobody): users must exist, but none is resolved and none is required. */
static void test_runtime_user_unprivileged(void **state)
{
    scratch_t *s = *state;
    char *path;
    cfg_errors_t errs;
    cfg_errors_init(&errs);
    uhw_config_t *cfg = load_text(s->dir, users_yaml, &errs, &path);
    assert_non_null(cfg);
    assert_int_equal(chmod(s->dir, 0755), 0); /* nobody looks for the control socket there */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* a child, so that cmocka's process keeps its privileges */
        struct passwd *pw = getpwnam("nobody");
        if (geteuid() == 0 && (pw == NULL || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
                               setuid(pw->pw_uid) != 0))
            _exit(10);
        _exit(geteuid() == 0 ? 11 : check_users_unprivileged(cfg));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("check %d failed as nobody", WEXITSTATUS(status));
    config_free(cfg);
    cfg_errors_free(&errs);
    free(path);
}

/* The same user with another identity (uid, groups, home changed in /etc/passwd) means new workers. */
static void test_pool_diff_identity(void **state)
{
    (void)state;
    cfg_identity_t a = {.uid = 1, .gid = 2, .groups = (gid_t[]){2, 3}, .ngroups = 2, .name = "u", .home = "/h"};
    cfg_identity_t b = a;
    cfg_pool_t p = {.name = "p", .argv = (char *[]){"x", NULL}, .cwd = "/", .user = "u", .run_as = &a};
    cfg_pool_t q = p;
    q.run_as = &b;
    assert_int_equal(config_pool_diff(&p, &q), 0);
    b.uid = 5;
    assert_int_equal(config_pool_diff(&p, &q), CFG_DIFF_PROCESS);
    b = a;
    b.groups = (gid_t[]){2, 4};
    assert_int_equal(config_pool_diff(&p, &q), CFG_DIFF_PROCESS);
    b = a;
    b.home = "/elsewhere";
    assert_int_equal(config_pool_diff(&p, &q), CFG_DIFF_PROCESS);
    q.run_as = NULL; /* resolved, then not (uhw is no longer root) */
    assert_int_equal(config_pool_diff(&p, &q), CFG_DIFF_PROCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test_setup_teardown(test_nulls_and_partial_maps, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_path_resolution, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_load_buffer, setup_scratch, teardown_scratch),
        cmocka_unit_test(test_three_errors),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_duplicate_pool_names),
        cmocka_unit_test(test_two_fallback_pools),
        cmocka_unit_test(test_duplicate_routes),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test_setup_teardown(test_control_socket_lenient, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_document_shape, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_pool_mistakes, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_value_mistakes, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_route_mistakes, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_errors_free_everything, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_set_listen, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_pool_diff, setup_scratch, teardown_scratch),
        cmocka_unit_test(test_dump_full),
        cmocka_unit_test(test_dump_minimal),
        cmocka_unit_test_setup_teardown(test_dump_strings, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_dump_not_utf8, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_runtime_check, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_runtime_control, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_runtime_user_root, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_runtime_victims_user, setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_runtime_user_unprivileged, setup_scratch, teardown_scratch),
        cmocka_unit_test(test_pool_diff_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
