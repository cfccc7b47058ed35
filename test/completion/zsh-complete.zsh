#!/usr/bin/zsh -f
# zsh-complete.zsh FPATH_DIR OUT_FILE COMMAND_LINE
#
# Completes COMMAND_LINE (as if Tab were pressed at its end) in a real interactive zsh
# driven through zsh/zpty, with FPATH_DIR first on $fpath, and writes every candidate that
# completion functions offered (each compadd's matches) to OUT_FILE, one per line. Exits 0
# once completion has finished, 1 if zsh reported an error, 2 if it did not finish within 60 s.
# Used by test/e2e/completion.bats; the zsh is started with -f, so no user file is read.
emulate -L zsh
zmodload zsh/zpty || exit 1
local fdir=$1 out=$2 cmdline=$3
local done_file=$out.done err_file=$out.err
rm -f -- $out $done_file $err_file
: >$out

zpty z zsh -f -i
# Everything below runs inside the interactive zsh. Matches are written to $out, and
# comppostfuncs (run when the completion system is done) writes $done_file.
zpty -w z "PS1=''; PROMPT=''; unsetopt zle_bracketed_paste 2>/dev/null; exec 2>${(q)err_file}"
zpty -w z "fpath=(${(q)fdir} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "compadd() {
  local a
  for a in \"\$@\"; do
    [[ \$a == (-|--) ]] && break
    [[ \$a == -[OAD]* ]] && { builtin compadd \"\$@\"; return; }
  done
  local -a __hits
  builtin compadd -O __hits \"\$@\"
  (( \$#__hits )) && print -rl -- \$__hits >>${(q)out}
  builtin compadd \"\$@\"
}"
zpty -w z "_uhw_test_done() { print done >${(q)done_file} }; comppostfuncs=(_uhw_test_done)"
zpty -w z "zstyle ':completion:*' list-prompt ''; zstyle ':completion:*' menu no; bindkey '^I' complete-word"
zpty -w -n z "$cmdline"$'\t'

local i
for (( i = 0; i < 600; i++ )); do
  [[ -e $done_file ]] && break
  zpty -r -t z line 2>/dev/null   # keep the terminal drained
  sleep 0.1
done
zpty -d z
local rc=0
[[ -e $done_file ]] || rc=2
if [[ -s $err_file ]]; then
  print -u2 -r -- "zsh reported: $(<$err_file)"
  rc=1
fi
rm -f -- $done_file $err_file
exit $rc
