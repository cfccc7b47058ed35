/*
 * test_reqvars.c — a Request as CGI-style variables: the fixed names in their order, header
 * names that may and may not become variables, joining, NUL bytes, settings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reqvars.h"
#include "shquote.h"

static const reqvar_t *find(const reqvars_t *v, const char *name)
{
    for (size_t i = 0; i < v->n; ++i)
        if (strcmp(v->v[i].name, name) == 0)
            return &v->v[i];
    return NULL;
}

static void expect(const reqvars_t *v, const char *name, const void *value, size_t len)
{
    const reqvar_t *r = find(v, name);
    if (r == NULL)
        fail_msg("%s missing", name);
    if (r->len != len || memcmp(r->value, value, len) != 0 || r->value[len] != '\0')
        fail_msg("%s = [%s], expected [%.*s]", name, r->value, (int)len, (const char *)value);
}

static void test_request(void **state)
{
    (void)state;
    static const char *const names[][2] = {
        {"Content-Type", "text/plain"}, {"X-A", "1"},    {"x-a", "2"},  {"Proxy", "http://evil"},
        {"X_A", "forged"},              {"Accept", "*/*"}, {"X.A", "f"}, {"content-length", "99"},
        {"X-Nul", "a\0b"},
    };
    Uhw__V1__Header h[9], *hp[9];
    for (size_t i = 0; i < 9; ++i) {
        Uhw__V1__Header init = UHW__V1__HEADER__INIT;
        h[i] = init;
        h[i].name = (char *)names[i][0];
        h[i].value.data = (uint8_t *)names[i][1];
        h[i].value.len = i == 8 ? 3 : strlen(names[i][1]);
        hp[i] = &h[i];
    }
    Uhw__V1__Request q = UHW__V1__REQUEST__INIT;
    q.id = 18446744073709551615ULL;
    q.method = "PUT";
    q.path = "/p";
    q.query = "a=b";
    q.headers = hp;
    q.n_headers = 9;
    q.body.data = (uint8_t *)"xyz";
    q.body.len = 3;
    q.remote_addr = "::1";
    q.remote_port = 65535;
    q.scheme = "https";
    q.http_version = "HTTP/2";
    q.timeout_ms = 1234;
    reqvars_t v;
    reqvars_init(&v);
    assert_int_equal(reqvars_request(&v, &q), 0);
    static const char *const fixed[REQVARS_FIXED] = {
        "UHW_REQUEST_ID", "REQUEST_METHOD", "PATH_INFO",      "QUERY_STRING",    "CONTENT_TYPE",  "CONTENT_LENGTH",
        "REMOTE_ADDR",    "REMOTE_PORT",    "REQUEST_SCHEME", "SERVER_PROTOCOL", "UHW_TIMEOUT_MS"};
    for (size_t i = 0; i < REQVARS_FIXED; ++i)
        assert_string_equal(v.v[i].name, fixed[i]);
    expect(&v, "UHW_REQUEST_ID", "18446744073709551615", 20);
    expect(&v, "CONTENT_TYPE", "text/plain", 10);
    expect(&v, "CONTENT_LENGTH", "3", 1); /* the body's length, not the header's */
    expect(&v, "REMOTE_PORT", "65535", 5);
    expect(&v, "HTTP_X_A", "1, 2", 4);
    expect(&v, "HTTP_ACCEPT", "*/*", 3);
    expect(&v, "HTTP_X_NUL", "ab", 2);
    assert_int_equal(v.n, REQVARS_FIXED + 3); /* X-A, Accept, X-Nul: nothing else */
    for (size_t i = 0; i < v.n; ++i)
        assert_true(shquote_is_name(v.v[i].name, strlen(v.v[i].name)));
    reqvars_free(&v);

    /* An empty request: every fixed variable, empty or 0. */
    Uhw__V1__Request empty = UHW__V1__REQUEST__INIT;
    reqvars_init(&v);
    assert_int_equal(reqvars_request(&v, &empty), 0);
    assert_int_equal(v.n, REQVARS_FIXED);
    expect(&v, "PATH_INFO", "", 0);
    expect(&v, "CONTENT_LENGTH", "0", 1);
    reqvars_free(&v);
}

static void test_header_var(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(reqvars_header_var("x-Forwarded-for", out), 0);
    assert_string_equal(out, "HTTP_X_FORWARDED_FOR");
    assert_int_equal(reqvars_header_var("Accept", out), 0);
    assert_string_equal(out, "HTTP_ACCEPT");
    static const char *const dropped[] = {"X_Forwarded_For", "x.forwarded.for", "", "proxy", "Content-Type",
                                          "content-length", "a b", "\xc3\xa9", "x$(id)"};
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); ++i)
        if (reqvars_header_var(dropped[i], out) != -1)
            fail_msg("'%s' should get no variable", dropped[i]);
}

static void test_settings(void **state)
{
    (void)state;
    Uhw__V1__Setting s1 = UHW__V1__SETTING__INIT, s2 = UHW__V1__SETTING__INIT;
    s1.key = "db.url";
    s1.value = "postgres://x";
    s2.key = "Mode";
    s2.value = "";
    Uhw__V1__Setting *ss[] = {&s1, &s2};
    Uhw__V1__Configure c = UHW__V1__CONFIGURE__INIT;
    c.settings = ss;
    c.n_settings = 2;
    reqvars_t v;
    reqvars_init(&v);
    assert_int_equal(reqvars_settings(&v, &c), 0);
    assert_int_equal(v.n, 2);
    expect(&v, "UHW_SETTING_DB_URL", "postgres://x", 12);
    expect(&v, "UHW_SETTING_MODE", "", 0);
    reqvars_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_header_var),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
