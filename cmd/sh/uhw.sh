# shellcheck shell=bash
# uhw.sh — write a uhw worker in bash (4.4 or later): source this, then loop.
#
#     #!/bin/bash
#     . uhw.sh                  # found on PATH: uhw puts its shell helpers first there
#     uhw_ready
#     while uhw_recv; do
#         uhw_reply -t text/plain "hello $QUERY_STRING"
#     done
#
# Sourcing it
#  - starts one helper process, `uhw coproc`, as a bash coprocess. It holds the worker's
#    protocol pipes for the life of the script; the functions below hand it NUL-delimited
#    commands and get each request back as a file of NUL-delimited fields (cmd/fields.h).
#    No process is started per request, and no request byte is ever evaluated: fields are
#    read with mapfile and assigned with printf -v.
#  - sends the script's own stdout to stderr, which uhw logs line by line: a stray `echo`
#    cannot corrupt the protocol. stdin becomes /dev/null.
#
# Functions (their options are those of `uhw VERB`; `uhw help VERB` explains them):
#   uhw_ready [-c N] [-i INFO]        once, after setup
#   uhw_recv                          the next request into variables; false at the end
#                                     (Shutdown, end of input): leave the loop then
#   uhw_reply [-s STATUS] [-t TYPE] [-H 'Name: value']... [BODY | -f FILE]
#   uhw_stream start [-s STATUS] [-t TYPE] [-H ...] | data DATA | -f FILE | end [--error MSG]
#   uhw_sse [--event E] [--id I] [--retry MS] DATA
#   uhw_ndjson JSON
#   uhw_json VAR KEY=VALUE KEY:=JSON...   VAR = that JSON object (see `uhw help json`)
#   uhw_log LEVEL MESSAGE...
#   uhw_keepalive
#
# Variables set by uhw_recv, named as in CGI/1.1 like those of `uhw recv`: UHW_REQUEST_ID
# REQUEST_METHOD PATH_INFO QUERY_STRING CONTENT_TYPE CONTENT_LENGTH REMOTE_ADDR REMOTE_PORT
# REQUEST_SCHEME SERVER_PROTOCOL UHW_TIMEOUT_MS, UHW_BODY_FILE (the body, in a private
# directory: binary bodies survive; answer one with uhw_reply -f FILE), HTTP_<NAME> per
# header (names with characters other than letters, digits and '-' are dropped), and
# UHW_SETTING_<KEY> for the pool's settings. All are exported.
#
# Sending is asynchronous: a command the helper refuses (a bad header, a missing -f FILE)
# is logged, and a request left without an answer when the script asks for the next one
# gets 500 (a started stream is aborted). The functions work in the script's own shell,
# not in subshells ($(...), pipelines, &): bash does not give those the coprocess's pipes.
# So a worker answers one request at a time: for more at once, run more workers.

if [[ -n ${_UHW_COPROC_PID-} ]]; then
    return 0 # sourced twice: one helper is enough
fi
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
    echo "uhw.sh: bash 4.4 or later is needed (mapfile -d); this is $BASH_VERSION" >&2
    exit 1
fi

# The helper gets the protocol pipes on fds 0 and 1, and the coprocess pipes on 3 and 4.
exec {_uhw_in}<&0 {_uhw_out}>&1
coproc _UHW_COPROC { exec uhw coproc 3<&0 4>&1 0<&"$_uhw_in" 1>&"$_uhw_out"; }
# From here on only the helper can reach uhw.
exec 0</dev/null 1>&2 {_uhw_in}<&- {_uhw_out}>&-
unset _uhw_in _uhw_out

# The helper first says which exchange it speaks and where its private directory is.
if ! IFS= read -r -d '' -u "${_UHW_COPROC[0]}" _uhw_hello ||
    ! IFS= read -r -d '' -u "${_UHW_COPROC[0]}" _UHW_DIR || [[ $_uhw_hello != "uhw.sh 1" ]]; then
    echo "uhw.sh: the helper \`uhw coproc\` did not start (is the uhw first on PATH the one beside this uhw.sh?)" >&2
    exit 1
fi
unset _uhw_hello
# HTTP_* come from requests only (HTTP_PROXY excepted: it may configure the script's own
# HTTP clients); _UHW_HEADERS lists those of the current request.
for _uhw_n in "${!HTTP_@}"; do [[ $_uhw_n == HTTP_PROXY ]] || unset "$_uhw_n"; done
unset _uhw_n
_UHW_HEADERS=()
export UHW_REQUEST_ID REQUEST_METHOD PATH_INFO QUERY_STRING CONTENT_TYPE CONTENT_LENGTH REMOTE_ADDR \
    REMOTE_PORT REQUEST_SCHEME SERVER_PROTOCOL UHW_TIMEOUT_MS UHW_BODY_FILE

