#!/usr/bin/env bash
# bench_python.sh — `make bench-python`: one Flask "hello" route served by uhw
# (python3 -m uhw.wsgi, 2 workers) and by gunicorn (sync worker class, 2 workers), each
# measured with wrk -t1 -c32 on loopback, RUNS times, alternating. Prints requests/s of
# every run and a Markdown row with the medians and their ratio. Bounded in time
# (~RUNS × 2 × DURATION s); leaves nothing behind.
#
# Environment: UHW_BUILD (absolute build dir; default <repo>/build), BENCH_DURATION (s per
# run, default 5), BENCH_RUNS (default 3).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UHW_BUILD=${UHW_BUILD:-$REPO/build}
DURATION=${BENCH_DURATION:-5}
RUNS=${BENCH_RUNS:-3}
WORKERS=2
PY=/usr/bin/python3                      # Debian's: python3-flask, python3-protobuf, gunicorn
TAG="uhwbenchpy-$$-$RANDOM"              # in every process we start, to find them at cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/uhw-bench-python.XXXXXX")
UHW_PID='' GUNI_PID=''

die() { echo "bench-python: $*" >&2; exit 1; }

tagged_pids() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qx "UHW_BENCH_TAG=$TAG" && echo "${p#/proc/}"
    done
    return 0
}

cleanup() {
    local rc=$? p
    for p in $UHW_PID $GUNI_PID; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in $UHW_PID $GUNI_PID; do
        wait "$p" 2>/dev/null || true
    done
    for p in $(tagged_pids); do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until FILE has a line matching PATTERN; prints the first match.
wait_line() {
    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        grep -Eo -m1 -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$1" >&2
    die "no line matching '$2' in $1"
}

{ [ -x "$UHW_BUILD/uhw" ] && [ -f "$UHW_BUILD/python/uhw/wsgi.py" ]; } || die "build first (make)"
command -v wrk >/dev/null || die "wrk is missing (make deps-bench)"
$PY -c 'import flask, gunicorn' 2>/dev/null || die "python3-flask and gunicorn are needed (make deps-bench)"

cat >"$TMP/app.py" <<'EOF'
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello from flask\n"
EOF

{
    echo "listen: [127.0.0.1:0]"
    echo "control: uhw.sock"
    echo "pools:"
    echo "  - name: flask"
    echo "    command: [$PY, -m, uhw.wsgi, app:app]"
    echo "    workers: $WORKERS"
    [ "$(id -u)" -eq 0 ] && echo "    user: root"
} >"$TMP/pools.yaml"

UHW_BENCH_TAG=$TAG "$UHW_BUILD/uhw" serve "$TMP/pools.yaml" 2>"$TMP/uhw.log" &
UHW_PID=$!
UHW_URL=$(wait_line "$TMP/uhw.log" 'listening on http://[^ ]+' | sed 's/^listening on //')

(cd "$TMP" && UHW_BENCH_TAG=$TAG exec $PY -m gunicorn --worker-class sync --workers $WORKERS \
    --bind 127.0.0.1:0 app:app) 2>"$TMP/gunicorn.log" &
GUNI_PID=$!
GUNI_URL=$(wait_line "$TMP/gunicorn.log" 'Listening at: http://[^ ]+' | sed 's/^Listening at: //')
wait_line "$TMP/gunicorn.log" "Booting worker.*" >/dev/null
[ "$(curl -sS --max-time 10 "$UHW_URL/")" = "hello from flask" ] || die "uhw does not answer"
[ "$(curl -sS --max-time 10 "$GUNI_URL/")" = "hello from flask" ] || die "gunicorn does not answer"

# requests/s of one wrk run; refuses a run with errors or non-2xx answers
measure() {
    local out
    out=$(wrk -t1 -c32 -d"${DURATION}s" "$1/")
    if grep -Eq 'Non-2xx|Socket errors: .*(read|write|timeout) [1-9]' <<<"$out"; then
        echo "$out" >&2
        die "errors against $1"
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

declare -a U=() G=()
for ((i = 1; i <= RUNS; i++)); do
    U+=("$(measure "$UHW_URL")")
    G+=("$(measure "$GUNI_URL")")
    echo "run $i: uhw ${U[-1]} req/s, gunicorn ${G[-1]} req/s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mu=$(median "${U[@]}")
mg=$(median "${G[@]}")
echo
echo "| Flask hello, $WORKERS workers, wrk -t1 -c32 -d${DURATION}s | uhw (uhw.wsgi) | gunicorn (sync) | ratio |"
echo "|---|---|---|---|"
printf '| requests/s, median of %d (runs: uhw %s; gunicorn %s) | %.0f | %.0f | %.2f× |\n' "$RUNS" \
    "${U[*]}" "${G[*]}" "$mu" "$mg" "$(awk -v a="$mu" -v b="$mg" 'BEGIN { print a / b }')"
