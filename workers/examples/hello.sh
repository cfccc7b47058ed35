#!/bin/sh
# hello.sh — a uhw worker in POSIX sh: every request gets 200 "hello\n" (text/plain).
# The `uhw` helpers are found on PATH (the supervisor puts its own directory first).
nl='
'
uhw ready -i hello.sh || exit 1
while req=$(uhw recv); do          # not `eval "$(uhw recv)"`: that loops forever on EOF
    eval "$req"
    uhw reply -s 200 -t text/plain "hello$nl"
done
