#!/usr/bin/env bats
# uhw replay: crashes recorded in victims.jsonl by a real `uhw serve` (build/workers/crash,
# and a CGI script under uhw cgi), replayed to a server (--to), to a worker started alone
# (--exec) and to a file (--frame).

load helpers

# Starts uhw with the crash worker as the fallback pool (and, with $1 = cgi, a uhw cgi pool
# on /cgi-bin). victims.max_body is $VICTIMS_MAX_BODY (default 64KiB).
crash_start() {
    local cgi=""
    if [ "${1:-}" = cgi ]; then
        cp -a "$REPO/test/fixtures/cgi-bin" "$BATS_TEST_TMPDIR/cgi-bin"
        cgi="  - name: cgi
    command: [uhw, cgi, -p, /cgi-bin, ./cgi-bin]
    workers: 1
    routes: [/cgi-bin/**]"
    fi
    uhw_start "$(write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: victims.jsonl, max_body: ${VICTIMS_MAX_BODY:-64KiB}}
pools:
  - name: crash
    command: [$UHW_BUILD/workers/crash]
    workers: 1
$cgi
EOF
)"
}

# The crash the README's transcript shows: POST /crash?x=1, 8 bytes, with an Authorization
# header (redacted in the record). Waits until the worker is back.
record_crash() {
    run hc -w '\n%{http_code}' -H 'Authorization: Bearer s3cret' -H 'X-Custom: kept' --data-binary 'the body' \
        "$URL/crash?x=1"
    assert_line --index 1 500
    wait_until_status '"ready":1,'
}

# `uhw replay` run the way the tests' servers run: tagged, so nothing it starts is left behind.
replay() {
    UHW_TEST_TAG=$TAG "$UHW" replay "$@"
}

@test "--to: the recorded crash is resent to the running server, crashes it again: 500, exit 1" {
    crash_start
    record_crash
    cd "$BATS_TEST_TMPDIR"
    run replay victims.jsonl --last --to "$URL"
    assert_failure 1
    assert_line --regexp '^== victim id=1 pool=crash worker=0 pid=[0-9]+ at .*: died, killed by SIGSEGV \(answered 500\)$'
    assert_line --regexp '^> POST /crash\?x=1, 8 bytes of body, from 127\.0\.0\.1:[0-9]+$'
    assert_line '-- note: header authorization was redacted in the record (victims.redact_headers): not sent'
    assert_line '< HTTP/1.1 500 Internal Server Error'
    assert_line --regexp '^\{"error":"Worker crashed","reason":"worker crash#0 pid=[0-9]+ killed by SIGSEGV"'
    assert_line '-- reproduced: the server answered with a 5xx'
    # The replayed request was a victim again: the log has both, the second with the same request.
    assert_equal "$(wc -l <victims.jsonl)" 2
    run /usr/bin/python3 -c '
import json, sys
a, b = [json.loads(l)["request"] for l in open(sys.argv[1])]
assert (a["method"], a["path"], a["query"], a["body_base64"]) == (b["method"], b["path"], b["query"], b["body_base64"]), (a, b)
assert b["headers"]["x-custom"] == "kept" and "authorization" not in b["headers"], b
print("ok")' victims.jsonl
    assert_output ok
    uhw_stop
    assert_no_workers
}

@test "--exec -- build/workers/crash: reports SIGSEGV and the stderr tail, exit 1; a harmless request answers, exit 0" {
    crash_start
    record_crash
    uhw_stop
    cd "$BATS_TEST_TMPDIR"
    run replay victims.jsonl --last --exec -- "$WORKERS/crash"
    assert_failure 1
    assert_line --regexp '^-- started .*/crash \(pid [0-9]+\)$'
    assert_line --regexp '^-- ready after [0-9]+ ms \(concurrency 1\): crash \(libuhw\)$'
    assert_line '-- sent Request id=1'
    assert_line '-- the worker was killed by SIGSEGV before answering'
    assert_line '   crash: POST /crash?x=1'
    # The same record pointed at a path that works: the worker answers.
    /usr/bin/python3 -c '
import json, sys
v = json.loads(open(sys.argv[1]).readline())
v["request"]["path"] = "/fine"
print(json.dumps(v))' victims.jsonl >fine.jsonl
    run replay fine.jsonl --exec -- "$WORKERS/crash"
    assert_success
    assert_line '< 200'
    assert_line 'ok'
    assert_line '-- the worker answered'
    assert_line '-- the worker exited with code 0'
    assert_no_workers
}

@test "README: the replay lines work as written, and the --exec transcript is what uhw replay prints" {
    crash_start
    record_crash
    cd "$BATS_TEST_TMPDIR"
    awk '/<!-- test\/e2e\/replay.bats runs/ { on = 1; next }
         on && /^```/ { if (inside) exit; inside = 1; next }
         on && inside { print }' "$REPO/README.md" >lines.sh
    [ "$(grep -c '^uhw replay ' lines.sh)" -eq 4 ]
    n=0
    while IFS= read -r line; do
        n=$((n + 1))
        cmd=${line%%  #*}
        cmd=${cmd//http:\/\/127.0.0.1:8080/$URL}
        cmd=${cmd//build\/workers\//$WORKERS/}
        cmd="UHW_TEST_TAG=$TAG $UHW_BUILD/${cmd}"
        run timeout 60 sh -c "$cmd"
        case $n in
        1) assert_failure 1; assert_line '< HTTP/1.1 500 Internal Server Error' ;;
        2) assert_failure 1; assert_line '-- the worker was killed by SIGSEGV before answering' ;;
        3) assert_failure 1; [ "$(grep -c '^== victim id=' <<<"$output")" -eq 2 ] ;;  # the crash and line 1's
        4) assert_success; [ -s req.bin ] ;;
        esac
    done <lines.sh
    # The transcript: every line of it, with numbers and timestamps as wildcards.
    run replay victims.jsonl --id 1 --exec -- "$WORKERS/crash"
    printf '%s\n' "$output" >actual.txt
    awk '/<!-- test\/e2e\/replay.bats checks this transcript/ { on = 1; next }
         on && /^```/ { if (inside) exit; inside = 1; next }
         on && inside && !/^\$ / { print }' "$REPO/README.md" >transcript.txt
    [ "$(wc -l <transcript.txt)" -ge 8 ]
    while IFS= read -r want; do
        pattern=$(printf '%s' "$want" | sed -e 's/[][\.*^$?+(){}|/]/\\&/g' -e 's/[0-9][0-9:.TZ-]*/[0-9:.TZ-]+/g' \
            -e 's|build\\/workers\\/crash|.*/crash|')
        grep -Eq "^${pattern}\$" actual.txt || { echo "README line not printed: $want"; cat actual.txt; false; }
    done <transcript.txt
    uhw_stop
    assert_no_workers
}

@test "--id and --pool choose records; --all replays each; a CGI victim replays into uhw cgi (RequestFailed)" {
    crash_start cgi
    record_crash                                                   # id 1, pool crash
    run hc -w '\n%{http_code}' "$URL/cgi-bin/segv.sh?from=cgi"      # id 2, pool cgi
    assert_line --index 1 500
    wait_until_status '"ready":1,.*"ready":1,'
    cd "$BATS_TEST_TMPDIR"
    run replay victims.jsonl --id 2 --exec -- "$UHW" cgi -p /cgi-bin "$BATS_TEST_TMPDIR/cgi-bin"
    assert_failure 1
    assert_line --regexp '^== victim id=2 pool=cgi '
    assert_line --regexp '^-- the worker reports the request failed \(RequestFailed\): status 500, reason died, signal SIGSEGV, pid [0-9]+$'
    assert_line --regexp '^--   CGI script /cgi-bin/segv.sh killed by SIGSEGV \(pid [0-9]+\)$'
    assert_line '-- the worker exited with code 0'         # the worker itself was fine
    run replay victims.jsonl --pool crash --exec -- "$WORKERS/crash"
    assert_failure 1
    assert_line --regexp '^== victim id=1 pool=crash '
    refute_line --regexp '^== victim id=2'
    run replay victims.jsonl --pool cgi --to "$URL"
    assert_failure 1
    assert_line --regexp '^> GET /cgi-bin/segv.sh\?from=cgi, 0 bytes of body'
    assert_line --partial 'killed by SIGSEGV'
    run replay victims.jsonl --all --frame one.bin
    assert_failure 2
    assert_output --partial 'records match'
    run replay victims.jsonl --all --to "$URL"                  # the two, plus the one just replayed
    assert_failure 1
    [ "$(grep -c '^== victim id=' <<<"$output")" -eq 3 ]
    run replay victims.jsonl --id 99 --to "$URL"                # each replayed crash was recorded again: 6
    assert_failure 3
    assert_output --partial 'no victim record in victims.jsonl matches (6 records read)'
    uhw_stop
    assert_no_workers
}

@test "a body cut at victims.max_body: the replay says it is partial and sends what was recorded; redacted headers are not sent" {
    VICTIMS_MAX_BODY=4 crash_start
    record_crash
    uhw_stop
    # Replay to a server where one CGI script (uhw cgi SCRIPT) answers every path with what it got.
    uhw_start "$(write_config dump <<EOF
listen: [127.0.0.1:0]
control: dump.sock
pools:
  - name: dump
    command: [uhw, cgi, $REPO/test/fixtures/cgi-bin/dump.sh]
    workers: 1
EOF
)"
    cd "$BATS_TEST_TMPDIR"
    run replay victims.jsonl --last --to "$URL"
    assert_success
    assert_line '-- warning: the body was cut at victims.max_body: 4 of 8 bytes recorded; this replay is partial and may not reproduce the crash'
    assert_line '-- note: header authorization was redacted in the record (victims.redact_headers): not sent'
    assert_line '< HTTP/1.1 200 OK'
    assert_line 'method=POST'
    assert_line 'uri=/crash?x=1'
    assert_line 'x-custom=kept'
    assert_line 'authorization=(unset)'
    assert_line 'content-length=4'
    assert_line 'body=the '
    assert_line '-- answered'
    uhw_stop
    assert_no_workers
}

