#!/usr/bin/env bats
# The operator's verbs against a real server: ps, tail [-f], scale, stop --wait, reload of a
# broken file, status precision; unknown commands and options, --version.

load helpers

status_field() { # PYTHON_EXPR over the status as s
    "$UHW" status -s "$SOCK" --compact | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"
}

chatty_config() { # WORKERS -> pool "sh" of test/fixtures/chatty.sh, which writes to stderr
    write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: sh
    command: [@REPO@/test/fixtures/chatty.sh]
    workers: $1
EOF
}

# Waits (bounded) for the server to exit by itself, as a control verb asked it to; sets UHW_RC.
wait_server_exit() {
    local deadline=$((SECONDS + 60))
    while kill -0 "$UHW_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    kill -KILL "$UHW_PID" 2>/dev/null || true   # still there after 60 s: the test fails on UHW_RC
    UHW_RC=0
    wait "$UHW_PID" || UHW_RC=$?
    UHW_PID=
}

# Every row of each table (tables are separated by a blank line) has its cells where the header
# has its columns: a space before each column, something in it.
assert_aligned() { # TEXT
    /usr/bin/python3 - "$1" <<'EOF'
import re, sys
for table in sys.argv[1].split("\n\n"):
    lines = [l for l in table.split("\n") if l]
    head = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", head)]
    assert len(starts) == 9, (head, starts)
    for row in lines[1:]:
        for c in starts[1:]:
            assert len(row) > c and row[c - 1] == " " and row[c] != " ", (head, row, c)
print("aligned")
EOF
}

@test "uhw ps: a row per worker, aligned, uptime, last exit 'killed by SIGSEGV Ns ago', degraded pool; colour only on a terminal" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: api
    command: [@BUILD@/workers/crash]
    workers: 2
    routes: [/crash]
  - name: bad
    command: [@BUILD@/workers/crash]
    workers: 1
    routes: [/exit]
    max_restarts: 1
EOF
)
    uhw_start "$cfg"
    run hc -X POST "$URL/crash"
    assert_output --partial "SIGSEGV"
    run hc "$URL/exit"                # restart 1 of max_restarts 1
    wait_until_status '"name":"bad","state":"running","routes":\["/exit"\],"size":1,"alive":1,"ready":1'
    run hc "$URL/exit"                # one more: degraded
    wait_until_status '"name":"bad","state":"degraded"'
    wait_until_status '"name":"api","state":"running","routes":\["/crash"\],"size":2,"alive":2,"ready":2'
    run "$UHW" ps -s "$SOCK"
    assert_success
    echo "$output"
    assert_line --index 0 --regexp '^POOL +STATE +WORKERS +READY +BUSY +QUEUED +REQUESTS +RESTARTS +IN WINDOW$'
    assert_line --regexp '^api +running +2 +2 +0 +0 +1 +1 +1/10 in 5m$'
    # one restart, then the second exit degraded the pool: a restart count of 1, as in the window
    assert_line --regexp '^bad +degraded +1 +0 +0 +0 +2 +1 +1/1 in 5m$'
    assert_line --regexp '^POOL +SLOT +PID +STATE +UPTIME +REQUESTS +IN FLIGHT +RESTARTS +LAST EXIT$'
    # The slot that crashed, the one that did not, and the degraded pool's empty slot.
    d='[0-9]+[smhd]([0-9]{2}[smh])?'  # a duration: 4s, 1m05s
    assert_line --regexp "^api +[01] +[0-9]+ +ready +$d +0 +0 +1 +killed by SIGSEGV [0-9]+[smhd] ago\$"
    assert_line --regexp "^api +[01] +[0-9]+ +ready +$d +0 +0 +0 +-\$"
    assert_line --regexp "^bad +0 +- +exited +- +0 +0 +1 +exited with code 1 [0-9]+[smhd] ago\$"
    [ "$(grep -c '^api ' <<<"$output")" -eq 3 ] # one pool row, two worker rows
    run assert_aligned "$output"
    assert_success
    # Piped: no colour. On a terminal: colours, degraded in bold red; NO_COLOR turns them off.
    run "$UHW" ps -s "$SOCK"
    refute_output --partial $'\033['
    run script -qec "'$UHW' ps -s '$SOCK'" /dev/null
    assert_success
    assert_output --partial $'\033[1;31mdegraded\033[0m'
    assert_output --partial $'\033[32mrunning\033[0m'
    run script -qec "NO_COLOR=1 '$UHW' ps -s '$SOCK'" /dev/null
    assert_success
    assert_output --partial "degraded"
    refute_output --partial $'\033['
    # The CONFIG form finds the same server.
    run "$UHW" ps "$cfg"
    assert_success
    assert_line --regexp '^bad +degraded '
    uhw_stop
    assert_no_workers
}

