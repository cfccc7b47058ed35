#!/usr/bin/env bats
# Shell completion (contrib/completion): bash's function driven through COMP_WORDS as
# bash-completion would, and zsh's in a real interactive zsh (test/completion/zsh-complete.zsh,
# through zsh/zpty). Pool names come from `uhw check --dump` of the configuration, or from
# the running server (`uhw status --compact`).

load helpers

BASH_COMPLETION=/usr/share/bash-completion/bash_completion

# Completes the words given (the last one is the word being completed) with bash; prints
# the candidates, one per line, sorted. Runs in $BATS_TEST_TMPDIR.
bash_complete() {
    (cd "$BATS_TEST_TMPDIR" && bash --norc --noprofile -c '
        . "$1" && . "$2" || exit 9
        shift 2
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        _uhw "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$BASH_COMPLETION" "$REPO/contrib/completion/uhw.bash" "$@")
}

# Completes LINE (Tab at its end) with zsh; prints the candidates, sorted.
zsh_complete() {
    local out=$BATS_TEST_TMPDIR/zsh.out
    (cd "$BATS_TEST_TMPDIR" && timeout 120 zsh -f "$REPO/test/completion/zsh-complete.zsh" \
        "$REPO/contrib/completion" "$out" "$1") || return
    sort -u "$out"
}

two_pools() {
    write_config pools <<'EOF'
listen: [127.0.0.1:0]
control: @TMP@/uhw.sock
pools:
  - name: alpha
    command: [@BUILD@/workers/hello]
    workers: 2
  - name: beta
    command: [@BUILD@/workers/hello]
    workers: 1
    routes: [/b/**]
EOF
}

@test "bash: the function is registered for uhw and completes verbs" {
    run bash --norc --noprofile -c ". $BASH_COMPLETION && . $REPO/contrib/completion/uhw.bash && complete -p uhw"
    assert_success
    assert_output "complete -F _uhw uhw"
    run bash_complete uhw s
    assert_success
    assert_output "$(printf '%s\n' scale serve sse status stop stream)"
    run bash_complete uhw help rel
    assert_output "reload"
}

@test "bash: options per verb, and their values" {
    run bash_complete uhw stop --
    assert_output "$(printf '%s\n' --help --socket --wait)"
    run bash_complete uhw check --
    assert_output "$(printf '%s\n' --dump --help --listen)"
    run bash_complete uhw stream end -
    assert_output "$(printf '%s\n' --error --help -i)"
    run bash_complete uhw log w
    assert_output "warning"
    touch "$BATS_TEST_TMPDIR/other.yaml" "$BATS_TEST_TMPDIR/notes.txt"
    run bash_complete uhw serve o
    assert_output "other.yaml"
}

@test "bash: pool names and slots from the configuration on the command line, or ./pools.yaml" {
    cfg=$(two_pools)
    run bash_complete "$UHW" status "$cfg" --pool ''
    assert_output "$(printf '%s\n' alpha beta)"
    # Without CONFIG: ./pools.yaml (the test runs in the directory of the file).
    run bash_complete "$UHW" status --pool b
    assert_output "beta"
    run bash_complete "$UHW" tail al
    assert_output "$(printf '%s\n' alpha 'alpha#0' 'alpha#1')"
    # No configuration anywhere: nothing, and no error.
    rm "$cfg"
    run bash_complete "$UHW" restart ''
    assert_success
    assert_output ""
}

@test "bash and zsh: pool names from the running server (-s SOCKET)" {
    cfg=$(two_pools)
    uhw_start "$cfg"
    mv "$cfg" "$BATS_TEST_TMPDIR/elsewhere.yaml" # only the server can tell now
    run bash_complete "$UHW" scale -s "$SOCK" ''
    assert_output "$(printf '%s\n' alpha beta)"
    run bash_complete "$UHW" tail -s "$SOCK" be
    assert_output "$(printf '%s\n' beta 'beta#0')"
    run zsh_complete "$UHW restart -s $SOCK "
    assert_success
    assert_output "$(printf '%s\n' alpha beta)"
    uhw_stop
    assert_no_workers
}

@test "zsh: _uhw loads with compinit and completes verbs, without an error" {
    run zsh -f -c "fpath=($REPO/contrib/completion \$fpath); autoload -U compinit; compinit -u -D; print -r -- \${_comps[uhw]}"
    assert_success
    assert_output "_uhw"
    run zsh_complete "uhw s"
    assert_success
    assert_output "$(printf '%s\n' scale serve sse status stop stream)"
}

@test "zsh: options per verb, pools from the configuration, command lines after replay --exec --" {
    two_pools >/dev/null
    run zsh_complete "uhw stop --"
    assert_success
    assert_output "$(printf '%s\n' --help --socket --wait)"
    run zsh_complete "$UHW tail al"
    assert_success
    assert_output "$(printf '%s\n' alpha 'alpha#0' 'alpha#1')"
    run zsh_complete "uhw log er"
    assert_output "error"
    run zsh_complete "uhw replay v.jsonl --exec -- ech"
    assert_success
    assert_line "echo"
}

@test "zsh: the harness reports a completion function that fails" {
    mkdir -p "$BATS_TEST_TMPDIR/bad"
    printf '#compdef uhw\n_arguments "(1 *){-s+,--socket=}[x]:socket:_files"\n' >"$BATS_TEST_TMPDIR/bad/_uhw"
    run timeout 120 zsh -f "$REPO/test/completion/zsh-complete.zsh" "$BATS_TEST_TMPDIR/bad" \
        "$BATS_TEST_TMPDIR/bad.out" "uhw "
    assert_failure 1
    assert_output --partial "invalid argument"
}
