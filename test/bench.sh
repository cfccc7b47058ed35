#!/usr/bin/env bash
# bench.sh — `make bench`: throughput of uhw on loopback, bounded in time (~30 s).
#
#   1. request/response: wrk -t2 -c16 -d10s --latency against two pools of 2 workers each,
#      `c` (build/workers/hello, libuhw) and `sh` (workers/examples/hello.sh, shell helpers);
#      per pool: requests/s, p99, non-2xx, socket errors, uhw's peak RSS during that run.
#   2. streaming: MB/s of a 256 MiB response streamed by build/workers/sse through uhw,
#      against the same bytes served as a static file by h2o's file handler.
#
# Ends with a Markdown table to paste into an issue note. Exits non-zero only when the
# bench itself cannot run or uhw misbehaves (dies, does not start, exits non-zero on stop).
#
# Environment: UHW_BUILD (absolute build dir; default: <repo>/build),
#              BENCH_DURATION (seconds per wrk run, default 10).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UHW_BUILD=${UHW_BUILD:-$REPO/build}
UHW=$UHW_BUILD/uhw
DURATION=${BENCH_DURATION:-10}
THREADS=2
CONNS=16
READY_TIMEOUT=30                 # seconds; start-up is ~20 ms, this only bounds a broken build
STREAM_SIZE=268435456            # 256 MiB
STREAM_RUNS=3                    # best of N: the first run also warms the page cache
# Every process uhw starts inherits this, so cleanup can find a worker whatever happened.
TAG="uhwbench-$$-$RANDOM"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/uhw-bench.XXXXXX")
CFG=$TMP/pools.yaml
LOG=$TMP/uhw.log
UHW_PID=
WRK_PID=
URL=
declare -a ROWS=()               # Markdown table rows, printed at the end

log() { printf '%s\n' "$*" >&2; }
die() {
    log "bench: $*"
    exit 1
}

# ------------------------------------------------------------------ cleanup

# PIDs of live processes carrying our tag (uhw and its workers), by /proc scan.
tagged_pids() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qx "UHW_BENCH_TAG=$TAG" && echo "${p#/proc/}"
    done
    return 0
}

