/*
 * test_cgi_head.c — parsing the header block of a CGI script's output (cmd/cgi_head.c):
 * where the block ends, Status/Location/Content-Type, LF and CRLF lines, headers the
 * supervisor would refuse (dropped, reported), and blocks that are bad (502).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cgi_head.h"

/* Collects the names of dropped headers: "X-A:why|X-B:why|". */
static char dropped[512];

static void on_drop(void *arg, const char *name, size_t len, const char *why)
{
    (void)arg;
    size_t n = strlen(dropped);
    snprintf(dropped + n, sizeof(dropped) - n, "%.*s:%s|", (int)len, name, why);
}

/* Parses `text` (a whole output); returns the parse result, *body the body offset. */
static int parse(const char *text, char *buf, size_t bufsz, cgi_head_t *h, size_t *body)
{
    size_t len = strlen(text);
    assert_true(len < bufsz);
    memcpy(buf, text, len + 1);
    dropped[0] = '\0';
    size_t end = cgi_head_end(buf, len);
    *body = end;
    if (end == 0)
        return 1; /* incomplete */
    return cgi_head_parse(buf, end, h, on_drop, NULL);
}

static const char *value(const cgi_head_t *h, const char *name, char *out, size_t outsz)
{
    for (size_t i = 0; i < h->nheaders; ++i) {
        if (strcmp(h->headers[i].name, name) == 0) {
            snprintf(out, outsz, "%.*s", (int)h->headers[i].value_len, (const char *)h->headers[i].value);
            return out;
        }
    }
    return NULL;
}

static void test_end_of_block(void **state)
{
    (void)state;
    assert_int_equal(cgi_head_end("", 0), 0);
    assert_int_equal(cgi_head_end("Content-Type: text/plain\n", 25), 0);
    assert_int_equal(cgi_head_end("Content-Type: text/plain\n\nbody", 30), 26);
    assert_int_equal(cgi_head_end("Content-Type: text/plain\r\n\r\nbody", 32), 28);
    assert_int_equal(cgi_head_end("A: 1\r\nB: 2\n\r\n", 13), 13); /* mixed endings */
    assert_int_equal(cgi_head_end("\nbody", 5), 1);                /* an empty block */
    assert_int_equal(cgi_head_end("\r\nbody", 6), 2);
    assert_int_equal(cgi_head_end("A: 1\r\n\r", 7), 0);            /* the CR of the blank line came, not its LF */
}

static void test_document_response(void **state)
{
    (void)state;
    char buf[256], v[64];
    cgi_head_t h;
    size_t body;
    assert_int_equal(parse("Content-Type: text/html\r\nX-Thing:  spaced out \t\r\n\r\n<p>hi</p>", buf, sizeof(buf), &h,
                           &body),
                     0);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.nheaders, 2);
    assert_string_equal(value(&h, "Content-Type", v, sizeof(v)), "text/html");
    assert_string_equal(value(&h, "X-Thing", v, sizeof(v)), "spaced out");
    assert_string_equal(buf + body, "<p>hi</p>");
    assert_string_equal(dropped, "");
}

static void test_status(void **state)
{
    (void)state;
    char buf[256];
    cgi_head_t h;
    size_t body;
    assert_int_equal(parse("Status: 404 Not Found\nContent-Type: text/plain\n\nno", buf, sizeof(buf), &h, &body), 0);
    assert_int_equal(h.status, 404);
    assert_int_equal(h.nheaders, 1); /* Status itself is not passed on */
    assert_int_equal(parse("status: 201\n\n", buf, sizeof(buf), &h, &body), 0);
    assert_int_equal(h.status, 201);
    assert_int_equal(parse("Status: 20x\n\n", buf, sizeof(buf), &h, &body), -1);
    assert_non_null(strstr(h.problem, "invalid Status"));
    assert_int_equal(parse("Status: 2000 big\n\n", buf, sizeof(buf), &h, &body), -1);
    assert_int_equal(parse("Status: 100 Continue\n\n", buf, sizeof(buf), &h, &body), -1); /* 1xx is h2o's */
    assert_int_equal(parse("Status: 600\n\n", buf, sizeof(buf), &h, &body), -1);
}

