#!/bin/sh
# echo.sh — a uhw worker in POSIX sh, with one helper process per step (`uhw recv`, `uhw
# reply`): it answers with what it was asked, as text/plain:
#   method=GET
#   path=/sh/x
#   query=a=1
# Request values are plain shell variables after `eval "$req"`; they were single-quoted
# by `uhw recv`, so nothing in a request can run code here. In bash, hello.sh's form
# (. uhw.sh) is many times faster: it starts no process per request.
nl='
'
uhw ready -i echo.sh || exit 1
while req=$(uhw recv); do          # not `eval "$(uhw recv)"`: that loops forever on EOF
    eval "$req"
    uhw reply -s 200 -t text/plain \
        "method=$REQUEST_METHOD${nl}path=$PATH_INFO${nl}query=$QUERY_STRING${nl}"
done
