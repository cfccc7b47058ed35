#!/usr/bin/env bats
# Operations: reload (under load, refused, settings only, add/remove pools), recycling,
# metrics, health, static files, TLS, access log, user switching, systemd notify.

load helpers

pids_of_pool() { # POOL -> the pids of its workers, one per line
    "$UHW" status -s "$SOCK" --pool "$1" --compact |
        /usr/bin/python3 -c 'import json,sys; [print(w["pid"]) for w in json.load(sys.stdin)["workers"] if w["pid"]]'
}

app_config() { # COMMAND... -> a config with pool "app" running it (2 workers)
    local cmd=$1
    write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
health: /healthz
pools:
  - name: app
    command: [$cmd]
    workers: 2
EOF
}

@test "reload under load: zero failed requests, and every worker then runs the new command" {
    uhw_start "$(app_config "$UHW_BUILD/workers/hello")"
    wrk -t2 -c8 -d6s "$URL/" >"$BATS_TEST_TMPDIR/wrk.out" 2>&1 &
    load=$!
    sleep 2
    app_config "$UHW_BUILD/workers/crash" >/dev/null     # same file, new command
    run "$UHW" reload "$BATS_TEST_TMPDIR/pools.yaml"
    assert_success
    assert_output --partial "pool 'app' changed: replacing its workers one by one"
    wait "$load"
    cat "$BATS_TEST_TMPDIR/wrk.out"
    grep -Eq '[0-9]+ requests in' "$BATS_TEST_TMPDIR/wrk.out"
    ! grep -q 'Non-2xx' "$BATS_TEST_TMPDIR/wrk.out"
    ! grep -q 'Socket errors' "$BATS_TEST_TMPDIR/wrk.out"
    wait_for_log "pool 'app': every worker replaced"
    for pid in $(pids_of_pool app); do
        grep -q "workers/crash" "/proc/$pid/cmdline"
    done
    [ "$(pids_of_pool app | wc -l)" -eq 2 ]
    run hc "$URL/x"
    assert_output "ok"                  # the crash worker's answer
    run "$UHW" status -s "$SOCK" --pool app --compact
    assert_output --partial '"total":0'  # replacements are not restarts
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "reload with broken YAML: non-zero exit, file:line:col errors, the old config keeps serving" {
    uhw_start "$(app_config "$UHW_BUILD/workers/hello")"
    before=$(pids_of_pool app | sort)
    printf 'listen: [127.0.0.1:0]\ncontrol: uhw.sock\npools:\n  - name: app\n    comand: [x]\n    workers: lots\n' \
        >"$BATS_TEST_TMPDIR/pools.yaml"
    run "$UHW" reload "$BATS_TEST_TMPDIR/pools.yaml"
    assert_failure 1
    assert_line --regexp "pools.yaml:5:5: unknown key 'comand' in pool 'app' \(did you mean 'command'\?\)"
    assert_line --regexp "pools.yaml:6:14: .*workers"
    # Through the control socket (as SIGHUP would): the server refuses and says why.
    run "$UHW" reload -s "$SOCK"
    assert_failure 1
    assert_output --partial "refused (HTTP 422)"
    assert_line --regexp "pools.yaml:5:5: unknown key 'comand'"
    kill -HUP "$UHW_PID"
    wait_for_log "reload refused: .*pools.yaml:6:14"
    run hc "$URL/"
    assert_output "hello"
    assert_equal "$(pids_of_pool app | sort)" "$before"
    uhw_stop
}

@test "reload: a settings-only change is sent as Configure and restarts nobody" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: sh
    command: "uhw ready; while req=$(uhw recv); do eval \"$req\"; uhw reply \"mode=$UHW_SETTING_MODE\"; done"
    workers: 1
    settings: {mode: one}
EOF
)
    uhw_start "$cfg"
    run hc "$URL/"
    assert_output "mode=one"
    before=$(pids_of_pool sh)
    sed -i 's/mode: one/mode: two/' "$cfg"
    run "$UHW" reload -s "$SOCK"
    assert_success
    assert_output --partial "new settings sent to its workers (no restart)"
    run hc "$URL/"
    assert_output "mode=two"
    assert_equal "$(pids_of_pool sh)" "$before"
    uhw_stop
}

@test "reload adds a pool, and a removed pool finishes its in-flight request before it goes" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: main
    command: [@BUILD@/workers/hello]
    workers: 1
  - name: old
    command: [@BUILD@/workers/crash]
    workers: 1
    routes: [/slow]
