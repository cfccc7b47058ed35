/*
 * test_ps_table.c — `uhw ps`'s tables from a status document: durations, times, every
 * column, the retiring and empty slots, colours that never shift a column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ps_table.h"
#include "table.h"

static void test_fmt_duration(void **state)
{
    (void)state;
    char b[PS_TIME_MAX];
    assert_string_equal(ps_fmt_duration(0, b), "0s");
    assert_string_equal(ps_fmt_duration(999, b), "0s");
    assert_string_equal(ps_fmt_duration(42000, b), "42s");
    assert_string_equal(ps_fmt_duration(59999, b), "59s");
    assert_string_equal(ps_fmt_duration(60000, b), "1m");
    assert_string_equal(ps_fmt_duration(192000, b), "3m12s");
    assert_string_equal(ps_fmt_duration(300000, b), "5m");
    assert_string_equal(ps_fmt_duration(3600000, b), "1h");
    assert_string_equal(ps_fmt_duration(7380000, b), "2h03m");
    assert_string_equal(ps_fmt_duration(7380000 + 59000, b), "2h03m"); /* seconds dropped past an hour */
    assert_string_equal(ps_fmt_duration(86400000, b), "1d");
    assert_string_equal(ps_fmt_duration(4 * 86400000ull + 2 * 3600000, b), "4d02h");
    assert_string_equal(ps_fmt_duration(400 * 86400000ull, b), "400d");
    assert_string_equal(ps_fmt_duration(UINT64_MAX, b), "213503982334d14h"); /* fits PS_TIME_MAX */
}

