#!/bin/sh
# Ward agent uninstaller, served by ward-server at /uninstall.sh.
#
#   sh uninstall.sh [--prefix DIR] [--token TOKEN] [--server URL --pin PIN] [--force]
#
# Runs `DIR/bin/ward-agent uninstall --prefix DIR [--token TOKEN]` (default
# DIR /usr/local/ward): the agent stops itself and the updater, removes its
# services, files and credentials, and tells the server. With tamper
# protection on, TOKEN is an uninstall token from the console or API.
#
# When the installed ward-agent cannot run at all (damaged install), the
# script refuses unless --force is given; then it removes the install
# itself the same way (stops the processes of data/agent.pid and
# data/update.pid, removes the services and the files the installer
# created) and, with --server and --pin, tells the server with the
# agent's credential. Tamper protection cannot be checked in that case.
#
# Everything runs inside main(), called on the last line: a truncated
# download runs nothing.

say() {
    printf 'ward-uninstall: %s\n' "$*" >&2
}

die() {
    say "$*"
    exit 1
}

# is_ward_prefix DIR: the directory holds a Ward install.
is_ward_prefix() {
    [ -e "$1/data/identity.json" ] || [ -e "$1/data/uninstalling" ] ||
        [ -L "$1/bin/ward-agent" ] || [ -d "$1/agent" ]
}

# stop_pid FILE: SIGTERM to the pid in FILE if it runs a program of the
# prefix, SIGKILL after 10 s.
stop_pid() {
    [ -r "$1" ] || return 0
    pid=$(tr -cd '0-9' <"$1")
    [ -n "$pid" ] && [ "$pid" -gt 1 ] || return 0
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
    case $exe in
        "$prefix"/*) ;;
        *) return 0 ;;
    esac
    kill -TERM "$pid" 2>/dev/null || return 0
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# tell_server: POST an `uninstalled` notice with the agent's credential.
tell_server() {
    [ -n "$server" ] && [ -n "$pin" ] || {
        say "not telling the server (no --server and --pin given)"
        return 0
    }
    cred=$(sed -n 's/.*"credential"[[:space:]]*:[[:space:]]*"\(wa1\.[A-Za-z0-9_.-]*\)".*/\1/p' \
        "$prefix/data/identity.json" 2>/dev/null | head -n 1)
    [ -n "$cred" ] || {
        say "not telling the server (no credential in $prefix/data/identity.json)"
        return 0
    }
    now=$(($(date +%s) * 1000))
    id="ntc_sh$(date +%s)$$"
    body="{\"id\":\"$id\",\"kind\":\"uninstalled\",\"action\":\"uninstall\",\"at_ms\":$now,\"reason\":\"uninstall.sh --force (ward-agent did not run)\"}"
    if curl -fsSk --pinnedpubkey "$pin" --max-time 10 -o /dev/null \
        -H "Authorization: Bearer $cred" -H 'Content-Type: application/json' \
        --data "$body" "${server%/}/api/v1/agent/notice" 2>/dev/null; then
        say "the server was told: the asset is uninstalled"
    else
        say "the server could not be told; the asset will show offline"
    fi
}

force_remove() {
    is_ward_prefix "$prefix" || {
        say "no Ward agent is installed in $prefix; nothing to do"
        exit 0
    }
    mkdir -p "$prefix/data" && : >"$prefix/data/uninstalling"
    tell_server
    stop_pid "$prefix/data/update.pid"
    stop_pid "$prefix/data/agent.pid"
    if [ "$prefix" = /usr/local/ward ]; then
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            for u in ward-update.service ward-agent.service; do
                [ -e "/etc/systemd/system/$u" ] || continue
                systemctl disable --now "$u" >/dev/null 2>&1
                rm -f "/etc/systemd/system/$u"
            done
            systemctl daemon-reload >/dev/null 2>&1
        fi
        for s in ward-update ward-agent; do
            [ -e "/etc/init.d/$s" ] || continue
            command -v update-rc.d >/dev/null 2>&1 && update-rc.d -f "$s" remove >/dev/null 2>&1
            rm -f "/etc/init.d/$s"
        done
    fi
    rm -rf "$prefix/agent" "$prefix/update" "$prefix/log"
    rm -f "$prefix/bin/ward-agent" "$prefix/bin/ward-update" \
        "$prefix/conf/agent.toml" "$prefix/conf/network.toml" \
        "$prefix/conf/update.toml" "$prefix/conf/release.pub"
    rm -rf "$prefix/data"
    rmdir "$prefix/bin" "$prefix/conf" 2>/dev/null
    if rmdir "$prefix" 2>/dev/null; then
        say "removed $prefix"
    else
        say "removed the Ward agent; $prefix kept (it holds other files)"
    fi
    exit 0
}

main() {
    prefix=/usr/local/ward
    token=
    server=
    pin=
    force=0
    while [ $# -gt 0 ]; do
        case $1 in
            --prefix | --token | --server | --pin)
                [ $# -ge 2 ] || die "$1 needs a value"
                case $1 in
                    --prefix) prefix=$2 ;;
                    --token) token=$2 ;;
                    --server) server=$2 ;;
                    --pin) pin=$2 ;;
                esac
                shift 2
                ;;
            --prefix=*) prefix=${1#*=}; shift ;;
            --token=*) token=${1#*=}; shift ;;
            --server=*) server=${1#*=}; shift ;;
            --pin=*) pin=${1#*=}; shift ;;
            --force) force=1; shift ;;
            *) die "unknown argument $1 (usage: uninstall.sh [--prefix DIR] [--token TOKEN] [--server URL --pin PIN] [--force])" ;;
        esac
    done
    prefix=${prefix%/}
    case $prefix in
        /*) ;;
        *) die "--prefix must be an absolute path, got '$prefix'" ;;
    esac
    case $prefix in
        "" | /bin | /boot | /dev | /etc | /home | /lib | /lib64 | /opt | /proc | /root | /run | \
            /sbin | /srv | /sys | /tmp | /usr | /usr/local | /var)
            die "$prefix/ is a system directory, not a Ward prefix"
            ;;
    esac
    agent="$prefix/bin/ward-agent"
    if [ -x "$agent" ] && "$agent" --version >/dev/null 2>&1; then
        if [ -n "$token" ]; then
            exec "$agent" uninstall --prefix "$prefix" --token "$token"
        fi
        exec "$agent" uninstall --prefix "$prefix"
    fi
    is_ward_prefix "$prefix" || {
        say "no Ward agent is installed in $prefix; nothing to do"
        exit 0
    }
    [ "$force" = 1 ] ||
        die "$agent does not run (damaged install); re-run with --force to remove it without it (tamper protection cannot be checked then)"
    force_remove
}

main "$@"
