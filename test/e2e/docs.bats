#!/usr/bin/env bats
# The man pages (doc/*.scd, built by `make` into build/man): each renders with man-db and
# groff without a warning, and each says what it must: uhw(1) every verb and option that
# `uhw help` lists, uhw.yaml(5) every key `uhw check --dump` writes, uhw-protocol(7) every
# message, field number and enum value of proto/uhw.proto. The protocol page's example
# worker is run under uhw.

load helpers

MAN="$UHW_BUILD/man"

# What `man -l` says on stderr while rendering PAGE: groff's warnings, all of them (-ww).
man_warnings() {
    MANWIDTH=80 man --warnings=w -l "$1" 2>&1 >/dev/null
}

# The page as text, one line per source line where it can: wide, so that words are not
# hyphenated at line ends.
man_text() {
    MANWIDTH=250 MANROFFOPT=-rHY=0 man -l "$1" 2>/dev/null
}

@test "man pages: make built uhw(1), uhw.yaml(5), uhw-protocol(7)" {
    for page in uhw.1 uhw.yaml.5 uhw-protocol.7; do
        [ -s "$MAN/$page" ] || { echo "missing $MAN/$page" >&2; return 1; }
    done
}

@test "man pages: groff warnings are seen (a page with an undefined macro is caught)" {
    printf '.TH BROKEN 1\n.SH NAME\nbroken\n.XX undefined macro\n' >"$BATS_TEST_TMPDIR/broken.1"
    run man_warnings "$BATS_TEST_TMPDIR/broken.1"
    assert_output --partial "warning: macro 'XX' not defined"
}

@test "man pages: each renders without a warning, and names uhw's version" {
    version=$("$UHW" --version)
    for page in "$MAN"/*; do
        run man_warnings "$page"
        assert_output ""
        run man_text "$page"
        assert_success
        assert_output --partial "$version"
    done
}

@test "uhw(1): every verb and option of 'uhw help', and the verbs being added, are documented" {
    text=$(man_text "$MAN/uhw.1")
    verbs=$("$UHW" help | sed -n 's/^  \([a-z]\+\) .*/\1/p')
    [ "$(echo "$verbs" | wc -l)" -gt 15 ] # the listing was parsed
    for verb in $verbs ps tail scale; do
        grep -Eq "^ +$verb([ ,]|$)" <<<"$text" || { echo "uhw($verb) has no entry in uhw(1)" >&2; return 1; }
        for opt in $("$UHW" help "$verb" 2>/dev/null | grep -oE '(^|[[ (|])--?[a-zA-Z][-a-zA-Z]*' | grep -oE -- '--?[a-zA-Z][-a-zA-Z]*' | sort -u); do
            grep -qF -- "$opt" <<<"$text" || { echo "uhw $verb $opt is not in uhw(1)" >&2; return 1; }
        done
    done
    for word in --wait --version -V SIGUSR1 NO_COLOR UHW_LOG_LEVEL JOURNAL_STREAM UHW_POOL UHW_WORKER \
        UHW_PROTOCOL UHW_MAX_FRAME UHW_WORKER_DIR "EXIT STATUS" FILES ENVIRONMENT SIGNALS; do
        grep -qF -- "$word" <<<"$text" || { echo "'$word' is not in uhw(1)" >&2; return 1; }
    done
}

@test "uhw.yaml(5): every key that uhw check --dump writes is documented, with its default" {
    write_config all >/dev/null <<'EOF'
pools:
  - name: a
    command: [@BUILD@/workers/hello]
EOF
    run "$UHW" check --dump "$BATS_TEST_TMPDIR/all.yaml"
    assert_success
    # Keys of block mappings ("key:" at the start of a line) and of flow mappings ("{key: ...").
    keys=$( (grep -oE '^[ -]*[a-z_]+:' <<<"$output"; grep -oE '[{,] *[a-z_]+:' <<<"$output") |
        grep -oE '[a-z_]+' | sort -u)
    [ "$(echo "$keys" | wc -l)" -gt 30 ]
    src="$REPO/doc/uhw.yaml.5.scd"
    for key in $keys; do
        grep -qE "\*([a-z_]+\.)?$key\*" "$src" || { echo "key '$key' is not in uhw.yaml(5)" >&2; return 1; }
    done
    # The defaults, as the dump spells them, are the page's.
    for default in 127.0.0.1:8080 10MiB 64KiB 16MiB "initial: 100ms, max: 30s, multiplier: 2, reset_after: 10s" \
        "[authorization, cookie]"; do
        grep -qF -- "$default" <<<"$output" || { echo "the dump no longer says $default" >&2; return 1; }
        grep -qF -- "$default" "$src" || { echo "default $default is not in uhw.yaml(5)" >&2; return 1; }
    done
}

