#!/usr/bin/env bats
# Hardening (issue 9): privilege and files, signals and logs, HTTP edge cases. Each test
# starts a real server with real workers, and fails on the behaviour it guards against.

load helpers

ROGUE="$UHW_BUILD/tests/fixtures/rogue"

status_field() {
    "$UHW" status -s "$SOCK" --compact | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"
}

# A directory every user may reach and write to (the test's own is private to root); removed in
# teardown.
shared_dir() {
    SHARED=$(mktemp -d /tmp/uhw-hardening.XXXXXX)
    chmod 1777 "$SHARED"
}

teardown() {
    uhw_teardown
    [ -z "${SHARED:-}" ] || rm -rf "$SHARED"
}

@test "a worker that switched to nobody still dies with uhw (PR_SET_PDEATHSIG armed after the switch)" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to switch users"
    NO_USER_LINE=1 write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: low
    user: nobody
    command: [$ROGUE, onewrite]
    workers: 1
  - name: high
    user: root
    command: [$ROGUE, onewrite]
    workers: 1
    routes: [/high]
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    low=$(status_field 's["pools"][0]["workers"][0]["pid"]')
    high=$(status_field 's["pools"][1]["workers"][0]["pid"]')
    [ "$(stat -c %U /proc/$low)" = nobody ]
    kill -KILL "$UHW_PID"
    wait "$UHW_PID" || true
    UHW_PID=
    for i in $(seq 1 100); do
        kill -0 "$low" 2>/dev/null || kill -0 "$high" 2>/dev/null || break
        sleep 0.1
    done
    ! kill -0 "$low" 2>/dev/null
    ! kill -0 "$high" 2>/dev/null
}

@test "workers start with default signal dispositions, nothing blocked, and their user's HOME, USER, LOGNAME" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to switch users"
    NO_USER_LINE=1 write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: low
    user: nobody
    command: "uhw ready; exec sleep 300"
    workers: 1
EOF
    # uhw itself runs with SIGINT and SIGQUIT ignored, like a process started in the background
    # by a shell, and 32 and 33 too (glibc's sigaction cannot reset those), and hands nothing
    # of it on
    (trap '' INT QUIT; exec "$UHW_BUILD/tests/fixtures/sigign" 32 33 -- "$UHW" serve "$BATS_TEST_TMPDIR/pools.yaml" \
        2>"$BATS_TEST_TMPDIR/uhw.log") &
    UHW_PID=$!
    wait_for_log 'ready in [0-9]+ ms'
    SOCK=$(grep -Eo 'control socket [^)]+' "$BATS_TEST_TMPDIR/uhw.log" | sed 's/^control socket //')
    pid=$(status_field 's["pools"][0]["workers"][0]["pid"]')
    # the worker is sh until it has said ready and exec'd sleep: look at sleep itself
    for i in $(seq 1 100); do
        [ "$(cat "/proc/$pid/comm")" = sleep ] && break
        sleep 0.1
    done
    grep Sig "/proc/$pid/status"
    grep -q '^SigIgn:[[:space:]]*0000000000000000$' "/proc/$pid/status"
    grep -q '^SigBlk:[[:space:]]*0000000000000000$' "/proc/$pid/status"
    home=$(getent passwd nobody | cut -d: -f6)
    tr '\0' '\n' <"/proc/$pid/environ" >"$BATS_TEST_TMPDIR/env"
    grep -qx "HOME=$home" "$BATS_TEST_TMPDIR/env"
    grep -qx "USER=nobody" "$BATS_TEST_TMPDIR/env"
    grep -qx "LOGNAME=nobody" "$BATS_TEST_TMPDIR/env"
    dir=$(grep '^UHW_WORKER_DIR=' "$BATS_TEST_TMPDIR/env" | cut -d= -f2)
    [ "$(stat -c '%U %a' "$dir")" = "nobody 700" ]
    uhw_stop
    [ ! -e "$dir" ]                          # removed once the worker is gone
}

@test "the control socket: only uhw's own socket is removed at exit, not another instance's" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: shared.sock
pools:
  - name: h
    command: [$UHW_BUILD/workers/hello]
    workers: 1
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    first=$UHW_PID
    rm "$BATS_TEST_TMPDIR/shared.sock"       # an operator cleaned up, a second uhw takes the path
    UHW_TEST_TAG=$TAG "$UHW" serve "$BATS_TEST_TMPDIR/pools.yaml" 2>"$BATS_TEST_TMPDIR/second.log" &
    second=$!
    wait_for_log 'ready in [0-9]+ ms' "$BATS_TEST_TMPDIR/second.log"
    kill -TERM "$first"
    wait "$first"
    [ -S "$BATS_TEST_TMPDIR/shared.sock" ]   # the second one's socket survived the first one's exit
    "$UHW" status -s "$BATS_TEST_TMPDIR/shared.sock" --compact | grep -q "\"pid\":$second"
    UHW_PID=$second
    uhw_stop
    [ ! -e "$BATS_TEST_TMPDIR/shared.sock" ]
}

