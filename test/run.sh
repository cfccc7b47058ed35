#!/usr/bin/env bash
# Runs the unit tests (cmocka, TAP output) and the end-to-end tests (bats, TAP),
# shows their output, and ends with one line: "N passed, N failed".
# Environment: UHW_BUILD (build dir, absolute), UHW_ONLY=unit|e2e|suites, UHW_BATS (bats files),
# UHW_UNIT_ALSO (more build dirs, absolute, whose unit tests run too: make test's clang build).
# Suites in other languages (Python, Node...) are test/suites/NAME.sh, each printing TAP.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${UHW_BUILD:?UHW_BUILD must name the build directory}"
export UHW_BUILD
# Sanitizer builds: leaks inside third-party libraries are listed (with reasons) in lsan.supp.
# print_suppressions=0: a clean exit writes nothing to stderr, which tests read as uhw's log.
export LSAN_OPTIONS="suppressions=$PWD/test/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
passed=0 failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

count() { # reads TAP on stdin, echoes it, adds to the totals
    while IFS= read -r line; do
        printf '%s\n' "$line"
        case "$line" in
            "not ok "*) failed=$((failed + 1)) ;;
            "ok "*) passed=$((passed + 1)) ;;
        esac
    done
}

if [ -z "${UHW_ONLY:-}" ] || [ "${UHW_ONLY:-}" = unit ]; then
    for dir in "$UHW_BUILD" ${UHW_UNIT_ALSO:-}; do
        label=; [ "$dir" = "$UHW_BUILD" ] || label=" ($(basename "$dir"))"
        for t in "$dir"/tests/test_*; do
            [ -x "$t" ] || continue
            echo "# unit: $(basename "$t")$label"
            CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
            rc=$?
            count <"$log"
            # A crash before cmocka prints its plan must still count as a failure.
            if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; then
                echo "not ok - $(basename "$t")$label exited with status $rc"; failed=$((failed + 1))
            fi
        done
    done
fi

if [ -z "${UHW_ONLY:-}" ] || [ "${UHW_ONLY:-}" = suites ]; then
    for s in test/suites/*.sh; do
        [ -f "$s" ] || continue
        echo "# suite: $(basename "$s" .sh)"
        bash "$s" >"$log" 2>&1
        rc=$?
        count <"$log"
        if [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; then
            echo "not ok - suite $(basename "$s" .sh) exited with status $rc"; failed=$((failed + 1))
        fi
    done
fi

if [ "${UHW_ONLY:-}" != unit ] && [ "${UHW_ONLY:-}" != suites ]; then
    files=${UHW_BATS:-test/e2e/*.bats}
    # shellcheck disable=SC2086
    if ls $files >/dev/null 2>&1; then
        # Streamed, so a slow suite shows progress as it goes.
        count < <(bats --tap $files 2>&1)
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