@test "--exec bounds a worker that never answers (--timeout) and kills its group; --frame feeds a worker by hand" {
    crash_start
    record_crash
    uhw_stop
    cd "$BATS_TEST_TMPDIR"
    /usr/bin/python3 -c '
import json, sys
v = json.loads(open(sys.argv[1]).readline())
v["request"]["path"] = "/hang"
print(json.dumps(v))' victims.jsonl >hang.jsonl
    run replay hang.jsonl --timeout 1s --exec -- "$WORKERS/crash"
    assert_failure 1
    assert_line '-- no answer within 1000 ms'
    assert_line '-- killing the worker'"'"'s process group (SIGKILL)'
    assert_line '-- the worker was killed by SIGKILL'
    assert_no_workers
    # --frame: the Request frame alone, for gdb; the worker crashes on it as it did in production.
    run replay victims.jsonl --last --frame req.bin
    assert_success
    assert_line --partial "-- wrote the Request frame"
    run sh -c "'$WORKERS/crash' <req.bin >/dev/null 2>&1; echo \$?"
    assert_output 139                                                # 128 + SIGSEGV
}

@test "usage and failures: how to replay is required, missing file or worker exits 3, uhw help replay" {
    run "$UHW" replay "$BATS_TEST_TMPDIR/none.jsonl" --last
    assert_failure 2
    assert_output --partial 'one of --to URL, --exec -- COMMAND..., --frame FILE'
    run "$UHW" replay x.jsonl --to http://127.0.0.1:1 --exec -- true
    assert_failure 2
    run "$UHW" replay x.jsonl --to https://127.0.0.1:1
    assert_failure 3
    assert_output --partial 'https is not supported'
    run "$UHW" replay "$BATS_TEST_TMPDIR/none.jsonl" --to http://127.0.0.1:1
    assert_failure 3
    assert_output --partial 'cannot read'
    printf '%s\n' 'not json' '{"pool":"p","request":{"id":1,"method":"GET","path":"/"}}' >"$BATS_TEST_TMPDIR/v.jsonl"
    run replay "$BATS_TEST_TMPDIR/v.jsonl" --exec -- "$BATS_TEST_TMPDIR/no-such-worker"
    assert_failure 3
    assert_line --partial 'v.jsonl:1: skipped: not JSON'
    assert_line --partial 'cannot start'
    assert_line --partial 'command not found'
    run "$UHW" help replay
    assert_success
    assert_output --partial 'usage: uhw replay VICTIMS.jsonl'
    run "$UHW" help
    assert_output --partial 'replay'
    assert_output --partial 'cgi'
}
