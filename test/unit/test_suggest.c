/*
 * test_suggest.c — "did you mean" for mistyped verbs: the distance, and when a word is near
 * enough to be suggested.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "suggest.h"

static const char *const verbs[] = {"serve", "check", "status", "ps",   "tail",    "reload", "stop",
                                    "restart", "scale", "ready", "recv", "reply",  "stream", "sse",
                                    "ndjson", "log",   "keepalive", "cgi", "replay", "json", "version", "help"};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static void test_distance(void **state)
{
    (void)state;
    assert_int_equal(suggest_distance("", ""), 0);
    assert_int_equal(suggest_distance("status", "status"), 0);
    assert_int_equal(suggest_distance("", "abc"), 3);
    assert_int_equal(suggest_distance("abc", ""), 3);
    assert_int_equal(suggest_distance("stauts", "status"), 1); /* a swap is one edit */
    assert_int_equal(suggest_distance("sevre", "serve"), 1);
    assert_int_equal(suggest_distance("kitten", "sitting"), 3);
    assert_int_equal(suggest_distance("scal", "scale"), 1);
    assert_int_equal(suggest_distance("ca", "abc"), 3); /* optimal string alignment, not full Damerau */
}

static void test_suggest(void **state)
{
    (void)state;
    assert_string_equal(suggest("stauts", verbs, NVERBS), "status");
    assert_string_equal(suggest("sevre", verbs, NVERBS), "serve");
    assert_string_equal(suggest("reloda", verbs, NVERBS), "reload");
    assert_string_equal(suggest("scael", verbs, NVERBS), "scale");
    assert_string_equal(suggest("tali", verbs, NVERBS), "tail");
    assert_string_equal(suggest("restar", verbs, NVERBS), "restart");
    assert_string_equal(suggest("keepal", verbs, NVERBS), "keepalive"); /* the only verb it begins */
    static const char *const options[] = {"--help", "--version"};
    assert_string_equal(suggest("--verison", options, 2), "--version");
    assert_string_equal(suggest("--hlep", options, 2), "--help");
    /* Too far, or too short to tell. */
    assert_null(suggest("xyzzy", verbs, NVERBS));
    assert_null(suggest("deploy", verbs, NVERBS));
    assert_null(suggest("x", verbs, NVERBS));
    assert_null(suggest("", verbs, NVERBS));
    assert_null(suggest("re", verbs, NVERBS)); /* begins reload, restart, ready... */
    assert_null(suggest("status", NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