@test "uhw.yaml(5): its example configurations pass uhw check" {
    # Each literal block that is a whole configuration (it has "pools:"), with what it names.
    mkdir -p "$BATS_TEST_TMPDIR/ex/tls" "$BATS_TEST_TMPDIR/ex/public" "$BATS_TEST_TMPDIR/ex/cgi-bin" \
        "$BATS_TEST_TMPDIR/ex/workers" "$BATS_TEST_TMPDIR/ex/build"
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
        -keyout "$BATS_TEST_TMPDIR/ex/tls/key.pem" -out "$BATS_TEST_TMPDIR/ex/tls/cert.pem" 2>/dev/null
    ln -s "$WORKERS" "$BATS_TEST_TMPDIR/ex/build/workers"
    ln -s "$WORKERS/sse" "$BATS_TEST_TMPDIR/ex/workers/sse"
    printf '#!/bin/sh\n' >"$BATS_TEST_TMPDIR/ex/site.sh" && chmod +x "$BATS_TEST_TMPDIR/ex/site.sh"
    awk -v dir="$BATS_TEST_TMPDIR/ex" '
        /^```/ { if (inblock) { close(file) } else { n++; file = dir "/example" n ".yaml" } inblock = !inblock; next }
        inblock { print > file }' "$REPO/doc/uhw.yaml.5.scd"
    checked=0
    for f in "$BATS_TEST_TMPDIR"/ex/example*.yaml; do
        grep -q '^pools:' "$f" || continue
        # As root, uhw wants each pool's user to exist: the examples name www-data.
        id www-data >/dev/null 2>&1 || sed -i 's/user: www-data/user: root/' "$f"
        PATH="$UHW_BUILD:$PATH" run "$UHW" check "$f"
        assert_success
        checked=$((checked + 1))
    done
    [ "$checked" -ge 3 ]
}

@test "uhw-protocol(7): every message, field number and enum value of uhw.proto is documented" {
    src="$REPO/doc/uhw-protocol.7.scd"
    n=0
    while read -r kind name; do
        grep -qF "*$name*" "$src" || { echo "message $name is not in uhw-protocol(7)" >&2; return 1; }
        n=$((n + 1))
    done < <(grep -oE '^message [A-Za-z]+' "$REPO/proto/uhw.proto")
    [ "$n" -ge 17 ]
    n=0
    while read -r field number; do
        grep -qE "(^|[^0-9])$number \*$field\*" "$src" || { echo "field $number $field is not in uhw-protocol(7)" >&2; return 1; }
        n=$((n + 1))
    done < <(sed -n 's/^ *\(repeated \)\?[A-Za-z0-9.]\+ \([a-z_]\+\) = \([0-9]\+\);.*/\2 \3/p' "$REPO/proto/uhw.proto")
    [ "$n" -ge 50 ]
    while read -r value number; do
        grep -qF "*$value* = $number" "$src" || { echo "enum value $value = $number is not in uhw-protocol(7)" >&2; return 1; }
    done < <(sed -n 's/^ *\([A-Z_]\+\) = \([0-9]\+\);.*/\1 \2/p' "$REPO/proto/uhw.proto")
}

@test "uhw-protocol(7): the example worker, as the page prints it, serves a request under uhw" {
    mkdir -p "$BATS_TEST_TMPDIR/py"
    man_text "$MAN/uhw-protocol.7" | sed -n '/^EXAMPLE/,/^SEE ALSO/p' | sed -n 's/^           //p' \
        >"$BATS_TEST_TMPDIR/py/hello.py"
    grep -q '^while (msg := read()) is not None:' "$BATS_TEST_TMPDIR/py/hello.py"
    protoc --python_out="$BATS_TEST_TMPDIR/py" -I"$REPO/proto" "$REPO/proto/uhw.proto"
    cfg=$(write_config proto <<'EOF'
listen: [127.0.0.1:0]
control: @TMP@/uhw.sock
pools:
  - name: py
    command: [/usr/bin/python3, @TMP@/py/hello.py]
    cwd: @TMP@/py
    workers: 1
EOF
    )
    uhw_start "$cfg"
    run hc -i "$URL/anything"
    assert_success
    assert_line --partial "HTTP/1.1 200"
    assert_line --partial "content-type: text/plain"
    assert_line "hello"
    uhw_stop
    [ "$UHW_RC" -eq 0 ]
    assert_no_workers
}
