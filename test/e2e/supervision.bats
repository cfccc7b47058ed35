#!/usr/bin/env bats
# Supervision: victims, restarts with backoff, degraded pools, deadlines, stuck workers,
# protocol violations, client disconnects. Each test starts a real server.

load helpers

crash_config() {
    local workers=${1:-1} extra=${2:-}
    write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: victims.jsonl}
pools:
  - name: crash
    command: [$UHW_BUILD/workers/crash]
    workers: $workers
$extra
EOF
}

# The JSON field FIELD of the status of pool 0, worker W (python3 for the JSON).
status_field() {
    "$UHW" status -s "$SOCK" --compact | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"
}

@test "/crash: 500 naming SIGSEGV, one victims line with method, path and body; the pool keeps serving" {
    uhw_start "$(crash_config 2)"
    run hc -w '\n%{http_code}' --data-binary 'the body' "$URL/crash?x=1"
    assert_line --index 1 "500"
    assert_line --index 0 --partial '"error":"Worker crashed"'
    assert_line --index 0 --partial 'SIGSEGV'
    run hc "$URL/fine"
    assert_output "ok"
    assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/victims.jsonl")" 1
    run /usr/bin/python3 -c '
import json, base64, sys
v = json.loads(open(sys.argv[1]).read())
r = v["request"]
assert v["pool"] == "crash" and v["signal"] == "SIGSEGV" and v["exit_code"] is None, v
assert v["reason"] == "died" and v["pid"] > 0 and v["status"] == 500, v
assert r["method"] == "POST" and r["path"] == "/crash" and r["query"] == "x=1", r
assert base64.b64decode(r["body_base64"]) == b"the body" and r["body_size"] == 8, r
assert r["remote"].startswith("127.0.0.1:"), r
print("ok")' "$BATS_TEST_TMPDIR/victims.jsonl"
    assert_output "ok"
    grep -Eq 'ERROR \[crash#[01] pid=[0-9]+\] victim id=[0-9]+ from=127\.0\.0\.1:[0-9]+ POST /crash body=8B' "$LOG"
    grep -Eq 'worker exited unexpectedly: killed by SIGSEGV' "$LOG"
    run status_field 's["counters"]["victims"], s["pools"][0]["restarts"]["total"]'
    assert_output "(1, 1)"
    uhw_stop
    assert_equal "$UHW_RC" 0
}

@test "SIGKILL of a busy worker: 500 at once, the queued request gets 200, new pid, restarts.total 1" {
    uhw_start "$(crash_config 1)"
    old_pid=$(status_field 's["pools"][0]["workers"][0]["pid"]')
    hc -w '\n%{http_code} %{time_total}' "$URL/slow?ms=900" >"$BATS_TEST_TMPDIR/victim.out" &
    victim=$!
    wait_until_status '"busy":1'
    hc -w '%{http_code}' "$URL/next" >"$BATS_TEST_TMPDIR/queued.out" &
    queued=$!
    wait_until_status '"queued":1'
    kill -KILL "$old_pid"
    wait "$victim" "$queued"
    run cat "$BATS_TEST_TMPDIR/victim.out"
    assert_line --index 0 --partial 'SIGKILL'
    assert_line --index 1 --regexp '^500 0\.[0-9]+$'        # within 1 s of the request
    run cat "$BATS_TEST_TMPDIR/queued.out"
    assert_output $'ok\n200'
    new_pid=$(status_field 's["pools"][0]["workers"][0]["pid"]')
    [ "$new_pid" != "$old_pid" ]
    run status_field 's["pools"][0]["restarts"]["total"], s["pools"][0]["workers"][0]["restarts"], s["pools"][0]["workers"][0]["last_exit"]["signal"]'
    assert_output "(1, 1, 'SIGKILL')"
    uhw_stop
}

@test "timeout: 504 after about 1 s, the worker gets Cancel, its late answer is dropped, the next request is right" {
    uhw_start "$(crash_config 1 '    timeout: 1s')"
    run hc -w '\n%{http_code} %{time_total}' "$URL/slow?ms=2500"
    assert_line --index 0 --partial '"error":"Gateway timeout"'
    assert_line --index 1 --regexp '^504 (0\.9|1\.|2\.)'
    # The worker is still sleeping: its slot is busy until the late answer arrives (dropped).
    wait_until_status '"busy":0'
    run hc -w '%{http_code}' "$URL/next"
    assert_output $'ok\n200'          # not the late "slept 2500 ms"
    grep -q 'timed out after' "$LOG"
    run status_field 's["counters"]["timeouts"], s["pools"][0]["restarts"]["total"]'
    assert_output "(1, 0)"             # the worker kept its slot
    uhw_stop
}

