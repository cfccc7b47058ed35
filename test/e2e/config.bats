#!/usr/bin/env bats
# The configuration as the CLI sees it: `uhw check --dump`, `--listen`, and the `control`
# path rules, with the real build/uhw.

load helpers

dump_config() {
    write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
victims: {command: "cat >/dev/null"}
pools:
  - name: hello
    command: [@BUILD@/workers/hello]
    workers: 1
    env:
      QUOTES: "it's \"quoted\""
      COLON: "a: b # c"
      NEWLINE: "line 1\nline 2"
      UNICODE: "é 日本"
      NULLISH: "null"
    settings: {mode: "~"}
  - name: sh
    command: exec @BUILD@/workers/hello
    routes: [/sh/**]
    workers: 1
    max_body: 1
EOF
}

@test "uhw check --dump: every default filled in, as YAML that uhw check accepts and dumps the same" {
    cfg=$(dump_config)
    sed -i '/max_body: 1$/d' "$cfg"
    run "$UHW" check --dump "$cfg"
    assert_success
    dump=$output
    refute_line --partial ": ok ("
    assert_line "control: $BATS_TEST_TMPDIR/uhw.sock"
    assert_line "max_body: 10MiB"
    assert_line "shutdown_timeout: 10s"
    assert_line "  log: $BATS_TEST_TMPDIR/victims.jsonl"
    assert_line "  command: cat >/dev/null"
    assert_line "  command: [$UHW_BUILD/workers/hello]"
    assert_line "  command: exec $UHW_BUILD/workers/hello"
    assert_line "  stuck_timeout: 1m"
    assert_line "  max_frame: 16MiB"
    assert_line "  slow_log: null"
    assert_line "  cwd: $BATS_TEST_TMPDIR"
    assert_line '    NULLISH: "null"'
    # the dump is a configuration uhw accepts, and dumps to itself
    printf '%s\n' "$dump" >"$BATS_TEST_TMPDIR/dump.yaml"
    run "$UHW" check "$BATS_TEST_TMPDIR/dump.yaml"
    assert_success
    assert_output "$BATS_TEST_TMPDIR/dump.yaml: ok (2 pools, 2 workers)"
    run "$UHW" check --dump "$BATS_TEST_TMPDIR/dump.yaml"
    assert_success
    assert_equal "$output" "$dump"
}

@test "uhw check --dump: the dump serves, and values with quotes, colons, newlines, unicode reach the worker" {
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: env
    command: 'printf "%s|" "$QUOTES" "$COLON" "$NEWLINE" "$UNICODE" "$NULLISH" >"$OUT"; exec @BUILD@/workers/hello'
    workers: 1
    env:
      OUT: "@TMP@/env.out"
      QUOTES: "it's \"quoted\""
      COLON: "a: b # c"
      NEWLINE: "line 1\nline 2"
      UNICODE: "é 日本"
      NULLISH: "null"
EOF
)
    mkdir "$BATS_TEST_TMPDIR/elsewhere"
    "$UHW" check --dump "$cfg" >"$BATS_TEST_TMPDIR/elsewhere/dump.yaml"
    uhw_start "$BATS_TEST_TMPDIR/elsewhere/dump.yaml"
    run hc "$URL/"
    assert_output "hello"
    assert_equal "$SOCK" "$BATS_TEST_TMPDIR/uhw.sock" # paths in the dump are absolute
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_equal "$(cat "$BATS_TEST_TMPDIR/env.out")" "it's \"quoted\"|a: b # c|line 1
line 2|é 日本|null|"
    assert_no_workers
}

@test "uhw check --dump of a broken file: the errors on stderr, nothing on stdout, exit 2" {
    cfg=$(dump_config) # max_body is not a pool key
    "$UHW" check --dump "$cfg" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" && rc=0 || rc=$?
    assert_equal "$rc" 2
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ""
    run cat "$BATS_TEST_TMPDIR/err"
    assert_line --regexp "pools.yaml:[0-9]+:5: unknown key 'max_body' in pool 'sh'"
    run "$UHW" check --dmp "$cfg"
    assert_failure 2
    assert_output --partial "unknown option or missing argument: '--dmp'"
}

@test "control: a path that is not a socket is refused (exit 2) by uhw check and uhw serve, and left untouched" {
    printf 'precious\n' >"$BATS_TEST_TMPDIR/notes.txt"
    cfg=$(write_config pools <<'EOF2'
listen: [127.0.0.1:0]
control: notes.txt
pools:
  - name: hello
    command: [@BUILD@/workers/hello]
    workers: 1
EOF2
)
    run "$UHW" check "$cfg"
    assert_failure 2
    assert_line "$cfg:2:10: control: $BATS_TEST_TMPDIR/notes.txt exists and is not a socket; refusing to replace it"
    UHW_TEST_TAG=$TAG run "$UHW" serve "$cfg"
    assert_failure 2
    assert_line "$cfg:2:10: control: $BATS_TEST_TMPDIR/notes.txt exists and is not a socket; refusing to replace it"
    [ -f "$BATS_TEST_TMPDIR/notes.txt" ] && [ ! -L "$BATS_TEST_TMPDIR/notes.txt" ]
    assert_equal "$(cat "$BATS_TEST_TMPDIR/notes.txt")" "precious"
    assert_no_workers
}

@test "control: a socket path in a directory that does not exist is refused (exit 2)" {
    cfg=$(write_config pools <<'EOF2'
listen: [127.0.0.1:0]
control: no-such-dir/uhw.sock
pools:
  - name: hello
    command: [@BUILD@/workers/hello]
    workers: 1
EOF2
)
    run "$UHW" check "$cfg"
    assert_failure 2
    assert_line "$cfg:2:10: control: the directory $BATS_TEST_TMPDIR/no-such-dir does not exist"
    UHW_TEST_TAG=$TAG run "$UHW" serve "$cfg"
    assert_failure 2
    assert_line "$cfg:2:10: control: the directory $BATS_TEST_TMPDIR/no-such-dir does not exist"
    [ ! -e "$BATS_TEST_TMPDIR/no-such-dir" ]
    assert_no_workers
}

@test "uhw serve --listen replaces the file's listen (repeatable); uhw check --listen validates and dumps it" {
    # 192.0.2.1 (TEST-NET-1) is not an address of this machine: serving the file as written fails.
    cfg=$(write_config pools <<'EOF2'
listen: [192.0.2.1:8080]
control: uhw.sock
pools:
  - name: hello
    command: [@BUILD@/workers/hello]
    workers: 1
EOF2
)
    run "$UHW" check --listen 127.0.0.1:0 --listen '[::1]:0' --dump "$cfg"
    assert_success
    assert_line "- 127.0.0.1:0"
    assert_line "- '[::1]:0'"
    refute_line --partial "192.0.2.1"
    run "$UHW" check "$cfg" --listen 127.0.0.1:0
    assert_success
    assert_output "$cfg: ok (1 pool, 1 worker)"
    run "$UHW" check --listen example.com:80 --listen 8080 --listen 127.0.0.1:8080 "$cfg"
    assert_failure 2
    assert_line --partial "--listen: invalid listen address 'example.com:80': 'example.com' is not an IPv4 address"
    assert_line "--listen: duplicate listen address '127.0.0.1:8080' (the same as '8080')"
    run "$UHW" serve "$cfg" --listen
    assert_failure 2
    assert_output --partial "unknown option or missing argument: '--listen'"

    LOG="$BATS_TEST_TMPDIR/uhw.log"
    UHW_TEST_TAG=$TAG "$UHW" serve --listen 127.0.0.1:0 "$cfg" 2>"$LOG" &
    UHW_PID=$!
    wait_for_log 'ready in [0-9]+ ms'
    URL=$(grep -Eo 'listening on http://[^ ]+' "$LOG" | head -1 | sed 's/^listening on //')
    [[ "$URL" == http://127.0.0.1:* ]]
    run hc "$URL/"
    assert_output "hello"
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "make run LISTEN=ADDR passes --listen ADDR to uhw serve" {
    run make -s -n -C "$REPO" run LISTEN="127.0.0.1:9090 [::1]:9091"
    assert_success
    assert_line --regexp "/uhw serve --listen 127\.0\.0\.1:9090 --listen \[::1\]:9091 contrib/pools\.yaml$"
    run make -s -n -C "$REPO" run
    assert_line --regexp "/uhw serve +contrib/pools\.yaml$"
}
