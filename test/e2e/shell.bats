#!/usr/bin/env bats
# Shell workers end to end, through the real `uhw serve` and curl: the bash fast path
# (. uhw.sh), the POSIX per-request helpers, the lean helper binary, body-file privacy,
# header names, uhw json.

load helpers

setup() {
    WORK=
}

teardown() {
    uhw_teardown
    if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}

# A directory other users can read (for pools that run as nobody); removed by teardown.
make_work() {
    WORK=$(mktemp -d /tmp/uhw-shell-test.XXXXXX)
    chmod 755 "$WORK"
}

# Writes an executable script from stdin to $BATS_TEST_TMPDIR/NAME (or $WORK/NAME).
script() {
    local path=${2:-$BATS_TEST_TMPDIR}/$1
    cat >"$path"
    chmod 755 "$path"
    echo "$path"
}

# A config with one pool of N workers running COMMAND (a path). TMPDIR: where `uhw recv`
# makes its private directory when uhw gives the worker none ($UHW_WORKER_DIR); in the
# test's directory, it goes away with it.
one_pool() {
    write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: sh
    command: [$1]
    workers: ${2:-1}
    env: {TMPDIR: @TMP@}
EOF
}

# The README's bash example, exactly as the README shows it.
readme_example() {
    awk '/^### In shell/ {s = 1} s && /^```bash$/ {p = 1; next} p && /^```$/ {exit} p' "$REPO/README.md"
}

