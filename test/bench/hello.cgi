#!/bin/sh
# hello.cgi — workers/examples/hello.sh as a CGI/1.1 script, for `make bench`: every
# request gets 200 "hello\n" (text/plain). The web server forks and execs it per request
# (nginx + fcgiwrap, `uhw cgi`); printf is a builtin, so that fork is the whole cost.
printf 'Content-Type: text/plain\n\nhello\n'
