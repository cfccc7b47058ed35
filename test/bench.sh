#!/usr/bin/env bash
# bench.sh — `make bench`: uhw against its peers, in one run, on loopback, in about a minute.
#
# Every server answers GET with 200 "hello\n" from 2 worker processes and gets the same
# load: a 1 s wrk warm-up, then wrk -t1 -c32 -d5s --timeout 10s --latency, keep-alive.
# One function per row; each starts its server(s) on a free 127.0.0.1 port, measures, and
# stops them by PID.
#
#   h2o in-process handler   build/bench/h2o-hello: libh2o-evloop answering itself, one
#                            event loop — the limit for anything built on h2o, uhw included
#   nginx + FastCGI          nginx-light in front of build/bench/fcgi-hello (libfcgi) x2,
#                            started by spawn-fcgi -F 2
#   nginx + fcgiwrap         the same nginx, fcgiwrap x2 (spawn-fcgi -F 2) running
#                            test/bench/hello.cgi: a fork and exec per request
#   uhw, C workers           build/workers/hello x2, pool concurrency 64 (hello never blocks)
#   uhw, shell workers       workers/examples/hello.sh x2 (uhw recv / uhw reply)
#   gunicorn                 test/bench/app.py (Flask), 2 sync workers, Debian's gunicorn
#   uhw, Python workers      the same app under `python3 -m uhw.wsgi app:app` x2
#                            (skipped until build/python/uhw/wsgi.py exists)
#   uhw cgi                  test/bench/hello.cgi under `uhw cgi -c 8` x2
#                            (skipped until `uhw help cgi` succeeds)
#   256 MiB stream           one curl: a static file from Debian's h2o (1 thread) against
#                            build/workers/sse /bytes through uhw; best of 3; peak RSS
#
# Prints a Markdown table of the absolute numbers, then the ratios uhw aims for, each with
# its goal and PASS/MISS. The goals are information only: the bench exits non-zero only
# when it cannot run (a server does not start or answer) or uhw misbehaves (dies, does not
# exit 0 on SIGTERM). No timing threshold belongs in `make test`.
#
# Environment: UHW_BUILD (absolute build dir; default <repo>/build),
#              BENCH_DURATION (seconds per measured wrk run, default 5),
#              BENCH_ONLY (row ids to run, e.g. "uhw-c fastcgi"; default all: h2o fastcgi
#              fcgiwrap uhw-c uhw-sh gunicorn uhw-flask uhw-cgi stream-h2o stream-uhw).
set -euo pipefail
BENCH_NAME=bench
# shellcheck source=test/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh"

DURATION=${BENCH_DURATION:-5}
BENCH_ONLY=${BENCH_ONLY:-}
WARMUP=1                             # seconds of wrk before each measured run
THREADS=1
CONNS=32
# wrk leaves a response slower than its --timeout (default 2 s) out of the latency
# figures and counts it as a socket error: with the fork-per-request peers that would
# hide the very tail p99 is for. Same value for every server.
WRK_TIMEOUT=10s
WORKERS=2                            # worker processes behind every server
UHW_C_CONCURRENCY=64                 # requests in flight per C worker (hello announces 64)
WRK_MAX_SECONDS=$DURATION
STREAM_SIZE=268435456                # 256 MiB
STREAM_RUNS=3                        # best of N, one download at a time

# Results, by row id. STATUS is "ok", "skipped: why" or "failed: why".
declare -A STATUS RPS P99 P99_MS NON2XX SOCKERR NOTE GBPS PEAK
FAILED=0

# ------------------------------------------------------------------ measuring