cleanup() {
    local rc=$?
    if [ -n "$WRK_PID" ] && kill -0 "$WRK_PID" 2>/dev/null; then
        kill -KILL "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
    fi
    # Only ever our own processes, by PID: uhw first (SIGKILL: a normal stop already
    # happened unless we are failing), then any worker PDEATHSIG did not reach yet.
    if [ -n "$UHW_PID" ] && kill -0 "$UHW_PID" 2>/dev/null; then
        kill -KILL "$UHW_PID" 2>/dev/null || true
        wait "$UHW_PID" 2>/dev/null || true
    fi
    local p
    for p in $(tagged_pids); do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM         # through the EXIT trap, so nothing is left behind

# ------------------------------------------------------------------ server

preflight() {
    local f
    for f in "$UHW" "$UHW_BUILD/workers/hello" "$UHW_BUILD/workers/sse" "$REPO/workers/examples/hello.sh"; do
        [ -x "$f" ] || die "$f is missing or not executable (run make first)"
    done
    command -v wrk >/dev/null || die "wrk is not installed (Debian package wrk; make deps installs it)"
    command -v curl >/dev/null || die "curl is not installed"
}

write_config() {
    # As root uhw refuses pools that do not name their user; root is fine for a bench
    # (the workers must be able to exec from the build tree, whoever owns it).
    local user_line=
    [ "$(id -u)" -eq 0 ] && user_line="    user: root"
    mkdir -p "$TMP/files"
    cat >"$CFG" <<EOF
# written by test/bench.sh
listen: [127.0.0.1:0]
control: $TMP/uhw.sock
static: {/files/: $TMP/files/}
victims: {log: $TMP/victims.jsonl}
pools:
  - name: c
$user_line
    command: [$UHW_BUILD/workers/hello]
    workers: 2
    routes: [/c/**]
  - name: sh
$user_line
    command: [$REPO/workers/examples/hello.sh]
    workers: 2
    routes: [/sh/**]
  - name: sse
$user_line
    command: [$UHW_BUILD/workers/sse]
    workers: 1
    routes: [/bytes]
EOF
}

uhw_alive() { [ -n "$UHW_PID" ] && kill -0 "$UHW_PID" 2>/dev/null; }

# Starts uhw and polls its log for the ready line (bounded); sets UHW_PID and URL.
start_uhw() {
    : >"$LOG"
    UHW_BENCH_TAG=$TAG "$UHW" serve "$CFG" 2>"$LOG" &
    UHW_PID=$!
    local deadline=$((SECONDS + READY_TIMEOUT))
    until grep -Eq 'ready in [0-9]+ ms' "$LOG"; do
        if ! uhw_alive || ((SECONDS >= deadline)); then
            log "uhw did not become ready within ${READY_TIMEOUT}s; its log:"
            cat "$LOG" >&2
            die "cannot start uhw"
        fi
        sleep 0.05
    done
    URL=$(grep -Eo 'listening on https?://[^ ]+' "$LOG" | head -1 | sed 's/^listening on //')
    [ -n "$URL" ] || die "no 'listening on' URL in the log"
}

# SIGTERM, bounded wait; returns uhw's exit code (1 if it had to be killed).
stop_uhw() {
    kill -TERM "$UHW_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while uhw_alive && ((SECONDS < deadline)); do sleep 0.05; done
    if uhw_alive; then
        log "uhw did not exit within 30 s of SIGTERM: killing it"
        kill -KILL "$UHW_PID" 2>/dev/null || true
    fi
    local rc=0
    wait "$UHW_PID" 2>/dev/null || rc=$?
    UHW_PID=
    return "$rc"
}

# VmHWM is the peak since start unless reset: writing 5 to clear_refs resets it, so each
# run reports its own peak. Where that is refused, the value is the peak so far.
reset_peak_rss() { echo 5 >"/proc/$UHW_PID/clear_refs" 2>/dev/null || true; }
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; }

# ------------------------------------------------------------------ request/response

# wrk prints "Socket errors: ..." and "Non-2xx or 3xx responses: N" only when non-zero.
wrk_field() { # FILE WHAT
    case $2 in
    rps) awk '/^Requests\/sec:/ { print $2 }' "$1" ;;
    p99) awk '$1 == "99%" { print $2 }' "$1" ;;
    requests) awk '/ requests in / { print $1 }' "$1" ;;
    non2xx) awk -F': *' '/Non-2xx or 3xx responses/ { n = $2 } END { print n + 0 }' "$1" ;;
    sockerr) # connect/read/write/timeout
        awk '/Socket errors:/ { gsub(/,/, ""); c = $4; r = $6; w = $8; t = $10 }
             END { printf "%d/%d/%d/%d\n", c, r, w, t }' "$1" ;;
    esac
}

# Runs wrk in the background and polls for it rather than running it in the foreground:
# bash defers a trapped signal (Ctrl-C, SIGTERM) until a foreground child exits, and a
# polled wrk can be bounded (a wedged server must not hang the bench) and stopped by PID.
run_wrk() { # URL OUTFILE
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$1" >"$2" 2>&1 &
    WRK_PID=$!
    local deadline=$((SECONDS + DURATION + 30)) rc=0
    while kill -0 "$WRK_PID" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "wrk still running 30 s after its duration: killing it"
            kill -KILL "$WRK_PID" 2>/dev/null || true
        fi
        sleep 0.1
    done
    wait "$WRK_PID" || rc=$?
    WRK_PID=
    return "$rc"
}

# Checks that URL answers 200 "hello" before spending 10 s measuring it.
check_route() {
    local body
    body=$(curl -sS --max-time 10 "$URL$1") || die "GET $1 failed"
    [ "$body" = hello ] || die "GET $1 answered '$body', not 'hello'"
}

bench_pool() { # POOL PATH DESCRIPTION
    local pool=$1 path=$2 desc=$3 out=$TMP/wrk-$1.txt
    check_route "$path"
    reset_peak_rss
    log "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency $URL$path"
    if ! run_wrk "$URL$path" "$out"; then
        cat "$out" >&2
        die "wrk failed against pool $pool"
    fi
    uhw_alive || { tail -n 30 "$LOG" >&2; die "uhw died during the $pool run"; }
    local rps p99 non2xx sockerr requests peak
    rps=$(wrk_field "$out" rps)
    p99=$(wrk_field "$out" p99)
    requests=$(wrk_field "$out" requests)
    non2xx=$(wrk_field "$out" non2xx)
    sockerr=$(wrk_field "$out" sockerr)
    peak=$(proc_kb "$UHW_PID" VmHWM)
    printf '%-4s %10s req/s  p99 %-8s  requests %-9s non-2xx %-6s socket errors (c/r/w/t) %-9s uhw peak RSS %s\n' \
        "$pool" "$rps" "$p99" "$requests" "$non2xx" "$sockerr" "$(mib "$peak")"
    ROWS+=("| \`$pool\` | $desc | $rps | $p99 | $non2xx | $sockerr | $(mib "$peak") |")
}

# ------------------------------------------------------------------ streaming throughput
#
# STREAMING THROUGHPUT SECTION: MB/s (10^6 bytes/s) of GET /bytes?size=256MiB streamed by
# build/workers/sse through uhw (StreamStart / StreamData / StreamEnd frames over the
# worker's pipe), against the same number of bytes as a static file served by h2o's file
# handler. Best of STREAM_RUNS each, one curl at a time, body to /dev/null.

STREAM_ROWS=()

# Prints "SIZE SECONDS" for one download, or fails unless it is a complete 200.
timed_get() {
    local out code size secs
    out=$(curl -sS --max-time 120 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$1") || return 1
    read -r code size secs <<<"$out"
    if [ "$code" != 200 ] || [ "$size" != "$STREAM_SIZE" ]; then
        log "  $1: HTTP $code, $size bytes (expected 200, $STREAM_SIZE)"
        return 1
    fi
    echo "$size $secs"
}

# Best MB/s of STREAM_RUNS downloads of URL; fails if any download is incomplete.
best_mbps() {
    local i best=0 r
    for ((i = 0; i < STREAM_RUNS; i++)); do
        r=$(timed_get "$1") || return 1
        best=$(awk -v r="$r" -v b="$best" 'BEGIN { split(r, a, " "); m = a[2] > 0 ? a[1] / a[2] / 1e6 : 0;
                                                   printf "%.0f", (m > b ? m : b) }')
    done
    echo "$best"
}

bench_streaming() {
    local via_uhw static peak
    # Streaming in the supervisor is new: a failure here is reported, not fatal.
    reset_peak_rss
    if via_uhw=$(best_mbps "$URL/bytes?size=$STREAM_SIZE"); then
        peak=$(proc_kb "$UHW_PID" VmHWM)
        printf 'streaming: %s MB/s through uhw (256 MiB from build/workers/sse; uhw peak RSS %s)\n' \
            "$via_uhw" "$(mib "$peak")"
        STREAM_ROWS+=("| 256 MiB streamed by \`sse\` worker through uhw | $via_uhw MB/s | $(mib "$peak") |")
    else
        echo "streaming: not available"
        STREAM_ROWS+=("| 256 MiB streamed by \`sse\` worker through uhw | not available | |")
    fi
    uhw_alive || { tail -n 30 "$LOG" >&2; die "uhw died during the streaming run"; }

    # Real bytes, not a sparse file, so h2o reads what it would read in production
    # (from the page cache after the first run).
    if head -c "$STREAM_SIZE" /dev/zero >"$TMP/files/big.bin" 2>/dev/null; then
        reset_peak_rss
        if static=$(best_mbps "$URL/files/big.bin"); then
            peak=$(proc_kb "$UHW_PID" VmHWM)
            printf 'static:    %s MB/s (the same 256 MiB as a file, h2o file handler; uhw peak RSS %s)\n' \
                "$static" "$(mib "$peak")"
            STREAM_ROWS+=("| the same 256 MiB as a static file (h2o) | $static MB/s | $(mib "$peak") |")
        else
            echo "static:    not available"
        fi
        rm -f "$TMP/files/big.bin"
    else
        echo "static:    not available (cannot write a 256 MiB file in $TMP)"
    fi
}

# ------------------------------------------------------------------ report

print_table() {
    local rev
    rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$REPO" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
    echo
    echo "### uhw bench — $(date -u +%Y-%m-%dT%H:%MZ), $rev, $(nproc) cores, loopback"
    echo
    echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, GET answered 200 \"hello\" (6 bytes), 2 workers per pool:"
    echo
    echo "| pool | worker | req/s | p99 | non-2xx | socket errors c/r/w/t | uhw peak RSS |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "| streaming (one client, best of $STREAM_RUNS) | throughput | uhw peak RSS |"
    echo "|---|---:|---:|"
    printf '%s\n' "${STREAM_ROWS[@]}"
}

main() {
    preflight
    write_config
    start_uhw
    log "uhw pid $UHW_PID serving $URL"
    bench_pool c /c/x "\`build/workers/hello\` (C, libuhw)"
    bench_pool sh /sh/x "\`workers/examples/hello.sh\` (sh + uhw helpers)"
    bench_streaming
    local rc=0
    stop_uhw || rc=$?
    if [ "$rc" -ne 0 ]; then
        tail -n 30 "$LOG" >&2
        die "uhw exited with code $rc on SIGTERM (expected 0)"
    fi
    print_table
}

main "$@"
