#!/usr/bin/env bats
# make install / make uninstall (mk/install.mk) into a staging DESTDIR with PREFIX=/usr/local:
# every file is where it belongs, the installed uhw runs from there (and finds its shell
# helpers beside it), a C worker builds against the installed libuhw with pkg-config, the
# completions load from their standard places, and make uninstall leaves no file behind.

load helpers

# The build this suite runs against: the same object directory (SANITIZE) as the tests.
make_repo() {
    env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C "$REPO" --no-print-directory SANITIZE="${SANITIZE:-0}" "$@"
}

setup_file() {
    export DEST="$BATS_FILE_TMPDIR/dest"
    make_repo install DESTDIR="$DEST" PREFIX=/usr/local >"$BATS_FILE_TMPDIR/install.log" 2>&1 || {
        cat "$BATS_FILE_TMPDIR/install.log" >&3
        return 1
    }
}

teardown_file() {
    rm -rf "$DEST"
}

P=/usr/local

@test "make install lays out every file under DESTDIR/PREFIX" {
    for f in bin/uhw bin/uhw-wsgi lib/libuhw.a lib/pkgconfig/libuhw.pc include/libuhw.h share/uhw/uhw.proto \
        share/man/man1/uhw.1 share/man/man5/uhw.yaml.5 share/man/man7/uhw-protocol.7 \
        share/bash-completion/completions/uhw share/zsh/site-functions/_uhw lib/systemd/system/uhw.service \
        lib/uhw/sh/uhw lib/uhw/sh/uhw.sh \
        lib/uhw/python/uhw/__init__.py lib/uhw/python/uhw/wsgi.py lib/uhw/python/uhw/uhw_pb2.py; do
        [ -f "$DEST$P/$f" ] || { echo "missing: $P/$f" >&2; return 1; }
    done
    for f in bin/uhw bin/uhw-wsgi lib/uhw/sh/uhw; do
        [ -x "$DEST$P/$f" ] || { echo "not executable: $P/$f" >&2; return 1; }
    done
    cmp "$DEST$P/bin/uhw" "$UHW_BUILD/uhw"
    cmp "$DEST$P/include/libuhw.h" "$REPO/workers/libuhw.h"
    cmp "$DEST$P/share/uhw/uhw.proto" "$REPO/proto/uhw.proto"
    if command -v npm >/dev/null; then
        [ -f "$DEST$P/lib/uhw/node/uhw-worker/package.json" ]
        [ -f "$DEST$P/lib/uhw/node/uhw-worker/lib/index.js" ]
        [ -f "$DEST$P/lib/uhw/node/uhw-worker/node_modules/google-protobuf/google-protobuf.js" ]
    fi
    # Nothing is installed outside PREFIX, and nothing names the staging directory.
    run find "$DEST" -mindepth 1 -maxdepth 2
    assert_output "$(printf '%s\n' "$DEST/usr" "$DEST/usr/local")"
    run grep -rlF "$DEST" "$DEST"
    assert_output ""
}

@test "the installed uhw runs from DESTDIR, and serves a shell worker with the helpers installed beside it" {
    run "$DEST$P/bin/uhw" --version
    assert_success
    assert_output "$("$UHW" --version)"
    cfg=$(write_config sh <<'EOF'
listen: [127.0.0.1:0]
control: @TMP@/uhw.sock
pools:
  - name: sh
    command: [@REPO@/workers/examples/hello.sh]
    workers: 1
EOF
    )
    UHW="$DEST$P/bin/uhw" uhw_start "$cfg"
    run hc "$URL/sh/x"
    assert_success
    assert_output --partial "hello"
    # The worker found uhw.sh and the lean helper in PREFIX/lib/uhw/sh, not in the build tree.
    pid=$("$UHW" status -s "$SOCK" --compact | grep -oE '"pid":[0-9]+' | sed -n 2p | cut -d: -f2)
    run bash -c "tr '\\0' '\\n' </proc/$pid/environ | grep '^PATH='"
    assert_output --partial "$DEST$P/bin/../lib/uhw/sh:"
    refute_output --partial "$UHW_BUILD"
    uhw_stop
    [ "$UHW_RC" -eq 0 ]
    assert_no_workers
}

