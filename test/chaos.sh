#!/usr/bin/env bash
# chaos.sh — `make chaos`: SIGKILL random workers under load and check that uhw accounts
# for every request and leaks nothing.
#
#   usage: test/chaos.sh [DURATION_SECONDS]        (default 60, at least 3)
#
# One pool `hello` (build/workers/hello, 4 workers, concurrency 1, never degraded,
# backoff 10ms..100ms). wrk -t2 -c8 runs for DURATION seconds while, every 200 ms, a
# random ready worker is SIGKILLed. Then the report (one `key: value` per line) and the
# invariants, each printed as PASS or FAIL: reason:
#
#   - uhw stays alive the whole time;
#   - wrk sees no socket error (connect, read, write, timeout);
#   - wrk's non-2xx == victims.jsonl lines == status counters.victims == counters.5xx
#     (every 500 is a victim and every victim got its 500; no 503, no 502);
#   - no zombie child of uhw and no orphan worker; after the stop, no process at all;
#   - uhw's open fd count is back to what it was, and its RSS grew by < 2 MiB;
#   - SIGTERM stops uhw with exit code 0.
#
# Exits 0 when every invariant holds, 1 otherwise (then the uhw log tail is printed and
# the temp dir is kept), 2 on bad usage or when the run cannot even start.
#
# Environment: UHW_BUILD (absolute build dir; default <repo>/build),
#              CHAOS_INTERVAL_MS (default 200), CHAOS_WARMUP (seconds of load without
#              kills before BEFORE is measured, default 2; 0 = none), CHAOS_RSS_SLACK_KB
#              (default 2048). Under an ASan build the RSS check is skipped: the quarantine
#              and shadow memory grow by design, and LeakSanitizer checks for leaks at exit
#              instead (a leak makes the exit code non-zero, which fails "exit code 0").
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UHW_BUILD=${UHW_BUILD:-$REPO/build}
UHW=$UHW_BUILD/uhw
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

DURATION=${1:-60}
INTERVAL_MS=${CHAOS_INTERVAL_MS:-200}
WARMUP=${CHAOS_WARMUP:-2}
WORKERS=4
THREADS=2
CONNS=8
RSS_SLACK_KB=${CHAOS_RSS_SLACK_KB:-2048}
READY_TIMEOUT=30                # start-up; bounds a broken build, not a normal start
SETTLE_TIMEOUT=10               # pool fully ready again, fds back, zombies reaped
STOP_TIMEOUT=30                 # shutdown_timeout (10s) + margin
# Exported to uhw only: every worker inherits it, so any process carrying it that is not a
# child of uhw is an orphan, and after the stop there must be none at all.
TAG="uhwchaos-$$-$RANDOM"
# Sanitizer builds (make chaos SANITIZE=1): the same settings as the test suite — a small
# ASan quarantine, and LeakSanitizer told about the third-party leaks in test/lsan.supp.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:quarantine_size_mb=16}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$REPO/test/lsan.supp}"

usage() {
    echo "usage: $0 [DURATION_SECONDS]   (default 60, at least 3)" >&2
    exit 2
}
case $DURATION in '' | *[!0-9]*) usage ;; esac
((DURATION >= 3)) || usage

TMP=$(mktemp -d "${TMPDIR:-/tmp}/uhw-chaos.XXXXXX")
CFG=$TMP/pools.yaml
LOG=$TMP/uhw.log
VICTIMS=$TMP/victims.jsonl
UHW_PID=
WRK_PID=
WRK_DEADLINE=0
URL=
SOCK=$TMP/uhw.sock
FAILED=0
KEEP_TMP=0

log() { printf '%s\n' "$*" >&2; }
die() { # cannot run at all: not an invariant failure
    log "chaos: $*"
    [ -s "$LOG" ] && { log "--- uhw log (last 40 lines)"; tail -n 40 "$LOG" >&2; }
    exit 2
}

# ------------------------------------------------------------------ processes

