# shellcheck shell=bash disable=SC2034  # the variables here are used by the scripts that source it
# test/bench/lib.sh — sourced by test/bench.sh and test/bench/kill-demo.sh: one temp dir,
# servers started as children and stopped by PID, free loopback ports, readiness polls,
# wrk runs and the one parser of wrk's output.
#
# Every process started here carries UHW_BENCH_TAG in its environment. The EXIT trap stops
# what it started, by PID, then looks for anything still carrying the tag (spawn-fcgi's
# children, a worker that outlived its supervisor) and stops that too, by PID. Nothing is
# ever killed by name, and the temp dir goes with it.
#
# The caller sets `set -euo pipefail` and may set BENCH_NAME (prefix of messages).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
UHW_BUILD=${UHW_BUILD:-$REPO/build}
UHW=$UHW_BUILD/uhw
BENCH_BIN=$UHW_BUILD/bench           # peers built by mk/bench.mk
BENCH_SRC=$REPO/test/bench           # hello.cgi, app.py
# Debian's Python has flask, gunicorn and protobuf; a pyenv python3 first on PATH does not.
PY=/usr/bin/python3
BENCH_NAME=${BENCH_NAME:-bench}
READY_TIMEOUT=30                     # seconds; start-up takes < 1 s, this bounds a broken one
STOP_GRACE=10                        # seconds between SIGTERM and SIGKILL

# Given to each server started here (start_server, start_spawn_fcgi) and inherited by its
# children; not exported, so wrk, curl and this script's own helpers do not carry it.
UHW_BENCH_TAG="uhwbench-$$-$RANDOM"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/uhw-bench.XXXXXX")
STARTED=()                           # PIDs to stop at exit, in start order
WRK_PID=
SERVER_PID=                          # set by start_server
UHW_PID=                             # set by start_uhw
UHW_URL=
UHW_LOG=
UHW_SOCK=

log() { printf '%s\n' "$*" >&2; }
die() {
    log "$BENCH_NAME: $*"
    exit 1
}

# ------------------------------------------------------------------ processes

# True while PID runs. A zombie is not running: an orphan (spawn-fcgi's children) stays
# one until init reaps it, and `kill -0` would still succeed on it.
alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# SIGTERM, up to STOP_GRACE seconds, then SIGKILL; reaps PID if it is our child.
# Returns its exit status when it is our child, else 0.
stop_pid() { # PID
    local pid=$1 deadline rc=0
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + STOP_GRACE))
        while alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
        if alive "$pid"; then
            log "$BENCH_NAME: pid $pid still running ${STOP_GRACE}s after SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || rc=$?
    # `wait` answers 127 for a PID that is not our child (spawn-fcgi's children).
    [ "$rc" -eq 127 ] && rc=0
    forget_pid "$pid"
    return "$rc"
}

# Drops PID from STARTED once it is gone, so the EXIT trap never signals a reused PID.
forget_pid() { # PID
    local i
    for i in "${!STARTED[@]}"; do
        [ "${STARTED[i]}" = "$1" ] && unset 'STARTED[i]'
    done
    STARTED=("${STARTED[@]}")
}

# PIDs of live processes carrying our tag, by /proc scan (not this shell, not a zombie).
tagged_pids() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qx "UHW_BENCH_TAG=$UHW_BENCH_TAG" &&
            alive "${p#/proc/}" && echo "${p#/proc/}"
    done
    return 0
}

