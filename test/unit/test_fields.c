/*
 * test_fields.c — the bash fast path's exchange: the request file's layout (what uhw.sh's
 * mapfile indexes), and the parser of bash's commands (whole, partial, malformed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fields.h"
#include "reqvars.h"

/* The fields of a NUL-delimited buffer (at most 64). */
static size_t split(const frame_buf_t *b, const char *f[64])
{
    const char *p = (const char *)frame_buf_bytes(b);
    size_t n = frame_buf_size(b), k = 0;
    assert_true(n > 0 && p[n - 1] == '\0');
    for (size_t i = 0; i < n && k < 64; i += strlen(p + i) + 1)
        f[k++] = p + i;
    return k;
}

static void test_request_layout(void **state)
{
    (void)state;
    Uhw__V1__Header h1 = UHW__V1__HEADER__INIT, h2 = UHW__V1__HEADER__INIT, h3 = UHW__V1__HEADER__INIT;
    h1.name = "X-A";
    h1.value.data = (uint8_t *)"a\0b";
    h1.value.len = 3;
    h2.name = "X_A"; /* dropped */
    h2.value.data = (uint8_t *)"forged";
    h2.value.len = 6;
    h3.name = "Content-Type";
    h3.value.data = (uint8_t *)"text/x";
    h3.value.len = 6;
    Uhw__V1__Header *hs[] = {&h1, &h2, &h3};
    Uhw__V1__Request q = UHW__V1__REQUEST__INIT;
    q.id = 42;
    q.method = "POST";
    q.path = "/p";
    q.query = "q=1";
    q.headers = hs;
    q.n_headers = 3;
    q.body.len = 5;
    q.body.data = (uint8_t *)"hello";
    frame_buf_t b;
    frame_buf_init(&b);
    assert_int_equal(fields_request(&b, &q, "/d/body", NULL), 0);
    const char *f[64];
    size_t n = split(&b, f);
    assert_int_equal(n, REQVARS_FIXED + 2 + 2);
    assert_string_equal(f[0], "42");
    assert_string_equal(f[1], "POST");
    assert_string_equal(f[2], "/p");
    assert_string_equal(f[3], "q=1");
    assert_string_equal(f[4], "text/x");
    assert_string_equal(f[5], "5");
    assert_string_equal(f[REQVARS_FIXED], "/d/body");
    assert_string_equal(f[REQVARS_FIXED + 1], "0");
    assert_string_equal(f[REQVARS_FIXED + 2], "HTTP_X_A");
    assert_string_equal(f[REQVARS_FIXED + 3], "ab");
    frame_buf_free(&b);

    /* With settings: flag 1, and UHW_SETTING_* pairs after the headers. */
    Uhw__V1__Setting s = UHW__V1__SETTING__INIT;
    s.key = "mode";
    s.value = "fast";
    Uhw__V1__Setting *ss[] = {&s};
    Uhw__V1__Configure c = UHW__V1__CONFIGURE__INIT;
    c.settings = ss;
    c.n_settings = 1;
    frame_buf_init(&b);
    assert_int_equal(fields_request(&b, &q, "/d/body", &c), 0);
    n = split(&b, f);
    assert_int_equal(n, REQVARS_FIXED + 2 + 4);
    assert_string_equal(f[REQVARS_FIXED + 1], "1");
    assert_string_equal(f[REQVARS_FIXED + 4], "UHW_SETTING_MODE");
    assert_string_equal(f[REQVARS_FIXED + 5], "fast");
    frame_buf_free(&b);
}

static void test_command(void **state)
{
    (void)state;
    static const char two[] = "/tmp\0" "3\0reply\0-t\0hello\nworld\0" "/\0" "1\0recv\0";
    char buf[sizeof(two)];
    memcpy(buf, two, sizeof(two));
    size_t n = sizeof(two) - 1, used;
    fields_cmd_t cmd;
    assert_int_equal(fields_command(buf, n, &used, &cmd), 1);
    assert_string_equal(cmd.cwd, "/tmp");
    assert_int_equal(cmd.argc, 3);
    assert_string_equal(cmd.argv[0], "reply");
    assert_string_equal(cmd.argv[2], "hello\nworld");
    assert_null(cmd.argv[3]);
    fields_command_free(&cmd);
    assert_int_equal(fields_command(buf + used, n - used, &used, &cmd), 1);
    assert_string_equal(cmd.argv[0], "recv");
    fields_command_free(&cmd);
    /* Every proper prefix: more bytes needed, nothing allocated. */
    for (size_t k = 0; k < 28; ++k) { /* the first command is 28 bytes */
        memcpy(buf, two, sizeof(two));
        if (fields_command(buf, k, &used, &cmd) != 0)
            fail_msg("prefix of %zu bytes", k);
    }
    /* Not commands. */
    static const char *const bad[] = {"/\0" "0\0", "/\0" "x\0", "/\0" "-1\0", "/\0" "\0", "/\0" "100001\0",
                                      "/\0" "99999999999999999999\0"};
    static const size_t bad_len[] = {4, 4, 5, 3, 9, 23};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        char b2[32];
        memcpy(b2, bad[i], bad_len[i]);
        if (fields_command(b2, bad_len[i], &used, &cmd) != -1)
            fail_msg("bad command %zu accepted", i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_layout),
        cmocka_unit_test(test_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