@test "uhw ps and uhw tail without a server: exit 4 naming the socket" {
    run "$UHW" ps -s "$BATS_TEST_TMPDIR/none.sock"
    assert_failure 4
    assert_output --partial "no uhw server answers on control socket $BATS_TEST_TMPDIR/none.sock"
    run "$UHW" tail sh -s "$BATS_TEST_TMPDIR/none.sock"
    assert_failure 4
    run "$UHW" scale sh 2 -s "$BATS_TEST_TMPDIR/none.sock"
    assert_failure 4
    run "$UHW" stop --wait -s "$BATS_TEST_TMPDIR/none.sock"
    assert_failure 4
}

@test "uhw tail: the last lines of every worker, of one slot, -n; unknown pool or slot exit 1 with the server's message" {
    uhw_start "$(chatty_config 2)"
    run hc "$URL/first"
    assert_output --regexp '^ok [01]$'
    run "$UHW" tail sh -s "$SOCK"
    assert_success
    assert_line --regexp '^\[sh#0 pid=[0-9]+\] worker 0 up$'
    assert_line --regexp '^\[sh#1 pid=[0-9]+\] worker 1 up$'
    assert_line --regexp '^\[sh#[01] pid=[0-9]+\] got /first$'
    assert_equal "${#lines[@]}" 3
    run "$UHW" tail 'sh#1' -s "$SOCK"
    assert_success
    assert_line --index 0 --regexp '^\[sh#1 pid=[0-9]+\] worker 1 up$'
    refute_output --partial "sh#0"
    run "$UHW" tail -n 1 sh "$BATS_TEST_TMPDIR/pools.yaml"   # CONFIG finds the socket too
    assert_success
    assert_equal "${#lines[@]}" 2                             # one per worker
    run "$UHW" tail nope -s "$SOCK"
    assert_failure 1
    assert_output --partial "No such pool: nope"
    run "$UHW" tail 'sh#7' -s "$SOCK"
    assert_failure 1
    assert_output --partial "No such pool or slot: sh"
    run "$UHW" tail -s "$SOCK"
    assert_failure 2
    assert_line "Try 'uhw help tail'."
    run "$UHW" tail 'sh#x' -s "$SOCK"
    assert_failure 2
    run "$UHW" tail -n lots sh -s "$SOCK"
    assert_failure 2
    uhw_stop
    assert_no_workers
}

@test "uhw tail -f: lines arrive while the response is still open, Ctrl-C ends it with exit 0" {
    uhw_start "$(chatty_config 1)"
    out="$BATS_TEST_TMPDIR/follow.out"
    UHW_TEST_TAG=$TAG "$UHW" tail -f sh -s "$SOCK" >"$out" 2>&1 &
    follower=$!
    wait_for_log 'worker 0 up' "$out"
    run hc "$URL/one"
    assert_output "ok 0"
    wait_for_log 'got /one' "$out"
    run hc "$URL/two"
    wait_for_log 'got /two' "$out"
    kill -0 "$follower"              # still following: the lines came before the end
    kill -INT "$follower"
    rc=0
    wait "$follower" || rc=$?
    assert_equal "$rc" 0
    run cat "$out"
    assert_line --index 0 --regexp '^\[sh#0 pid=[0-9]+\] worker 0 up$'
    assert_line --index 1 --regexp '^\[sh#0 pid=[0-9]+\] got /one$'
    assert_line --index 2 --regexp '^\[sh#0 pid=[0-9]+\] got /two$'
    assert_equal "${#lines[@]}" 3
    uhw_stop
    assert_no_workers
}