# Checks that URL answers "hello", warms up, measures; fills RPS, P99... for ID.
measure() { # ID URL PID LOGFILE
    local id=$1 url=$2 pid=$3 logf=$4 out=$TMP/wrk-$1.txt
    wait_hello "$url" "$pid" "$logf" || return 1
    log "$id: wrk -t$THREADS -c$CONNS -d${DURATION}s --timeout $WRK_TIMEOUT --latency $url (after a ${WARMUP}s warm-up)"
    run_wrk "$TMP/warmup-$id.txt" -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" "$url" || true
    if ! run_wrk "$out" -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" --latency "$url"; then
        cat "$out" >&2
        return 1
    fi
    alive "$pid" || { log "$id: the server died during the run"; tail -n 20 "$logf" >&2; return 1; }
    # No request at all is not a measurement: show what wrk and the server said.
    if [ "$(wrk_field "$out" requests)" = 0 ]; then
        log "$id: wrk completed no request in ${DURATION}s; its output, then the server's log:"
        cat "$out" >&2
        tail -n 20 "$logf" >&2
        return 1
    fi
    RPS[$id]=$(wrk_field "$out" rps)
    P99[$id]=$(wrk_field "$out" p99)
    P99_MS[$id]=$(wrk_field "$out" p99_ms)
    NON2XX[$id]=$(wrk_field "$out" non2xx)
    SOCKERR[$id]=$(wrk_field "$out" sockerr)
    [ -n "${RPS[$id]}" ] || { cat "$out" >&2; return 1; }
    log "$id: ${RPS[$id]} req/s, p99 ${P99[$id]}, non-2xx ${NON2XX[$id]}, socket errors ${SOCKERR[$id]}"
}

# Measures a uhw pool: like measure, plus uhw's peak RSS during the run in NOTE.
measure_uhw() { # ID
    reset_peak_rss "$UHW_PID"
    measure "$1" "$UHW_URL/" "$UHW_PID" "$UHW_LOG" || return 1
    NOTE[$1]="${NOTE[$1]:-}uhw peak RSS $(mib "$(peak_rss_kb "$UHW_PID")")"
}

# Runs the row function FN for ID, unless SKIP (a reason) is given; records the outcome.
row() { # ID FN [SKIP_REASON]
    local id=$1 fn=$2 skip=${3:-}
    case " ${BENCH_ONLY//,/ } " in "  " | *" $id "*) ;; *) return 0 ;; esac
    if [ -n "$skip" ]; then
        STATUS[$id]="skipped: $skip"
        log "$id: skipped ($skip)"
    elif "$fn" "$id"; then
        STATUS[$id]=ok
    else
        STATUS[$id]="failed: see the log above"
        FAILED=1
    fi
}

# ------------------------------------------------------------------ peers

# nginx-light with one server on 127.0.0.1:PORT whose location / passes every request to
# the FastCGI UNIX socket SOCK; extra `fastcgi_param` lines come as further arguments.
# Sets NGINX_PID and NGINX_LOG.
start_nginx() { # NAME PORT SOCK [DIRECTIVE...]
    local name=$1 port=$2 sock=$3 d
    shift 3
    local dir=$TMP/nginx-$name
    mkdir -p "$dir"
    {
        echo "# written by test/bench.sh"
        # One worker process: uhw's front end is one event loop (h2o) on one core, so nginx
        # gets one event loop too, in front of the same two worker processes. This machine
        # has two cores; wrk and the workers use the other one, and a second nginx worker
        # would only compete with them for it.
        echo "worker_processes 1;"
        echo "pid $dir/nginx.pid;"
        echo "env UHW_BENCH_TAG;         # kept for the workers, so cleanup can find them"
        [ "$(id -u)" -eq 0 ] && echo "user root;          # the temp dir is 0700, like uhw's pools run here"
        echo "events { worker_connections 1024; }"
        echo "http {"
        echo "    access_log off;                # uhw logs no access either (access_log: null)"
        # The default (1000) would make wrk reconnect during the run; uhw and h2o never do.
        echo "    keepalive_requests 1000000;"
        echo "    client_body_temp_path $dir/body;"
        echo "    fastcgi_temp_path $dir/fastcgi;"
        echo "    proxy_temp_path $dir/proxy;"
        echo "    uwsgi_temp_path $dir/uwsgi;"
        echo "    scgi_temp_path $dir/scgi;"
        echo "    server {"
        echo "        listen 127.0.0.1:$port;"
        echo "        location / {"
        echo "            include /etc/nginx/fastcgi_params;"
        for d in "$@"; do echo "            $d"; done
        # No fastcgi_keep_conn: a libfcgi responder serves one connection at a time, so a
        # kept connection would hold it while the other clients' connections wait. A new
        # UNIX-socket connection per request is how nginx runs FastCGI pools by default.
        echo "            fastcgi_pass unix:$sock;"
        echo "        }"
        echo "    }"
        echo "}"
    } >"$dir/nginx.conf"
    NGINX_LOG=$dir/error.log
    start_server "$dir/stderr.log" nginx -p "$dir" -e "$NGINX_LOG" -c "$dir/nginx.conf" -g 'daemon off;'
    NGINX_PID=$SERVER_PID
}