@test "victims.command runs as the pool's user, with a minimal environment" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to switch users"
    shared_dir
    out=$SHARED
    cat >"$out/report.sh" <<EOF
#!/bin/sh
{ id -un; env; } >"$out/report.out"
EOF
    chmod 755 "$out/report.sh"
    NO_USER_LINE=1 write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: victims.jsonl, command: [$out/report.sh]}
pools:
  - name: crash
    user: nobody
    command: [$UHW_BUILD/workers/crash]
    workers: 1
EOF
    SECRET_OF_UHW=hunter2 uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    run hc -w '\n%{http_code}' "$URL/crash"
    assert_line --index 1 "500"
    for i in $(seq 1 100); do [ -s "$out/report.out" ] && break; sleep 0.1; done
    run head -1 "$out/report.out"
    assert_output "nobody"
    grep -qx "USER=nobody" "$out/report.out"
    ! grep -q "SECRET_OF_UHW" "$out/report.out"
    ! grep -q "UHW_TEST_TAG" "$out/report.out"
    uhw_stop
}

@test "SIGUSR1 reopens access_log, the victims log and a stderr file (logrotate)" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
access_log: access.log
victims: {log: victims.jsonl}
pools:
  - name: crash
    command: [$UHW_BUILD/workers/crash]
    workers: 1
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    hc "$URL/before" >/dev/null
    hc "$URL/crash" >/dev/null
    wait_for_log 'victim id='
    for i in $(seq 1 50); do grep -q 'GET /before' "$BATS_TEST_TMPDIR/access.log" && break; sleep 0.1; done
    mv "$BATS_TEST_TMPDIR/access.log" "$BATS_TEST_TMPDIR/access.log.1"
    mv "$BATS_TEST_TMPDIR/victims.jsonl" "$BATS_TEST_TMPDIR/victims.jsonl.1"
    mv "$LOG" "$LOG.1"
    kill -USR1 "$UHW_PID"
    for i in $(seq 1 50); do [ -e "$LOG" ] && grep -q 'SIGUSR1: reopened' "$LOG" && break; sleep 0.1; done
    grep -q 'SIGUSR1: reopened stderr file, access_log, victims log' "$LOG"
    kill -0 "$UHW_PID"                                   # USR1 is not fatal any more
    wait_until_status '"ready":1'
    hc "$URL/after" >/dev/null
    hc "$URL/crash" >/dev/null
    for i in $(seq 1 50); do grep -q 'GET /after' "$BATS_TEST_TMPDIR/access.log" 2>/dev/null && break; sleep 0.1; done
    grep -q 'GET /after' "$BATS_TEST_TMPDIR/access.log"
    ! grep -q 'GET /after' "$BATS_TEST_TMPDIR/access.log.1"
    grep -q 'GET /before' "$BATS_TEST_TMPDIR/access.log.1"
    for i in $(seq 1 50); do [ -s "$BATS_TEST_TMPDIR/victims.jsonl" ] && break; sleep 0.1; done
    [ "$(wc -l <"$BATS_TEST_TMPDIR/victims.jsonl")" -eq 1 ]
    [ "$(wc -l <"$BATS_TEST_TMPDIR/victims.jsonl.1")" -eq 1 ]
    uhw_stop
    grep -q 'INFO stopped' "$LOG"
}

@test "access_log \"-\": works when stderr is a socket (journald), and interleaves whole lines with the log" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
access_log: "-"
pools:
  - name: h
    command: [$UHW_BUILD/workers/hello]
    workers: 1
EOF
    # stderr is one end of a UNIX socket pair, read into a file, as journald's stream would be
    /usr/bin/python3 - "$UHW" "$BATS_TEST_TMPDIR/pools.yaml" "$BATS_TEST_TMPDIR/uhw.log" "$TAG" <<'EOF' &
import os, socket, subprocess, sys
uhw, cfg, log, tag = sys.argv[1:5]
a, b = socket.socketpair()
p = subprocess.Popen([uhw, "serve", cfg], stderr=b.fileno(), env=dict(os.environ, UHW_TEST_TAG=tag))
b.close()
with open(log, "wb", buffering=0) as f:
    while True:
        d = a.recv(65536)
        if not d:
            break
        f.write(d)
