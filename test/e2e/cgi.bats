#!/usr/bin/env bats
# uhw cgi: unmodified CGI scripts (shell and PHP) behind a real `uhw serve`, with curl.
# The scripts are test/fixtures/cgi-bin, copied into each test's directory.

load helpers

# Starts uhw with one `uhw cgi` worker serving a copy of the fixtures under /cgi-bin.
# $1: the pool's timeout (default 30s); $2: uhw cgi's -c and the pool's concurrency (default 4).
cgi_start() {
    local timeout=${1:-30s} conc=${2:-4}
    cp -a "$REPO/test/fixtures/cgi-bin" "$BATS_TEST_TMPDIR/cgi-bin"
    mkdir -p "$BATS_TEST_TMPDIR/barrier"
    uhw_start "$(write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: victims.jsonl}
pools:
  - name: cgi
    command: [uhw, cgi, -c, $conc, -p, /cgi-bin, -x, .php=php-cgi, ./cgi-bin]
    workers: 1
    concurrency: $conc
    routes: [/cgi-bin/**]
    timeout: $timeout
    env: {CGI_PIDS: @TMP@/hang.pids, CGI_BARRIER_DIR: @TMP@/barrier, CGI_BARRIER_N: "$conc", CGI_TICK: @TMP@/tick,
          CGI_POOL_SETTING: from-the-pool}
EOF
)"
}

# Whether process PID is gone (a zombie waiting for its reaper counts as gone); waits up
# to 10 s for it to go.
gone() {
    local state
    for _ in $(seq 100); do
        state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
        [ "$state" = Z ] && return 0
        sleep 0.1
    done
    echo "process $1 is still there: $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" >&2
    return 1
}

# A field of the status JSON (python3 for the JSON): status_field 's["pools"][0]["workers"][0]["pid"]'
status_field() {
    "$UHW" status -s "$SOCK" --compact | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"
}

# The last victims record, checked by a Python expression over v (the record) and r (its request).
victim_check() {
    /usr/bin/python3 -c '
import json, sys
v = json.loads(open(sys.argv[1]).read().splitlines()[-1])
r = v["request"]
assert eval(sys.argv[2]), v
print("ok")' "$BATS_TEST_TMPDIR/victims.jsonl" "$1"
}

@test "shell script: GET with a query, POST form echoed with CONTENT_LENGTH and CONTENT_TYPE" {
    cgi_start
    run hc -i "$URL/cgi-bin/hello.sh?name=ada&x=1"
    assert_line --index 0 --regexp '^HTTP/1.1 200'
    assert_line --regexp '^content-type: text/plain'
    assert_line "hello name=ada&x=1"
    run hc -i --data 'name=ada&lang=en' "$URL/cgi-bin/form.sh"
    assert_line --index 0 --regexp '^HTTP/1.1 200'
    assert_line --regexp '^x-content-length: 16'
    assert_line --regexp '^x-content-type: application/x-www-form-urlencoded'
    assert_line 'name=ada&lang=en'
    # A body bigger than a pipe buffer goes in as the script reads it.
    head -c 300000 /dev/urandom >"$BATS_TEST_TMPDIR/body"
    hc --data-binary @"$BATS_TEST_TMPDIR/body" -o "$BATS_TEST_TMPDIR/back" "$URL/cgi-bin/form.sh"
    cmp "$BATS_TEST_TMPDIR/body" "$BATS_TEST_TMPDIR/back"
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "directory: SCRIPT_NAME names the file, PATH_INFO the rest; RFC 3875 variables; cwd is the script's" {
    cgi_start
    run hc -H 'X-Trace: t1' -H 'X_Trace_Id: forged' "$URL/cgi-bin/sub/info.sh/a%20b/c?q=1"
    assert_line "GATEWAY_INTERFACE=CGI/1.1"
    assert_line --regexp '^SERVER_SOFTWARE=uhw/'
    assert_line "SERVER_PROTOCOL=HTTP/1.1"
    assert_line "REQUEST_METHOD=GET"
    assert_line "SCRIPT_NAME=/cgi-bin/sub/info.sh"
    assert_line "PATH_INFO=/a b/c"
    assert_line "PATH_TRANSLATED=$BATS_TEST_TMPDIR/cgi-bin/a b/c"
    assert_line "QUERY_STRING=q=1"
    assert_line "REQUEST_URI=/cgi-bin/sub/info.sh/a%20b/c?q=1"
    assert_line "SCRIPT_FILENAME=$BATS_TEST_TMPDIR/cgi-bin/sub/info.sh"
    assert_line "DOCUMENT_ROOT=$BATS_TEST_TMPDIR/cgi-bin"
    assert_line "REMOTE_ADDR=127.0.0.1"
    assert_line "REDIRECT_STATUS=200"
    assert_line "HTTP_X_TRACE=t1"
    assert_line "HTTP_X_TRACE_ID=(unset)"        # the name with '_' was dropped
    assert_line "CGI_POOL_SETTING=from-the-pool" # the worker's environment is passed on
    assert_line "PWD=$BATS_TEST_TMPDIR/cgi-bin/sub"
    run hc -w '%{http_code}' -o /dev/null "$URL/cgi-bin/sub/nope.sh"
    assert_output 404
    run hc -w '%{http_code}' -o /dev/null "$URL/cgi-bin/sub/"
    assert_output 404
    run hc -w '%{http_code}' -o /dev/null "$URL/cgi-bin/data.txt"   # not executable, no -x for .txt
    assert_output 403
    uhw_stop
    assert_no_workers
}

@test "PHP under php-cgi: a POST form, REDIRECT_STATUS and SCRIPT_FILENAME set" {
    cgi_start
    run hc --data 'name=Ada+Lovelace&lang=en' "$URL/cgi-bin/form.php?q=x"
    assert_line "name=Ada Lovelace"
    assert_line "lang=en"
    assert_line "q=x"
    assert_line "method=POST"
    assert_line "redirect_status=200"
    assert_line "script_filename=$BATS_TEST_TMPDIR/cgi-bin/form.php"
    assert_line "script_name=/cgi-bin/form.php"
    run hc -i "$URL/cgi-bin/form.php"
    assert_line --index 0 --regexp '^HTTP/1.1 200'
    assert_line --regexp '^content-type: text/plain'
    # A PHP script that sets 500 and exits 2 (php-cgi exits with it): its page is passed on, with a warning.
    run hc -w '\n%{http_code}' "$URL/cgi-bin/exit.php"
    assert_line --index 0 "php says no"
    assert_line --index 1 "500"
    grep -Eq 'WARNING \[cgi#0 pid=[0-9]+\] id=[0-9]+ CGI script /cgi-bin/exit.php exited with code 2 after a complete response' "$LOG"
    uhw_stop
    assert_no_workers
}

@test "Location without Status is a 302; Status sets the code; a refused header is dropped with a log line" {
    cgi_start
    run hc -i "$URL/cgi-bin/redirect.sh"
    assert_line --index 0 --regexp '^HTTP/1.1 302'
    assert_line --regexp '^location: https://example.com/elsewhere'
    run hc -i "$URL/cgi-bin/status.sh"
    assert_line --index 0 --regexp '^HTTP/1.1 418'
    assert_line --regexp '^x-extra: yes'
    assert_line "short and stout"
    refute_line --regexp '^connection: close'
    grep -Eq 'WARNING \[cgi#0 pid=[0-9]+\] id=[0-9]+ CGI script /cgi-bin/status.sh: header Connection dropped: hop-by-hop' "$LOG"
    uhw_stop
    assert_no_workers
}

@test "exit codes: a complete page then exit 1 is passed on; exit 3 without output is a 500 'exited' victim" {
    cgi_start
    run hc -w '\n%{http_code}' "$URL/cgi-bin/fail-after.sh"
    assert_line --index 0 "database is down"
    assert_line --index 1 "503"
    grep -Eq 'WARNING \[cgi#0 pid=[0-9]+\] id=[0-9]+ CGI script /cgi-bin/fail-after.sh exited with code 1 after a complete response' "$LOG"
    [ ! -s "$BATS_TEST_TMPDIR/victims.jsonl" ]
    run hc -w '\n%{http_code}' "$URL/cgi-bin/fail-before.sh"
    assert_line --index 0 --partial '"error":"Worker crashed"'
    assert_line --index 0 --partial 'exited with code 3'
    assert_line --index 1 "500"
    run victim_check 'v["reason"] == "exited" and v["exit_code"] == 3 and v["signal"] is None and v["status"] == 500 and r["path"] == "/cgi-bin/fail-before.sh"'
    assert_output ok
    grep -q 'fail-before.sh: cannot open the database' "$LOG"   # its stderr, in uhw's log
    # Exit 0 with no header block: 502, not a victim.
    run hc -w '\n%{http_code}' "$URL/cgi-bin/garbage.sh"
    assert_line --index 0 --partial 'no colon'
    assert_line --index 1 "502"
    grep -Eq 'ERROR \[cgi#0 pid=[0-9]+\] id=[0-9]+ CGI script /cgi-bin/garbage.sh: bad header block' "$LOG"
    assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/victims.jsonl")" 1
    uhw_stop
    assert_no_workers
}

@test "a script killed by SIGSEGV: 500 naming it, a victims record, the worker keeps its pid and serves on" {
    cgi_start
    worker=$(status_field 's["pools"][0]["workers"][0]["pid"]')
    run hc -w '\n%{http_code}' --data 'x=1' "$URL/cgi-bin/segv.sh?k=v"
    assert_line --index 0 --partial '"error":"Worker crashed"'
    assert_line --index 0 --partial 'killed by SIGSEGV'
    assert_line --index 1 "500"
    run victim_check 'v["reason"] == "died" and v["signal"] == "SIGSEGV" and v["status"] == 500 and v["pool"] == "cgi" and r["method"] == "POST" and r["path"] == "/cgi-bin/segv.sh" and r["query"] == "k=v" and r["body_size"] == 3'
    assert_output ok
    grep -Eq "ERROR \[cgi#0 pid=$worker\] victim id=[0-9]+ from=127\.0\.0\.1:[0-9]+ POST /cgi-bin/segv.sh" "$LOG"
    run hc "$URL/cgi-bin/hello.sh?again"
    assert_output "hello again"
    assert_equal "$(status_field 's["pools"][0]["workers"][0]["pid"]')" "$worker"
    assert_equal "$(status_field 's["pools"][0]["restarts"]["total"]')" 0
    uhw_stop
    assert_no_workers
}

@test "a hanging script: 504 at the pool's timeout, a victims record, its process group is gone" {
    cgi_start 2s
    worker=$(status_field 's["pools"][0]["workers"][0]["pid"]')
    run hc -w '\n%{http_code}' "$URL/cgi-bin/hang.sh"
    assert_line --index 0 --partial '"error":"Gateway timeout"'
    assert_line --index 0 --partial 'hang.sh timed out'
    assert_line --index 1 "504"
    run victim_check 'v["reason"] == "timeout" and v["status"] == 504 and r["path"] == "/cgi-bin/hang.sh"'
    assert_output ok
    read -r script child <"$BATS_TEST_TMPDIR/hang.pids"
    # The script and the sleep it started were killed with their group.
    gone "$script"
    gone "$child"
    assert_equal "$(status_field 's["pools"][0]["workers"][0]["pid"]')" "$worker"
    run hc "$URL/cgi-bin/hello.sh?next"
    assert_output "hello next"
    uhw_stop
    assert_no_workers
}

@test "a client that leaves a streamed page: the script's group gets SIGTERM, the slot is free again" {
    cgi_start 30s 1
    # h2o notices a client that left when it writes to it: progress.sh writes every 0.1 s.
    run hc --max-time 2 "$URL/cgi-bin/progress.sh"
    assert_failure 28                                   # curl: timed out, having seen ticks
    assert_line "tick 0"
    read -r script child <"$BATS_TEST_TMPDIR/hang.pids"
    gone "$script"
    gone "$child"
    run hc "$URL/cgi-bin/hello.sh?free"                 # concurrency 1: only if the slot was freed
    assert_output "hello free"
    grep -Eq 'request cancelled \(client gone\): stopping CGI script /cgi-bin/progress.sh' "$LOG"
    uhw_stop
    assert_no_workers
}

@test "uhw stops while a script hangs: the worker takes the script's process group down with it" {
    cp -a "$REPO/test/fixtures/cgi-bin" "$BATS_TEST_TMPDIR/cgi-bin"
    uhw_start "$(write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
shutdown_timeout: 1s
pools:
  - name: cgi
    command: [uhw, cgi, -p, /cgi-bin, ./cgi-bin]
    workers: 1
    graceful_timeout: 1s
    env: {CGI_PIDS: @TMP@/hang.pids}
EOF
)"
    hc -w '%{http_code}' "$URL/cgi-bin/hang.sh" >"$BATS_TEST_TMPDIR/client.out" &
    client=$!
    for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/hang.pids" ] && break; sleep 0.1; done
    read -r script child <"$BATS_TEST_TMPDIR/hang.pids"
    uhw_stop                                    # Shutdown, EOF, then SIGTERM to the worker
    assert_equal "$UHW_RC" 0
    wait "$client" || true
    gone "$script"
    gone "$child"
    assert_no_workers
}

@test "nph- scripts are refused with 501 and a log line; nothing outside the directory is reachable" {
    cgi_start
    run hc -w '\n%{http_code}' "$URL/cgi-bin/nph-raw.sh"
    assert_line --index 0 --partial 'nph-'
    assert_line --index 1 "501"
    grep -Eq 'WARNING \[cgi#0 pid=[0-9]+\] id=[0-9]+ GET /cgi-bin/nph-raw.sh: 501, nph- \(non-parsed header\) scripts are not supported' "$LOG"
    # A symlink pointing out of the directory.
    printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nSECRET\\n"\n' >"$BATS_TEST_TMPDIR/secret.sh"
    chmod +x "$BATS_TEST_TMPDIR/secret.sh"
    ln -s "$BATS_TEST_TMPDIR/secret.sh" "$BATS_TEST_TMPDIR/cgi-bin/link.sh"
    run hc -w '\n%{http_code}' "$URL/cgi-bin/link.sh"
    assert_line --index 0 --partial 'outside the directory'
    assert_line --index 1 "403"
    # '..' and its encodings: refused before any script runs (by uhw, or by uhw cgi).
    for p in '/cgi-bin/../secret.sh' '/cgi-bin/%2e%2e/secret.sh' '/cgi-bin/sub/..%2f..%2fsecret.sh' '/cgi-bin/%2E%2E/secret.sh'; do
        run hc --path-as-is -w '\n%{http_code}' "$URL$p"
        refute_output --partial SECRET
        assert_line --index 1 --regexp '^40[034]$'
    done
    uhw_stop
    assert_no_workers
}

@test "concurrency: -c 4 runs 4 scripts at once (each waits until it sees the 3 others)" {
    cgi_start 30s 4
    pids=()
    for i in 1 2 3 4; do
        hc "$URL/cgi-bin/barrier.sh?$i" >"$BATS_TEST_TMPDIR/barrier.$i" &
        pids+=($!)
    done
    wait "${pids[@]}"
    for i in 1 2 3 4; do
        run cat "$BATS_TEST_TMPDIR/barrier.$i"
        assert_output "saw 4"
    done
    uhw_stop
    assert_no_workers
}

@test "large output is streamed whole; a script still writing after its headers streams as it goes" {
    cgi_start
    run bash -c "curl -sS --max-time 30 '$URL/cgi-bin/big.sh' | tail -c 4; curl -sS --max-time 30 '$URL/cgi-bin/big.sh' | wc -c"
    assert_line --index 0 "END"
    assert_line --index 1 "1048580"
    # ticks.sh prints "first", then waits for the tick file: the client must see "first"
    # before the script ends, so the response is streamed.
    hc -N "$URL/cgi-bin/ticks.sh" >"$BATS_TEST_TMPDIR/ticks.out" &
    client=$!
    for _ in $(seq 200); do grep -q first "$BATS_TEST_TMPDIR/ticks.out" && break; sleep 0.05; done
    run cat "$BATS_TEST_TMPDIR/ticks.out"
    assert_output "first"
    touch "$BATS_TEST_TMPDIR/tick"
    wait "$client"
    run cat "$BATS_TEST_TMPDIR/ticks.out"
    assert_output $'first\nsecond'
    uhw_stop
    assert_no_workers
}

@test "a script's stderr is logged with the worker's prefix" {
    cgi_start
    run hc "$URL/cgi-bin/stderr.sh"
    assert_output "logged"
    wait_for_log '\[cgi#0 pid=[0-9]+\] stderr.sh: a line for the log'
    uhw_stop
    assert_no_workers
}

@test "uhw cgi refuses bad usage before it starts: missing directory, nph- script, unknown interpreter" {
    run "$UHW" cgi "$BATS_TEST_TMPDIR/none" </dev/null >/dev/null
    assert_failure 2
    assert_output --partial 'No such file or directory'
    run "$UHW" cgi "$REPO/test/fixtures/cgi-bin/nph-raw.sh" </dev/null >/dev/null
    assert_failure 2
    assert_output --partial 'nph-'
    run "$UHW" cgi -x .php=no-such-php-cgi "$REPO/test/fixtures/cgi-bin" </dev/null >/dev/null
    assert_failure 2
    assert_output --partial "interpreter 'no-such-php-cgi' not found"
    run "$UHW" help cgi
    assert_success
    assert_output --partial 'usage: uhw cgi [-c N] [-p PREFIX] [-x .EXT=PROGRAM]... SCRIPT_OR_DIR'
}

# The README's "Unmodified CGI scripts" example, run as written: the setup block, the
# configuration (with a free port instead of 8080), then each curl line, whose output must
# be what its comment says.
readme_block() { # the Nth fenced block after the cgi.bats marker
    awk -v n="$1" '
        /<!-- test\/e2e\/cgi.bats runs/ { on = 1; next }
        on && /^```/ { if (inside) { inside = 0; if (++seen == n) exit } else { inside = 1 }; next }
        on && inside && seen == n - 1 { print }' "$REPO/README.md"
}

@test "README: the uhw cgi example works as written" {
    cd "$BATS_TEST_TMPDIR"
    readme_block 1 >setup.sh
    readme_block 2 >config.yaml
    readme_block 3 >curls.sh
    grep -q 'cgi-bin/hello.sh' setup.sh
    grep -q 'uhw, cgi' config.yaml
    [ "$(grep -c '^curl ' curls.sh)" -eq 2 ]
    sh -e setup.sh
    sed 's/127.0.0.1:8080/127.0.0.1:0/' config.yaml >site/pools.yaml
    uhw_start site/pools.yaml
    while IFS= read -r line; do
        cmd=${line%%  #*}
        want=${line#*# }
        cmd=${cmd//localhost:8080/${URL#http://}}
        run timeout 30 sh -c "$cmd 2>/dev/null"        # curl's progress meter aside
        assert_success
        assert_output "$want"
    done <curls.sh
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}