row_h2o_inprocess() { # ID
    local id=$1 port rc=0
    port=$(free_port) || return 1
    start_server "$TMP/h2o-hello.log" "$BENCH_BIN/h2o-hello" "$port"
    local pid=$SERVER_PID
    NOTE[$id]="no worker processes: the handler runs in the event loop"
    measure "$id" "http://127.0.0.1:$port/" "$pid" "$TMP/h2o-hello.log" || rc=1
    stop_pid "$pid" || rc=1
    return "$rc"
}

row_nginx_fastcgi() { # ID
    local id=$1 port rc=0 sock=$TMP/fcgi-hello.sock
    port=$(free_port) || return 1
    start_spawn_fcgi "$WORKERS" "$sock" "$TMP/spawn-fcgi-hello.log" "$BENCH_BIN/fcgi-hello" || return 1
    local workers=("${SPAWNED_PIDS[@]}")
    start_nginx fastcgi "$port" "$sock"
    NOTE[$id]="1 nginx worker; a new UNIX-socket connection per request"
    measure "$id" "http://127.0.0.1:$port/" "$NGINX_PID" "$NGINX_LOG" || rc=1
    stop_pid "$NGINX_PID" || rc=1
    stop_pids "${workers[@]}" || rc=1
    return "$rc"
}

row_nginx_fcgiwrap() { # ID
    local id=$1 port rc=0 sock=$TMP/fcgiwrap.sock
    port=$(free_port) || return 1
    start_spawn_fcgi "$WORKERS" "$sock" "$TMP/spawn-fcgiwrap.log" /usr/sbin/fcgiwrap || return 1
    local workers=("${SPAWNED_PIDS[@]}")
    start_nginx fcgiwrap "$port" "$sock" "fastcgi_param SCRIPT_FILENAME $BENCH_SRC/hello.cgi;"
    NOTE[$id]="1 nginx worker; test/bench/hello.cgi, fork+exec per request"
    measure "$id" "http://127.0.0.1:$port/" "$NGINX_PID" "$NGINX_LOG" || rc=1
    stop_pid "$NGINX_PID" || rc=1
    stop_pids "${workers[@]}" || rc=1
    return "$rc"
}

row_gunicorn() { # ID
    local id=$1 port rc=0
    port=$(free_port) || return 1
    # Debian's gunicorn, run by Debian's Python (the one with flask). No .pyc files written
    # into the source tree.
    start_server "$TMP/gunicorn.log" env PYTHONDONTWRITEBYTECODE=1 "$PY" -m gunicorn \
        --workers "$WORKERS" --worker-class sync --bind "127.0.0.1:$port" --chdir "$BENCH_SRC" app:app
    local pid=$SERVER_PID
    # gunicorn's sync workers do not keep connections alive (documented): wrk reconnects
    # for every request. That is the server as shipped, not a setting to tune here.
    NOTE[$id]="sync workers close every connection (no keep-alive)"
    measure "$id" "http://127.0.0.1:$port/" "$pid" "$TMP/gunicorn.log" || rc=1
    stop_pid "$pid" || rc=1
    return "$rc"
}

# ------------------------------------------------------------------ uhw

row_uhw_c() { # ID
    # hello never blocks and announces a concurrency of 64; the pool's key caps what a worker
    # announces (default 1), so it is set to match. Still 2 single-threaded processes doing
    # the same work as the FastCGI peers: what differs is that uhw's protocol lets a worker
    # take several requests per wake-up, which nginx's FastCGI (one request per connection,
    # no multiplexing) cannot offer libfcgi. The peers keep their settings.
    start_uhw c "$WORKERS" "[$UHW_BUILD/workers/hello]" "concurrency: $UHW_C_CONCURRENCY" || return 1
    local rc=0
    NOTE[$1]="pool concurrency $UHW_C_CONCURRENCY; "
    measure_uhw "$1" || rc=1
    stop_uhw || rc=1
    return "$rc"
}

row_uhw_sh() { # ID
    start_uhw sh "$WORKERS" "[$REPO/workers/examples/hello.sh]" || return 1
    local rc=0
    measure_uhw "$1" || rc=1
    stop_uhw || rc=1
    return "$rc"
}