@test "the README's bash example runs as written: GET, JSON, binary body echo, 404, stray echo logged" {
    readme_example | script greet.sh >/dev/null
    grep -q '^\. uhw\.sh' "$BATS_TEST_TMPDIR/greet.sh"
    uhw_start "$(one_pool "$BATS_TEST_TMPDIR/greet.sh" 2)"
    run hc "$URL/hello?you"
    assert_output "hello you"
    run hc "$URL/hello"
    assert_output "hello world"
    run hc -A 'agent "007"' "$URL/json"
    assert_output '{"ok":true,"path":"/json","agent":"agent \"007\""}'
    head -c 100000 /dev/urandom >"$BATS_TEST_TMPDIR/blob"
    printf 'a\0b\0\0\n\r\0' >>"$BATS_TEST_TMPDIR/blob"
    hc -H 'Content-Type: application/x-blob' --data-binary @"$BATS_TEST_TMPDIR/blob" \
        -D "$BATS_TEST_TMPDIR/headers" -o "$BATS_TEST_TMPDIR/back" "$URL/echo"
    cmp "$BATS_TEST_TMPDIR/blob" "$BATS_TEST_TMPDIR/back"
    grep -qi '^content-type: application/x-blob' "$BATS_TEST_TMPDIR/headers"
    run hc -o /dev/null -w '%{http_code}' "$URL/nope"
    assert_output 404
    grep -Eq 'INFO \[sh#[01] pid=[0-9]+\] GET /hello$' "$LOG"
    grep -Eq 'INFO \[sh#[01] pid=[0-9]+\] POST /echo$' "$LOG"
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "fast path: every request variable, headers joined, hostile bytes stay data" {
    w=$(script vars.sh <<'EOF'
#!/bin/bash
. uhw.sh
uhw_ready
while uhw_recv; do
    uhw_json out id="$UHW_REQUEST_ID" method="$REQUEST_METHOD" path="$PATH_INFO" query="$QUERY_STRING" \
        ctype="$CONTENT_TYPE" clen="$CONTENT_LENGTH" addr="$REMOTE_ADDR" scheme="$REQUEST_SCHEME" \
        proto="$SERVER_PROTOCOL" evil="${HTTP_X_EVIL-unset}" stale="${HTTP_X_ONCE-unset}" \
        env="$(printenv HTTP_X_EVIL)" body_file_ok="$([ -f "$UHW_BODY_FILE" ] && echo yes)"
    uhw_reply -t application/json "$out"
done
EOF
)
    uhw_start "$(one_pool "$w")"
    evil="'; touch $BATS_TEST_TMPDIR/pwned1; \$(touch $BATS_TEST_TMPDIR/pwned2) \`touch $BATS_TEST_TMPDIR/pwned3\` \" \\"
    run hc -g --path-as-is -H "X-Evil: $evil" -H 'X-Evil: second' -H 'X-Once: 1' -H 'Content-Type: text/x-a' \
        --data-binary 'xyz' "$URL/a';\$(touch%20pwned4)\`x\`?q=\$(touch%20pwned5)&r='"
    assert_success
    python3 -c '
import json, sys
r = json.loads(sys.argv[1]); evil = sys.argv[2]
assert r["method"] == "POST", r
assert r["path"] == "/a'"'"';$(touch pwned4)`x`", r  # decoded: the path uhw routed on
assert r["query"] == "q=$(touch%20pwned5)&r='"'"'", r
assert r["ctype"] == "text/x-a" and r["clen"] == "3", r
assert r["addr"] == "127.0.0.1" and r["scheme"] == "http" and r["proto"] == "HTTP/1.1", r
assert r["evil"] == evil + ", second", (r["evil"], evil)
assert r["env"] == r["evil"], r
assert r["stale"] == "1" and r["body_file_ok"] == "yes" and int(r["id"]) > 0, r
' "$output" "$evil"
    # The next request has no X-Once: its variable is gone.
    run hc "$URL/"
    python3 -c 'import json, sys; r = json.loads(sys.argv[1]); assert r["stale"] == "unset" and r["evil"] == "unset", r' "$output"
    run ls "$BATS_TEST_TMPDIR"
    refute_output --partial pwned
    uhw_stop
}

@test "fast path: a stray echo, printf or binary junk on stdout is logged, never sent" {
    w=$(script stray.sh <<'EOF'
#!/bin/bash
. uhw.sh
echo "setup chatter"
uhw_ready
while uhw_recv; do
    echo "handling $PATH_INFO"
    printf '\x0a\x02\x08\x01\n'
    /bin/echo "from a child process"
    uhw_reply "fine"
done
EOF
)
    uhw_start "$(one_pool "$w")"
    for i in 1 2 3; do
        run hc "$URL/p$i"
        assert_output "fine"
    done
    grep -Eq '\] setup chatter$' "$LOG"
    grep -Eq '\] handling /p3$' "$LOG"
    grep -Eq '\] from a child process$' "$LOG"
    run grep -c 'protocol error\|Bad worker response' "$LOG"
    assert_output 0
    uhw_stop
    assert_equal "$UHW_RC" 0
}

@test "fast path: streaming and SSE arrive event by event; NDJSON; stream end with error aborts" {
    w=$(script sse.sh <<'EOF'
#!/bin/bash
. uhw.sh
uhw_ready
while uhw_recv; do
    case $PATH_INFO in
    /events)
        uhw_stream start -t text/event-stream
        for i in 1 2 3; do uhw_sse --event tick --id "$i" "n=$i"$'\nsecond line'; done
        uhw_stream end ;;
    /ndjson)
        uhw_stream start -t application/x-ndjson
        uhw_ndjson '{ "a" : 1 }'
        uhw_json line path="$PATH_INFO"
        uhw_ndjson "$line"
        uhw_stream end ;;
    /broken)
        uhw_stream start -t text/plain
        uhw_stream data 'partial '
        uhw_stream end --error 'database went away' ;;
    esac
done
EOF
)
    uhw_start "$(one_pool "$w")"
    run hc -N "$URL/events"
    assert_success
    assert_output "$(printf 'event: tick\nid: 1\ndata: n=1\ndata: second line\n\nevent: tick\nid: 2\ndata: n=2\ndata: second line\n\nevent: tick\nid: 3\ndata: n=3\ndata: second line')"
    run hc "$URL/ndjson"
    assert_output "$(printf '{"a":1}\n{"path":"/ndjson"}')"
    run hc "$URL/broken"
    assert_failure # truncated: curl reports the transfer as incomplete
    uhw_stop
}

@test "fast path: a refused reply or none at all gets 500 and a log line; an unended stream is aborted" {
    w=$(script sloppy.sh <<'EOF'
#!/bin/bash
. uhw.sh
uhw_ready
while uhw_recv; do
    case $PATH_INFO in
    /bad-header) uhw_reply -H $'X-A: a\r\nInjected: 1' "never sent" ;;
    /no-file) uhw_reply -f /nonexistent/file ;;
    /forgot) : ;;
    /stream) uhw_stream start; uhw_stream data "half" ;;
    *) uhw_reply ok ;;
    esac