@test "uhw tail -f follows a worker's replacement and ends when the server stops" {
    uhw_start "$(chatty_config 1)"
    out="$BATS_TEST_TMPDIR/follow.out"
    UHW_TEST_TAG=$TAG "$UHW" tail -f 'sh#0' -s "$SOCK" >"$out" 2>&1 &
    follower=$!
    wait_for_log 'worker 0 up' "$out"
    old=$(status_field 's["pools"][0]["workers"][0]["pid"]')
    kill -KILL "$old"
    wait_until_status '"restarts":\{"in_window":1'
    wait_until_status '"ready":1'
    run hc "$URL/after"
    assert_output "ok 0"
    wait_for_log 'got /after' "$out"
    run grep -c 'worker 0 up' "$out"
    assert_output 2                  # the new worker's first line too
    uhw_stop
    rc=0
    wait "$follower" || rc=$?        # the follower ends with the server
    assert_equal "$rc" 0
    assert_no_workers
}

@test "uhw scale: status shows the new size, workers start and stop; a reload returns to the file's value" {
    uhw_start "$(chatty_config 2)"
    run "$UHW" scale sh 4 -s "$SOCK"
    assert_success
    assert_output "uhw scale: pool 'sh' now has 4 workers (until a reload returns to the file's)"
    run status_field 's["pools"][0]["size"]'
    assert_output 4                  # at once
    wait_until_status '"size":4,"alive":4,"ready":4'
    pids=$(status_field '" ".join(str(w["pid"]) for w in s["pools"][0]["workers"])')
    for p in $pids; do kill -0 "$p"; done
    [ "$(wc -w <<<"$pids")" -eq 4 ]
    run "$UHW" scale sh 1 -s "$SOCK"
    assert_success
    wait_until_status '"size":1,"alive":1,"ready":1'
    keep=$(status_field 's["pools"][0]["workers"][0]["pid"]')
    for p in $pids; do                # the three others exit (bounded)
        [ "$p" = "$keep" ] && continue
        deadline=$((SECONDS + 30))
        while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
        ! kill -0 "$p" 2>/dev/null
    done
    run "$UHW" reload -s "$SOCK"     # the file says 2
    assert_success
    assert_output --partial "pool 'sh' now has 2 workers (was 1, set by uhw scale)"
    refute_output --partial "no change"
    run status_field 's["pools"][0]["size"]'
    assert_output 2
    wait_until_status '"size":2,"alive":2,"ready":2'
    run "$UHW" scale nope 2 -s "$SOCK"
    assert_failure 1
    assert_output --partial "No such pool: nope"
    for bad in 0 1025 two 3x; do
        run "$UHW" scale sh "$bad" -s "$SOCK"
        assert_failure 2
        assert_output --partial "WORKERS must be a number from 1 to 1024"
    done
    run "$UHW" scale sh -1 -s "$SOCK"  # read as an option
    assert_failure 2
    uhw_stop
    assert_no_workers
}

@test "uhw tail -f of a quiet worker ends cleanly when the server stops, and does not hold the stop" {
    # crash prints nothing until asked: the follower has had no line, so no response head either
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: quiet
    command: [@BUILD@/workers/crash]
    workers: 1
EOF
)
    uhw_start "$cfg"
    out="$BATS_TEST_TMPDIR/follow.out"
    UHW_TEST_TAG=$TAG "$UHW" tail -f quiet -s "$SOCK" >"$out" 2>&1 &
    follower=$!
    local deadline=$((SECONDS + 30))        # the follower's connection, and this request's own
    until hc --unix-socket "$SOCK" http://uhw/metrics | grep -qx "uhw_open_connections 2" || ((SECONDS > deadline)); do sleep 0.05; done
    uhw_stop
    rc=0
    wait "$follower" || rc=$?
    cat "$out"
    assert_equal "$rc" 0
    assert_equal "$UHW_RC" 0
    run grep -c 'exiting anyway' "$LOG"     # the stop was not held by the follower
    assert_output 0
}