@test "hello.c builds against the installed libuhw with pkg-config, in either argument order, and serves" {
    export PKG_CONFIG_PATH="$DEST$P/lib/pkgconfig"
    pc=(pkg-config --define-variable=prefix="$DEST$P")
    run "${pc[@]}" --modversion libuhw
    assert_output "$("$UHW" --version | cut -d' ' -f2)"
    san=()
    [ "${SANITIZE:-0}" = 1 ] && san=(-fsanitize=address,undefined)
    # shellcheck disable=SC2046
    cc "${san[@]}" $("${pc[@]}" --cflags --libs libuhw) "$REPO/workers/examples/hello.c" -o "$BATS_TEST_TMPDIR/hello1"
    # shellcheck disable=SC2046
    cc "${san[@]}" "$REPO/workers/examples/hello.c" $("${pc[@]}" --cflags --libs libuhw) -o "$BATS_TEST_TMPDIR/hello2"
    cfg=$(write_config c <<'EOF'
listen: [127.0.0.1:0]
control: @TMP@/uhw.sock
pools:
  - name: one
    command: [@TMP@/hello1]
    workers: 1
  - name: two
    command: [@TMP@/hello2]
    workers: 1
    routes: [/two]
EOF
    )
    UHW="$DEST$P/bin/uhw" uhw_start "$cfg"
    run hc "$URL/"
    assert_output "hello"
    run hc "$URL/two"
    assert_output "hello"
    uhw_stop
    assert_no_workers
}

@test "the systemd unit names PREFIX/bin/uhw; the man pages and completions load from where they were put" {
    run grep -E '^Exec(Start|StartPre)=' "$DEST$P/lib/systemd/system/uhw.service"
    assert_line "ExecStartPre=$P/bin/uhw check /etc/uhw/pools.yaml"
    assert_line "ExecStart=$P/bin/uhw serve /etc/uhw/pools.yaml"
    # man finds the pages by name through the installed tree's manpath.
    run env MANWIDTH=80 man --warnings=w -M "$DEST$P/share/man" 5 uhw.yaml
    assert_success
    assert_output --partial "uhw.yaml - configuration of uhw"
    # bash-completion loads completions/uhw from $XDG_DATA_DIRS (by default /usr/local/share:/usr/share).
    run env XDG_DATA_DIRS="$DEST$P/share" bash --norc --noprofile -c \
        '. /usr/share/bash-completion/bash_completion && __load_completion uhw && complete -p uhw'
    assert_output "complete -F _uhw uhw"
    run zsh -f -c "fpath=($DEST$P/share/zsh/site-functions \$fpath); autoload -U compinit; compinit -u -D; print -r -- \${_comps[uhw]}"
    assert_output "_uhw"
}

@test "another PREFIX: the unit and libuhw.pc follow it" {
    make_repo install-systemd install-core DESTDIR="$BATS_TEST_TMPDIR/opt" PREFIX=/opt/uhw >/dev/null
    run grep '^ExecStart=' "$BATS_TEST_TMPDIR/opt/opt/uhw/lib/systemd/system/uhw.service"
    assert_output "ExecStart=/opt/uhw/bin/uhw serve /etc/uhw/pools.yaml"
    run grep '^prefix=' "$BATS_TEST_TMPDIR/opt/opt/uhw/lib/pkgconfig/libuhw.pc"
    assert_output "prefix=/opt/uhw"
    make_repo uninstall DESTDIR="$BATS_TEST_TMPDIR/opt" PREFIX=/opt/uhw >/dev/null
    run find "$BATS_TEST_TMPDIR/opt" -type f -o -type l
    assert_output ""
}

@test "make uninstall removes every file make install put" {
    [ -f "$DEST$P/bin/uhw" ] # installed (by setup_file)
    run make_repo uninstall DESTDIR="$DEST" PREFIX=/usr/local
    assert_success
    refute_output --partial "not empty"
    run find "$DEST" -type f -o -type l
    assert_output ""
    [ ! -e "$DEST$P/lib/uhw" ]
    [ ! -e "$DEST$P/share/uhw" ]
}