done
EOF
)
    uhw_start "$(one_pool "$w")"
    for p in bad-header no-file forgot; do
        run hc -w ' %{http_code}' "$URL/$p"
        assert_output '{"error":"No response","reason":"the worker'"'"'s script did not answer"} 500'
    done
    run hc "$URL/stream"
    assert_failure
    run hc "$URL/fine"
    assert_output "ok"
    grep -q "refused header 'X-A'" "$LOG"
    grep -q "/nonexistent/file" "$LOG"
    grep -Eq 'ERROR \[sh#0 pid=[0-9]+\] id=[0-9]+ the script asked for the next request without answering the request: answered 500' "$LOG"
    grep -q 'without ending the stream: aborted' "$LOG"
    uhw_stop
}

@test "fast path: Shutdown ends the loop, the script finishes, its private files are removed" {
    w=$(script loop.sh <<'EOF'
#!/bin/bash
. uhw.sh
uhw_ready
while uhw_recv; do
    printf '%s\n' "$UHW_BODY_FILE" >"$REPORT"
    uhw_reply -f "$UHW_BODY_FILE"
done
echo "after the loop" >"$REPORT.done"
EOF
)
    cfg=$(write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: sh
    command: [$w]
    workers: 1
    env: {REPORT: @TMP@/report}
EOF
)
    uhw_start "$cfg"
    run hc --data-binary 'secret body' "$URL/"
    assert_output "secret body"
    body=$(cat "$BATS_TEST_TMPDIR/report")
    [ -f "$body" ]
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_equal "$(cat "$BATS_TEST_TMPDIR/report.done")" "after the loop"
    [ ! -e "$body" ]
    [ ! -e "$(dirname "$body")" ]
    assert_no_workers
}

