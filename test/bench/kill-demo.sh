#!/usr/bin/env bash
# kill-demo.sh — `make bench-kill-demo`: SIGKILL the worker serving a slow request, once
# under gunicorn and once under uhw, and print what the client saw in each case.
#
#   gunicorn   test/bench/app.py, 2 sync workers; the worker is the one holding the
#              client's connection (ss -tnp), a child of the gunicorn master
#   uhw        the same app under `python3 -m uhw.wsgi app:app`, 2 workers (until
#              build/python/uhw/wsgi.py exists: build/workers/crash, whose /slow?ms=N
#              sleeps the same way); the worker is the one with a request in flight in
#              `uhw status`
#
# Each client is curl; the output is curl's own error or the HTTP status and body, then
# for uhw the victims.jsonl record. Loopback only, about 10 s; everything started is
# stopped by PID (test/bench/lib.sh). Exits non-zero only when the demo cannot run.
#
# Environment: UHW_BUILD (absolute build dir; default <repo>/build).
set -euo pipefail
BENCH_NAME=kill-demo
# shellcheck source=test/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLOW_S=10                            # the slow request's length; the kill comes after ~1 s
KILL_AFTER=1
CLIENT_PID=

# Starts curl GET URL in the background, its output (body, then "HTTP nnn", or its error)
# to OUTFILE; sets CLIENT_PID.
start_client() { # URL OUTFILE
    curl -sS --max-time $((SLOW_S + 20)) -w '\nHTTP %{http_code}\n' "$1" >"$2" 2>&1 &
    CLIENT_PID=$!
    STARTED+=("$CLIENT_PID")
}

# Waits for the client (curl bounds itself) and prints what it saw, indented.
client_result() { # OUTFILE
    local rc=0
    wait "$CLIENT_PID" || rc=$?
    forget_pid "$CLIENT_PID"
    sed 's/^/    /' "$1"
    echo "    (curl exit code $rc)"
}

# Polls (up to 5 s) for the PID of the process holding an established TCP connection on
# local port PORT: the server process serving our client.
serving_pid() { # PORT
    local i pid
    for ((i = 0; i < 100; i++)); do
        pid=$(ss -Htnp state established "( sport = :$1 )" 2>/dev/null |
            grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
        [ -n "$pid" ] && { echo "$pid"; return 0; }
        sleep 0.05
    done
    return 1
}

# Polls (up to 5 s) uhw's status for the worker with a request in flight; prints its PID.
busy_uhw_worker() {
    local i pid
    for ((i = 0; i < 100; i++)); do
        pid=$("$UHW" status -s "$UHW_SOCK" 2>/dev/null | "$PY" -c '
import json, sys
for pool in json.load(sys.stdin)["pools"]:
    for w in pool["workers"]:
        if w.get("in_flight") and w.get("pid"):
            print(w["pid"])
            sys.exit(0)
') && [ -n "$pid" ] && { echo "$pid"; return 0; }
        sleep 0.05
    done
    return 1
}

demo_gunicorn() {
    local port pid master out=$TMP/client-gunicorn.txt
    port=$(free_port)
    start_server "$TMP/gunicorn.log" env PYTHONDONTWRITEBYTECODE=1 "$PY" -m gunicorn \
        --workers 2 --worker-class sync --bind "127.0.0.1:$port" --chdir "$BENCH_SRC" app:app
    master=$SERVER_PID
    wait_hello "http://127.0.0.1:$port/" "$master" "$TMP/gunicorn.log" || return 1
    start_client "http://127.0.0.1:$port/slow?s=$SLOW_S" "$out"
    pid=$(serving_pid "$port") || die "no gunicorn worker holds the connection"
    # Only a worker of our own master, never anything else that might hold the port.
    [ "$(awk '{ print $4 }' "/proc/$pid/stat")" = "$master" ] || die "pid $pid is not a worker of gunicorn $master"
    sleep "$KILL_AFTER"
    echo "gunicorn $("$PY" -c "import gunicorn; print(gunicorn.__version__)"), 2 sync workers, GET /slow?s=$SLOW_S;"
    echo "SIGKILL to worker pid $pid (the one holding the connection) after ${KILL_AFTER}s. The client saw:"
    echo
    kill -KILL "$pid"
    client_result "$out"
    echo
    stop_pid "$master" || true
}

demo_uhw() {
    local pid out=$TMP/client-uhw.txt what path
    if [ -f "$UHW_BUILD/python/uhw/wsgi.py" ]; then
        what="2 Python workers, the same Flask app (python3 -m uhw.wsgi app:app)"
        path="/slow?s=$SLOW_S"
        start_uhw demo 2 "[$PY, -m, uhw.wsgi, 'app:app']" "cwd: $BENCH_SRC" \
            "env: {PYTHONDONTWRITEBYTECODE: '1'}" || return 1
    else
        what="2 C workers (build/workers/crash: no build/python/uhw/wsgi.py yet)"
        path="/slow?ms=$((SLOW_S * 1000))"
        start_uhw demo 2 "[$UHW_BUILD/workers/crash]" || return 1
    fi
    start_client "$UHW_URL$path" "$out"
    pid=$(busy_uhw_worker) || die "no uhw worker has the request in flight"
    sleep "$KILL_AFTER"
    echo "uhw, $what, GET $path;"
    echo "SIGKILL to worker pid $pid (in_flight in uhw status) after ${KILL_AFTER}s. The client saw:"
    echo
    kill -KILL "$pid"
    client_result "$out"
    echo
    echo "and victims.jsonl holds:"
    echo
    sed 's/^/    /' "$TMP/victims-demo.jsonl" 2>/dev/null || echo "    (nothing)"
    echo
    stop_uhw
}

main() {
    [ -x "$UHW" ] || die "$UHW is missing (run make)"
    "$PY" -c 'import flask, gunicorn' 2>/dev/null || die "$PY lacks flask or gunicorn (make deps-bench)"
    command -v ss >/dev/null || die "ss is not installed (iproute2)"
    echo "### kill a worker mid-request — $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    demo_gunicorn
    demo_uhw
}

main "$@"