row_uhw_flask() { # ID
    start_uhw flask "$WORKERS" "[$PY, -m, uhw.wsgi, 'app:app']" "cwd: $BENCH_SRC" \
        "env: {PYTHONDONTWRITEBYTECODE: '1'}" || return 1
    local rc=0
    measure_uhw "$1" || rc=1
    stop_uhw || rc=1
    return "$rc"
}

row_uhw_cgi() { # ID
    # The pool's concurrency caps the worker's: both 8, as `uhw help cgi` says.
    start_uhw cgi "$WORKERS" "[$UHW, cgi, -c, 8, $BENCH_SRC/hello.cgi]" "concurrency: 8" || return 1
    local rc=0
    NOTE[$1]="up to 8 scripts at once per worker; "
    measure_uhw "$1" || rc=1
    stop_uhw || rc=1
    return "$rc"
}

# Why a row cannot run yet (empty when it can): parts other engineers are writing.
skip_uhw_flask() {
    [ -f "$UHW_BUILD/python/uhw/wsgi.py" ] || echo "no $UHW_BUILD/python/uhw/wsgi.py yet (uhw.wsgi is being written)"
}
skip_uhw_cgi() {
    "$UHW" help cgi >/dev/null 2>&1 || echo "\`uhw help cgi\` fails: \`uhw cgi\` is not in this build yet"
}

# ------------------------------------------------------------------ streaming

# Prints GB/s (10^9 bytes/s) of one complete 200 download of URL, or fails.
gbps_once() { # URL
    local out code size secs
    out=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$1") || return 1
    read -r code size secs <<<"$out"
    if [ "$code" != 200 ] || [ "$size" != "$STREAM_SIZE" ]; then
        log "  $1: HTTP $code, $size bytes (expected 200, $STREAM_SIZE)"
        return 1
    fi
    awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.2f\n", (s > 0 ? b / s / 1e9 : 0) }'
}

# Best GB/s of STREAM_RUNS downloads of URL; the first also warms the page cache.
best_gbps() { # URL
    local i best=0 r
    for ((i = 0; i < STREAM_RUNS; i++)); do
        r=$(gbps_once "$1") || return 1
        best=$(awk -v r="$r" -v b="$best" 'BEGIN { printf "%.2f\n", (r + 0 > b + 0 ? r : b) }')
    done
    echo "$best"
}

# 256 MiB as a file served by Debian's h2o (its file handler, one thread).
row_stream_h2o() { # ID
    local id=$1 port rc=0 dir=$TMP/h2o-static
    mkdir -p "$dir/files"
    # Real bytes, not a sparse file, so h2o reads what it would read in production.
    head -c "$STREAM_SIZE" /dev/zero >"$dir/files/big.bin" || return 1
    echo hello >"$dir/files/hello.txt"
    port=$(free_port) || return 1
    {
        echo "# written by test/bench.sh"
        echo "listen: {host: 127.0.0.1, port: $port}"
        echo "num-threads: 1                 # one event loop, like uhw"
        # As root h2o switches to nobody, who cannot read the 0700 temp dir.
        [ "$(id -u)" -eq 0 ] && echo "user: root"
        echo "error-log: $dir/error.log"
        echo "hosts: {default: {paths: {/: {file.dir: $dir/files}}}}"
    } >"$dir/h2o.conf"
    start_server "$dir/stderr.log" h2o -c "$dir/h2o.conf"
    local pid=$SERVER_PID
    if wait_hello "http://127.0.0.1:$port/hello.txt" "$pid" "$dir/stderr.log"; then
        reset_peak_rss "$pid"
        log "$id: best of $STREAM_RUNS downloads of 256 MiB from h2o's file handler"
        GBPS[$id]=$(best_gbps "http://127.0.0.1:$port/big.bin") || rc=1
        PEAK[$id]="h2o $(mib "$(peak_rss_kb "$pid")")"
    else
        rc=1
    fi
    stop_pid "$pid" || rc=1
    rm -f "$dir/files/big.bin"
    return "$rc"
}