# Prints "PID PPID STATE" for every process (pure bash: no fork per process).
proc_table() {
    local s pid k v state ppid
    for s in /proc/[0-9]*/status; do
        pid=${s#/proc/}
        pid=${pid%/status}
        state='' ppid=''
        {
            while read -r k v _; do
                case $k in
                State:) state=$v ;;
                PPid:)
                    ppid=$v
                    break
                    ;;
                esac
            done <"$s"
        } 2>/dev/null || continue # gone meanwhile
        [ -n "$ppid" ] && echo "$pid $ppid $state"
    done
    return 0
}

has_tag() { grep -qz "^UHW_CHAOS_TAG=$TAG\$" "/proc/$1/environ" 2>/dev/null; }

# Live processes carrying our tag (uhw itself included).
tagged_pids() {
    local pid ppid state
    while read -r pid ppid state; do
        [ "$pid" = "$$" ] && continue
        has_tag "$pid" && echo "$pid"
    done < <(proc_table)
    return 0
}

zombie_children() { # PIDs of uhw's children in state Z (exited, not reaped)
    local pid ppid state
    while read -r pid ppid state; do
        [ "$ppid" = "$UHW_PID" ] && [ "$state" = Z ] && echo "$pid"
    done < <(proc_table)
    return 0
}

orphans() { # tagged processes that are neither uhw nor its children
    local pid ppid state
    while read -r pid ppid state; do
        [ "$pid" = "$$" ] || [ "$pid" = "$UHW_PID" ] || [ "$ppid" = "$UHW_PID" ] && continue
        has_tag "$pid" && echo "$pid"
    done < <(proc_table)
    return 0
}

