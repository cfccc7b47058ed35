/*
 * test_shquote.c — POSIX sh quoting: whatever the bytes, /bin/sh evaluates the quoted word
 * to exactly those bytes (NUL dropped) and runs nothing; names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shquote.h"

static char tmpdir[64];  /* a fresh directory per test */
static char marker[128]; /* created by any injected command */

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/uhw-test-shquote.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(marker, sizeof(marker), "%s/pwned", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *const HOSTILE[] = {
    "'",        "\"",          "$(touch MARKER)", "`touch MARKER`", "; touch MARKER", "a\nb\n",
    "\\",       "\\'",         "'$(touch MARKER)'", "'\"'\"; touch MARKER #", "${IFS}$HOME\\$", "",
    "\x80\xff\xfe bytes",      "' ; touch MARKER ; echo '", "\r\n\t", "''''", "'\\''",
};

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

static void test_quote_hostile(void **state)
{
    (void)state;
    char out[256];
    snprintf(out, sizeof(out), "%s/value", tmpdir);
    for (size_t i = 0; i < sizeof(HOSTILE) / sizeof(HOSTILE[0]); ++i) {
        char *v = with_marker(HOSTILE[i]);
        char *q = shquote(v, strlen(v));
        assert_non_null(q);
        char *script;
        assert_true(asprintf(&script, "x=%s; printf %%s \"$x\" > '%s'", q, out) > 0);
        assert_int_equal(sh(script), 0);
        FILE *f = fopen(out, "rb");
        assert_non_null(f);
        char got[512];
        size_t n = fread(got, 1, sizeof(got), f);
        fclose(f);
        assert_int_equal(n, strlen(v));
        assert_memory_equal(got, v, n);
        assert_int_equal(access(marker, F_OK), -1);
        free(script);
        free(q);
        free(v);
    }
}

static void test_quote_exact(void **state)
{
    (void)state;
    /* NUL bytes are dropped, not a truncation point. */
    char *q = shquote("a\0b'c", 5);
    assert_string_equal(q, "'ab'\\''c'");
    free(q);
    q = shquote(NULL, 0);
    assert_string_equal(q, "''");
    free(q);
    frame_buf_t b;
    frame_buf_init(&b);
    assert_int_equal(shquote_append(&b, "x", 1), 0);
    assert_int_equal(shquote_append(&b, "'", 1), 0);
    assert_int_equal(frame_buf_size(&b), 3 + 6);
    assert_memory_equal(frame_buf_bytes(&b), "'x'''\\'''", 9);
    frame_buf_free(&b);
}

static void test_is_name(void **state)
{
    (void)state;
    static const char *const good[] = {"A", "_", "HTTP_X_FORWARDED_FOR", "a1", "_9"};
    static const char *const bad[] = {"", "1A", "A-B", "A B", "A[0]", "A=", "$A", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); ++i)
        assert_true(shquote_is_name(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        assert_false(shquote_is_name(bad[i], strlen(bad[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quote_hostile, setup, teardown),
        cmocka_unit_test(test_quote_exact),
        cmocka_unit_test(test_is_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
