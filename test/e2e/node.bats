#!/usr/bin/env bats
# The Node SDK (contrib/node, `uhw-worker`) through the real `uhw serve`: the README's
# example as written, requests in flight together on one worker, streaming, cancellation
# when the client leaves, handler errors, and a worker that dies mid-request.

load helpers

setup() {
    [ -e "$UHW_BUILD/node/uhw-worker/gen/uhw_pb.js" ] || {
        echo "$UHW_BUILD/node/uhw-worker is missing: run make (it needs node and npm: make deps)" >&2
        return 1
    }
}

# Prints the first ```LANG block of README.md's "### In Node" section.
readme_block() {
    awk -v lang="$1" '
        /^### / { in_node = ($0 == "### In Node") }
        in_node && !inside && $0 == "```" lang { inside = 1; next }
        inside && $0 == "```" { exit }
        inside { print }
    ' "$REPO/README.md"
}

node_config() {
    write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: victims.jsonl}
pools:
  - name: node
    command: [node, $REPO/test/fixtures/node_worker.js]
    workers: ${1:-1}
    concurrency: 64
    env: {NODE_TEST_DIR: $BATS_TEST_TMPDIR}
    backoff: {initial: 100ms, max: 1s}
EOF
}

@test "README: the Node example runs as written (text, JSON, SSE)" {
    readme_block js >"$BATS_TEST_TMPDIR/app.js"
    grep -q "require('uhw-worker')" "$BATS_TEST_TMPDIR/app.js"
    # As written, except the port (any free one) and, as root, the user line write_config adds.
    config=$(readme_block yaml | sed 's/127\.0\.0\.1:8080/127.0.0.1:0/' | write_config pools)
    uhw_start "$config"
    run hc "$URL/hi"
    assert_success
    assert_output "hello from /hi"
    run hc -d '{"a":1}' "$URL/"
    assert_output '{"got":{"a":1}}'
    run hc -N -D "$BATS_TEST_TMPDIR/headers" "$URL/events"
    assert_success
    grep -qi '^content-type: text/event-stream' "$BATS_TEST_TMPDIR/headers"
    expected=""
    for i in 1 2 3 4 5; do expected+="id: $i"$'\n'"data: {\"tick\":$i}"$'\n\n'; done
    assert_equal "$output"$'\n\n' "$expected"
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "concurrency: eight requests in flight together on one Node worker" {
    uhw_start "$(node_config 1)"
    local pids=()
    for i in 1 2 3 4 5 6 7 8; do
        hc "$URL/together?n=8" >"$BATS_TEST_TMPDIR/out.$i" &
        pids+=($!)
    done
    wait "${pids[@]}"
    pid=$(hc "$URL/pid")
    for i in 1 2 3 4 5 6 7 8; do
        # each answered only once all eight had arrived, by the same process
        run cat "$BATS_TEST_TMPDIR/out.$i"
        assert_output --regexp "^together [0-9]+ pid $pid\$"
        [ "$(echo "$output" | cut -d' ' -f2)" -ge 8 ]
    done
    uhw_stop
    assert_no_workers
}

@test "SSE streams through curl as it is produced; a client that leaves aborts the handler's signal" {
    uhw_start "$(node_config 1)"
    run hc -N --max-time 2 "$URL/forever"
    assert_failure 28 # curl's own timeout: the stream was still going
    [[ "$output" == "id: 0"$'\n'"data: tick"$'\n\n'* ]] # events arrived while it went on
    deadline=$((SECONDS + 30))
    while ! compgen -G "$BATS_TEST_TMPDIR/aborted-*" >/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    run cat "$BATS_TEST_TMPDIR"/aborted-*
    assert_output "CLIENT_GONE"
    # the worker freed the request and serves on
    run hc "$URL/"
    assert_output "ok"
    uhw_stop
    assert_no_workers
}

@test "backpressure: a slow client holds back a handler that awaits res.write()" {
    uhw_start "$(node_config 1)"
    run hc --limit-rate 256k --max-time 3 -o /dev/null "$URL/big"
    assert_failure 28
    deadline=$((SECONDS + 30))
    while [ ! -s "$BATS_TEST_TMPDIR/big-written" ] && ((SECONDS < deadline)); do sleep 0.1; done
    written=$(cat "$BATS_TEST_TMPDIR/big-written")
    # The client took well under 1 MiB/s for 3 s; without backpressure the loop would have
    # written all 256 MiB at once. uhw buffers ~1 MiB per stream, the pipe and Node a little.
    echo "written by the handler when the client left: $written bytes"
    [ "$written" -gt 0 ]
    [ "$written" -lt $((32 * 1024 * 1024)) ]
    run hc "$URL/"
    assert_output "ok"
    uhw_stop
    assert_no_workers
}

@test "a handler that throws: 500, an ERROR log line with the stack; console.log goes to the log" {
    uhw_start "$(node_config 1)"
    run hc -i "$URL/boom"
    assert_line --partial "HTTP/1.1 500"
    assert_line "Internal Server Error"
    wait_for_log 'ERROR \[node#0 pid=[0-9]+\] .*GET /boom: handler failed: Error: boom from the handler +at .*node_worker\.js'
    run hc "$URL/"
    assert_output "ok"
    wait_for_log 'INFO \[node#0 pid=[0-9]+\] a stray console.log'
    uhw_stop
    refute grep -q 'protocol' "$LOG"
    assert_no_workers
}

@test "process.exit and an uncaught exception mid-request: 500 Worker crashed, victims records, served on" {
    uhw_start "$(node_config 1)"
    run hc -i "$URL/exit"
    assert_line --partial "HTTP/1.1 500"
    assert_output --partial '"error":"Worker crashed"'
    assert_output --partial 'exited with code 3'
    wait_until_status '"ready":1,'
    run hc -i "$URL/uncaught"
    assert_line --partial "HTTP/1.1 500"
    assert_output --partial '"error":"Worker crashed"'
    wait_for_log 'uncaught in a timer'
    run /usr/bin/python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(l["request"]["path"] + ":" + str(l["exit_code"]) for l in lines))' "$BATS_TEST_TMPDIR/victims.jsonl"
    assert_output "/exit:3 /uncaught:1"
    wait_until_status '"ready":1,'
    run hc "$URL/"
    assert_output "ok"
    uhw_stop
    assert_no_workers
}
