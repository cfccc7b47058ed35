#!/usr/bin/env bats
# Streaming: SSE and NDJSON through h2o, backpressure, disconnects, aborts, many
# concurrent streams on one worker, a real browser, Capacity and Configure.

load helpers

sse_config() {
    local extra=${1:-}
    write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: victims.jsonl}
static: {/examples/: $REPO/contrib/examples/}
pools:
  - name: sse
    command: [$UHW_BUILD/workers/sse]
    workers: 1
    concurrency: 256
    routes: [/events, /ndjson, /bytes]
$extra
  - name: report
    command: [$REPO/test/fixtures/report.sh]
    workers: 1
    routes: [/report]
    env: {REPORT_FILE: $BATS_TEST_TMPDIR/report.txt}
EOF
}

# Prints "MILLISECONDS LINE" for each line read from stdin.
timestamp_lines() {
    while IFS= read -r line; do
        printf '%s %s\n' "$(($(date +%s%N) / 1000000))" "$line"
    done
}

@test "SSE: text/event-stream, five events about 400 ms apart, valid framing" {
    uhw_start "$(sse_config)"
    hc -N -D "$BATS_TEST_TMPDIR/headers" "$URL/events?count=5&interval_ms=400" |
        timestamp_lines >"$BATS_TEST_TMPDIR/events"
    grep -qi '^content-type: text/event-stream' "$BATS_TEST_TMPDIR/headers"
    grep -qi '^transfer-encoding: chunked' "$BATS_TEST_TMPDIR/headers"
    run /usr/bin/python3 - "$BATS_TEST_TMPDIR/events" <<'EOF'
import json, sys
lines = [l.rstrip("\n").split(" ", 1) for l in open(sys.argv[1])]
text = "".join(l[1] + "\n" for l in lines)
events = [e for e in text.split("\n\n") if e.strip()]
assert len(events) == 5 and text.endswith("\n\n"), text
for i, e in enumerate(events):
    fields = dict(line.split(": ", 1) for line in e.split("\n"))
    assert fields["id"] == str(i) and json.loads(fields["data"]) == {"i": i}, e
times = [int(t) for t, l in lines if l.startswith("data:")]
gaps = [b - a for a, b in zip(times, times[1:])]
assert all(300 <= g <= 1500 for g in gaps), gaps      # each event as it is produced
assert times[-1] - times[0] >= 1400, times               # the first long before the last
print("ok", gaps)
EOF
    assert_success
    assert_output --partial "ok"
    uhw_stop
}

@test "SSE over HTTP/2" {
    uhw_start "$(sse_config)"
    run hc -N --http2-prior-knowledge "$URL/events?count=3&interval_ms=50"
    assert_success
    assert_equal "$(grep -c '^data: ' <<<"$output")" 3
    uhw_stop
}

@test "headless Chromium receives 5 events through EventSource on contrib/examples/sse.html" {
    command -v chromium
    uhw_start "$(sse_config)"
    setsid chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$BATS_TEST_TMPDIR/chrome" \
        "$URL/examples/sse.html?count=5&interval_ms=200&report=/report" \
        >"$BATS_TEST_TMPDIR/chrome.log" 2>&1 &
    chrome=$!
    wait_for_log 'n=5' "$BATS_TEST_TMPDIR/report.txt" 60 || { cat "$BATS_TEST_TMPDIR/chrome.log" >&2; false; }
    kill -- -"$chrome" 2>/dev/null || kill "$chrome"
    wait "$chrome" 2>/dev/null || true
    run cat "$BATS_TEST_TMPDIR/report.txt"
    assert_output "n=5&ids=0,1,2,3,4"
    uhw_stop
}

@test "NDJSON: 10,000 lines, each valid JSON, in order (HTTP/1.1 and HTTP/2)" {
    uhw_start "$(sse_config)"
    for proto in --http1.1 --http2-prior-knowledge; do
        hc "$proto" "$URL/ndjson?count=10000" >"$BATS_TEST_TMPDIR/lines"
        run /usr/bin/python3 -c '
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "missing final newline"
values = [json.loads(l)["i"] for l in lines[:-1]]
assert values == list(range(10000)), values[:5]
print(len(values))' "$BATS_TEST_TMPDIR/lines"
        assert_output "10000"
    done
    uhw_stop
}

@test "256 MiB streamed intact while uhw's peak RSS stays under 64 MiB" {
    uhw_start "$(sse_config)"
    run bash -c "curl -sS --max-time 120 '$URL/bytes?size=268435456' | /usr/bin/python3 -c '
import sys
pattern = b\"0123456789abcdef\" * 4096
n = 0
while True:
    b = sys.stdin.buffer.read(65536)
    if not b:
        break
    assert b == pattern[:len(b)], n      # chunks are 64 KiB, aligned with the pattern
    n += len(b)
print(n)'"
    assert_output "268435456"
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$UHW_PID/status")
    echo "uhw peak RSS: $hwm kB"
    ((hwm < 65536))
    uhw_stop
}

