#!/usr/bin/env bats
# uhw serve end to end: routing, the protocol with C, shell and Python workers,
# admission, start-up failures, status and stop. Each test starts a real server.

load helpers

basic_config() {
    write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
health: /healthz
pools:
  - name: hello
    command: [@BUILD@/workers/hello, --greeting, hi]
    workers: 2
  - name: shell
    command: [@REPO@/workers/examples/hello.sh]
    workers: 1
    routes: [/sh/**]
  - name: echo
    command: [@BUILD@/workers/echo]
    workers: 2
    routes: [/echo/**, /version]
EOF
}

@test "C and shell workers answer; HTTP/1.1 and HTTP/2" {
    uhw_start "$(basic_config)"
    run hc -i "$URL/"
    assert_success
    assert_line --partial "HTTP/1.1 200"
    assert_line "hello"
    run hc "$URL/sh/x?a=1"
    assert_output "hello"
    run hc --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' "$URL/anything"
    assert_output "2 200"
    run hc --http2 -o /dev/null -w '%{http_version} %{http_code}' "$URL/upgrade"
    assert_output "2 200"
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "routing: exact and prefix routes, fallback pool, health" {
    uhw_start "$(basic_config)"
    run hc "$URL/echo/a/b?q=1"
    assert_output --partial '"path":"/echo/a/b"'
    run hc "$URL/echo"                  # /echo/** also matches /echo itself
    assert_output --partial '"path":"/echo"'
    run hc "$URL/version"               # exact route
    assert_output --partial '"path":"/version"'
    run hc "$URL/version/x"             # an exact route does not match below it: fallback
    assert_output "hello"
    run hc "$URL/echoes"                # a prefix route needs a segment boundary
    assert_output "hello"
    run hc -w '%{http_code}' "$URL/healthz"
    assert_output $'{"status":"ok"}\n200'
    uhw_stop
}

@test "404 JSON when no pool matches and there is no fallback pool" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: api
    command: [@BUILD@/workers/hello]
    workers: 1
    routes: [/api/**]
EOF
)
    uhw_start "$cfg"
    run hc -i "$URL/nope"
    assert_line --partial "HTTP/1.1 404"
    assert_line --partial "content-type: application/json"
    assert_line --partial '"error":"Not found"'
    uhw_stop
}

@test "echo returns a 1 MiB random binary body byte for byte, headers and query intact" {
    uhw_start "$(basic_config)"
    head -c 1048576 /dev/urandom >"$BATS_TEST_TMPDIR/body.bin"
    hc -o "$BATS_TEST_TMPDIR/back.bin" -H 'Content-Type: application/x-test' \
        --data-binary @"$BATS_TEST_TMPDIR/body.bin" "$URL/echo/upload"
    cmp "$BATS_TEST_TMPDIR/body.bin" "$BATS_TEST_TMPDIR/back.bin"
    run hc -H 'X-One: 1' -H 'X-Two: a b "c"' "$URL/echo/h?x=1&y=%20z"
    assert_output --partial '"query":"x=1&y=%20z"'
    assert_output --partial '"x-one":"1"'
    assert_output --partial '"x-two":"a b \"c\""'
    uhw_stop
}

@test "keep-alive and pipelining: several requests on one connection, answered in order" {
    uhw_start "$(basic_config)"
    port=${URL##*:}
    run /usr/bin/python3 - "$port" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
reqs = b"".join(b"GET /echo/p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
s.sendall(reqs)
data = b""
while data.count(b"HTTP/1.1 200") < 5 or not data.endswith(b"}\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
order = [data.find(b'"path":"/echo/p%d"' % i) for i in range(5)]
print(order == sorted(order) and -1 not in order, data.count(b"HTTP/1.1 200"))
EOF
    assert_output "True 5"
    uhw_stop
}

@test "a Python worker on protoc-generated code interoperates, and every Request field is filled" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: py
    command: [/usr/bin/python3, @REPO@/test/fixtures/fields.py]
    workers: 1
    timeout: 20s
EOF
)
    uhw_start "$cfg"
    run hc -H 'X-Hello: world' --data-binary 'abc' "$URL/py/path?k=v"
    assert_success
    run /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["id"] > 0, r
assert r["method"] == "POST", r
assert r["path"] == "/py/path" and r["query"] == "k=v", r
assert ["x-hello", "world"] in r["headers"], r
assert ["host", sys.argv[2]] in r["headers"], r     # HTTP/1 Host, as a header like any other
assert r["body"] == "abc", r
assert r["remote_addr"] == "127.0.0.1" and 0 < r["remote_port"] < 65536, r
assert r["scheme"] == "http" and r["http_version"] == "HTTP/1.1" and r["pool"] == "py", r
assert 0 < r["timeout_ms"] <= 20000, r
print("ok")' "$output" "${URL#http://}"
    assert_output "ok"
    uhw_stop
    assert_equal "$UHW_RC" 0
}

@test "uhw recv: a hostile path, query and headers run no code in a shell worker" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: sh
    command: [@REPO@/test/fixtures/hostile.sh]
    workers: 1
EOF
)
    uhw_start "$cfg"
    evil_header="'; touch pwned1; echo '\$(touch pwned2)\`touch pwned3\`\"; touch pwned4"
    run hc -g --path-as-is -H "X-Evil: $evil_header" \
        "$URL/a';touch%20pwned5;'\$(touch%20pwned6)\`touch%20pwned7\`?q=';\$(touch%20pwned8)\`x\`\""
    assert_success
    assert_line "path=/a';touch pwned5;'\$(touch pwned6)\`touch pwned7\`"  # decoded: the path uhw routed on
    assert_line "query=q=';\$(touch%20pwned8)\`x\`\""
    assert_line "evil=$evil_header"
    run ls "$BATS_TEST_TMPDIR"
    refute_output --partial pwned
    uhw_stop
}

@test "uhw check: ok line, and every mistake with file:line:col" {
    run "$UHW" check "$(basic_config)"
    assert_success
    assert_output --regexp 'pools.yaml: ok \(3 pools, 5 workers\)$'
    cfg=$(NO_USER_LINE=1 write_config broken <<'EOF'
listen: [127.0.0.1:0]
pools:
  - name: api
    command: [@BUILD@/workers/hello]
    wokers: 2
    timeout: 30
  - name: api
    command: [@BUILD@/workers/no-such-worker]
    routes: [/b/**]
EOF
)
    run "$UHW" check "$cfg"
    assert_failure 2
    assert_line --regexp "broken.yaml:5:5: .*'wokers'.*did you mean 'workers'"
    assert_line --regexp "broken.yaml:6:14: .*unit"
    assert_line --regexp "broken.yaml:7:11: .*duplicate pool name 'api'"
    assert_equal "$(grep -c '^/.*broken.yaml:[0-9]*:[0-9]*: ' <<<"$output")" 3
}

@test "uhw check reports a command that does not exist or is not executable" {
    touch "$BATS_TEST_TMPDIR/not-exec"
    cfg=$(NO_USER_LINE=1 write_config cmds <<'EOF'
listen: [127.0.0.1:0]
pools:
  - name: a
    command: [./no-such-program]
  - name: b
    command: [./not-exec]
    routes: [/b/**]
EOF
)
    run "$UHW" check "$cfg"
    assert_failure 2
    assert_line --regexp "cmds.yaml:4:14: pool 'a': command './no-such-program' not found"
    assert_line --regexp "cmds.yaml:6:14: pool 'b': command './not-exec' is not executable"
}

@test "start-up failure: a worker that exits before Ready stops everything with exit 3 and its stderr" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: good
    command: [@BUILD@/workers/hello]
    workers: 2
  - name: bad
    command: "echo 'cannot connect to database db:5432' >&2; exit 1"
    workers: 1
    routes: [/bad/**]
    ready_timeout: 3s
EOF
)
    start=$SECONDS
    UHW_TEST_TAG=$TAG run "$UHW" serve "$cfg"
    assert_failure 3
    (( SECONDS - start <= 5 ))
    assert_output --partial "pool 'bad' worker 0"
    assert_output --partial "exited with code 1"
    assert_output --partial "cannot connect to database db:5432"
    assert_no_workers
    [ ! -e "$BATS_TEST_TMPDIR/uhw.sock" ]
}

@test "start-up failure: a worker that misses ready_timeout" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: slow
    command: "echo 'loading model...' >&2; exec sleep 30"
    workers: 1
    ready_timeout: 1s
EOF
)
    start=$SECONDS
    UHW_TEST_TAG=$TAG run "$UHW" serve "$cfg"
    assert_failure 3
    (( SECONDS - start <= 4 ))
    assert_output --partial "ready_timeout"
    assert_output --partial "loading model..."
    assert_no_workers
}

@test "uhw status shows every worker alive and ready; SIGTERM leaves no worker" {
    uhw_start "$(basic_config)"
    run "$UHW" status "$BATS_TEST_TMPDIR/pools.yaml" --compact
    assert_success
    run /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s["state"] == "running" and s["listen"], s
for p in s["pools"]:
    assert p["state"] == "running", p
    assert p["alive"] == p["size"] == p["ready"] == len(p["workers"]), p
    for w in p["workers"]:
        assert w["state"] == "ready" and w["pid"] > 0 and w["in_flight"] == 0 and w["started_at"], w
print(sorted(p["name"] for p in s["pools"]))' "$output"
    assert_output "['echo', 'hello', 'shell']"
    run "$UHW" status -s "$SOCK" --pool echo
    assert_success
    assert_line '  "name": "echo",'
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "the control socket is mode 0600; status without a server exits 4 naming the socket" {
    uhw_start "$(basic_config)"
    assert_equal "$(stat -c %a "$SOCK")" 600
    uhw_stop
    run "$UHW" status "$BATS_TEST_TMPDIR/pools.yaml"
    assert_failure 4
    assert_output --partial "no uhw server answers on control socket $BATS_TEST_TMPDIR/uhw.sock"
}

@test "a port in use fails at once with a clear message" {
    uhw_start "$(basic_config)"
    port=${URL##*:}
    cfg=$(write_config second <<EOF
listen: [127.0.0.1:$port]
control: second.sock
pools:
  - name: hello
    command: [$UHW_BUILD/workers/hello]
EOF
)
    UHW_TEST_TAG=$TAG run timeout 20 "$UHW" serve "$cfg"
    assert_failure 1
    assert_output --partial "cannot listen on 127.0.0.1:$port: Address already in use"
    uhw_stop
    assert_no_workers
}

@test "admission: queue_limit and max_pending answer 503 with Retry-After; max_body 413" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
max_body: 1KiB
pools:
  - name: slow
    command: [@BUILD@/workers/crash]
    workers: 1
    queue_limit: 1
EOF
)
    uhw_start "$cfg"
    hc "$URL/slow?ms=4000" >/dev/null &
    first=$!
    wait_until_status '"busy":1'
    hc "$URL/slow?ms=10" >"$BATS_TEST_TMPDIR/queued.out" &
    second=$!
    wait_until_status '"queued":1'
    run hc -i "$URL/x"
    assert_line --partial "HTTP/1.1 503"
    assert_line --partial "retry-after: 1"
    assert_line --partial '"error":"Queue full"'
    head -c 4096 /dev/zero >"$BATS_TEST_TMPDIR/big"
    run hc -i --data-binary @"$BATS_TEST_TMPDIR/big" "$URL/x"
    assert_line --partial "HTTP/1.1 413"
    assert_line --partial '"error":"Request body too large"'
    wait "$first" "$second"
    run cat "$BATS_TEST_TMPDIR/queued.out"
    assert_output "slept 10 ms"
    uhw_stop
}

@test "admission: max_pending counts requests of every pool" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
max_pending: 1
pools:
  - name: slow
    command: [@BUILD@/workers/crash]
    workers: 2
EOF
)
    uhw_start "$cfg"
    hc "$URL/slow?ms=3000" >/dev/null &
    first=$!
    wait_until_status '"pending":1'
    run hc -i "$URL/x"
    assert_line --partial "HTTP/1.1 503"
    assert_line --partial '"error":"Too many requests"'
    wait "$first"
    run hc "$URL/x"
    assert_output "ok"
    uhw_stop
}

@test "SIGTERM during a slow request: it completes with 200, uhw exits 0, no worker remains" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: slow
    command: [@BUILD@/workers/crash]
    workers: 2
EOF
)
    uhw_start "$cfg"
    hc -w '%{http_code}' "$URL/slow?ms=2000" >"$BATS_TEST_TMPDIR/out" &
    client=$!
    wait_until_status '"busy":1'
    uhw_stop
    wait "$client"
    run cat "$BATS_TEST_TMPDIR/out"
    assert_output $'slept 2000 ms\n200'
    assert_equal "$UHW_RC" 0
    assert_no_workers
    run hc "$URL/"
    assert_failure
}

@test "SIGTERM: uhw stops once the last pending request is answered, not at shutdown_timeout" {
    # shutdown_timeout is long, so stopping at the timeout instead of at the answer shows
    # (the stop used to wait the whole timeout whenever a request was pending at SIGTERM).
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
shutdown_timeout: 40s
pools:
  - name: slow
    command: [@BUILD@/workers/crash]
    workers: 1
EOF
)
    uhw_start "$cfg"
    hc "$URL/slow?ms=500" >"$BATS_TEST_TMPDIR/out" &
    client=$!
    wait_for_log 'crash: GET /slow'
    local t0=$SECONDS
    uhw_stop
    local took=$((SECONDS - t0))
    wait "$client"
    run cat "$BATS_TEST_TMPDIR/out"
    assert_output 'slept 500 ms'
    assert_equal "$UHW_RC" 0
    run grep -c 'shutdown_timeout passed' "$LOG"
    assert_output 0
    ((took < 30)) || fail "uhw took ${took}s to stop after its last request was answered"
}
