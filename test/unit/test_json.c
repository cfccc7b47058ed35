/*
 * test_json.c — `uhw json`: the output parses back (with jansson) to exactly the keys and
 * values given, whatever their bytes; raw JSON; refusals print nothing.
 */
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

typedef struct out {
    int rc;
    char *text;
    size_t len;
} out_t;

/* Runs `uhw json ARGS...` with its output in memory and stderr silenced. */
static out_t run_json(char **argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        ++argc;
    int fd = memfd_create("json", 0);
    assert_true(fd >= 0);
    helper_io_t io = {.in = -1, .out = fd};
    int saved2 = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(null);
    out_t o = {0};
    o.rc = helper_json(&io, argc, argv);
    fflush(stderr);
    dup2(saved2, 2);
    close(saved2);
    o.len = (size_t)lseek(fd, 0, SEEK_END);
    o.text = calloc(1, o.len + 1);
    assert_int_equal(pread(fd, o.text, o.len, 0), (ssize_t)o.len);
    close(fd);
    return o;
}

static json_t *parse(const out_t *o)
{
    assert_int_equal(o->rc, 0);
    assert_true(o->len >= 3);
    assert_int_equal(o->text[o->len - 1], '\n');
    assert_null(memchr(o->text, '\n', o->len - 1)); /* one line */
    json_error_t err;
    json_t *j = json_loadb(o->text, o->len, 0, &err);
    if (j == NULL)
        fail_msg("invalid JSON %s: %s", o->text, err.text);
    assert_true(json_is_object(j));
    return j;
}

static void test_values(void **state)
{
    (void)state;
    char all[256], arg[300];
    for (int i = 1; i < 128; ++i)
        all[i - 1] = (char)i; /* every ASCII byte but NUL (argv cannot hold it) */
    all[127] = '\0';
    snprintf(arg, sizeof(arg), "all=%s", all);
    char *argv[] = {"json", "ok:=true", "n:=-1.5e3", "none:=null", "list:=[1, \"two\", {\"x\": []}]",
                    arg,    "empty=",   "eq=a=b",    "quote=\"'\\", "utf8=\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                    "a\\=b\\:=c",       "s:=\"str\"", NULL};
    out_t o = run_json(argv);
    json_t *j = parse(&o);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_true(json_real_value(json_object_get(j, "n")) == -1500.0);
    assert_true(json_is_null(json_object_get(j, "none")));
    assert_int_equal(json_array_size(json_object_get(j, "list")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "all")), all);
    assert_string_equal(json_string_value(json_object_get(j, "empty")), "");
    assert_string_equal(json_string_value(json_object_get(j, "eq")), "a=b");
    assert_string_equal(json_string_value(json_object_get(j, "quote")), "\"'\\");
    assert_string_equal(json_string_value(json_object_get(j, "utf8")), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_object_get(j, "a=b:")), "c"); /* escaped separators */
    assert_string_equal(json_string_value(json_object_get(j, "s")), "str");
    /* Keys in the order given. */
    const char *first = strstr(o.text, "\"ok\""), *last = strstr(o.text, "\"s\"");
    assert_true(first != NULL && last != NULL && first < last);
    json_decref(j);
    free(o.text);
}

static void test_not_utf8(void **state)
{
    (void)state;
    /* Lone continuation, overlong '/', surrogate, above U+10FFFF, truncated: each byte -> U+FFFD. */
    char *argv[] = {"json", "v=a\x80z", "o=\xc0\xaf", "s=\xed\xa0\x80", "big=\xf4\x90\x80\x80", "t=\xe2\x82",
                    "k\xff=1", NULL};
    out_t o = run_json(argv);
    json_t *j = parse(&o);
    assert_string_equal(json_string_value(json_object_get(j, "v")), "a\xef\xbf\xbdz");
    assert_string_equal(json_string_value(json_object_get(j, "o")), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(j, "s")), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal(strlen(json_string_value(json_object_get(j, "big"))), 12);
    assert_string_equal(json_string_value(json_object_get(j, "t")), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(j, "k\xef\xbf\xbd")), "1");
    json_decref(j);
    free(o.text);
}

static void test_dash_keys_and_empty(void **state)
{
    (void)state;
    char *argv[] = {"json", "--", "-x=1", "--y:=2", NULL};
    out_t o = run_json(argv);
    json_t *j = parse(&o);
    assert_string_equal(json_string_value(json_object_get(j, "-x")), "1");
    assert_int_equal(json_integer_value(json_object_get(j, "--y")), 2);
    json_decref(j);
    free(o.text);
    char *none[] = {"json", NULL};
    o = run_json(none);
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.text, "{}\n");
    free(o.text);
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const bad[][4] = {
        {"json", "a:=tru", NULL},  {"json", "a:=", NULL},         {"json", "a:={\"x\":", NULL},
        {"json", "noeq", NULL},    {"json", "a=1", "a:=2", NULL}, {"json", "-x=1", NULL},
        {"json", "a:=1 2", NULL},  {"json", "\\=", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        out_t o = run_json((char **)bad[i]);
        if (o.rc != 2 || o.len != 0)
            fail_msg("case %zu (%s): rc=%d, output [%s]", i, bad[i][1], o.rc, o.text);
        free(o.text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_dash_keys_and_empty),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
