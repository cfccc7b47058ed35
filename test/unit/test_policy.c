/*
 * test_policy.c — restart policy math with time passed in explicitly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"

static const cfg_backoff_t B = {.initial_ms = 100, .max_ms = 30000, .multiplier = 2, .reset_after_ms = 10000};

static void test_backoff_grows_and_caps(void **state)
{
    (void)state;
    assert_int_equal(policy_backoff_ms(&B, 0, 0), 0);
    assert_int_equal(policy_backoff_ms(&B, 1, 0), 100);
    assert_int_equal(policy_backoff_ms(&B, 2, 0), 200);
    assert_int_equal(policy_backoff_ms(&B, 3, 0), 400);
    assert_int_equal(policy_backoff_ms(&B, 9, 0), 25600);
    assert_int_equal(policy_backoff_ms(&B, 10, 0), 30000); /* 51200 capped */
    assert_int_equal(policy_backoff_ms(&B, 1000, 0), 30000);
}

static void test_backoff_jitter_is_ten_percent(void **state)
{
    (void)state;
    assert_int_equal(policy_backoff_ms(&B, 3, 1), 440);
    assert_int_equal(policy_backoff_ms(&B, 3, -1), 360);
    assert_int_equal(policy_backoff_ms(&B, 3, 5), 440); /* out-of-range jitter is clamped */
    assert_int_equal(policy_backoff_ms(&B, 100, 1), 33000);
    for (int i = -100; i <= 100; ++i) {
        uint64_t d = policy_backoff_ms(&B, 4, i / 100.0);
        assert_in_range(d, 720, 880);
    }
}

static void test_backoff_multiplier_one(void **state)
{
    (void)state;
    cfg_backoff_t b = B;
    b.multiplier = 1;
    assert_int_equal(policy_backoff_ms(&b, 1, 0), 100);
    assert_int_equal(policy_backoff_ms(&b, 50, 0), 100);
}

static void test_failures_reset_after_long_uptime(void **state)
{
    (void)state;
    assert_int_equal(policy_next_failures(&B, 0, 50), 1);
    assert_int_equal(policy_next_failures(&B, 1, 50), 2);
    assert_int_equal(policy_next_failures(&B, 7, 10000), 8);  /* exactly reset_after is not longer */
    assert_int_equal(policy_next_failures(&B, 7, 10001), 0);  /* a slot that was up: restart at once */
}

static void test_window_counts_and_forgets(void **state)
{
    (void)state;
    restart_window_t w;
    window_init(&w);
    assert_int_equal(window_count(&w, 1000, 300000), 0);
    window_record(&w, 1000);
    window_record(&w, 2000);
    window_record(&w, 3000);
    assert_int_equal(window_count(&w, 3000, 300000), 3);
    assert_int_equal(window_count(&w, 301000, 300000), 2);  /* the restart at 1000 left the window */
    assert_int_equal(window_count(&w, 303000, 300000), 0);
    for (int i = 0; i < 100; ++i)
        window_record(&w, 400000 + (uint64_t)i);
    assert_int_equal(window_count(&w, 400100, 300000), 100);
    window_clear(&w);
    assert_int_equal(window_count(&w, 400100, 300000), 0);
    window_free(&w);
}

static void test_window_early_clock(void **state)
{
    (void)state;
    /* now < window: nothing can have left the window yet (no unsigned underflow) */
    restart_window_t w;
    window_init(&w);
    window_record(&w, 5);
    assert_int_equal(window_count(&w, 10, 300000), 1);
    window_free(&w);
}

static void test_may_restart(void **state)
{
    (void)state;
    assert_true(policy_may_restart(0, 3));
    assert_true(policy_may_restart(2, 3));
    assert_false(policy_may_restart(3, 3)); /* restarted max_restarts times: degraded */
    assert_false(policy_may_restart(10, 3));
    assert_true(policy_may_restart(1000000, 0)); /* 0 = no limit */
}

static void test_recycle_after(void **state)
{
    (void)state;
    assert_int_equal(policy_recycle_after(0, 10, 0.5), 0);
    assert_int_equal(policy_recycle_after(5, 0, 0.99), 5);
    assert_int_equal(policy_recycle_after(100, 10, 0), 100);
    assert_int_equal(policy_recycle_after(100, 10, 0.999999), 110);
    for (int i = 0; i < 100; ++i)
        assert_in_range(policy_recycle_after(100, 10, i / 100.0), 100, 110);
}

/* DESIGN.md §4: what a worker's end counts as. */
static void test_classify_exit(void **state)
{
    (void)state;
    exit_facts_t f = {.ever_ready = 1, .code = 0, .answered = 3};
    assert_int_equal(policy_classify_exit(&f), EXIT_RETIRED);        /* exit 0, idle, after answering */
    f.in_flight = 1;
    assert_int_equal(policy_classify_exit(&f), EXIT_CRASH);          /* exit 0 with a request it had read */
    f.in_flight = 0;
    f.answered = 0;
    assert_int_equal(policy_classify_exit(&f), EXIT_CRASH);          /* exit 0 before answering anything */
    f.answered = 3;
    f.code = 1;
    assert_int_equal(policy_classify_exit(&f), EXIT_CRASH);          /* a non-zero exit */
    f.code = -1;
    f.signal = 11;
    assert_int_equal(policy_classify_exit(&f), EXIT_CRASH);          /* a signal */
    f.planned = 1;
    assert_int_equal(policy_classify_exit(&f), EXIT_PLANNED);        /* we asked it to stop: SIGTERM is fine */
    f.faulted = 1;
    assert_int_equal(policy_classify_exit(&f), EXIT_CRASH);          /* killed for a fault: never planned */

    exit_facts_t s = {.ever_ready = 0, .code = 0};
    assert_int_equal(policy_classify_exit(&s), EXIT_STARTUP);        /* exit 0 before Ready */
    s.faulted = 1;
    assert_int_equal(policy_classify_exit(&s), EXIT_STARTUP);        /* ready_timeout */
    s.faulted = 0;
    s.planned = 1;
    assert_int_equal(policy_classify_exit(&s), EXIT_PLANNED);        /* stopped while starting */
    assert_string_equal(policy_exit_class_name(EXIT_RETIRED), "retired");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_grows_and_caps),
        cmocka_unit_test(test_backoff_jitter_is_ten_percent),
        cmocka_unit_test(test_backoff_multiplier_one),
        cmocka_unit_test(test_failures_reset_after_long_uptime),
        cmocka_unit_test(test_window_counts_and_forgets),
        cmocka_unit_test(test_window_early_clock),
        cmocka_unit_test(test_may_restart),
        cmocka_unit_test(test_recycle_after),
        cmocka_unit_test(test_classify_exit),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