@test "stuck: /hang is answered 500 within 3 s with stuck_timeout 2s, and the log says stuck" {
    uhw_start "$(crash_config 1 '    stuck_timeout: 2s')"
    run hc -w '\n%{http_code} %{time_total}' "$URL/hang"
    assert_line --index 0 --partial '"error":"Worker crashed"'
    assert_line --index 0 --partial 'stuck'
    assert_line --index 1 --regexp '^500 [12]\.'
    grep -Eq 'killing worker: stuck: no frame for' "$LOG"
    wait_until_status '"ready":1'
    run hc "$URL/after"
    assert_output "ok"
    uhw_stop
}

@test "/garbage: 502 and a log line quoting the bytes; other requests keep working" {
    uhw_start "$(crash_config 2)"
    run hc -w '\n%{http_code}' "$URL/garbage"
    assert_line --index 0 --partial '"error":"Bad worker response"'
    assert_line --index 1 "502"
    grep -q "non-protocol bytes to stdout: 'hello world, this is not a frame" "$LOG"
    for i in 1 2 3 4; do
        run hc "$URL/ok$i"
        assert_output "ok"
    done
    uhw_stop
}

@test "a frame over max_frame is a protocol error: 502" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: echo
    command: [@BUILD@/workers/echo]
    workers: 1
    max_frame: 1KiB
EOF
)
    uhw_start "$cfg"
    head -c 4096 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/body"
    run hc -w '\n%{http_code}' --data-binary @"$BATS_TEST_TMPDIR/body" "$URL/big"
    assert_line --index 1 "502"
    grep -q 'longer than max_frame' "$LOG"
    wait_until_status '"ready":1'
    run hc "$URL/small"
    assert_output --partial '"path":"/small"'
    uhw_stop
}

@test "invalid response headers (hop-by-hop, CR/LF) are refused with 502" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: py
    command: [/usr/bin/python3, @REPO@/test/fixtures/badheaders.py]
    workers: 1
EOF
)
    uhw_start "$cfg"
    run hc -i "$URL/hop"
    assert_line --partial "HTTP/1.1 502"
    refute_line --partial "connection: close"
    grep -q "response header 'connection' is refused: hop-by-hop" "$LOG"
    wait_until_status '"ready":1'          # the killed worker's successor
    run hc -i "$URL/crlf"
    assert_line --partial "HTTP/1.1 502"
    refute_line --regexp '^[Xx]-[Ii]njected:'
    grep -q "header value with a control character" "$LOG"
    wait_until_status '"ready":1'
    run hc "$URL/ok"
    assert_output "fine"
    uhw_stop
}

@test "restarts back off with growing delays, then the pool is degraded; uhw restart brings it back" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: flaky
    command: [@REPO@/test/fixtures/flaky.sh]
    workers: 1
    max_restarts: 4
    restart_window: 5m
    backoff: {initial: 100ms, max: 30s, multiplier: 2}
    env: {FLAG: @TMP@/crash-now}
EOF
)
    uhw_start "$cfg"
    run hc "$URL/"
    assert_output "ok"
    touch "$BATS_TEST_TMPDIR/crash-now"
    kill -KILL "$(status_field 's["pools"][0]["workers"][0]["pid"]')"
    wait_until_status '"state":"degraded"'
    run hc -i "$URL/"
    assert_line --partial "HTTP/1.1 503"
    assert_line --partial '"error":"Service unavailable"'
    grep -q "pool 'flaky' is DEGRADED" "$LOG"
    # The delays between restarts grow: 100, 200, 400, 800 ms (+-10 %).
    run /usr/bin/python3 - "$LOG" <<'EOF'
import re, sys
d = [int(m) for m in re.findall(r"restarting worker 0 in (\d+) ms", open(sys.argv[1]).read())]
assert len(d) == 4, d
assert all(b > a for a, b in zip(d, d[1:])), d
assert 90 <= d[0] <= 110 and 720 <= d[3] <= 880, d
print(d)
EOF
    assert_success
    # the fifth exit degraded the pool instead of restarting it: 4 restarts, in the window and in all
    run status_field 's["pools"][0]["restarts"]["in_window"], s["pools"][0]["restarts"]["max"], s["pools"][0]["restarts"]["total"], s["pools"][0]["workers"][0]["restarts"]'
    assert_output "(4, 4, 4, 4)"
    rm "$BATS_TEST_TMPDIR/crash-now"
    run "$UHW" restart flaky -s "$SOCK"
    assert_success
    wait_until_status '"state":"running"'
    run hc "$URL/"
    assert_output "ok"
    uhw_stop
}

@test "degraded_retry: a probe worker that stays up brings the pool back by itself" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: flaky
    command: [@REPO@/test/fixtures/flaky.sh]
    workers: 2
    max_restarts: 2
    degraded_retry: 1s
    backoff: {initial: 10ms, reset_after: 1s}
    env: {FLAG: @TMP@/crash-now}
