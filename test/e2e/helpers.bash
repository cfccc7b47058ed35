# Shared by the end-to-end tests: start a real `uhw serve` on an ephemeral port,
# talk to it with curl, stop it by PID, and check that no process is left behind.
#
#   write_config NAME <<'EOF' ... EOF   writes $BATS_TEST_TMPDIR/NAME.yaml; @BUILD@, @REPO@, @TMP@, @TAG@
#                                       are replaced
#   uhw_start CONFIG                    starts the server, waits until it is ready; sets UHW_PID, URL, SOCK, LOG.
#                                       The server (and so every worker) carries UHW_TEST_TAG=$TAG in its
#                                       environment, which is how leftover processes are found.
#   uhw_stop                            SIGTERM, waits for exit, sets UHW_RC
#   assert_no_workers                   no process carrying this test's tag is alive

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${UHW_BUILD:?run the tests through make test (UHW_BUILD names the build directory)}"
REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
UHW="$UHW_BUILD/uhw"
WORKERS="$UHW_BUILD/workers"
# Generous bounds: tests check behaviour, and must not fail because the machine (or ASan) is slow.
START_TIMEOUT=${START_TIMEOUT:-40}

# Sanitizer builds: ASan keeps freed memory in a quarantine (256 MiB by default) to catch
# use-after-free; that would dwarf uhw's own memory in the RSS assertions, so keep it small.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:quarantine_size_mb=16}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

TAG="uhwtest-$$-${BATS_TEST_NUMBER:-0}-$RANDOM"

write_config() {
    local name=$1
    local file="$BATS_TEST_TMPDIR/$name.yaml"
    # As root (CI), uhw refuses pools that don't say which user their workers run as: give
    # each pool `user: root` right after its name, unless the test wants the file as written
    # (NO_USER_LINE=1, e.g. to check line numbers or that very refusal).
    local as_root=()
    if [ "$(id -u)" -eq 0 ] && [ -z "${NO_USER_LINE:-}" ]; then
        as_root=(-e '/^  - name: /a\    user: root')
    fi
    sed -e "s|@BUILD@|$UHW_BUILD|g" -e "s|@REPO@|$REPO|g" -e "s|@TMP@|$BATS_TEST_TMPDIR|g" \
        -e "s|@TAG@|$TAG|g" "${as_root[@]}" >"$file"
    echo "$file"
}

# Waits until FILE contains PATTERN (grep -E) or the server exited; 0 if found.
wait_for_log() {
    local pattern=$1 file=${2:-$BATS_TEST_TMPDIR/uhw.log} timeout=${3:-$START_TIMEOUT}
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        grep -Eq -- "$pattern" "$file" 2>/dev/null && return 0
        if [ -n "${UHW_PID:-}" ] && ! kill -0 "$UHW_PID" 2>/dev/null; then
            grep -Eq -- "$pattern" "$file" 2>/dev/null && return 0
            return 1
        fi
        sleep 0.05
    done
    return 1
}

uhw_start() {
    local config=$1
    LOG="$BATS_TEST_TMPDIR/uhw.log"
    : >"$LOG"
    UHW_TEST_TAG=$TAG "$UHW" serve "$config" 2>"$LOG" &
    UHW_PID=$!
    if ! wait_for_log 'ready in [0-9]+ ms'; then
        echo "uhw did not become ready; its log:" >&2
        cat "$LOG" >&2
        return 1
    fi
    URL=$(grep -Eo 'listening on https?://[^ ]+' "$LOG" | head -1 | sed 's/^listening on //')
    SOCK=$(grep -Eo 'control socket [^)]+' "$LOG" | head -1 | sed 's/^control socket //')
    export URL SOCK LOG UHW_PID
}

# Stops the server with SIGTERM and waits (bounded) for it; sets UHW_RC.
uhw_stop() {
    [ -n "${UHW_PID:-}" ] || return 0
    kill -TERM "$UHW_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$UHW_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    if kill -0 "$UHW_PID" 2>/dev/null; then
        echo "uhw did not exit within 60 s of SIGTERM" >&2
        kill -KILL "$UHW_PID" 2>/dev/null || true
    fi
    wait "$UHW_PID" 2>/dev/null
    UHW_RC=$?
    UHW_PID=
}

# PIDs of live processes started for this test (found by the tag in their environment).
tagged_pids() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        if tr "\\0" "\\n" 2>/dev/null <"$p/environ" | grep -qx "UHW_TEST_TAG=$TAG"; then
            # zombies are not processes left behind if their parent is gone; they are if it isn't
            echo "${p#/proc/}"
        fi
    done
}

assert_no_workers() {
    local deadline=$((SECONDS + 10)) left
    while ((SECONDS < deadline)); do
        left=$(tagged_pids)
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    echo "processes left behind: $left" >&2
    ps -o pid,ppid,stat,args -p $(echo $left | tr ' ' ',') >&2 || true
    return 1
}

# Default teardown: never leave a server or a worker behind, whatever the test did.
uhw_teardown() {
    if [ -n "${UHW_PID:-}" ] && kill -0 "$UHW_PID" 2>/dev/null; then
        kill -KILL "$UHW_PID" 2>/dev/null || true
        wait "$UHW_PID" 2>/dev/null || true
    fi
    local p
    for p in $(tagged_pids); do kill -KILL "$p" 2>/dev/null || true; done
}

teardown() {
    uhw_teardown
}

# curl with bounded time; extra args pass through.
hc() {
    curl -sS --max-time 30 "$@"
}

# Polls `uhw status` until its compact JSON matches PATTERN (grep -E); bounded.
wait_until_status() {
    local pattern=$1 deadline=$((SECONDS + ${2:-30}))
    while ((SECONDS < deadline)); do
        "$UHW" status -s "$SOCK" --compact 2>/dev/null | grep -Eq -- "$pattern" && return 0
        sleep 0.05
    done
    echo "status never matched $pattern; last status:" >&2
    "$UHW" status -s "$SOCK" --compact >&2
    return 1
}