@test "a client that reads nothing for 10 s on a 1 GiB stream leaves uhw's RSS under 64 MiB" {
    uhw_start "$(sse_config)"
    port=${URL##*:}
    /usr/bin/python3 - "$port" <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /bytes?size=1GiB HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(10)
s.close()
EOF
    client=$!
    max=0
    while kill -0 "$client" 2>/dev/null; do
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$UHW_PID/status")
        ((rss > max)) && max=$rss
        sleep 0.2
    done
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$UHW_PID/status")
    echo "uhw RSS max $max kB, peak $hwm kB"
    ((hwm < 65536))
    # Once the client is gone the worker gets the Cancel and serves again.
    wait_for_log 'cancelled request [0-9]+ \(client_gone\)'
    run hc -o /dev/null -w '%{http_code} %{size_download}' "$URL/bytes?size=1000"
    assert_output "200 1000"
    uhw_stop
}

@test "a client that disconnects mid-stream: the worker logs the Cancel within 1 s and keeps serving" {
    uhw_start "$(sse_config)"
    run hc -N --max-time 1 "$URL/events?count=100&interval_ms=100"
    assert_failure 28
    gone=$(($(date +%s%N) / 1000000))
    wait_for_log 'cancelled request [0-9]+ \(client_gone\)'
    logged=$(($(date +%s%N) / 1000000))
    ((logged - gone < 1000))
    run hc "$URL/ndjson?count=3"
    assert_output $'{"i":0}\n{"i":1}\n{"i":2}'
    uhw_stop
}

@test "SIGKILL of a worker mid-stream: the client sees a truncated response, the victims log has it" {
    uhw_start "$(sse_config)"
    pid=$("$UHW" status -s "$SOCK" --pool sse --compact | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["workers"][0]["pid"])')
    hc -N "$URL/events?count=100&interval_ms=100" >"$BATS_TEST_TMPDIR/out" 2>&1 &
    client=$!
    wait_for_log 'data: ' "$BATS_TEST_TMPDIR/out"
    kill -KILL "$pid"
    run wait "$client"
    [ "$status" -ne 0 ]                      # curl: transfer closed with outstanding data
    grep -q '"path":"/events"' "$BATS_TEST_TMPDIR/victims.jsonl"
    grep -q '"signal":"SIGKILL"' "$BATS_TEST_TMPDIR/victims.jsonl"
    uhw_stop
}

@test "StreamEnd with an error aborts: the client sees a truncated response" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: sh
    command: "uhw ready; while req=$(uhw recv); do eval \"$req\"; uhw stream start -t text/plain; uhw stream data 'partial '; uhw stream end --error 'database went away'; done"
    workers: 1
EOF
)
    uhw_start "$cfg"
    run hc -N "$URL/x"
    # h2o ends an aborted chunked response with a chunk header and no data, then closes:
    # curl reports a broken transfer (18 or 56), never a clean end.
    assert_failure
    assert_output --partial "partial "
    grep -q 'stream aborted by the worker: database went away' "$LOG"
    uhw_stop
}

@test "one sse worker holds 200 concurrent SSE clients; all receive all events" {
    uhw_start "$(sse_config)"
    port=${URL##*:}
    run /usr/bin/python3 - "$port" <<'EOF'
import socket, sys, threading
port, results = int(sys.argv[1]), []
def client():
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"GET /events?count=5&interval_ms=300 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    results.append(data.count(b"data: {"))
threads = [threading.Thread(target=client) for _ in range(200)]
for t in threads: t.start()
for t in threads: t.join()
print(len(results), sorted(set(results)))
EOF
    assert_output "200 [5]"
    uhw_stop
}

@test "streams are exempt from timeout once started; Configure carries settings" {
    uhw_start "$(sse_config '    timeout: 1s')"
    run hc -N "$URL/events?count=4&interval_ms=500"   # 1.5 s of events, timeout 1 s
    assert_success
    assert_equal "$(grep -c '^data: ' <<<"$output")" 4
    uhw_stop
}

@test "Configure: a worker receives the pool's settings after Ready" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: sh
    command: "uhw ready; while req=$(uhw recv); do eval \"$req\"; uhw reply \"greeting=$UHW_SETTING_GREETING mode=$UHW_SETTING_MODE\"; done"
    workers: 1
    settings: {greeting: bonjour, mode: fast}
EOF
)
    uhw_start "$cfg"
    run hc "$URL/"
    assert_output "greeting=bonjour mode=fast"
    uhw_stop
}

@test "Capacity 0 pauses a worker (requests wait), Capacity 1 resumes it" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: py
    command: [/usr/bin/python3, @REPO@/test/fixtures/capacity.py]
    workers: 1
    env: {PAUSE_S: "1.5"}
EOF
)
    uhw_start "$cfg"
    run hc "$URL/pause"
    assert_output "served"
    hc -w ' %{time_total}' "$URL/after" >"$BATS_TEST_TMPDIR/after" &
    client=$!
    wait_until_status '"queued":1'          # paused: the request waits in the pool queue
    wait "$client"
    run cat "$BATS_TEST_TMPDIR/after"
    assert_output --regexp '^served [0-9.]+$'
    uhw_stop
}