ppid_of() { awk '$1 == "PPid:" { print $2 }' "/proc/$1/status" 2>/dev/null; }
count_words() { wc -w | tr -d ' '; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$UHW_PID/status"; }
fd_count() { find "/proc/$UHW_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
victim_lines() { if [ -f "$VICTIMS" ]; then wc -l <"$VICTIMS"; else echo 0; fi; }
uhw_alive() { [ -n "$UHW_PID" ] && kill -0 "$UHW_PID" 2>/dev/null; }

cleanup() {
    local rc=$?
    # Only our own processes, by PID: wrk, uhw, then any tagged straggler.
    if [ -n "$WRK_PID" ] && kill -0 "$WRK_PID" 2>/dev/null; then
        kill -KILL "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
    fi
    if uhw_alive; then
        kill -KILL "$UHW_PID" 2>/dev/null || true
        wait "$UHW_PID" 2>/dev/null || true
    fi
    local p
    for p in $(tagged_pids); do kill -KILL "$p" 2>/dev/null || true; done
    if [ "$KEEP_TMP" = 1 ]; then
        log "chaos: kept $TMP (config, uhw.log, victims.jsonl, wrk output)"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ server

preflight() {
    local f
    for f in "$UHW" "$UHW_BUILD/workers/hello"; do
        [ -x "$f" ] || die "$f is missing or not executable (run make first)"
    done
    command -v wrk >/dev/null || die "wrk is not installed (Debian package wrk)"
    command -v curl >/dev/null || die "curl is not installed"
}

write_config() {
    # As root uhw refuses a pool that does not name its user.
    local user_line=
    [ "$(id -u)" -eq 0 ] && user_line="    user: root"
    cat >"$CFG" <<EOF
# written by test/chaos.sh
listen: [127.0.0.1:0]
control: $SOCK
victims: {log: $VICTIMS}
pools:
  - name: hello
$user_line
    command: [$UHW_BUILD/workers/hello]
    workers: $WORKERS
    concurrency: 1
    max_restarts: 0               # 0 = no limit: the pool must never degrade here
    backoff: {initial: 10ms, max: 100ms}
    timeout: 10s
EOF
}

start_uhw() {
    : >"$LOG"
    UHW_CHAOS_TAG=$TAG "$UHW" serve "$CFG" 2>"$LOG" &
    UHW_PID=$!
    local deadline=$((SECONDS + READY_TIMEOUT))
    until grep -Eq 'ready in [0-9]+ ms' "$LOG"; do
        if ! uhw_alive || ((SECONDS >= deadline)); then die "uhw did not become ready within ${READY_TIMEOUT}s"; fi
        sleep 0.05
    done
    URL=$(grep -Eo 'listening on https?://[^ ]+' "$LOG" | head -1 | sed 's/^listening on //')
    [ -n "$URL" ] || die "no 'listening on' URL in the log"
}

# ------------------------------------------------------------------ status

# `uhw status` as one line of JSON; bounded, so a wedged control socket cannot hang us.
status_json() { timeout 5 "$UHW" status -s "$SOCK" --compact 2>/dev/null; }

# Prints "size alive ready pending requests victims 5xx" (pool hello, global counters).
status_numbers() {
    status_json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
p = next(p for p in s["pools"] if p["name"] == "hello")
c = s["counters"]
print(p["size"], p["alive"], p["ready"], s["pending"], c["requests"], c["victims"], c["5xx"])'
}

ready_worker_pids() { # status JSON on stdin
    "$PY" -c '
import json, sys
for p in json.load(sys.stdin)["pools"]:
    for w in p["workers"]:
        if w["state"] == "ready" and w["pid"]:
            print(w["pid"])'
}

# Polls until every worker is ready and nothing is pending (bounded); 0 if it got there.
wait_settled() {
    local deadline=$((SECONDS + SETTLE_TIMEOUT)) size alive ready pending rest
    while ((SECONDS < deadline)); do
        uhw_alive || return 1
        if read -r size alive ready pending rest < <(status_numbers) &&
            [ "$alive" = "$size" ] && [ "$ready" = "$size" ] && [ "$pending" = 0 ]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# The fd count once two readings 200 ms apart agree (a status client's connection or a
# closing keep-alive connection may be on its way out). Bounded.
stable_fds() {
    local a b deadline=$((SECONDS + 5))
    a=$(fd_count)
    while ((SECONDS < deadline)); do
        sleep 0.2
        b=$(fd_count)
        [ "$a" = "$b" ] && break
        a=$b
    done
    echo "$a"
}

# Polls (bounded) until the fd count equals $1; prints the last count.
fds_back_to() {
    local n deadline=$((SECONDS + SETTLE_TIMEOUT))
    n=$(fd_count)
    while [ "$n" != "$1" ] && ((SECONDS < deadline)); do
        sleep 0.1
        n=$(fd_count)
    done
    echo "$n"
}

# Polls (bounded) until no zombie child of uhw is left (reaping is asynchronous); prints them.
zombies_after_settle() {
    local z deadline=$((SECONDS + SETTLE_TIMEOUT))
    z=$(zombie_children)
    while [ -n "$z" ] && ((SECONDS < deadline)); do
        sleep 0.1
        z=$(zombie_children)
    done
    echo "$z" | xargs
}

# ------------------------------------------------------------------ load and chaos

wrk_field() { # FILE WHAT — wrk prints the error lines only when non-zero
    case $2 in
    requests) awk '/ requests in / { print $1 }' "$1" ;;
    rps) awk '/^Requests\/sec:/ { print $2 }' "$1" ;;
    non2xx) awk -F': *' '/Non-2xx or 3xx responses/ { n = $2 } END { print n + 0 }' "$1" ;;
    connect | read | write | timeout)
        awk -v k="$2" '/Socket errors:/ { gsub(/,/, ""); for (i = 3; i < NF; i += 2) if ($i == k) n = $(i + 1) }
                       END { print n + 0 }' "$1" ;;
    esac
}

now_us() { echo $((${EPOCHREALTIME/./})); }

# wrk in the background, its own PID in WRK_PID (no wrapper between us and it), so that
# cleanup can stop it and wait_wrk can bound it.
start_wrk() { # SECONDS OUTFILE
    wrk -t"$THREADS" -c"$CONNS" -d"$1s" --timeout 10s "$URL/" >"$2" 2>&1 &
    WRK_PID=$!
    WRK_DEADLINE=$((SECONDS + $1 + 30))
}

