/*
 * test_cgi_env.c — the environment of a CGI script (cmd/cgi_env.c): the RFC 3875
 * meta-variables, HTTP_* from headers (joined, filtered), SERVER_NAME/PORT from Host,
 * and the worker's own environment without what a request sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgi_env.h"

static const char *get(char **env, const char *name)
{
    size_t n = strlen(name);
    const char *found = NULL;
    for (char **e = env; *e != NULL; ++e) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            assert_null(found); /* every variable once */
            found = *e + n + 1;
        }
    }
    return found;
}

#define H(n, v) {n, (const uint8_t *)(v), sizeof(v) - 1}

static uhw_req_t request(const uhw_header_t *hs, size_t n)
{
    return (uhw_req_t){.id = 42, .method = "POST", .path = "/cgi-bin/env.sh/a%20b/c", .query = "x=1&y=%41",
                       .headers = hs, .nheaders = n, .body = (const uint8_t *)"a=1", .body_len = 3,
                       .remote_addr = "10.0.0.7", .remote_port = 5150, .scheme = "http",
                       .http_version = "HTTP/1.1", .pool = "cgi"};
}

static const cgi_target_t target = {.filename = "/srv/cgi-bin/env.sh", .dir = "/srv/cgi-bin",
                                    .script_name = "/cgi-bin/env.sh", .path_info = "/a b/c"};

static void test_meta_variables(void **state)
{
    (void)state;
    uhw_header_t hs[] = {H("host", "example.org:8080"), H("content-type", "application/x-www-form-urlencoded"),
                         H("content-length", "3")};
    uhw_req_t req = request(hs, 3);
    char *base[] = {"PATH=/bin", NULL};
    char **env = cgi_env_build(base, &req, &target, "/srv/cgi-bin");
    assert_non_null(env);
    assert_string_equal(get(env, "GATEWAY_INTERFACE"), "CGI/1.1");
    assert_non_null(strstr(get(env, "SERVER_SOFTWARE"), "uhw/"));
    assert_string_equal(get(env, "SERVER_NAME"), "example.org");
    assert_string_equal(get(env, "SERVER_PORT"), "8080");
    assert_string_equal(get(env, "SERVER_PROTOCOL"), "HTTP/1.1");
    assert_string_equal(get(env, "REQUEST_METHOD"), "POST");
    assert_string_equal(get(env, "REQUEST_URI"), "/cgi-bin/env.sh/a%20b/c?x=1&y=%41");
    assert_string_equal(get(env, "SCRIPT_NAME"), "/cgi-bin/env.sh");
    assert_string_equal(get(env, "SCRIPT_FILENAME"), "/srv/cgi-bin/env.sh");
    assert_string_equal(get(env, "DOCUMENT_ROOT"), "/srv/cgi-bin");
    assert_string_equal(get(env, "PATH_INFO"), "/a b/c");
    assert_string_equal(get(env, "PATH_TRANSLATED"), "/srv/cgi-bin/a b/c");
    assert_string_equal(get(env, "QUERY_STRING"), "x=1&y=%41");
    assert_string_equal(get(env, "REMOTE_ADDR"), "10.0.0.7");
    assert_string_equal(get(env, "REMOTE_PORT"), "5150");
    assert_string_equal(get(env, "CONTENT_TYPE"), "application/x-www-form-urlencoded");
    assert_string_equal(get(env, "CONTENT_LENGTH"), "3");
    assert_string_equal(get(env, "REDIRECT_STATUS"), "200");
    assert_string_equal(get(env, "REQUEST_SCHEME"), "http");
    assert_string_equal(get(env, "UHW_REQUEST_ID"), "42");
    assert_string_equal(get(env, "HTTP_HOST"), "example.org:8080");
    assert_string_equal(get(env, "PATH"), "/bin");
    assert_null(get(env, "HTTPS"));
    assert_null(get(env, "HTTP_CONTENT_TYPE"));   /* CONTENT_TYPE, not HTTP_ */
    assert_null(get(env, "HTTP_CONTENT_LENGTH"));
    free(env);
}