# 256 MiB streamed by build/workers/sse through uhw (StreamStart, StreamData..., StreamEnd).
row_stream_uhw() { # ID
    local id=$1 rc=0
    start_uhw sse "$WORKERS" "[$UHW_BUILD/workers/sse]" || return 1
    reset_peak_rss "$UHW_PID"
    log "$id: best of $STREAM_RUNS downloads of 256 MiB streamed by build/workers/sse through uhw"
    GBPS[$id]=$(best_gbps "$UHW_URL/bytes?size=$STREAM_SIZE") || rc=1
    PEAK[$id]="uhw $(mib "$(peak_rss_kb "$UHW_PID")")"
    PEAK_KB_UHW_STREAM=$(peak_rss_kb "$UHW_PID")
    alive "$UHW_PID" || { log "$id: uhw died"; rc=1; }
    stop_uhw || rc=1
    return "$rc"
}
PEAK_KB_UHW_STREAM=

# ------------------------------------------------------------------ report

# "3.21" = A / B, or empty when either is missing or B is zero.
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a != "" && b != "" && b + 0 > 0) printf "%.2f\n", a / b }'; }
# True when A >= B (numbers).
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

# Warns when a row's requests were not all answered 2xx: a fast error is not a result.
errors_of() { # ID...
    local id w=
    for id in "$@"; do
        [ "${NON2XX[$id]:-0}" = 0 ] && [ "${SOCKERR[$id]:-0/0/0/0}" = 0/0/0/0 ] && continue
        w="$w; $id had non-2xx ${NON2XX[$id]}, socket errors ${SOCKERR[$id]}"
    done
    echo "$w"
}

# One ratio row: uhw row A over peer row B in METRIC (RPS or GBPS), its goal, PASS/MISS.
# CHECK is a function name deciding pass from the ratio (extra conditions like p99 inside).
RATIO_ROWS=()
ratio_row() { # LABEL METRIC A B GOAL_TEXT CHECK
    local label=$1 key=$2 a=$3 b=$4 goal=$5 check=$6 r value result
    if [ "${STATUS[$a]:-}" != ok ] || [ "${STATUS[$b]:-}" != ok ]; then
        [ "${STATUS[$a]:-}" != ok ] && value="n/a: $a ${STATUS[$a]:-not run}" || value="n/a: $b ${STATUS[$b]:-not run}"
        RATIO_ROWS+=("| $label | $value | $goal | — |")
        return 0
    fi
    local -n vals=$key
    r=$(ratio "${vals[$a]}" "${vals[$b]}")
    value="${r}×"
    if [ "$key" = RPS ]; then value="$value req/s; p99 ${P99[$a]} vs ${P99[$b]}"; fi
    if "$check" "$r" "$a" "$b"; then result=PASS; else result=MISS; fi
    local warn
    warn=$(errors_of "$a" "$b")
    [ -n "$warn" ] && result="$result (${warn#; })"
    RATIO_ROWS+=("| $label | $value | $goal | $result |")
}

check_sh_vs_fcgiwrap() { ge "$1" 3 && lt "${P99_MS[$2]}" "${P99_MS[$3]}"; }
check_c_vs_h2o() { ge "$1" 0.5; }
check_c_vs_fastcgi() { ge "$1" 3 && ! lt "${P99_MS[$3]}" "${P99_MS[$2]}"; }
check_stream() { ge "$1" 0.7 && lt "${PEAK_KB_UHW_STREAM:-0}" $((64 * 1024)); }
check_1_5() { ge "$1" 1.5; }

declare -A LABEL=(
    [h2o]="h2o in-process handler (libh2o-evloop, 1 event loop; the limit for anything built on h2o)"
    [fastcgi]="nginx + FastCGI, 2 persistent C workers (libfcgi, spawn-fcgi -F 2)"
    [fcgiwrap]="nginx + fcgiwrap + a shell CGI script (fork per request; spawn-fcgi -F 2)"
    [uhw-c]="uhw, 2 C workers (build/workers/hello, concurrency 64)"
    [uhw-sh]="uhw, 2 shell workers (workers/examples/hello.sh)"
    [gunicorn]="gunicorn, 2 sync workers, Flask app (test/bench/app.py)"
    [uhw-flask]="uhw, 2 Python workers, the same Flask app (python3 -m uhw.wsgi app:app)"
    [uhw-cgi]="uhw cgi, 2 workers, the same CGI script (uhw cgi -c 8 hello.cgi)"
    [stream-h2o]="h2o static file (Debian's h2o, 1 thread)"
    [stream-uhw]="uhw stream (build/workers/sse /bytes)"
)

