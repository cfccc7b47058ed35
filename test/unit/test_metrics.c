/*
 * test_metrics.c — the /metrics text (metrics.c) of a server without pools: every family
 * announced with HELP and TYPE, the server-wide samples, the length it reports. The first
 * write into the empty output buffer used to compute NULL + 0, which clang's UBSan reports
 * ("applying zero offset to null pointer") and make test's clang build turns into a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "status.h"
#include "version.h"

static void test_no_pools(void **state)
{
    (void)state;
    status_view_t v = {.state = "running", .config = "/x.yaml", .uptime_ms = 1500, .pending = 3, .connections = 2};
    size_t len = 0;
    char *text = metrics_text(&v, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "# HELP uhw_requests_total "));
    assert_non_null(strstr(text, "# TYPE uhw_requests_total counter\n"));
    assert_non_null(strstr(text, "# TYPE uhw_request_duration_seconds histogram\n"));
    assert_non_null(strstr(text, "\nuhw_pending_requests 3\n"));
    assert_non_null(strstr(text, "\nuhw_open_connections 2\n"));
    assert_non_null(strstr(text, "\nuhw_uptime_seconds 1.500\n"));
    assert_non_null(strstr(text, "\nuhw_build_info{version=\"" UHW_VERSION "\"} 1\n"));
    assert_null(strstr(text, "pool=")); /* no pool, no per-pool sample */
    /* Every line is a HELP, a TYPE or a sample; every family has HELP then TYPE. */
    size_t help = 0, type = 0;
    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (strncmp(p, "# HELP ", 7) == 0)
            ++help;
        else if (strncmp(p, "# TYPE ", 7) == 0)
            assert_int_equal(++type, help);
        else
            assert_true(strncmp(p, "uhw_", 4) == 0);
        p = nl + 1;
    }
    assert_int_equal(help, type);
    assert_true(help >= 15);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_pools),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
