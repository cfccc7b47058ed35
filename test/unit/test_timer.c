/*
 * test_timer.c — the timer heap on a virtual clock: order, cancel, moves, and callbacks
 * that free what contains their timer or schedule more work for now.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "timer.h"

static uint64_t clock_now;
static uint64_t virtual_clock(void *ctx)
{
    (void)ctx;
    return clock_now;
}

static int fired[16], nfired;

typedef struct item {
    utimer_t t;
    int n;
} item_t;

static void record(utimer_t *t)
{
    fired[nfired++] = ((item_t *)t)->n;
}

static void test_order_and_cancel(void **state)
{
    (void)state;
    timers_t ts;
    timers_init(&ts, virtual_clock, NULL);
    clock_now = 100;
    nfired = 0;
    item_t it[5];
    for (int i = 0; i < 5; ++i) {
        utimer_init(&it[i].t, record);
        it[i].n = i;
    }
    timers_schedule(&ts, &it[0].t, 150);
    timers_schedule(&ts, &it[1].t, 120);
    timers_schedule(&ts, &it[2].t, 130);
    timers_schedule(&ts, &it[3].t, 110);
    timers_schedule(&ts, &it[4].t, 500);
    timers_cancel(&ts, &it[2].t);
    timers_schedule(&ts, &it[0].t, 115); /* moved earlier */
    assert_int_equal(timers_wait(&ts, 1000), 10);
    clock_now = 200;
    timers_run(&ts);
    assert_int_equal(nfired, 3);
    assert_int_equal(fired[0], 3);
    assert_int_equal(fired[1], 0);
    assert_int_equal(fired[2], 1);
    assert_false(utimer_active(&it[1].t));
    assert_true(utimer_active(&it[4].t));
    assert_int_equal(timers_wait(&ts, 1000), 300);
    assert_int_equal(timers_wait(&ts, 50), 50);
    timers_dispose(&ts);
}

/* A callback that frees the object its timer lives in (the request timer of a tombstone did):
 * the heap must not look at the timer afterwards. ASan turns a mistake into a failure. */
static void free_self(utimer_t *t)
{
    ++nfired;
    free(t);
}

static void test_callback_frees_its_timer(void **state)
{
    (void)state;
    timers_t ts;
    timers_init(&ts, virtual_clock, NULL);
    clock_now = 0;
    nfired = 0;
    for (int i = 0; i < 8; ++i) {
        utimer_t *t = malloc(sizeof(*t));
        utimer_init(t, free_self);
        timers_schedule(&ts, t, (uint64_t)(i % 3));
    }
    clock_now = 10;
    timers_run(&ts);
    assert_int_equal(nfired, 8);
    assert_int_equal(timers_wait(&ts, 77), 77);
    timers_dispose(&ts);
}

/* Work deferred to "now" from a callback runs on the next call, not in a loop inside this one. */
static timers_t *self_ts;
static void rearm(utimer_t *t)
{
    ++nfired;
    timers_defer(self_ts, t);
}

static void test_deferred_work_waits_for_next_run(void **state)
{
    (void)state;
    timers_t ts;
    timers_init(&ts, virtual_clock, NULL);
    self_ts = &ts;
    clock_now = 5;
    nfired = 0;
    utimer_t t;
    utimer_init(&t, rearm);
    timers_defer(&ts, &t);
    timers_defer(&ts, &t); /* already pending: once */
    timers_run(&ts);
    assert_int_equal(nfired, 1);
    assert_int_equal(timers_wait(&ts, 1000), 0);
    timers_run(&ts);
    assert_int_equal(nfired, 2);
    timers_cancel(&ts, &t);
    timers_dispose(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_cancel),
        cmocka_unit_test(test_callback_frees_its_timer),
        cmocka_unit_test(test_deferred_work_waits_for_next_run),
    };
    return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
