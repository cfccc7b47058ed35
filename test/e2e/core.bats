#!/usr/bin/env bats
# The core's lifecycles against workers and clients that used to break them (issue 8):
# streams written in one go to slow clients, backpressure vs the stuck clock, tombstones
# whose worker keeps talking, workers that retire themselves or close stdout, frames split
# anywhere, and a second Ctrl-C. Each test starts a real server with real workers.

load helpers

ROGUE="$UHW_BUILD/tests/fixtures/rogue"

rogue_config() {
    local args=$1 extra=${2:-}
    write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: victims.jsonl}
pools:
  - name: rogue
    command: [$ROGUE, $args]
    workers: 1
$extra
EOF
}

status_field() {
    "$UHW" status -s "$SOCK" --compact | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"
}

# GET PATH with a 4 KiB receive buffer, reading slowly; prints the body length and whether it
# is the rogue's pattern. PAUSE_AT bytes in, it stops reading for PAUSE seconds.
slow_get() {
    /usr/bin/python3 - "$URL" "$1" "${2:-0}" "${3:-0}" <<'EOF'
import http.client, socket, sys, time, urllib.parse
url, path, pause_at, pause = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(60)
s.connect((url.hostname, url.port))
c = http.client.HTTPConnection(url.hostname, url.port)
c.sock = s
c.request("GET", path)
r = c.getresponse()
body, paused = bytearray(), False
while True:
    b = r.read(4096)
    if not b:
        break
    body += b
    time.sleep(0.0005)
    if pause and not paused and len(body) >= pause_at:
        paused = True
        time.sleep(pause)
pattern = (b"0123456789abcdef" * (len(body) // 16 + 1))[:len(body)]
print(r.status, len(body), bytes(body) == pattern)
EOF
}

@test "a stream written in one write() to a slow client: uhw survives and the client gets every byte" {
    uhw_start "$(rogue_config onewrite)"
    for i in 1 2 3; do
        run slow_get "/onewrite?size=2097152"
        assert_output "200 2097152 True"
        run slow_get "/frames?n=23&size=262144" 1048576 1
        assert_output "200 6029312 True"
    done
    kill -0 "$UHW_PID"
    run status_field 's["pools"][0]["restarts"]["total"], s["counters"]["victims"]'
    assert_output "(0, 0)"
    ! grep -q Assertion "$LOG"
    uhw_stop
    assert_equal "$UHW_RC" 0
}

@test "a slow client does not get a healthy streaming worker killed as stuck" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: sse
    command: [$UHW_BUILD/workers/sse]
    workers: 1
    stuck_timeout: 1s
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    # 32 MiB: the worker is held back while the client pauses 3 s (3x stuck_timeout)
    run slow_get "/bytes?size=33554432" 4194304 3
    assert_output "200 33554432 True"
    ! grep -q "stuck" "$LOG"
    run status_field 's["pools"][0]["restarts"]["total"], s["pools"][0]["workers"][0]["requests"]'
    assert_output "(0, 1)"
    uhw_stop
}

@test "a worker that never answers but keeps logging: 504, Cancel, its slot freed after stuck_timeout, no crash" {
    uhw_start "$(rogue_config logflood "    timeout: 1s
    stuck_timeout: 2s")"
    run hc -w '\n%{http_code}' "$URL/a"
    assert_line --index 1 "504"
    wait_for_log "rogue: cancel id=1"
    wait_for_log "counting its slot as free"
    run hc -w '\n%{http_code}' "$URL/b"       # the slot was given back: a second request is assigned
    assert_line --index 1 "504"
    wait_for_log "rogue: cancel id=2"
    kill -0 "$UHW_PID"
    ! grep -Eq "AddressSanitizer|runtime error" "$LOG"
    uhw_stop
    assert_equal "$UHW_RC" 0
}

@test "a worker that exits 0 after each answer: six parallel clients get six 200s, it is a recycle, never a crash" {
    uhw_start "$(rogue_config "exit-after, '1'" "    max_restarts: 2")"
    pids=()
    for i in 1 2 3 4 5 6; do
        hc -w '%{http_code}\n' "$URL/r$i" >"$BATS_TEST_TMPDIR/out.$i" &
        pids+=($!)
    done
    wait "${pids[@]}"
    for i in 1 2 3 4 5 6; do
        run cat "$BATS_TEST_TMPDIR/out.$i"
        assert_output $'ok\n200'
    done
    for i in $(seq 1 10); do   # and one after the other, well past max_restarts
        run hc -w '%{http_code}' "$URL/s$i"
        assert_output $'ok\n200'
    done
    wait_until_status '"recycles":16'
    run status_field 's["pools"][0]["state"], s["pools"][0]["restarts"]["total"], s["counters"]["victims"]'
    assert_output "('running', 0, 0)"
    grep -q "retired (exited with code 0)" "$LOG"
    ! grep -q "exited unexpectedly" "$LOG"
    uhw_stop
}

@test "a worker that closes its stdout while idle is noticed at once, and its requests are not lost in it" {
    uhw_start "$(rogue_config close-stdout "    timeout: 20s
    max_restarts: 3
    backoff: {initial: 100ms}")"
    wait_for_log "closed its stdout but kept running"
    # It can answer nothing: a request gets uhw's answer long before the 20 s timeout.
    run hc -m 15 -w '\n%{http_code}' "$URL/x"
    refute_line --index 1 "504"
    assert_line --index 1 --regexp '^50[03]$'
    wait_until_status '"state":"degraded"'
    uhw_stop
    assert_no_workers
}

@test "frame validity does not depend on how a read splits it: a varint top-level field is refused whole or split" {
    for how in whole split; do
        uhw_start "$(rogue_config "badfield, $how")"
        run hc -w '\n%{http_code}' "$URL/x"
        assert_line --index 1 "502"
        grep -q "worker wrote non-protocol bytes to stdout: '" "$LOG"
        uhw_stop
    done
}

@test "a second Ctrl-C with a request in flight exits at once, cleanly" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: crash
    command: [$UHW_BUILD/workers/crash]
    workers: 2
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    hc "$URL/slow?ms=8000" >/dev/null 2>&1 &
    client=$!
    wait_until_status '"busy":1'
    kill -INT "$UHW_PID"
    wait_for_log "stopping \(SIGINT"
    kill -INT "$UHW_PID"
    uhw_stop
    assert_equal "$UHW_RC" 0
    ! grep -Eq "Assertion|AddressSanitizer" "$LOG"
    grep -q "second SIGINT" "$LOG"
    wait "$client" || true
    [ ! -e "$SOCK" ]
    assert_no_workers
}
