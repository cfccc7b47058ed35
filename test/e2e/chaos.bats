#!/usr/bin/env bats
# Chaos, short: test/chaos.sh for 10 s — wrk -t2 -c8 while a random worker is SIGKILLed
# every 200 ms — and every invariant it checks must hold (see the header of test/chaos.sh;
# `make chaos` runs the same for 60 s).
#
# Runtime: about 15 s (2 s warm-up + 10 s of chaos + settling and stop); bounded by
# `timeout` at 120 s.

load helpers

@test "chaos: 10 s of SIGKILLs under load; every 500 is a victim, nothing leaks, nothing is left" {
    # chaos.sh starts and stops its own server. Running it with this test's tag in its
    # environment marks everything it starts, so the helpers' teardown and
    # assert_no_workers find anything it might leave behind.
    UHW_TEST_TAG=$TAG run timeout 120 "$REPO/test/chaos.sh" 10
    assert_success
    refute_line --regexp '^FAIL'
    assert_line "PASS: non-2xx == victims.jsonl == counters.victims == counters.5xx"
    assert_line "uhw_exit_code: 0"
    assert_no_workers
}
