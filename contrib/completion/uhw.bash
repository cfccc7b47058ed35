# bash completion for uhw(1).
#
# Installed as PREFIX/share/bash-completion/completions/uhw, where bash-completion loads
# it the first time `uhw` is completed. For a build tree: `. contrib/completion/uhw.bash`.
#
# Completes verbs, each verb's options, configuration files, and pool names. Pool names
# come from the configuration: CONFIG on the command line, else ./pools.yaml, read with
# `uhw check --dump`; when that fails (or with -s SOCKET), from the running server with
# `uhw status --compact`.

# The uhw being completed: the command word as typed (build/uhw), else uhw on PATH.
_uhw_bin()
{
    local bin=${COMP_WORDS[0]}
    bin=${bin/#\~/$HOME}
    if [[ $bin == */* && -x $bin ]]; then
        printf '%s\n' "$bin"
    else
        printf '%s\n' uhw
    fi
}

# Prints "POOL SIZE" per pool of the configuration the command line names. Quiet on errors.
_uhw_pool_sizes()
{
    local bin config= socket= i w
    bin=$(_uhw_bin)
    for ((i = 2; i < ${#COMP_WORDS[@]}; i++)); do
        ((i == COMP_CWORD)) && continue
        w=${COMP_WORDS[i]}
        case ${COMP_WORDS[i - 1]} in
        -s | --socket) socket=$w ;;
        esac
        case $w in
        --socket=*) socket=${w#--socket=} ;;
        *.yaml | *.yml) [[ -f $w ]] && config=$w ;;
        esac
    done
    [[ -z $socket && -z $config && -f pools.yaml ]] && config=pools.yaml
    local status_args=()
    if [[ -n $socket ]]; then
        status_args=(-s "$socket")
    elif [[ -n $config ]]; then
        # The dump has each pool as "- name: NAME" followed by "  workers: N".
        local dump
        if dump=$(timeout 5 "$bin" check --dump "$config" 2>/dev/null); then
            awk '/^- name: /{n=$3} /^  workers: /{if (n != "") print n, $2; n=""}' <<<"$dump"
            return
        fi
        status_args=("$config")
    else
        return
    fi
    # The server's view: "name" and "size" of each pool, in that order, in one JSON line.
    timeout 5 "$bin" status "${status_args[@]}" --compact 2>/dev/null |
        grep -oE '"(name|size)":("[^"]*"|[0-9]+)' |
        awk -F: '/^"name"/{gsub(/"/, "", $2); n=$2} /^"size"/{if (n != "") print n, $2; n=""}'
}

_uhw_pools()
{
    local line
    while read -r line; do
        printf '%s\n' "${line%% *}"
    done < <(_uhw_pool_sizes)
}

# POOL and POOL#SLOT, for uhw tail.
_uhw_pool_slots()
{
    local name size s
    while read -r name size; do
        printf '%s\n' "$name"
        for ((s = 0; s < size; s++)); do printf '%s\n' "$name#$s"; done
    done < <(_uhw_pool_sizes)
}

_uhw_configs()
{
    _filedir '@(yaml|yml)'
}

_uhw()
{
    local cur prev words cword
    _init_completion -n '#' || return

    local verbs="serve check status ps tail reload stop restart scale ready recv reply stream
        sse ndjson log keepalive cgi replay json version help"
    if ((cword == 1)); then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '--help --version -V' -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        fi
        return
    fi

    local verb=${words[1]} i
    # Positional arguments before the current word (options and their values skipped).
    local npos=0
    for ((i = 2; i < cword; i++)); do
        case ${words[i]} in
        -s | --socket | --listen | --pool | -n | -c | -i | -t | -H | -f | -p | -x | --event | --id | --retry | \
            --error | --to | --frame | --timeout | --ready-timeout)
            [[ $verb == tail && ${words[i]} == -f ]] || ((i++))
            ;;
        -*) ;;
        *) ((npos++)) ;;
        esac
    done

    # Option values.
    case $prev in
    -s | --socket)
        if [[ $verb == reply ]]; then
            COMPREPLY=($(compgen -W '200 201 204 301 302 304 400 401 403 404 409 500 502 503' -- "$cur"))
        else
            _filedir
        fi
        return
        ;;
    --pool)
        COMPREPLY=($(compgen -W "$(_uhw_pools)" -- "$cur"))
        return
        ;;
    -f)
        if [[ $verb != tail ]]; then
            _filedir
            return
        fi
        ;;
    --frame)
        _filedir
        return
        ;;
    --listen | -n | -c | -i | -t | -H | -p | -x | --event | --id | --retry | --error | --to | --timeout | \
        --ready-timeout)
        return
        ;;
    esac

    local opts= socket_opts='-s --socket --help'
    case $verb in
    serve) opts='--listen --help' ;;
    check) opts='--dump --listen --help' ;;
    status) opts="$socket_opts --compact --pool" ;;
    ps | reload) opts=$socket_opts ;;
    stop) opts="$socket_opts --wait" ;;
    restart | scale) opts=$socket_opts ;;
    tail) opts="$socket_opts -n -f" ;;
    ready) opts='-c -i --help' ;;
    reply) opts='-i -s -t -H -f --help' ;;
    sse) opts='-i --event --id --retry -f --help' ;;
    ndjson | keepalive) opts='-i --help' ;;
    cgi) opts='-c -p -x --help' ;;
    replay) opts='--id --last --all --pool --to --exec --frame --timeout --ready-timeout --help' ;;
    stream)
        case ${words[2]} in
        start) opts='-i -s -t -H --help' ;;
        data) opts='-i -f --help' ;;
        end) opts='-i --error --help' ;;
        esac
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    case $verb in
    serve | check | status | ps | reload | stop)
        ((npos == 0)) && _uhw_configs
        ;;
    restart)
        if ((npos == 0)); then
            COMPREPLY=($(compgen -W "$(_uhw_pools)" -- "$cur"))
        elif ((npos == 1)); then
            _uhw_configs
        fi
        ;;
    scale)
        if ((npos == 0)); then
            COMPREPLY=($(compgen -W "$(_uhw_pools)" -- "$cur"))
        elif ((npos == 2)); then
            _uhw_configs
        fi
        ;;
    tail)
        if ((npos == 0)); then
            COMPREPLY=($(compgen -W "$(_uhw_pool_slots)" -- "$cur"))
        elif ((npos == 1)); then
            _uhw_configs
        fi
        ;;
    stream)
        ((npos == 0)) && COMPREPLY=($(compgen -W 'start data end' -- "$cur"))
        ;;
    log)
        ((npos == 0)) && COMPREPLY=($(compgen -W 'debug info warning error critical' -- "$cur"))
        ;;
    cgi)
        _filedir
        ;;
    replay)
        for ((i = 2; i < cword; i++)); do
            if [[ ${words[i]} == -- ]]; then # --exec -- COMMAND...: complete a command line
                _command_offset $((i + 1))
                return
            fi
        done
        ((npos == 0)) && _filedir '@(jsonl|json)'
        ;;
    help)
        ((npos == 0)) && COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        ;;
    esac
} &&
    complete -F _uhw uhw