sys.exit(p.wait())
EOF
    runner=$!
    wait_for_log 'ready in [0-9]+ ms'
    URL=$(grep -Eo 'listening on https?://[^ ]+' "$BATS_TEST_TMPDIR/uhw.log" | head -1 | sed 's/^listening on //')
    SOCK=$(grep -Eo 'control socket [^)]+' "$BATS_TEST_TMPDIR/uhw.log" | sed 's/^control socket //')
    for i in $(seq 1 20); do hc "$URL/n$i" >/dev/null; done
    pid=$(status_field 's["pid"]')
    kill -TERM "$pid"
    wait "$runner"
    for i in $(seq 1 20); do grep -q "\"GET /n$i HTTP/1.1\" 200" "$BATS_TEST_TMPDIR/uhw.log"; done
    grep -q 'INFO stopped' "$BATS_TEST_TMPDIR/uhw.log"
    # every line is either a log line or an access line: nothing cut or overwritten
    ! grep -Evq '^[0-9TZ:.-]+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) |^127\.0\.0\.1 - - \[' "$BATS_TEST_TMPDIR/uhw.log"
}

@test "a stderr nobody reads does not stall uhw: lines are dropped, counted, and the count is logged" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
access_log: "-"
pools:
  - name: h
    command: [$UHW_BUILD/workers/hello]
    workers: 1
EOF
    mkfifo "$BATS_TEST_TMPDIR/stderr.fifo"
    exec 7<>"$BATS_TEST_TMPDIR/stderr.fifo"          # opened, never read (until later)
    UHW_TEST_TAG=$TAG "$UHW" serve "$BATS_TEST_TMPDIR/pools.yaml" 2>"$BATS_TEST_TMPDIR/stderr.fifo" &
    UHW_PID=$!
    SOCK="$BATS_TEST_TMPDIR/uhw.sock"
    for i in $(seq 1 100); do "$UHW" status -s "$SOCK" --compact 2>/dev/null | grep -q '"state":"running"' && break; sleep 0.1; done
    port=$("$UHW" status -s "$SOCK" --compact | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"][0])')
    # thousands of access lines per second, far more than the pipe (64 KiB) and uhw's buffer hold
    run wrk -t1 -c4 -d3s "http://$port/"
    assert_success
    ! grep -q "Socket errors" <<<"$output"
    requests=$(awk '/requests in/ {print $1}' <<<"$output")
    ((requests > 1000))
    # the count is exposed, and once the log is read again, it says how many it dropped
    curl -sS --unix-socket "$SOCK" http://uhw/metrics | awk '$1 == "uhw_log_dropped_total" {exit !($2 > 0)}'
    timeout 20 cat <&7 >"$BATS_TEST_TMPDIR/drained" &
    reader=$!
    for i in $(seq 1 100); do grep -q 'log lines dropped' "$BATS_TEST_TMPDIR/drained" 2>/dev/null && break; sleep 0.1; done
    kill -TERM "$UHW_PID"
    wait "$UHW_PID"
    UHW_PID=
    kill "$reader" 2>/dev/null || true
    exec 7<&-
    grep -Eq 'WARNING [0-9]+ log lines dropped' "$BATS_TEST_TMPDIR/drained"
}

@test "a worker flooding Log frames is rate-limited, and another pool keeps its pace" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: storm
    command: [$ROGUE, logstorm]
    workers: 1
    routes: [/storm]
  - name: calm
    command: [$UHW_BUILD/workers/hello]
    workers: 1
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    sleep 2                                   # ~20,000 Log frames
    for i in $(seq 1 50); do run hc -w '%{http_code}' "$URL/x$i"; assert_output $'hello\n200'; done
    run hc "$URL/storm"
    assert_output "calm"
    wait_for_log 'log lines suppressed \(over 200 lines/s\)'
    storm=$(grep -c 'WARNING \[storm#0 pid=[0-9]*\] storm' "$LOG")
    ((storm < 2000))                          # of ~20,000 sent
    uhw_stop
}

@test "reload resolves users off the event loop: the main thread never reads /etc/passwd" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: h
    command: [$UHW_BUILD/workers/hello]
    workers: 1
EOF
    # strace's own complaints go to strace.err (uhw's stderr is inherited, then redirected by sh).
    # LeakSanitizer cannot run under ptrace (it dies with "does not work under ptrace"): off here.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" UHW_TEST_TAG=$TAG strace -f -qq -e trace=openat -o "$BATS_TEST_TMPDIR/trace" \
        sh -c 'exec "$0" serve "$1" 2>"$2"' "$UHW" "$BATS_TEST_TMPDIR/pools.yaml" "$BATS_TEST_TMPDIR/uhw.log" \
        2>"$BATS_TEST_TMPDIR/strace.err" &
    tracer=$!
    wait_for_log 'ready in [0-9]+ ms'
    SOCK="$BATS_TEST_TMPDIR/uhw.sock"
    main=$(status_field 's["pid"]')
    : >"$BATS_TEST_TMPDIR/trace.mark"
    cp "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/trace.before"
    run "$UHW" reload -s "$SOCK"
    assert_success
    kill -TERM "$main"
    rc=0
    wait "$tracer" || rc=$?
    if ((rc != 0)); then # strace passes on uhw's status; show what either of them said
        echo "strace (uhw) exited with $rc"; cat "$BATS_TEST_TMPDIR/strace.err"; tail -n 20 "$BATS_TEST_TMPDIR/uhw.log"
    fi
    ((rc == 0))
    # the lines strace wrote after the reload began: /etc/passwd opened, never by the main thread
    tail -n +$(($(wc -l <"$BATS_TEST_TMPDIR/trace.before") + 1)) "$BATS_TEST_TMPDIR/trace" >"$BATS_TEST_TMPDIR/trace.reload"
    grep -q '/etc/passwd' "$BATS_TEST_TMPDIR/trace.reload"
    ! grep -E "^$main +openat\(.*/etc/(passwd|group)" "$BATS_TEST_TMPDIR/trace.reload"
}