static void test_location(void **state)
{
    (void)state;
    char buf[256], v[64];
    cgi_head_t h;
    size_t body;
    assert_int_equal(parse("Location: https://example.com/x\n\n", buf, sizeof(buf), &h, &body), 0);
    assert_int_equal(h.status, 302);
    assert_string_equal(value(&h, "Location", v, sizeof(v)), "https://example.com/x");
    /* An explicit Status wins, in either order. */
    assert_int_equal(parse("Location: /y\nStatus: 301 Moved\n\n", buf, sizeof(buf), &h, &body), 0);
    assert_int_equal(h.status, 301);
    assert_int_equal(parse("Status: 303\nLocation: /y\n\n", buf, sizeof(buf), &h, &body), 0);
    assert_int_equal(h.status, 303);
}

static void test_dropped_headers(void **state)
{
    (void)state;
    char buf[512], v[64];
    cgi_head_t h;
    size_t body;
    assert_int_equal(parse("Content-Type: text/plain\n"
                           "Connection: close\n"       /* hop-by-hop */
                           "Bad Name: x\n"             /* not a token */
                           "X-Ctl: a\x01" "b\n"        /* control byte */
                           "Content-Length: 99\n"      /* silently: uhw sends the real length */
                           "X-Folded: a\n"
                           " continued\n"              /* obs-fold: the folded header goes */
                           "Set-Cookie: a=1\n"
                           "Set-Cookie: b=2\n"
                           "\nbody",
                           buf, sizeof(buf), &h, &body),
                     0);
    assert_int_equal(h.nheaders, 3);
    assert_string_equal(h.headers[0].name, "Content-Type");
    assert_string_equal(h.headers[1].name, "Set-Cookie");
    assert_string_equal(h.headers[2].name, "Set-Cookie");
    assert_string_equal(value(&h, "Set-Cookie", v, sizeof(v)), "a=1");
    assert_non_null(strstr(dropped, "Connection:hop-by-hop"));
    assert_non_null(strstr(dropped, "Bad Name:header name with a character"));
    assert_non_null(strstr(dropped, "X-Ctl:header value with a control"));
    assert_non_null(strstr(dropped, "X-Folded:folded"));
    assert_null(strstr(dropped, "Content-Length"));
    assert_string_equal(buf + body, "body");
}

static void test_bad_blocks(void **state)
{
    (void)state;
    char buf[256];
    cgi_head_t h;
    size_t body;
    /* A script that printed its body first: the first line has no colon. */
    assert_int_equal(parse("hello world\n\n", buf, sizeof(buf), &h, &body), -1);
    assert_non_null(strstr(h.problem, "no colon"));
    assert_non_null(strstr(h.problem, "hello world"));
    assert_int_equal(parse("<html>\n\n", buf, sizeof(buf), &h, &body), -1);
    /* No blank line yet: incomplete, not parsed. */
    assert_int_equal(parse("Content-Type: text/plain\nbody without blank line", buf, sizeof(buf), &h, &body), 1);
    /* Output that ended early, parsed whole to say what is wrong with it. */
    char out[64] = "hello world\n";
    assert_int_equal(cgi_head_parse(out, strlen(out), &h, NULL, NULL), -1);
    assert_non_null(strstr(h.problem, "no colon"));
    strcpy(out, "Content-Type: text/plain\n");
    assert_int_equal(cgi_head_parse(out, strlen(out), &h, NULL, NULL), -1);
    assert_string_equal(h.problem, "the output ended before the blank line that ends the header block");
    strcpy(out, "Content-Type: text/plain");
    assert_int_equal(cgi_head_parse(out, strlen(out), &h, NULL, NULL), -1);
    assert_non_null(strstr(h.problem, "without its ending blank line"));
    /* An empty block is a valid (headerless) document. */
    assert_int_equal(parse("\nbody", buf, sizeof(buf), &h, &body), 0);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.nheaders, 0);
}

static void test_too_many_headers(void **state)
{
    (void)state;
    static char text[8192], buf[8192];
    size_t n = 0;
    for (int i = 0; i <= CGI_HEAD_MAX_HEADERS; ++i)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X-%d: v\n", i);
    snprintf(text + n, sizeof(text) - n, "\n");
    cgi_head_t h;
    size_t body;
    assert_int_equal(parse(text, buf, sizeof(buf), &h, &body), -1);
    assert_non_null(strstr(h.problem, "too many"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_of_block),   cmocka_unit_test(test_document_response),
        cmocka_unit_test(test_status),         cmocka_unit_test(test_location),
        cmocka_unit_test(test_dropped_headers), cmocka_unit_test(test_bad_blocks),
        cmocka_unit_test(test_too_many_headers),
    };
    return cmocka_run_group_tests_name("cgi_head", tests, NULL, NULL);
}