EOF
)
    uhw_start "$cfg"
    hc -w '%{http_code}' "$URL/slow?ms=1500" >"$BATS_TEST_TMPDIR/slow.out" &
    client=$!
    wait_until_status '"busy":1'
    write_config pools >/dev/null <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: main
    command: [@BUILD@/workers/hello]
    workers: 1
  - name: new
    command: [@BUILD@/workers/echo]
    workers: 1
    routes: [/new/**]
EOF
    run "$UHW" reload -s "$SOCK"
    assert_success
    assert_output --partial "pool 'new' added"
    assert_output --partial "pool 'old' removed"
    wait "$client"
    run cat "$BATS_TEST_TMPDIR/slow.out"
    assert_output $'slept 1500 ms\n200'
    wait_until_status '"name":"new","state":"running"'
    run hc "$URL/new/x"
    assert_output --partial '"path":"/new/x"'
    run hc "$URL/slow"                   # its route is gone: the fallback pool answers
    assert_output "hello"
    wait_for_log "pool 'old' drained and removed"
    uhw_stop
    assert_no_workers
}

@test "max_requests: 5 with one worker: 20 requests all 200, the pid changes, restarts.total stays 0" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: app
    command: [@BUILD@/workers/hello]
    workers: 1
    max_requests: 5
EOF
)
    uhw_start "$cfg"
    first=$(pids_of_pool app)
    codes=""
    for _ in $(seq 20); do codes+="$(hc -o /dev/null -w '%{http_code}' "$URL/") "; done
    assert_equal "$codes" "$(printf '200 %.0s' $(seq 20))"
    wait_until_status '"state":"ready"'
    [ "$(pids_of_pool app)" != "$first" ]
    run "$UHW" status -s "$SOCK" --pool app --compact
    assert_output --partial '"restarts":{"in_window":0,"total":0'
    assert_output --regexp '"recycles":[1-9]'
    uhw_stop
}

@test "max_rss: a worker above the limit is recycled (replacement first), not restarted" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: app
    command: [@BUILD@/workers/hello]
    workers: 1
    max_rss: 64KiB
EOF
)
    uhw_start "$cfg"
    wait_for_log 'recycling \(max_rss: [0-9]+ KiB resident\)'
    run hc "$URL/"
    assert_output "hello"
    run "$UHW" status -s "$SOCK" --pool app --compact
    assert_output --partial '"total":0'
    uhw_stop
}

@test "GET /metrics passes promtool's strict check and has uhw_ series for every pool" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: web
    command: [@BUILD@/workers/hello]
    workers: 2
  - name: api
    command: [@BUILD@/workers/crash]
    workers: 1
    routes: [/crash]
EOF
)
    uhw_start "$cfg"
    hc "$URL/" >/dev/null
    hc "$URL/crash" >/dev/null
    curl -sS --unix-socket "$SOCK" http://uhw/metrics >"$BATS_TEST_TMPDIR/metrics"
    run promtool check metrics <"$BATS_TEST_TMPDIR/metrics"
    assert_success
    refute_output --partial "problem"
    for pool in web api; do
        for series in uhw_requests_total uhw_request_duration_seconds_bucket uhw_queue_length uhw_workers_alive \
            uhw_workers_ready uhw_workers_busy uhw_worker_restarts_total uhw_worker_recycles_total \
            uhw_victims_total uhw_slow_requests_total uhw_pool_degraded; do
            grep -q "^$series{pool=\"$pool\"" "$BATS_TEST_TMPDIR/metrics"
        done
    done
    grep -q '^uhw_requests_total{pool="web",code="2xx"} 1$' "$BATS_TEST_TMPDIR/metrics"
    grep -q '^uhw_victims_total{pool="api"} 1$' "$BATS_TEST_TMPDIR/metrics"
    grep -q '^uhw_uptime_seconds ' "$BATS_TEST_TMPDIR/metrics"
    grep -q '^uhw_open_connections ' "$BATS_TEST_TMPDIR/metrics"
    uhw_stop
}

@test "health: 200 while every pool runs, 503 naming a degraded pool" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
health: /healthz
pools:
  - name: web
    command: [@BUILD@/workers/hello]
    workers: 1
  - name: flaky
    command: [@REPO@/test/fixtures/flaky.sh]
    workers: 1
    routes: [/flaky/**]
    max_restarts: 1
    env: {FLAG: @TMP@/crash-now}
EOF
)
    uhw_start "$cfg"
    run hc -w ' %{http_code}' "$URL/healthz"
    assert_output $'{"status":"ok"}\n 200'
    touch "$BATS_TEST_TMPDIR/crash-now"
    kill -KILL "$(pids_of_pool flaky)"
    wait_until_status '"state":"degraded"'
    run hc -w ' %{http_code}' "$URL/healthz"
    assert_output $'{"status":"unavailable","pools":{"flaky":"degraded"}}\n 503'
    uhw_stop
}

@test "static files: JavaScript content type, index.html, traversal refused" {
    mkdir -p "$BATS_TEST_TMPDIR/public"
    echo 'console.log("hi")' >"$BATS_TEST_TMPDIR/public/app.js"
    echo '<h1>home</h1>' >"$BATS_TEST_TMPDIR/public/index.html"
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
static: {/assets/: ./public/}
pools:
  - name: app
    command: [@BUILD@/workers/hello]
    workers: 1
EOF
)
    uhw_start "$cfg"
    run hc -D - -o /dev/null "$URL/assets/app.js"
    assert_line --regexp '^content-type: (application|text)/javascript'
    run hc "$URL/assets/"
    assert_output "<h1>home</h1>"
    for path in /assets/../pools.yaml /assets/..%2fpools.yaml /assets/%2e%2e/pools.yaml; do
        run hc --path-as-is -w '\n%{http_code}' "$URL$path"
        assert_line --index 1 "400"
        refute_output --partial "listen:"
    done
    uhw_stop
}

@test "HTTPS with a self-signed certificate: HTTP/2 through ALPN" {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
        -keyout "$BATS_TEST_TMPDIR/key.pem" -out "$BATS_TEST_TMPDIR/cert.pem" 2>/dev/null
    cfg=$(write_config pools <<'EOF'
listen: [{host: 127.0.0.1, port: 0, tls: {cert: cert.pem, key: key.pem}}]
control: uhw.sock
pools:
  - name: app
    command: [@BUILD@/workers/hello]
    workers: 1
EOF
)
    uhw_start "$cfg"
    [[ "$URL" == https://* ]]
    run hc -k --http2 -o /dev/null -w '%{http_version} %{http_code}' "$URL/"
    assert_output "2 200"
    run hc -k --http1.1 "$URL/"
    assert_output "hello"
    uhw_stop
}

@test "access_log: h2o's combined format, to a file" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
access_log: access.log
pools:
  - name: app
    command: [@BUILD@/workers/hello]
    workers: 1
EOF
)
    uhw_start "$cfg"
    hc -A 'test-agent/1' -e 'http://ref.example/' "$URL/logged?q=1" >/dev/null
    uhw_stop
    run cat "$BATS_TEST_TMPDIR/access.log"
    assert_output --regexp '^127\.0\.0\.1 - - \[[^]]+\] "GET /logged\?q=1 HTTP/1\.1" 200 6 "http://ref\.example/" "test-agent/1"$'
}

@test "user: workers run as the configured user; as root a pool without user is refused" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to switch users"
    work=$(mktemp -d /tmp/uhw-user-XXXXXX)
    chmod 755 "$work"
    cp "$UHW_BUILD/workers/hello" "$work/hello"
    cfg=$(NO_USER_LINE=1 write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: app
    command: [$work/hello]
    workers: 1
    user: nobody
    cwd: /
EOF
)
    uhw_start "$cfg"
    run hc "$URL/"
    assert_output "hello"
    pid=$(pids_of_pool app)
    assert_equal "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" "$(id -u nobody)"
    uhw_stop
    cfg=$(NO_USER_LINE=1 write_config rootless <<EOF
listen: [127.0.0.1:0]
pools:
  - name: app
    command: [$work/hello]
EOF
)
    run "$UHW" check "$cfg"
    assert_failure 2
    assert_output --partial "rootless.yaml:3:5: pool 'app': uhw runs as root"
    rm -rf "$work"
}

@test "systemd: READY=1 when serving, RELOADING=1 then READY=1 around a reload, STOPPING=1" {
    sock="$BATS_TEST_TMPDIR/notify.sock"
    /usr/bin/python3 - "$sock" >"$BATS_TEST_TMPDIR/notify.out" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", "|"), flush=True)
    if "STOPPING=1" in msg:
        break
EOF
    listener=$!
    while [ ! -S "$sock" ]; do sleep 0.05; done
    LOG="$BATS_TEST_TMPDIR/uhw.log"
    NOTIFY_SOCKET=$sock UHW_TEST_TAG=$TAG "$UHW" serve "$(app_config "$UHW_BUILD/workers/hello")" 2>"$LOG" &
    UHW_PID=$!
    wait_for_log 'ready in'
    kill -HUP "$UHW_PID"
    wait_for_log 'reloaded'
    uhw_stop
    wait "$listener"
    run cat "$BATS_TEST_TMPDIR/notify.out"
    assert_line --index 0 --partial "READY=1"
    assert_line --index 1 --partial "RELOADING=1"
    assert_line --index 2 --partial "READY=1"
    assert_line --index 3 --partial "STOPPING=1"
}

@test "slow_log: a request still running after it is logged once, with worker pid and request line; fast ones are not" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: app
    command: [$UHW_BUILD/workers/crash]
    workers: 1
    slow_log: 300ms
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    run hc -w '%{http_code}' "$URL/fast"
    assert_output --partial 200
    run hc -w '%{http_code}' "$URL/slow?ms=1500"
    assert_output --partial 200
    pid=$(pids_of_pool app)
    grep -E "app#[0-9]+ pid=$pid\] id=[0-9]+ GET /slow\\?ms=1500: slow: running for [0-9]+ ms \(slow_log 300 ms\), the worker has not answered yet" \
        "$LOG"
    [ "$(grep -c 'slow: running' "$LOG")" -eq 1 ]   # once, and not for /fast
    curl -sS --unix-socket "$SOCK" http://uhw/metrics | grep -E '^uhw_slow_requests_total\{pool="app"\} 1$'
}