static void test_fmt_ago(void **state)
{
    (void)state;
    char b[PS_TIME_MAX];
    assert_string_equal(ps_fmt_ago(0, b), "0s");
    assert_string_equal(ps_fmt_ago(5400, b), "5s");
    assert_string_equal(ps_fmt_ago(125000, b), "2m");
    assert_string_equal(ps_fmt_ago(3 * 3600000 + 59 * 60000, b), "3h");
    assert_string_equal(ps_fmt_ago(9 * 86400000ull, b), "9d");
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(ps_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(ps_parse_time("2026-11-21T10:00:00.123Z", &ms), 0);
    assert_int_equal(ms, 1795255200123LL);
    assert_int_equal(ps_parse_time("2026-11-21T10:00:01.5Z", &ms), -1); /* three digits or none */
    assert_int_equal(ps_parse_time("2026-11-21T10:00:00.123", &ms), -1);
    assert_int_equal(ps_parse_time("2026-11-21 10:00:00Z", &ms), -1);
    assert_int_equal(ps_parse_time("2026-13-21T10:00:00Z", &ms), -1);
    assert_int_equal(ps_parse_time("2026-11-21T10:00:00Zx", &ms), -1);
    assert_int_equal(ps_parse_time("", &ms), -1);
    assert_int_equal(ps_parse_time(NULL, &ms), -1);
}

/* The server started at 10:00:00.000 and wrote this 312.5 s later, at 10:05:12.500. */
static const char *const status_doc =
    "{\"uhw\": \"0.1.0\", \"pid\": 4242, \"state\": \"running\", \"started_at\": \"2026-11-21T10:00:00.000Z\","
    " \"uptime_s\": 312.5, \"pools\": ["
    "  {\"name\": \"api\", \"state\": \"running\", \"size\": 2, \"alive\": 2, \"ready\": 2, \"busy\": 1, \"queued\": 0,"
    "   \"requests\": 1234, \"restarts\": {\"in_window\": 1, \"total\": 3, \"max\": 10, \"window_s\": 300},"
    "   \"workers\": ["
    "    {\"id\": 0, \"pid\": 4301, \"state\": \"ready\", \"in_flight\": 1, \"requests\": 700,"
    "     \"started_at\": \"2026-11-21T10:02:00.500Z\", \"restarts\": 1,"
    "     \"last_exit\": {\"reason\": \"died\", \"detail\": \"killed by SIGSEGV\", \"code\": null,"
    "                   \"signal\": \"SIGSEGV\", \"at\": \"2026-11-21T10:02:00.000Z\"}},"
    "    {\"id\": 1, \"pid\": 4302, \"state\": \"ready\", \"in_flight\": 0, \"requests\": 34,"
    "     \"started_at\": \"2026-11-21T10:05:02.000Z\", \"restarts\": 0,"
    "     \"last_exit\": {\"reason\": \"retired\", \"detail\": \"exited with code 0 after 500 requests (retired itself)\","
    "                   \"at\": \"2026-11-21T10:05:01.900Z\"}},"
    "    {\"id\": 1, \"pid\": 4290, \"state\": \"ready\", \"in_flight\": 1, \"requests\": 500,"
    "     \"started_at\": \"2026-11-21T10:00:00.000Z\", \"retiring\": true}]},"
    "  {\"name\": \"crash\", \"state\": \"degraded\", \"size\": 1, \"alive\": 0, \"ready\": 0, \"busy\": 0,"
    "   \"queued\": 0, \"requests\": 10, \"restarts\": {\"in_window\": 10, \"total\": 10, \"max\": 10, \"window_s\": 300},"
    "   \"workers\": ["
    "    {\"id\": 0, \"pid\": null, \"state\": \"exited\", \"in_flight\": 0, \"requests\": 0, \"started_at\": null,"
    "     \"restarts\": 10, \"last_exit\": {\"reason\": \"died\", \"detail\": \"exited with code 1\", \"code\": 1,"
    "                   \"signal\": null, \"at\": \"2026-11-21T07:59:00.000Z\"}}]},"
    "  {\"name\": \"old\", \"state\": \"stopping\", \"draining\": true, \"size\": 1, \"ready\": 1, \"busy\": 0,"
    "   \"queued\": 0, \"requests\": 0, \"restarts\": {\"in_window\": 0, \"total\": 0, \"max\": 0, \"window_s\": 90},"
    "   \"workers\": [{\"id\": 0, \"pid\": 4400, \"state\": \"stopping\", \"in_flight\": 0, \"requests\": 0,"
    "     \"started_at\": \"2026-11-21T10:05:12.500Z\", \"restarts\": 0, \"last_exit\": null}]}]}";

static const char *const expected =
    "POOL   STATE                WORKERS  READY  BUSY  QUEUED  REQUESTS  RESTARTS  IN WINDOW\n"
    "api    running              2        2      1     0       1234      3         1/10 in 5m\n"
    "crash  degraded             1        0      0     0       10        10        10/10 in 5m\n"
    "old    stopping (draining)  1        1      0     0       0         0         0 in 1m30s\n"
    "\n"
    "POOL   SLOT  PID   STATE     UPTIME  REQUESTS  IN FLIGHT  RESTARTS  LAST EXIT\n"
    "api    0     4301  ready     3m12s   700       1          1         killed by SIGSEGV 3m ago\n"
    "api    1     4302  ready     10s     34        0          0         exited with code 0 after 500 requests "
    "(retired itself) 10s ago\n"
    "api    1     4290  retiring  5m12s   500       1          -         -\n"
    "crash  0     -     exited    -       0         0          10        exited with code 1 2h ago\n"
    "old    0     4400  stopping  0s      0         0          0         -\n";

static char *render(const char *doc, int color, int *rc)
{
    json_error_t err;
    json_t *j = json_loads(doc, 0, &err);
    if (j == NULL)
        fail_msg("bad test document: %s", err.text);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    *rc = ps_table_write(f, j, color);
    fclose(f);
    json_decref(j);
    return text;
}

/* The text without its ESC[...m sequences. */
static char *strip_sgr(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    assert_non_null(out);
    while (*s != '\0') {
        if (*s == '\033') {
            s = strchr(s, 'm');
            assert_non_null(s);
            ++s;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static void test_table_plain(void **state)
{
    (void)state;
    int rc;
    char *text = render(status_doc, 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(text, expected);
    assert_null(strchr(text, '\033'));
    free(text);
}

static void test_table_color(void **state)
{
    (void)state;
    int rc;
    char *text = render(status_doc, 1, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(text, "\033[1;31mdegraded\033[0m"));
    assert_non_null(strstr(text, "\033[32mrunning\033[0m"));
    assert_non_null(strstr(text, "\033[33mretiring\033[0m"));
    assert_non_null(strstr(text, "\033[31mexited\033[0m"));
    assert_non_null(strstr(text, "\033[31mkilled by SIGSEGV 3m ago\033[0m"));
    assert_null(strstr(text, "\033[31mexited with code 0 after")); /* a retirement is no failure */
    char *plain = strip_sgr(text);
    assert_string_equal(plain, expected); /* colours take no column */
    free(plain);
    free(text);
}

static void test_table_odd_documents(void **state)
{
    (void)state;
    int rc;
    char *text = render("{\"error\": \"Not found\"}", 0, &rc);
    assert_int_equal(rc, -1);
    free(text);
    /* No pools: the headers alone. */
    text = render("{\"pools\": []}", 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(text, "POOL  STATE  WORKERS  READY  BUSY  QUEUED  REQUESTS  RESTARTS  IN WINDOW\n\n"
                              "POOL  SLOT  PID  STATE  UPTIME  REQUESTS  IN FLIGHT  RESTARTS  LAST EXIT\n");
    free(text);
    /* Fields missing or of the wrong type (another version of uhw): "-", never a crash. No clock in
     * the document: no ages. */
    text = render("{\"pools\": [{\"name\": 7, \"restarts\": [], \"workers\": [{\"pid\": 9, \"started_at\": "
                  "\"2026-11-21T10:00:00Z\", \"last_exit\": {\"reason\": \"died\", \"at\": \"2026-11-21T10:00:00Z\"}},"
                  " 5]}]}",
                  0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(text, "POOL  STATE  WORKERS  READY  BUSY  QUEUED  REQUESTS  RESTARTS  IN WINDOW\n"
                              "-     -      -        -      -     -       -         -         -\n"
                              "\n"
                              "POOL  SLOT  PID  STATE  UPTIME  REQUESTS  IN FLIGHT  RESTARTS  LAST EXIT\n"
                              "-     -     9    -      -       -         -          -         died\n"
                              "-     -     -    -      -       -         -          -         -\n");
    free(text);
}

static void test_table_module(void **state)
{
    (void)state;
    table_t *t = table_new();
    table_cell(t, "a", NULL);
    table_cell(t, "héllo", "31"); /* five columns on screen, six bytes */
    table_cell(t, "z", NULL);
    table_row_end(t);
    table_cellf(t, "%d", 12345);
    table_cell(t, NULL, NULL);
    table_row_end(t);
    table_row_end(t);
    table_cell(t, "last", NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    table_write(t, f, 0);
    fclose(f);
    assert_string_equal(text, "a      héllo  z\n12345  -\n\nlast\n");
    free(text);
    table_free(t);
    table_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_duration),   cmocka_unit_test(test_fmt_ago),
        cmocka_unit_test(test_parse_time),     cmocka_unit_test(test_table_plain),
        cmocka_unit_test(test_table_color),    cmocka_unit_test(test_table_odd_documents),
        cmocka_unit_test(test_table_module),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
