#!/bin/bash
# hello.sh — a uhw worker in bash: every request gets 200 "hello\n" (text/plain).
# `. uhw.sh` (found on PATH: uhw puts its shell helpers first there) starts one helper
# process for the life of the worker; uhw_recv and uhw_reply talk to it, so a request
# starts no process at all. README.md, "In shell", shows more.
. uhw.sh
uhw_ready -i hello.sh
while uhw_recv; do
    uhw_reply -t text/plain $'hello\n'
done