@test "uhw stop --wait: returns once the server has exited, with its exit code; the socket is gone" {
    uhw_start "$(chatty_config 2)"
    run "$UHW" stop --wait -s "$SOCK"
    assert_success
    assert_output "uhw stop: stopped (exit code 0)"
    [ ! -e "$SOCK" ]                 # gone before stop --wait returned: a new serve may start
    # The process itself ends a moment later (under ASan, after its leak check): no signal from us.
    wait_server_exit
    assert_equal "$UHW_RC" 0
    grep -q "stopping (stop requested on the control socket)" "$LOG"
    assert_no_workers
    # Without --wait: at once, with the pid.
    uhw_start "$BATS_TEST_TMPDIR/pools.yaml"
    pid=$UHW_PID
    run "$UHW" stop "$BATS_TEST_TMPDIR/pools.yaml"
    assert_success
    assert_output "uhw stop: stopping (pid $pid)"
    wait_server_exit
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "uhw stop --wait: the server killed before it answered is reported, exit 1" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
shutdown_timeout: 5m
pools:
  - name: slow
    command: [@BUILD@/workers/crash]
    workers: 1
EOF
)
    uhw_start "$cfg"
    hc "$URL/slow?ms=60000" >/dev/null 2>&1 &
    client=$!
    wait_until_status '"busy":1'
    "$UHW" stop --wait -s "$SOCK" >"$BATS_TEST_TMPDIR/stop.out" 2>&1 &
    stopper=$!
    wait_for_log "stopping \(stop requested on the control socket\)"
    kill -0 "$stopper"               # still waiting: the slow request holds the stop
    kill -KILL "$UHW_PID"
    wait "$UHW_PID" || true
    UHW_PID=
    rc=0
    wait "$stopper" || rc=$?
    assert_equal "$rc" 1
    run cat "$BATS_TEST_TMPDIR/stop.out"
    assert_output --partial "closed the connection before it said how it exited"
    wait "$client" || true
    assert_no_workers                # they die with uhw (PR_SET_PDEATHSIG)
}

@test "uhw reload of a broken file still reaches its server, which refuses it and logs why; exit 1" {
    sh_pool() { # the pool every version of the file has
        printf '  - name: sh\n    command: [@REPO@/test/fixtures/chatty.sh]\n    workers: 1\n'
    }
    cfg=$(printf 'listen: [127.0.0.1:0]\ncontrol: sub/ctl.sock\npools:\n%s\n' "$(sh_pool)" | write_config pools)
    mkdir "$BATS_TEST_TMPDIR/sub"
    uhw_start "$cfg"
    [ "$SOCK" = "$BATS_TEST_TMPDIR/sub/ctl.sock" ]   # not the default uhw.sock
    # A key that does not exist.
    printf 'listen: [127.0.0.1:0]\ncontrol: sub/ctl.sock\npools:\n%s\n    wokers: 3\n' "$(sh_pool)" | write_config pools >/dev/null
    run "$UHW" reload "$cfg"
    assert_failure 1
    assert_output --partial "refused (HTTP 422)"
    assert_line --regexp "pools.yaml:[0-9]+:5: unknown key 'wokers' in pool 'sh' \(did you mean 'workers'\?\)"
    wait_for_log "reload refused: .*pools.yaml:[0-9]+:5: unknown key 'wokers'"
    # Not even YAML after the control key: the server is found all the same.
    printf 'listen: [127.0.0.1:0]\ncontrol: sub/ctl.sock\npools: [\n' | write_config pools >/dev/null
    run "$UHW" reload "$cfg"
    assert_failure 1
    assert_line --regexp "pools.yaml:[0-9]+:[0-9]+: YAML syntax error"
    wait_for_log "reload refused: .*pools.yaml:[0-9]+:[0-9]+: YAML syntax error"
    [ "$(grep -c 'reload refused (the file has errors)' "$LOG")" -eq 2 ]
    run hc "$URL/still"
    assert_output "ok 0"
    # Fixed: reloaded, and the answer comes once it is applied: the new pool is in the status at once.
    printf 'listen: [127.0.0.1:0]\ncontrol: sub/ctl.sock\npools:\n%s\n%s\n    routes: [/new]\n' "$(sh_pool)" \
        "$(sh_pool | sed 's/name: sh/name: new/')" | write_config pools >/dev/null
    run "$UHW" reload "$cfg"
    assert_success
    assert_output --partial "pool 'new' added"
    run "$UHW" status -s "$SOCK" --pool new --compact
    assert_success
    assert_output --partial '"name":"new"'
    uhw_stop
    assert_no_workers
}

