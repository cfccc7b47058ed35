#!/usr/bin/env bats
# The Python SDK (contrib/python, built into $UHW_BUILD/python): the README's examples as
# written, and a real Flask application (test/fixtures/flaskapp.py) under uhw.wsgi.

load helpers

setup() {
    # Debian's python3 (python3-protobuf, python3-flask), as on a user's Debian 12.
    export PATH="/usr/bin:$PATH"
    # Workers import the fixture from the source tree: no __pycache__ left there.
    export PYTHONDONTWRITEBYTECODE=1
}

# Prints the Nth (1-based) fenced code block of README.md's section "### TITLE".
readme_block() {
    awk -v title="### $1" -v want="$2" '
        $0 == title { inside = 1; next }
        inside && /^##/ { exit }
        inside && /^```/ { if (open) { open = 0; if (n == want) exit } else { open = 1; n++ }; next }
        inside && open && n == want { print }' "$REPO/README.md"
}

# Runs each `curl` line of a README shell block (comments cut) against $URL.
run_readme_curls() {
    local line host=${URL#http://}
    while IFS= read -r line; do
        line=${line%%#*}
        # (stderr: curl's progress meter, shown when stdout is not a terminal)
        case "$line" in curl\ *) eval "${line//localhost:8080/$host}" 2>>"$BATS_TEST_TMPDIR/curl.err" || return 1 ;; esac
    done
}

# The README's pools.yaml on an ephemeral port (write_config adds `user: root` as root).
readme_config() {
    readme_block "$1" "$2" | sed 's/^listen: .*/listen: [127.0.0.1:0]/' | write_config pools
}

# The Flask fixture: pool `web` (PY_WORKERS workers, EXTRA pool keys), `mounted` under /app,
# and `plain`, a bare WSGI app started as uhw-wsgi.
flask_config() {
    write_config pools <<EOF
listen: [127.0.0.1:0]
control: uhw.sock
victims: {log: victims.jsonl}
pools:
  - name: mounted
    command: [python3, -m, uhw.wsgi, --script-name, /app, flaskapp:app]
    workers: 1
    routes: [/app/**]
    cwd: @REPO@/test/fixtures
  - name: plain
    command: [uhw-wsgi, --script-name, /plain, flaskapp:plain]
    workers: 1
    routes: [/plain/**]
    cwd: @REPO@/test/fixtures
  - name: web
    command: [python3, -m, uhw.wsgi, flaskapp:app]
    workers: ${PY_WORKERS:-2}
    cwd: @REPO@/test/fixtures
    env: {FIXTURE_DIR: "@TMP@"}
    settings: {greeting: bonjour}
    ${EXTRA:-}
EOF
}

# json_field EXPR JSON: EXPR evaluated with the parsed JSON as `j`.
json_field() {
    /usr/bin/python3 -c 'import json, sys; j = json.loads(sys.argv[2]); r = eval(sys.argv[1]); print(*r) if isinstance(r, tuple) else print(r)' "$1" "$2"
}

@test "README: the handler API example (hello.py) serves as documented" {
    readme_block "In Python" 1 >"$BATS_TEST_TMPDIR/hello.py"
    grep -q 'uhw.serve(handle)' "$BATS_TEST_TMPDIR/hello.py"
    cfg=$(readme_config "In Python" 2)
    uhw_start "$cfg"
    run run_readme_curls < <(readme_block "In Python" 3)
    assert_success
    assert_output "hello Ada from /hi"
    uhw_stop
    assert_equal "$UHW_RC" 0
    grep -Eq 'hello#[01] pid=[0-9]+\] stopped \(exited with code 0\)' "$LOG"
    assert_no_workers
}

@test "README: the Flask example (app.py, pools.yaml) serves as documented" {
    readme_block "Python WSGI (Flask, Django…)" 1 >"$BATS_TEST_TMPDIR/app.py"
    cfg=$(readme_config "Python WSGI (Flask, Django…)" 2)
    grep -q 'command: \[python3, -m, uhw.wsgi, app:app\]' "$cfg"
    uhw_start "$cfg"
    run run_readme_curls < <(readme_block "Python WSGI (Flask, Django…)" 3)
    assert_success
    assert_output "$(printf 'hello from Flask\n{"id":1,"name":"tea"}\n1\n2\n3')"
    run hc -i "$URL/api/count"
    assert_line --partial "transfer-encoding: chunked"      # streamed, not one body
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_no_workers
}

@test "Flask: routes, a JSON POST, Flask's own 404, HEAD, Host and SCRIPT_NAME, settings; workers exit 0 on stop" {
    uhw_start "$(flask_config)"
    run hc "$URL/"
    assert_output "hello from flask"
    run hc -w '\n%{http_code}' -H 'Content-Type: application/json' -d '{"a": [1, 2], "b": "x"}' "$URL/items"
    assert_line --index 0 '{"got":{"a":[1,2],"b":"x"},"n":2}'
    assert_line --index 1 "201"
    run hc -w '\n%{http_code}' "$URL/no/such/page"
    assert_line --index -1 "404"
    assert_output --partial "<title>404 Not Found</title>"    # Flask's page, not uhw's JSON
    run hc -I "$URL/"
    assert_line --partial "HTTP/1.1 200"
    assert_line --partial "content-type: text/html; charset=utf-8"
    run hc -H 'Host: example.com:1234' "$URL/where"
    assert_success
    assert_equal "$(json_field 'j["external"], j["server"], j["settings"]' "$output")" \
        "http://example.com:1234/ ['example.com', '1234'] {'greeting': 'bonjour'}"
    assert_equal "$(json_field 'j["uhw_file"]' "$output")" "$UHW_BUILD/python/uhw/__init__.py"
    run hc "$URL/app/where"
    assert_equal "$(json_field 'j["script_root"], j["path"]' "$output")" "/app /where"
    uhw_stop
    assert_equal "$UHW_RC" 0
    assert_equal "$(grep -Ec '\[(web|mounted|plain)#[01] pid=[0-9]+\] stopped \(exited with code 0\)' "$LOG")" 4
    assert_no_workers
}

@test "Flask: a streamed response reaches the client piece by piece" {
    uhw_start "$(flask_config)"
    run hc "$URL/stream"
    assert_output "$(printf 'line 0\nline 1\nline 2')"
    hc -N "$URL/sse" >"$BATS_TEST_TMPDIR/sse.out" &
    client=$!
    wait_for_log '^data: 1$' "$BATS_TEST_TMPDIR/sse.out"   # event 1 is here; event 2 does not exist yet
    run cat "$BATS_TEST_TMPDIR/sse.out"
    refute_output --partial "data: 2"
    touch "$BATS_TEST_TMPDIR/go"
    wait "$client"
    run cat "$BATS_TEST_TMPDIR/sse.out"
    assert_output "$(printf 'data: 1\n\ndata: 2')"
    uhw_stop
    assert_no_workers
}

@test "Flask: an exception is a 500 with its traceback logged at ERROR; the worker lives on" {
    cfg=$(PY_WORKERS=1 flask_config)
    uhw_start "$cfg"
    before=$(hc "$URL/pid")
    run hc -w '\n%{http_code}' "$URL/boom"
    assert_line --index -1 "500"
    assert_output --partial "Internal Server Error"
    grep -Eq "ERROR \[web#0 pid=$before\] id=[0-9]+ .*Exception on /boom \[GET\]" "$LOG"
    grep -Eq "ERROR \[web#0 pid=$before\] id=[0-9]+ Traceback \(most recent call last\):" "$LOG"
    grep -Eq "ERROR \[web#0 pid=$before\] id=[0-9]+ ZeroDivisionError: division by zero" "$LOG"
    run hc "$URL/pid"
    assert_output "$before"
    uhw_stop
    assert_no_workers
}

@test "Flask: a worker killed in a view gets uhw's 500 and a victims record; the pool serves again" {
    cfg=$(PY_WORKERS=1 flask_config)
    uhw_start "$cfg"
    before=$(hc "$URL/pid")
    run hc -w '\n%{http_code}' "$URL/die?x=1"
    assert_line --index -1 "500"
    assert_equal "$(json_field 'j["error"], j["reason"]' "${lines[0]}")" \
        "Worker crashed worker web#0 pid=$before killed by SIGKILL"
    grep -Eq "ERROR \[web#0 pid=$before\] victim id=[0-9]+ from=127\.0\.0\.1:[0-9]+ GET /die body=0B" "$LOG"
    assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/victims.jsonl")" 1
    run json_field 'j["pool"], j["pid"], j["signal"], j["request"]["method"], j["request"]["path"], j["request"]["query"]' \
        "$(cat "$BATS_TEST_TMPDIR/victims.jsonl")"
    assert_output "web $before SIGKILL GET /die x=1"
    wait_until_status '"name":"web","state":"running","routes":\[\],"size":1,"alive":1,"ready":1'
    run hc "$URL/"
    assert_output "hello from flask"
    uhw_stop
    assert_no_workers
}

@test "client gone mid-stream: the app's generator is closed and the worker serves the next request" {
    cfg=$(PY_WORKERS=1 flask_config)
    uhw_start "$cfg"
    before=$(hc "$URL/pid")
    run bash -c "curl -sS -N --max-time 60 '$URL/forever' 2>/dev/null | head -c 5"
    assert_output "tick"
    wait_for_log closed "$BATS_TEST_TMPDIR/closed"
    run hc "$URL/pid"
    assert_output "$before"
    uhw_stop
    assert_no_workers
}

@test "responses uhw would refuse cost one 500, never the worker; hop-by-hop headers are left out" {
    uhw_start "$(flask_config)"
    run hc -i "$URL/hop"
    assert_line --partial "HTTP/1.1 200"
    assert_line --partial "x-kept: yes"
    refute_line --partial "connection: close"
    grep -Eq "WARNING \[web#[01] pid=[0-9]+\] id=[0-9]+ left out hop-by-hop response headers Connection" "$LOG"
    pid=$(hc "$URL/plain/pid")
    for path in crlf status raise; do
        run hc -i "$URL/plain/$path"
        assert_line --partial "HTTP/1.1 500"
        refute_line --regexp '^[Xx]-[Ii]njected:'
        assert_equal "$(hc "$URL/plain/pid")" "$pid"
    done
    grep -Eq "ERROR \[plain#0 pid=$pid\] id=[0-9]+ GET /plain/crlf: invalid response \(header X-Bad: value .* has a control character\); answered 500" "$LOG"
    grep -Eq "ERROR \[plain#0 pid=$pid\] id=[0-9]+ GET /plain/status: invalid response \(status '99 Weird' is not" "$LOG"
    grep -Eq "ERROR \[plain#0 pid=$pid\] id=[0-9]+ RuntimeError: plain app failed" "$LOG"
    run grep -E "Bad worker response|protocol error|refused response header" "$LOG"
    assert_failure
    uhw_stop
    assert_no_workers
}

@test "a body larger than the pool's max_frame arrives whole" {
    cfg=$(EXTRA='max_frame: 64KiB' flask_config)
    uhw_start "$cfg"
    run bash -c "curl -sS --max-time 30 '$URL/big' | wc -c"
    assert_output "1048576"
    run grep "max_frame" "$LOG"
    assert_failure
    uhw_stop
    assert_no_workers
}

@test "make install: the installed uhw finds the installed package, as python3 -m uhw.wsgi and uhw-wsgi" {
    local root=$BATS_TEST_TMPDIR/root sanitize=0
    [ "$(basename "$UHW_BUILD")" = asan ] && sanitize=1
    run make -s -C "$REPO" install SANITIZE=$sanitize DESTDIR="$root" PREFIX=/usr
    assert_success
    [ -f "$root/usr/lib/uhw/python/uhw/uhw_pb2.py" ]
    [ -x "$root/usr/bin/uhw-wsgi" ]
    cfg=$(write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: uhw.sock
pools:
  - name: module
    command: [python3, -m, uhw.wsgi, flaskapp:app]
    workers: 1
    routes: [/where]
    cwd: @REPO@/test/fixtures
  - name: script
    command: [uhw-wsgi, flaskapp:app]
    workers: 1
    cwd: @REPO@/test/fixtures
EOF
)
    UHW=$root/usr/bin/uhw uhw_start "$cfg"
    run hc "$URL/where"
    assert_equal "$(json_field 'j["uhw_file"]' "$output")" "$root/usr/lib/uhw/python/uhw/__init__.py"
    run hc "$URL/"
    assert_output "hello from flask"
    uhw_stop
    assert_no_workers
}