# Characters of the variable names the helper sends (spelt out: a range could follow the locale).
_UHW_NAME_CHARS=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_

# One command to the helper: the working directory, the argument count, the arguments.
_uhw_send() {
    if [[ -z ${_UHW_COPROC[1]-} ]]; then
        echo "uhw.sh: $1: the uhw helper is gone" >&2
        return 1
    fi
    printf '%s\0' "$PWD" "$#" "$@" >&"${_UHW_COPROC[1]}"
}

# The helper's one-byte answer to recv or json, into _uhw_t.
_uhw_wait() {
    [[ -n ${_UHW_COPROC[0]-} ]] && IFS= read -r -N 1 -u "${_UHW_COPROC[0]}" _uhw_t
}

uhw_recv() {
    local _uhw_t _uhw_i _uhw_n
    _uhw_send recv && _uhw_wait && [[ $_uhw_t == R ]] || return 1
    mapfile -d '' -t _UHW_F <"$_UHW_DIR/request" || return 1
    ((${#_UHW_HEADERS[@]} == 0)) || unset "${_UHW_HEADERS[@]}" # the previous request's
    _UHW_HEADERS=()
    UHW_REQUEST_ID=${_UHW_F[0]} REQUEST_METHOD=${_UHW_F[1]} PATH_INFO=${_UHW_F[2]} QUERY_STRING=${_UHW_F[3]}
    CONTENT_TYPE=${_UHW_F[4]} CONTENT_LENGTH=${_UHW_F[5]} REMOTE_ADDR=${_UHW_F[6]} REMOTE_PORT=${_UHW_F[7]}
    REQUEST_SCHEME=${_UHW_F[8]} SERVER_PROTOCOL=${_UHW_F[9]} UHW_TIMEOUT_MS=${_UHW_F[10]}
    UHW_BODY_FILE=${_UHW_F[11]}
    if [[ ${_UHW_F[12]} == 1 ]]; then
        for _uhw_n in "${!UHW_SETTING_@}"; do unset "$_uhw_n"; done
    fi
    for ((_uhw_i = 13; _uhw_i + 1 < ${#_UHW_F[@]}; _uhw_i += 2)); do
        _uhw_n=${_UHW_F[_uhw_i]}
        # The helper only sends such names; checked again because printf -v NAME[...]
        # would evaluate an array subscript. (Globs: a regex costs ~20 us here.)
        [[ ($_uhw_n == HTTP_?* || $_uhw_n == UHW_SETTING_?*) && $_uhw_n != *[!$_UHW_NAME_CHARS]* ]] || continue
        printf -v "$_uhw_n" '%s' "${_UHW_F[_uhw_i + 1]}"
        if [[ $_uhw_n == H* ]]; then
            _UHW_HEADERS+=("$_uhw_n")
        else
            # shellcheck disable=SC2163 # the variable named by $_uhw_n, indeed
            export "$_uhw_n"
        fi
    done
    ((${#_UHW_HEADERS[@]} == 0)) || export "${_UHW_HEADERS[@]}"
    return 0
}

uhw_ready() { _uhw_send ready "$@"; }
uhw_reply() { _uhw_send reply "$@"; }
uhw_stream() { _uhw_send stream "$@"; }
uhw_sse() { _uhw_send sse "$@"; }
uhw_ndjson() { _uhw_send ndjson "$@"; }
uhw_log() { _uhw_send log "$@"; }
uhw_keepalive() { _uhw_send keepalive "$@"; }

uhw_json() {
    local _uhw_t _uhw_v=${1-}
    if [[ -z $_uhw_v || $_uhw_v == [0123456789]* || $_uhw_v == *[!abcdefghijklmnopqrstuvwxyz$_UHW_NAME_CHARS]* ]]; then
        echo "uhw_json: '$_uhw_v' is not a variable name (uhw_json VAR KEY=VALUE...)" >&2
        return 2
    fi
    shift
    _uhw_send json "$@" && _uhw_wait || return 1
    [[ $_uhw_t == J ]] || return 2 # the helper logged why
    IFS= read -r -d '' "$_uhw_v" <"$_UHW_DIR/json" # no NUL in JSON text: reads to the end
    printf -v "$_uhw_v" '%s' "${!_uhw_v%$'\n'}"
}