EOF
)
    uhw_start "$cfg"
    touch "$BATS_TEST_TMPDIR/crash-now"
    kill -KILL "$(status_field 's["pools"][0]["workers"][0]["pid"]')"
    wait_until_status '"state":"degraded"'
    rm "$BATS_TEST_TMPDIR/crash-now"
    wait_until_status '"name":"flaky","state":"running"'
    grep -q "starting a probe worker" "$LOG"
    wait_until_status '"alive":2'
    run hc "$URL/"
    assert_output "ok"
    uhw_stop
}

@test "a client that goes away: the worker gets Cancel, its late answer is dropped" {
    uhw_start "$(crash_config 1)"
    run hc --max-time 0.5 "$URL/slow?ms=1500"
    assert_failure 28                         # curl: operation timed out
    run hc -w '%{http_code}' "$URL/next"      # waits for the slow one, then is answered itself
    assert_output $'ok\n200'
    run status_field 's["counters"]["victims"], s["pools"][0]["restarts"]["total"]'
    assert_output "(0, 0)"
    uhw_stop
}

@test "exec failure at respawn is reported as such" {
    cp "$REPO/workers/examples/hello.sh" "$BATS_TEST_TMPDIR/w.sh"
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: gone
    command: [./w.sh]
    workers: 1
EOF
)
    uhw_start "$cfg"
    rm "$BATS_TEST_TMPDIR/w.sh"
    kill -KILL "$(status_field 's["pools"][0]["workers"][0]["pid"]')"
    wait_for_log "cannot start '.*w.sh': command not found"
    grep -q "exited unexpectedly: cannot start: command not found" "$LOG"
    uhw_stop
}

@test "Log frames and stderr lines are logged with the worker's prefix, at their level" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: talk
    command: "uhw ready; echo 'to stderr' >&2; uhw log warning 'careful now'; while req=$(uhw recv); do eval \"$req\"; uhw log error \"handling $PATH_INFO\"; uhw reply ok; done"
    workers: 1
EOF
)
    uhw_start "$cfg"
    run hc "$URL/p"
    assert_output "ok"
    grep -Eq 'INFO \[talk#0 pid=[0-9]+\] to stderr$' "$LOG"
    grep -Eq 'WARNING \[talk#0 pid=[0-9]+\] careful now$' "$LOG"
    grep -Eq 'ERROR \[talk#0 pid=[0-9]+\] id=[0-9]+ handling /p$' "$LOG"
    uhw_stop
}

@test "under systemd (JOURNAL_STREAM) log lines carry <N> priorities instead of timestamps" {
    LOG="$BATS_TEST_TMPDIR/uhw.log"
    : >"$LOG"
    # systemd names the stream by device:inode; here the "journal" is the file stderr goes to
    JOURNAL_STREAM=$(stat -c %d:%i "$LOG") UHW_TEST_TAG=$TAG "$UHW" serve "$(crash_config 1)" 2>"$LOG" &
    UHW_PID=$!
    wait_for_log 'ready in'
    URL=$(grep -Eo 'http://[0-9.:]+' "$LOG" | head -1)
    hc "$URL/crash" >/dev/null || true
    wait_for_log 'victim id='
    uhw_stop
    grep -Eq '^<6>INFO uhw .* ready in' "$LOG"
    grep -Eq '^<3>ERROR \[crash#0 pid=[0-9]+\] victim id=' "$LOG"
    run grep -Ec '^[0-9]{4}-' "$LOG"
    assert_output "0"
}

@test "an inherited JOURNAL_STREAM that is not uhw's stderr is ignored: timestamps, as in a terminal" {
    # uhw started from a systemd service (a CI runner, a shell in a unit) with 2>file: the
    # variable names the service's stream, not this file, so journald syntax would be wrong here
    LOG="$BATS_TEST_TMPDIR/uhw.log"
    JOURNAL_STREAM=8:1234 UHW_TEST_TAG=$TAG "$UHW" serve "$(crash_config 1)" 2>"$LOG" &
    UHW_PID=$!
    wait_for_log 'ready in'
    uhw_stop
    grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z INFO uhw .* ready in' "$LOG"
    run grep -c '^<' "$LOG"
    assert_output "0"
}

@test "victims.command gets the JSON line on stdin, asynchronously; its failure is only logged" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: null, command: "cat > @TMP@/victim-$$.json; exit 3"}
pools:
  - name: crash
    command: [@BUILD@/workers/crash]
    workers: 1
EOF
)
    uhw_start "$cfg"
    run hc -w '\n%{http_code}' -H 'Authorization: secret' "$URL/crash"
    assert_line --index 1 "500"
    wait_for_log 'victims.command for id=[0-9]+ failed with exit code 3'
    run cat "$BATS_TEST_TMPDIR"/victim-*.json
    assert_output --partial '"path":"/crash"'
    assert_output --partial '"authorization":"[redacted]"'
    refute_output --partial 'secret'
    [ ! -e "$BATS_TEST_TMPDIR/victims.jsonl" ]
    wait_until_status '"ready":1'
    run hc "$URL/still-serving"
    assert_output "ok"
    uhw_stop
    assert_equal "$UHW_RC" 0
}