@test "request smuggling shapes get 400 and the connection is closed before a worker sees them" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: echo
    command: [$UHW_BUILD/workers/echo]
    workers: 1
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    run /usr/bin/python3 - "${URL#http://}" <<'EOF'
import socket, sys
host, port = sys.argv[1].split(":")
def raw(req):
    s = socket.create_connection((host, int(port)))
    s.settimeout(10)
    s.sendall(req)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out  # closed by the server
        out += b
two_cl = raw(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\n"
             b"abcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
cl_te = raw(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
for r in (two_cl, cl_te):
    assert r.startswith(b"HTTP/1.1 400 "), r[:80]
    assert r.count(b"HTTP/1.1 ") == 1, r
    assert b"Connection: close" in r, r
print("ok")
EOF
    assert_output "ok"
    run status_field 's["pools"][0]["requests"]'
    assert_output "0"                               # no worker saw either request
    uhw_stop
}

@test "routing and workers see one path: decoded and normalized; absolute-form routes like its path" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: admin
    command: [$UHW_BUILD/workers/echo]
    workers: 1
    routes: [/admin/**]
  - name: rest
    command: [$UHW_BUILD/workers/hello]
    workers: 1
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    run hc "$URL/%61dmin/x"
    assert_output --partial '"path":"/admin/x"'
    run /usr/bin/python3 - "${URL#http://}" <<'EOF'
import socket, sys
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)))
s.sendall(b"GET http://example.org/admin/y?q=1 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.split(b"\r\n\r\n", 1)[1].decode())
EOF
    assert_output --partial '"path":"/admin/y"'
    assert_output --partial '"query":"q=1"'
    assert_output --partial '"host":"example.org"'
    # HTTP/2 with a :path that is not a path
    run /usr/bin/python3 - "${URL#http://}" <<'EOF'
import socket, sys
import h2.connection, h2.events
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)))
c = h2.connection.H2Connection()
c.initiate_connection()
c.send_headers(1, [(":method", "GET"), (":path", "admin/z"), (":scheme", "http"), (":authority", "x")], end_stream=True)
s.sendall(c.data_to_send())
status = None
while status is None:
    for e in c.receive_data(s.recv(65536)):
        if isinstance(e, h2.events.ResponseReceived):
            status = dict(e.headers)[b":status"].decode()
    s.sendall(c.data_to_send())
print(status)
EOF
    assert_output "400"
    uhw_stop
}

@test "workers get the host header, from HTTP/1 Host and from HTTP/2 :authority" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: echo
    command: [$UHW_BUILD/workers/echo]
    workers: 1
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    run hc -H 'Host: shop.example' "$URL/x"
    assert_output --partial '"host":"shop.example"'
    run hc --http2-prior-knowledge -H 'Host: h2.example' "$URL/x"
    assert_output --partial '"host":"h2.example"'
    uhw_stop
}

@test "static files: '.', '..' and %00 get 400 there too" {
    mkdir -p "$BATS_TEST_TMPDIR/www"
    echo hi >"$BATS_TEST_TMPDIR/www/index.html"
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
static: {/static/: www/}
pools:
  - name: h
    command: [$UHW_BUILD/workers/hello]
    workers: 1
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    run hc "$URL/static/index.html"
    assert_output "hi"
    for p in "/static/./index.html" "/static/index.html/.." "/static/x/../index.html" "/static/%2e/index.html" \
        "/static/index.html%00.txt"; do
        run hc -w '\n%{http_code}' --path-as-is "$URL$p"
        assert_line --index 1 "400"
    done
    uhw_stop
}

@test "a response header value with a control byte is refused: 502, the worker replaced" {
    write_config pools >/dev/null <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: bad
    command: [$ROGUE, ctlheader]
    workers: 1
EOF
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    run hc -i "$URL/x"
    assert_line --partial "HTTP/1.1 502"
    refute_line --regexp '^x-bad:'
    grep -q "response header 'x-bad' is refused: header value with a control character" "$LOG"
    uhw_stop
}