# Waits for wrk (bounded: a wedged server must not hang us), checking that uhw stays
# alive; returns wrk's exit code. Polls rather than `wait`s so that uhw is watched too.
wait_wrk() {
    while kill -0 "$WRK_PID" 2>/dev/null; do
        uhw_alive || UHW_DIED=1
        if ((SECONDS >= WRK_DEADLINE)); then
            log "chaos: wrk still running 30 s after its duration: killing it"
            kill -KILL "$WRK_PID" 2>/dev/null || true
        fi
        sleep 0.1
    done
    local rc=0
    wait "$WRK_PID" || rc=$?
    WRK_PID=
    return "$rc"
}

KILLS=0
KILL_MISSES=0                   # ticks with no ready worker to kill (all restarting)
STATUS_FAILURES=0               # ticks where `uhw status` did not answer
UHW_DIED=0

# Every INTERVAL_MS until the deadline: SIGKILL one random ready worker. Kills stop one
# second before wrk's end so that every victim's 500 reaches wrk before it hangs up
# (a victim answered after wrk stopped reading would be counted by uhw but not by wrk).
chaos_loop() { # DEADLINE_US
    local deadline=$1 next json pids pid n
    next=$(now_us)
    while (($(now_us) < deadline)); do
        if ! uhw_alive; then
            UHW_DIED=1
            return
        fi
        if ! json=$(status_json); then
            STATUS_FAILURES=$((STATUS_FAILURES + 1))
        else
            mapfile -t pids < <(ready_worker_pids <<<"$json")
            pid=
            ((${#pids[@]} > 0)) && pid=${pids[RANDOM % ${#pids[@]}]}
            # Still uhw's child? Then it is the worker status named, not a recycled PID.
            if [ -n "$pid" ] && [ "$(ppid_of "$pid")" = "$UHW_PID" ] && kill -KILL "$pid" 2>/dev/null; then
                KILLS=$((KILLS + 1))
            else
                KILL_MISSES=$((KILL_MISSES + 1))
            fi
        fi
        # Fixed cadence whatever the status call cost; never a burst to catch up.
        next=$((next + INTERVAL_MS * 1000))
        n=$((next - $(now_us)))
        if ((n > 0)); then
            sleep "$(printf '%d.%06d' $((n / 1000000)) $((n % 1000000)))"
        else
            next=$(now_us)
        fi
    done
}

# ------------------------------------------------------------------ report

declare -a RESULTS=()
skip() { RESULTS+=("SKIP: $1: $2"); }
check() { # NAME REASON-IF-FAILED COMMAND...
    local name=$1 reason=$2
    shift 2
    if "$@"; then
        RESULTS+=("PASS: $name")
    else
        RESULTS+=("FAIL: $name: $reason")
        FAILED=1
    fi
}

kv() { printf '%s: %s\n' "$1" "$2"; }

main() {
    preflight
    write_config
    start_uhw
    log "chaos: uhw pid $UHW_PID on $URL; $DURATION s of wrk -t$THREADS -c$CONNS with a SIGKILL every $INTERVAL_MS ms"
    wait_settled || die "the pool did not become ready"

    # Warm-up without kills: h2o's connection buffers and malloc arenas grow on first use;
    # that is not what the RSS invariant is about.
    local warm_non2xx=0
    if ((WARMUP > 0)); then
        start_wrk "$WARMUP" "$TMP/wrk-warmup.txt"
        wait_wrk || die "warm-up wrk failed: $(cat "$TMP/wrk-warmup.txt")"
        warm_non2xx=$(wrk_field "$TMP/wrk-warmup.txt" non2xx)
        wait_settled || die "the pool did not settle after the warm-up"
    fi

    # BEFORE
    local b_fds b_rss b_zombies b_requests b_victims b_5xx b_lines
    local asan=0
    # gcc links libasan.so (seen in maps); clang links ASan statically (only its symbols show)
    { grep -q libasan "/proc/$UHW_PID/maps" || grep -qa -m1 __asan_init "/proc/$UHW_PID/exe"; } 2>/dev/null && asan=1
    b_fds=$(stable_fds)
    b_rss=$(rss_kb)
    b_zombies=$(zombie_children | count_words)
    read -r _ _ _ _ b_requests b_victims b_5xx < <(status_numbers) ||
        die "uhw status failed"
    b_lines=$(victim_lines)

    # Load and chaos
    local t0 wrk_rc=0
    t0=$(now_us)
    start_wrk "$DURATION" "$TMP/wrk.txt"
    chaos_loop $((t0 + (DURATION - 1) * 1000000))
    wait_wrk || wrk_rc=$?

    # AFTER (each waits, bounded, for what is asynchronous to settle)
    local settled=0 a_fds a_rss a_zombies a_size='?' a_alive='?' a_ready='?' a_pending='?' a_requests='?' a_victims='?' a_5xx='?' a_lines
    local orphan_pids
    if uhw_alive; then
        wait_settled && settled=1
        read -r a_size a_alive a_ready a_pending a_requests a_victims a_5xx < <(status_numbers) || true
        a_zombies=$(zombies_after_settle)
        a_fds=$(fds_back_to "$b_fds")
        a_rss=$(rss_kb)
        orphan_pids=$(orphans | xargs)
    else
        UHW_DIED=1
        a_zombies='' a_fds='?' a_rss='?' orphan_pids=''
    fi
    a_lines=$(victim_lines)

    local w=$TMP/wrk.txt non2xx requests e_connect e_read e_write e_timeout
    non2xx=$(wrk_field "$w" non2xx)
    requests=$(wrk_field "$w" requests)
    e_connect=$(wrk_field "$w" connect)
    e_read=$(wrk_field "$w" read)
    e_write=$(wrk_field "$w" write)
    e_timeout=$(wrk_field "$w" timeout)
    local d_victims='?' d_5xx='?' d_lines=$((a_lines - b_lines)) d_requests='?'
    [ "$a_victims" != "?" ] && d_victims=$((a_victims - b_victims)) d_5xx=$((a_5xx - b_5xx)) \
        d_requests=$((a_requests - b_requests))

    # Stop: SIGTERM, bounded wait, exit code.
    local stop_rc=none t_stop=$SECONDS
    if uhw_alive; then
        kill -TERM "$UHW_PID"
        while uhw_alive && ((SECONDS < t_stop + STOP_TIMEOUT)); do sleep 0.05; done
        if uhw_alive; then
            kill -KILL "$UHW_PID" 2>/dev/null || true
            stop_rc="hung (killed after ${STOP_TIMEOUT}s)"
        fi
        local stop_rc_n=0
        wait "$UHW_PID" || stop_rc_n=$?
        [ "$stop_rc" = none ] && stop_rc=$stop_rc_n
    fi
    local uhw_pid_was=$UHW_PID left deadline=$((SECONDS + SETTLE_TIMEOUT))
    UHW_PID=
    left=$(tagged_pids | xargs)
    while [ -n "$left" ] && ((SECONDS < deadline)); do
        sleep 0.1
        left=$(tagged_pids | xargs)
    done

    # Report
    kv duration_s "$DURATION"
    kv interval_ms "$INTERVAL_MS"
    kv workers "$WORKERS"
    kv uhw_pid "$uhw_pid_was"
    kv uhw_asan "$([ "$asan" = 1 ] && echo yes || echo no)"
    kv warmup_s "$WARMUP"
    kv warmup_non2xx "$warm_non2xx"
    kv kills "$KILLS"
    kv kill_misses "$KILL_MISSES"
    kv status_failures "$STATUS_FAILURES"
    kv wrk_exit "$wrk_rc"
    kv wrk_requests "${requests:-?}"
    kv wrk_requests_per_s "$(wrk_field "$w" rps)"
    kv wrk_non2xx "$non2xx"
    kv wrk_socket_errors "connect $e_connect, read $e_read, write $e_write, timeout $e_timeout"
    kv status_requests_delta "$d_requests"
    kv victims_jsonl_lines "$d_lines"
    kv status_victims "$d_victims"
    kv status_5xx "$d_5xx"
    kv pool_after "size $a_size, alive $a_alive, ready $a_ready, pending $a_pending (settled: $([ $settled = 1 ] && echo yes || echo no))"
    kv rss_kb_before "$b_rss"
    kv rss_kb_after "$a_rss"
    kv rss_kb_growth "$([ "$a_rss" != "?" ] && echo $((a_rss - b_rss)) || echo ?)"
    kv fds_before "$b_fds"
    kv fds_after "$a_fds"
    kv zombies_before "$b_zombies"
    kv zombies_after "$(count_words <<<"$a_zombies")${a_zombies:+ ($a_zombies)}"
    kv orphans "$(count_words <<<"$orphan_pids")${orphan_pids:+ ($orphan_pids)}"
    kv uhw_alive_throughout "$([ $UHW_DIED = 0 ] && echo yes || echo no)"
    kv uhw_exit_code "$stop_rc"
    kv processes_left_after_stop "$(count_words <<<"$left")${left:+ ($left)}"

    # Invariants (the helpers see main's locals: bash scoping is dynamic)
    counts_agree() { [ "$non2xx" = "$d_lines" ] && [ "$d_lines" = "$d_victims" ] && [ "$d_victims" = "$d_5xx" ]; }
    rss_ok() { [ "$a_rss" != "?" ] && (((a_rss - b_rss) < RSS_SLACK_KB)); }
    check "uhw alive the whole time" "uhw died during the run" [ "$UHW_DIED" = 0 ]
    ((WARMUP > 0)) && check "no non-2xx during the warm-up (no kills)" "$warm_non2xx non-2xx" [ "$warm_non2xx" = 0 ]
    check "wrk ran to completion" "wrk exited with $wrk_rc" [ "$wrk_rc" = 0 ]
    check "no socket errors" "connect $e_connect, read $e_read, write $e_write, timeout $e_timeout" \
        [ "$e_connect$e_read$e_write$e_timeout" = 0000 ]
    check "workers were killed" "no kill happened: the run tested nothing" [ "$KILLS" -gt 0 ]
    check "non-2xx == victims.jsonl == counters.victims == counters.5xx" \
        "wrk non-2xx $non2xx, victims.jsonl $d_lines, counters.victims $d_victims, counters.5xx $d_5xx" counts_agree
    check "pool fully ready again within ${SETTLE_TIMEOUT}s" \
        "size $a_size, alive $a_alive, ready $a_ready, pending $a_pending" [ "$settled" = 1 ]
    check "no zombie child of uhw" "zombies: $a_zombies" [ -z "$a_zombies" ]
    check "no orphan worker" "tagged processes that are not children of uhw: $orphan_pids" [ -z "$orphan_pids" ]
    check "fd count unchanged" "before $b_fds, after $a_fds" [ "$a_fds" = "$b_fds" ]
    if [ "$asan" = 1 ]; then
        skip "RSS growth < $RSS_SLACK_KB kB" "ASan build (quarantine); LeakSanitizer checks at exit"
    else
        check "RSS growth < $RSS_SLACK_KB kB" "before $b_rss kB, after $a_rss kB" rss_ok
    fi
    check "SIGTERM exit code 0" "exit code $stop_rc" [ "$stop_rc" = 0 ]
    check "no process left after stop" "still alive: $left" [ -z "$left" ]
    printf '%s\n' "${RESULTS[@]}"

    if [ "$FAILED" = 1 ]; then
        KEEP_TMP=1
        echo "--- uhw log, last 40 lines"
        tail -n 40 "$LOG"
        echo "--- uhw log, WARNING/ERROR lines other than the expected kill/victim/restart lines (first 40)"
        grep -E ' (WARNING|ERROR|CRITICAL) ' "$LOG" |
            grep -Ev 'worker exited unexpectedly: killed by SIGKILL|victim id=|restarting worker' | head -n 40 || true
        echo "--- wrk output"
        cat "$w"
        exit 1
    fi
}

main "$@"
