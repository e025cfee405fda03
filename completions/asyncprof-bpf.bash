# bash completion for asyncprof-bpf(8): options, their values, and pids.
# Installed by `make install` as share/bash-completion/completions/asyncprof-bpf;
# for a try without installing: source completions/asyncprof-bpf.bash

# Pids of processes holding an epoll descriptor (the event loops; readable as
# root), else of processes that look like Python or Node.js.
_asyncprof_bpf_pids()
{
    local d p fd comm
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        if [[ -r $d/fd ]]; then
            for fd in "$d"/fd/*; do
                if [[ $(readlink "$fd" 2>/dev/null) == "anon_inode:[eventpoll]" ]]; then
                    echo "$p"
                    break
                fi
            done
        else
            read -r comm 2>/dev/null < "$d/comm" || continue
            [[ $comm == python* || $comm == node* ]] && echo "$p"
        fi
    done
}

_asyncprof_bpf()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i
    local opts="--pid --comm --duration --format --output --quiet --max-tasks --stack-depth
        --frequency --interval --batch --no-live --group-by --prometheus --blocking-threshold
        --slow-callback --stuck-after --lag-interval --backend --mode --list --check --top --verbose --help --usage
        --version -p -c -d -f -o -q -v -V"

    COMPREPLY=()
    # after "--": the command, then its arguments
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} == -- ]]; then
            if ((COMP_CWORD == i + 1)); then
                COMPREPLY=($(compgen -c -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return 0
        fi
    done
    # --opt=value: bash splits the word at "="
    if [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    elif [[ $cur == = ]]; then
        cur=""
    fi
    case $prev in
    -p | --pid)
        COMPREPLY=($(compgen -W "$(_asyncprof_bpf_pids)" -- "$cur"))
        return 0
        ;;
    -c | --comm)
        COMPREPLY=($(compgen -W "$(cat /proc/[0-9]*/comm 2>/dev/null | sort -u)" -- "$cur"))
        return 0
        ;;
    -f | --format)
        COMPREPLY=($(compgen -W "text json chrome html folded" -- "$cur"))
        return 0
        ;;
    -o | --output)
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
        ;;
    --backend)
        COMPREPLY=($(compgen -W "auto uprobe syscall" -- "$cur"))
        return 0
        ;;
    --mode)
        COMPREPLY=($(compgen -W "full light" -- "$cur"))
        return 0
        ;;
    --group-by)
        COMPREPLY=($(compgen -W "task none" -- "$cur"))
        return 0
        ;;
    -d | --duration | --max-tasks | --stack-depth | --frequency | --interval | --prometheus | \
        --blocking-threshold | --slow-callback | --stuck-after | --lag-interval | --top)
        return 0 # a number
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    fi
    return 0
}

complete -F _asyncprof_bpf asyncprof-bpf