bench_cleanup() {
    local rc=$? i p
    if [ -n "$WRK_PID" ] && alive "$WRK_PID"; then kill -KILL "$WRK_PID" 2>/dev/null || true; fi
    local left=("${STARTED[@]}")
    for ((i = ${#left[@]} - 1; i >= 0; i--)); do
        stop_pid "${left[i]}" || true
    done
    for p in $(tagged_pids); do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
    exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM             # through the EXIT trap, so nothing is left behind

# Starts CMD... in the background, output to LOGFILE; sets SERVER_PID.
start_server() { # LOGFILE CMD...
    local logf=$1
    shift
    UHW_BENCH_TAG=$UHW_BENCH_TAG "$@" >"$logf" 2>&1 </dev/null &
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
}

# spawn-fcgi binds SOCKET, forks N copies of CMD with it as fd 0, prints their PIDs and
# exits: the children are ours to stop (by those PIDs), not spawn-fcgi's.
SPAWNED_PIDS=()
start_spawn_fcgi() { # N SOCKET LOGFILE CMD...
    local n=$1 sock=$2 logf=$3 pid
    shift 3
    SPAWNED_PIDS=()
    UHW_BENCH_TAG=$UHW_BENCH_TAG spawn-fcgi -F "$n" -s "$sock" -- "$@" >"$logf" 2>&1 </dev/null || {
        cat "$logf" >&2
        return 1
    }
    # "spawn-fcgi: child spawned successfully: PID: 1234", one line per child.
    for pid in $(awk '/child spawned successfully/ { print $NF }' "$logf"); do
        SPAWNED_PIDS+=("$pid")
        STARTED+=("$pid")
    done
    [ "${#SPAWNED_PIDS[@]}" -eq "$n" ] || { cat "$logf" >&2; return 1; }
}

# Stops every PID given (each by SIGTERM, then SIGKILL after the grace).
stop_pids() {
    local p rc=0
    for p in "$@"; do stop_pid "$p" || rc=$?; done
    return "$rc"
}

# A free TCP port on 127.0.0.1: the kernel picks it, the socket is closed, the server
# binds it a moment later (only a server started in between could take it).
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until URL answers 200 with body "hello" (the server is up and serving the row's
# route). Fails, showing LOGFILE's tail, when PID dies or READY_TIMEOUT passes.
wait_hello() { # URL PID LOGFILE
    local url=$1 pid=$2 logf=$3 deadline=$((SECONDS + READY_TIMEOUT)) body
    while :; do
        body=$(curl -sS --max-time 5 "$url" 2>/dev/null) && [ "$body" = hello ] && return 0
        if ! alive "$pid" || ((SECONDS >= deadline)); then
            log "$BENCH_NAME: $url does not answer \"hello\" (last answer: '${body:-none}'); log $logf:"
            tail -n 20 "$logf" >&2
            return 1
        fi
        sleep 0.05
    done
}

# ------------------------------------------------------------------ uhw

# Writes a uhw config with one pool into $TMP/NAME.yaml and starts uhw on a free port;
# sets UHW_PID, UHW_URL, UHW_LOG, UHW_SOCK. Extra pool keys come as further YAML lines.
start_uhw() { # POOL_NAME WORKERS COMMAND_YAML_LIST [POOL_YAML_LINE...]
    local name=$1 workers=$2 command=$3 line deadline
    shift 3
    local cfg=$TMP/$name.yaml
    UHW_LOG=$TMP/uhw-$name.log
    UHW_SOCK=$TMP/uhw-$name.sock
    {
        echo "# written by test/bench (lib.sh)"
        echo "listen: [127.0.0.1:0]"
        echo "control: $UHW_SOCK"
        echo "victims: {log: $TMP/victims-$name.jsonl}"
        echo "pools:"
        echo "  - name: $name"
        echo "    command: $command"
        echo "    workers: $workers"
        # As root uhw refuses a pool that does not name its user; root is fine here (the
        # workers must exec from the build tree, whoever owns it).
        [ "$(id -u)" -eq 0 ] && echo "    user: root"
        for line in "$@"; do echo "    $line"; done
    } >"$cfg"
    : >"$UHW_LOG"                 # exists before the poll below reads it
    start_server "$UHW_LOG" "$UHW" serve "$cfg"
    UHW_PID=$SERVER_PID
    deadline=$((SECONDS + READY_TIMEOUT))
    until grep -Eq 'ready in [0-9]+ ms' "$UHW_LOG"; do
        if ! alive "$UHW_PID" || ((SECONDS >= deadline)); then
            log "$BENCH_NAME: uhw did not become ready within ${READY_TIMEOUT}s; its log:"
            tail -n 30 "$UHW_LOG" >&2
            return 1
        fi
        sleep 0.05
    done
    UHW_URL=$(grep -Eo 'listening on https?://[^ ]+' "$UHW_LOG" | head -1 | sed 's/^listening on //')
    UHW_URL=${UHW_URL%/}
    [ -n "$UHW_URL" ] || { log "$BENCH_NAME: no 'listening on' URL in uhw's log"; return 1; }
}

# Stops uhw (SIGTERM: its graceful stop); fails unless it exits 0.
stop_uhw() {
    local rc=0
    stop_pid "$UHW_PID" || rc=$?
    UHW_PID=
    if [ "$rc" -ne 0 ]; then
        log "$BENCH_NAME: uhw exited with code $rc on SIGTERM (expected 0); its log:"
        tail -n 30 "$UHW_LOG" >&2
        return 1
    fi
}

# ------------------------------------------------------------------ memory

# VmHWM is the peak RSS since start unless reset: writing 5 to clear_refs resets it, so
# each measurement reports its own peak. Where that is refused, it is the peak so far.
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
peak_rss_kb() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null; }
mib() { awk -v kb="${1:-0}" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; }

# ------------------------------------------------------------------ wrk

# Runs wrk in the background and polls for it rather than running it in the foreground:
# bash defers a trapped signal (Ctrl-C) until a foreground child exits, and a polled wrk
# is bounded (a wedged server must not hang the bench) and stopped by PID.
run_wrk() { # OUTFILE WRK_ARGS...
    local out=$1 deadline rc=0
    shift
    wrk "$@" >"$out" 2>&1 &
    WRK_PID=$!
    deadline=$((SECONDS + 30 + WRK_MAX_SECONDS))
    while alive "$WRK_PID"; do
        if ((SECONDS >= deadline)); then
            log "$BENCH_NAME: wrk still running 30 s after its duration: SIGKILL"
            kill -KILL "$WRK_PID" 2>/dev/null || true
        fi
        sleep 0.1
    done
    wait "$WRK_PID" || rc=$?
    WRK_PID=
    return "$rc"
}
WRK_MAX_SECONDS=10                   # the longest -d the callers pass

# The one parser of wrk's output. wrk prints "Socket errors: ..." and "Non-2xx or 3xx
# responses: N" only when non-zero; latencies carry their unit (us, ms, s).
wrk_field() { # FILE rps|p99|p99_ms|requests|non2xx|sockerr
    case $2 in
    rps) awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' "$1" ;;
    p99) awk '$1 == "99%" { print $2 }' "$1" ;;
    p99_ms) awk '$1 == "99%" { v = $2; u = v; sub(/^[0-9.]+/, "", u); v += 0
                              m = u == "us" ? v / 1000 : u == "ms" ? v : u == "s" ? v * 1000 : u == "m" ? v * 60000 : -1
                              printf "%.3f\n", m }' "$1" ;;
    requests) awk '/ requests in / { print $1 }' "$1" ;;
    non2xx) awk -F': *' '/Non-2xx or 3xx responses/ { n = $2 } END { print n + 0 }' "$1" ;;
    sockerr) # connect/read/write/timeout
        awk '/Socket errors:/ { gsub(/,/, ""); c = $4; r = $6; w = $8; t = $10 }
             END { printf "%d/%d/%d/%d\n", c, r, w, t }' "$1" ;;
    esac
}