@test "uhw reload of a broken file with no server: exit 4, and the file's errors" {
    printf 'control: x.sock\npools:\n  - name: a\n    comand: [x]\n' >"$BATS_TEST_TMPDIR/pools.yaml"
    run "$UHW" reload "$BATS_TEST_TMPDIR/pools.yaml"
    assert_failure 4
    assert_output --partial "no uhw server answers on control socket $BATS_TEST_TMPDIR/x.sock"
    assert_line --regexp "pools.yaml:4:5: unknown key 'comand'"
}

@test "uhw status prints durations as the server does (to the millisecond)" {
    uhw_start "$(chatty_config 1)"
    for _ in 1 2 3 4 5; do
        run "$UHW" status -s "$SOCK"
        assert_success
        assert_line --regexp '^  "uptime_s": [0-9]+(\.[0-9]{1,3})?,$'
        refute_output --regexp '[0-9]\.[0-9]{4,}'
        run "$UHW" status -s "$SOCK" --compact
        refute_output --regexp '[0-9]\.[0-9]{4,}'
        sleep 0.013
    done
    uhw_stop
}

@test "an unknown command is one line with 'did you mean'; --version and -V; unknown options say Try 'uhw help VERB'" {
    run "$UHW" stauts
    assert_failure 2
    assert_output "uhw: unknown command 'stauts' (did you mean 'status'?); 'uhw help' lists the commands"
    run "$UHW" frobnicate
    assert_failure 2
    assert_output "uhw: unknown command 'frobnicate'; 'uhw help' lists the commands"
    run "$UHW" --verison
    assert_failure 2
    assert_output --partial "did you mean '--version'?"
    run "$UHW" help sclae
    assert_failure 2
    assert_output --partial "did you mean 'scale'?"
    for v in --version -V version; do
        run "$UHW" "$v"
        assert_success
        assert_output --regexp '^uhw [0-9]+\.[0-9]+\.[0-9]+$'
    done
    # Every verb of `uhw help`: documented, and an unknown option is two lines that say where to look.
    verbs=$("$UHW" help | sed -n 's/^  \([a-z]\+\) .*/\1/p')
    [ "$(wc -w <<<"$verbs")" -ge 20 ]
    for v in $verbs; do
        run "$UHW" help "$v"
        assert_success
        assert_output --partial "usage: uhw $v"
        [ "$v" = help ] && continue   # `uhw help --bogus` is an unknown command
        run "$UHW" "$v" --bogus-option </dev/null
        assert_failure 2
        assert_equal "${#lines[@]}" 2
        assert_line --index 0 --regexp "^uhw $v: .*--bogus-option"
        assert_line --index 1 "Try 'uhw help $v'."
    done
    for v in ps tail scale stop; do
        run "$UHW" help "$v"
        assert_output --partial "Exit:"
    done
}