@test "the POSIX form (uhw ready/recv/reply per request) still works: echo.sh" {
    uhw_start "$(one_pool "$REPO/workers/examples/echo.sh" 2)"
    run hc "$URL/sh/x?a=1"
    assert_output "$(printf 'method=GET\npath=/sh/x\nquery=a=1')"
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "workers run the lean uhw: no h2o, no TLS; other verbs reach the full uhw" {
    w=$(script lean.sh <<'EOF'
#!/bin/sh
uhw ready
while req=$(uhw recv); do
    eval "$req"
    uhw reply "path=$(command -v uhw)
$(ldd "$(command -v uhw)")
version=$(uhw version)"
done
EOF
)
    uhw_start "$(one_pool "$w")"
    run hc "$URL/"
    assert_line "path=$UHW_BUILD/sh/uhw"
    assert_line --partial "libprotobuf-c"
    refute_output --partial "libh2o"
    refute_output --partial "libssl"
    refute_output --partial "libcrypto"
    refute_output --partial "libyaml"
    refute_output --partial "libsystemd"
    assert_line --regexp '^version=uhw [0-9]'
    uhw_stop
}

@test "headers named with _ or . never reach a shell worker (no X_Forwarded_For posing as X-Forwarded-For)" {
    fast=$(script fast.sh <<'EOF'
#!/bin/bash
. uhw.sh
uhw_ready
while uhw_recv; do uhw_reply "xff=${HTTP_X_FORWARDED_FOR-unset} real=${HTTP_X_REAL_IP-unset}"; done
EOF
)
    posix=$(script posix.sh <<'EOF'
#!/bin/sh
uhw ready
while req=$(uhw recv); do eval "$req"; uhw reply "xff=${HTTP_X_FORWARDED_FOR-unset} real=${HTTP_X_REAL_IP-unset}"; done
EOF
)
    cfg=$(write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: fast
    command: [$fast]
    workers: 1
    routes: [/fast]
  - name: posix
    command: [$posix]
    workers: 1
    env: {TMPDIR: @TMP@}
EOF
)
    uhw_start "$cfg"
    for p in fast posix; do
        run hc -H 'X_Forwarded_For: 6.6.6.6' -H 'X-Forwarded-For: 192.0.2.1' -H 'X_Real_IP: 6.6.6.7' "$URL/$p"
        assert_output "xff=192.0.2.1 real=unset"
    done
    uhw_stop
}

@test "body files are private to the worker's user (nobody here) and gone when the worker exits" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to switch users"
    make_work
    fast=$(script fast.sh "$WORK" <<'EOF'
#!/bin/bash
. uhw.sh
uhw_ready
while uhw_recv; do
    printf '%s\n' "$UHW_BODY_FILE" >>"$WORK_DIR/fast.files"
    uhw_reply "$(stat -c '%U %a' "$(dirname "$UHW_BODY_FILE")" "$UHW_BODY_FILE")"
done
EOF
)
    posix=$(script posix.sh "$WORK" <<'EOF'
#!/bin/sh
printf '%s' "${UHW_WORKER_DIR-}" >"$WORK_DIR/posix.given"
uhw ready
while req=$(uhw recv); do
    eval "$req"
    printf '%s\n' "$UHW_BODY_FILE" >>"$WORK_DIR/posix.files"
    uhw reply "$(stat -c '%U %a' "$(dirname "$UHW_BODY_FILE")" "$UHW_BODY_FILE")"
done
EOF
)
    chmod 777 "$WORK" # the workers (nobody) write their reports here
    cfg=$(NO_USER_LINE=1 write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: fast
    command: [$fast]
    workers: 1
    routes: [/fast]
    user: nobody
    env: {WORK_DIR: $WORK}
  - name: posix
    command: [$posix]
    workers: 1
    user: nobody
    env: {WORK_DIR: $WORK}
EOF
)
    uhw_start "$cfg"
    for p in fast posix; do
        run hc --data-binary 'password=hunter2' "$URL/$p"
        assert_output "$(printf 'nobody 700\nnobody 600')"
        body=$(tail -1 "$WORK/$p.files")
        # Another unprivileged user can neither read the body nor plant a file beside it.
        run setpriv --reuid=daemon --regid=daemon --clear-groups cat "$body"
        assert_failure
        refute_output --partial hunter2
        run setpriv --reuid=daemon --regid=daemon --clear-groups touch "$(dirname "$body")/planted"
        assert_failure
    done
    # Two requests, one body file per worker: reused, not one file per request.
    hc "$URL/fast" >/dev/null
    assert_equal "$(sort -u "$WORK/fast.files" | wc -l)" 1
    uhw_stop
    assert_equal "$UHW_RC" 0
    fast_body=$(tail -1 "$WORK/fast.files")
    [ ! -e "$fast_body" ] && [ ! -e "$(dirname "$fast_body")" ]
    # The POSIX helpers use $UHW_WORKER_DIR when uhw gives one (uhw removes it after reaping
    # the worker); without it, `uhw recv` made its own, which whoever runs the script removes.
    posix_body=$(tail -1 "$WORK/posix.files")
    if [ -s "$WORK/posix.given" ]; then
        [ ! -e "$(dirname "$posix_body")" ]
    else
        rm -rf "$(dirname "$posix_body")"
    fi
    assert_no_workers
}

@test "uhw json in a POSIX worker: any bytes in values give valid JSON; bad raw JSON is an error" {
    w=$(script json.sh <<'EOF'
#!/bin/sh
uhw ready
while req=$(uhw recv); do
    eval "$req"
    if out=$(uhw json ok:=true path="$PATH_INFO" agent="$HTTP_USER_AGENT" n:="${QUERY_STRING:-1}" 2>&1); then
        uhw reply -t application/json "$out"
    else
        uhw reply -s 400 -t text/plain "$out"
    fi
done
EOF
)
    uhw_start "$(one_pool "$w")"
    agent=$(printf 'a "quoted" \\ back\tslash \xc3\xa9 \xff')
    run hc -g --path-as-is -A "$agent" "$URL/p\"q'%C3%A9?2.5"
    assert_success
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["ok"] is True and r["n"] == 2.5, r
assert r["path"] == "/p\"q'"'"'\u00e9", r
assert r["agent"] == "a \"quoted\" \\ back\tslash \u00e9 \ufffd", repr(r["agent"])
' "$output"
    run hc -w ' %{http_code}' "$URL/x?tru"
    assert_output --partial "invalid JSON for key 'n'"
    assert_output --partial " 400"
    uhw_stop
}