static void test_optional_variables(void **state)
{
    (void)state;
    uhw_header_t hs[] = {H("host", "[::1]")};
    uhw_req_t req = request(hs, 1);
    req.scheme = "https";
    req.http_version = "HTTP/2";
    req.method = "GET";
    req.body = NULL;
    req.body_len = 0;
    req.query = "";
    cgi_target_t t = target;
    t.path_info = "";
    char *base[] = {"PATH=/bin", NULL};
    char **env = cgi_env_build(base, &req, &t, "/srv/cgi-bin");
    assert_string_equal(get(env, "HTTPS"), "on");
    assert_string_equal(get(env, "REQUEST_SCHEME"), "https");
    assert_string_equal(get(env, "SERVER_NAME"), "[::1]");
    assert_string_equal(get(env, "SERVER_PORT"), "443");
    assert_string_equal(get(env, "SERVER_PROTOCOL"), "HTTP/2");
    assert_string_equal(get(env, "QUERY_STRING"), ""); /* always set */
    assert_string_equal(get(env, "REQUEST_URI"), "/cgi-bin/env.sh/a%20b/c");
    assert_null(get(env, "PATH_INFO"));
    assert_null(get(env, "PATH_TRANSLATED"));
    assert_null(get(env, "CONTENT_LENGTH"));
    assert_null(get(env, "CONTENT_TYPE"));
    free(env);

    /* No Host at all (HTTP/1.0): still a SERVER_NAME. */
    req = request(NULL, 0);
    env = cgi_env_build(base, &req, &target, "/srv");
    assert_string_equal(get(env, "SERVER_NAME"), "localhost");
    assert_string_equal(get(env, "SERVER_PORT"), "80");
    free(env);
}

static void test_http_headers(void **state)
{
    (void)state;
    uhw_header_t hs[] = {
        H("accept", "text/html"),  H("x-forwarded-for", "1.2.3.4"), H("Accept", "*/*"),
        H("x_forwarded_for", "6.6.6.6"),                       /* '_' would collide with '-': dropped */
        H("proxy", "http://evil:1"),                           /* httpoxy: dropped */
        H("cookie", "a=1"),        H("cookie", "b=2"),
        H("x.dotted", "no"),                                   /* not an environment name */
        {"x-nul", (const uint8_t *)"a\0b", 3},                  /* cannot be in an environment string */
    };
    uhw_req_t req = request(hs, sizeof(hs) / sizeof(hs[0]));
    char *base[] = {NULL};
    char **env = cgi_env_build(base, &req, &target, "/srv");
    assert_string_equal(get(env, "HTTP_ACCEPT"), "text/html, */*");
    assert_string_equal(get(env, "HTTP_X_FORWARDED_FOR"), "1.2.3.4");
    assert_string_equal(get(env, "HTTP_COOKIE"), "a=1; b=2");
    assert_null(get(env, "HTTP_PROXY"));
    assert_null(get(env, "HTTP_X_DOTTED"));
    assert_null(get(env, "HTTP_X.DOTTED"));
    assert_null(get(env, "HTTP_X_NUL"));
    free(env);
}

static void test_base_environment(void **state)
{
    (void)state;
    char *environ_[] = {"HOME=/root",       "HTTP_PROXY=http://leak:1", "CONTENT_LENGTH=999", "QUERY_STRING=stale",
                        "UHW_POOL=cgi",     "MY_SETTING=x",             "junk-without-equals", NULL};
    char **base = cgi_env_base(environ_);
    assert_non_null(base);
    assert_string_equal(get(base, "HOME"), "/root");
    assert_string_equal(get(base, "UHW_POOL"), "cgi");
    assert_string_equal(get(base, "MY_SETTING"), "x");
    assert_string_equal(get(base, "PATH"), "/usr/local/bin:/usr/bin:/bin"); /* added: none inherited */
    assert_null(get(base, "HTTP_PROXY"));
    assert_null(get(base, "CONTENT_LENGTH"));
    assert_null(get(base, "QUERY_STRING"));
    /* A GET then has no CONTENT_LENGTH at all, not the worker's stale one. */
    uhw_req_t req = request(NULL, 0);
    req.body_len = 0;
    char **env = cgi_env_build(base, &req, &target, "/srv");
    assert_null(get(env, "CONTENT_LENGTH"));
    assert_string_equal(get(env, "QUERY_STRING"), "x=1&y=%41");
    assert_string_equal(get(env, "MY_SETTING"), "x");
    free(env);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_variables),
        cmocka_unit_test(test_optional_variables),
        cmocka_unit_test(test_http_headers),
        cmocka_unit_test(test_base_environment),
    };
    return cmocka_run_group_tests_name("cgi_env", tests, NULL, NULL);
}