print_report() {
    local rev id load_end
    rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$REPO" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
    load_end=$(cut -d' ' -f1-3 /proc/loadavg)
    echo
    echo "### uhw bench — $(date -u +%Y-%m-%dT%H:%MZ), $rev, $(nproc) cores, loopback"
    echo
    echo "Load average (1/5/15 min) at start $LOAD_START, at end $load_end. Took $((SECONDS - T0)) s."
    echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --timeout $WRK_TIMEOUT --latency after a ${WARMUP}s warm-up, keep-alive; every server"
    echo "answers GET with 200 \"hello\\n\" from $WORKERS worker processes."
    echo
    echo "| server | req/s | p99 | non-2xx | socket errors c/r/w/t | notes |"
    echo "|---|---:|---:|---:|---:|---|"
    for id in h2o fastcgi fcgiwrap uhw-c uhw-sh gunicorn uhw-flask uhw-cgi; do
        [ -n "${STATUS[$id]:-}" ] || continue
        if [ "${STATUS[$id]}" = ok ]; then
            echo "| ${LABEL[$id]} | ${RPS[$id]} | ${P99[$id]} | ${NON2XX[$id]} | ${SOCKERR[$id]} | ${NOTE[$id]:-} |"
        else
            echo "| ${LABEL[$id]} | — | — | — | — | ${STATUS[$id]} |"
        fi
    done
    echo
    echo "| 256 MiB, one client (curl), best of $STREAM_RUNS | GB/s | peak RSS |"
    echo "|---|---:|---:|"
    for id in stream-h2o stream-uhw; do
        if [ "${STATUS[$id]:-}" = ok ]; then
            echo "| ${LABEL[$id]} | ${GBPS[$id]} | ${PEAK[$id]} |"
        else
            echo "| ${LABEL[$id]} | — | ${STATUS[$id]:-not run} |"
        fi
    done
    echo
    ratio_row "uhw shell (hello.sh) / nginx + fcgiwrap" RPS uhw-sh fcgiwrap "≥ 3×, p99 below fcgiwrap's" check_sh_vs_fcgiwrap
    ratio_row "uhw C (hello) / h2o in-process" RPS uhw-c h2o "≥ 0.5×" check_c_vs_h2o
    ratio_row "uhw C (hello) / nginx + FastCGI" RPS uhw-c fastcgi "≥ 3×, p99 ≤ FastCGI's" check_c_vs_fastcgi
    ratio_row "uhw stream / h2o static file" GBPS stream-uhw stream-h2o "≥ 0.7×, uhw peak RSS < 64 MiB" check_stream
    ratio_row "uhw Flask (uhw.wsgi) / gunicorn sync" RPS uhw-flask gunicorn "≥ 1.5×" check_1_5
    ratio_row "uhw cgi / nginx + fcgiwrap" RPS uhw-cgi fcgiwrap "≥ 1.5×" check_1_5
    echo "| ratio | value | goal | result |"
    echo "|---|---|---|---|"
    printf '%s\n' "${RATIO_ROWS[@]}"
    echo
    echo "Goals are information only: a MISS does not fail the bench."
}

# ------------------------------------------------------------------ main

preflight() {
    local f
    for f in "$UHW" "$UHW_BUILD/workers/hello" "$UHW_BUILD/workers/sse" "$REPO/workers/examples/hello.sh" \
        "$BENCH_BIN/h2o-hello" "$BENCH_BIN/fcgi-hello" "$BENCH_SRC/hello.cgi"; do
        [ -x "$f" ] || die "$f is missing or not executable (run make bench, which builds it)"
    done
    for f in wrk curl nginx spawn-fcgi /usr/sbin/fcgiwrap h2o "$PY"; do
        command -v "$f" >/dev/null || die "$f is not installed (make deps-bench installs it)"
    done
    "$PY" -c 'import flask, gunicorn' 2>/dev/null || die "$PY lacks flask or gunicorn (python3-flask, gunicorn)"
}

main() {
    T0=$SECONDS
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    preflight
    row h2o row_h2o_inprocess
    row fastcgi row_nginx_fastcgi
    row fcgiwrap row_nginx_fcgiwrap
    row uhw-c row_uhw_c
    row uhw-sh row_uhw_sh
    row gunicorn row_gunicorn
    row uhw-flask row_uhw_flask "$(skip_uhw_flask)"
    row uhw-cgi row_uhw_cgi "$(skip_uhw_cgi)"
    row stream-h2o row_stream_h2o
    row stream-uhw row_stream_uhw
    print_report
    return "$FAILED"
}

main "$@"
