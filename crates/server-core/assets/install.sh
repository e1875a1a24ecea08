#!/bin/sh
# Ward agent installer, served by ward-server at /install.sh.
#
#   sh install.sh --server URL --pin PIN --key KEY --platform PLATFORM [ARGS...]
#
# Downloads ward-agent and ward-update for PLATFORM from the Ward server
# itself (TLS, server key pinned), checks their SHA-256, and runs
# `ward-agent install --server URL --pin PIN --key KEY --platform PLATFORM ARGS...`
# (e.g. ARGS = --prefix DIR), which installs both and starts both (a server
# without a ward-update package installs the agent alone). Exits with the
# agent installer's status.
# `--proxy URL` and `--override HOST=IP` in ARGS also apply to the downloads
# (curl --proxy, curl --resolve) and are passed on to the installer.
#
# Everything runs inside main(), called on the last line: a truncated
# download runs nothing.

say() {
    printf 'ward-install: %s\n' "$*" >&2
}

die() {
    say "$*"
    exit 1
}

# verify KIND FILE: checks $tmp/FILE against the server's .sha256 of
# /download/KIND/$platform, and makes it executable.
verify() {
    if command -v sha256sum >/dev/null 2>&1; then
        fetch "$server/download/$1/$platform.sha256" "$tmp/$2.sha256" || exit 1
        want=$(cut -d ' ' -f 1 <"$tmp/$2.sha256")
        got=$(sha256sum "$tmp/$2" | cut -d ' ' -f 1)
        [ -n "$want" ] && [ "$want" = "$got" ] ||
            die "the downloaded $2 is corrupt (sha256 $got, the server says $want)"
    fi
    chmod 755 "$tmp/$2" || die "cannot make $2 executable in $tmp"
}

# fetch URL FILE [optional]: downloads with the pin; on failure prints one
# line naming the cause and returns non-zero (an optional file that the
# server does not have, HTTP 404, returns 2 silently).
fetch() {
    # $resolve holds only validated host:port:address words.
    # shellcheck disable=SC2086
    code=$(curl -fsSk --pinnedpubkey "$pin" ${proxy:+--proxy "$proxy"} $resolve \
        --connect-timeout 15 --max-time 600 -w '%{http_code}' -o "$2" "$1" 2>/dev/null)
    rc=$?
    [ "$rc" -eq 0 ] && return 0
    case $rc in
        6) cause="cannot resolve the server's host name in $server" ;;
        5) cause="cannot resolve the proxy's host name" ;;
        7) cause="connection refused by $server${proxy:+ or the proxy} (is ward-server running and reachable?)" ;;
        56) cause="the proxy refused to connect to $server (CONNECT denied)" ;;
        28) cause="timed out talking to $server" ;;
        35) cause="TLS handshake with $server failed" ;;
        90) cause="server key does not match pin (is $server really your Ward server?)" ;;
        22)
            if [ "$code" = 404 ] && [ "${3:-}" = optional ]; then
                return 2
            elif [ "$code" = 404 ]; then
                cause="the server has no ward-agent package for platform $platform (HTTP 404 for $1)"
            else
                cause="the server answered HTTP $code for $1"
            fi
            ;;
        *) cause="downloading $1 failed (curl exit code $rc)" ;;
    esac
    say "$cause"
    return "$rc"
}

main() {
    server=
    pin=
    key=
    platform=
    proxy=
    overrides=
    set -f
    # Our four options are taken out; everything else is passed through in
    # order (--proxy and --override are also kept for the downloads).
    n=$#
    while [ "$n" -gt 0 ]; do
        arg=$1
        shift
        n=$((n - 1))
        case $arg in
            --server | --pin | --key | --platform)
                [ "$n" -gt 0 ] || die "$arg needs a value"
                val=$1
                shift
                n=$((n - 1))
                case $arg in
                    --server) server=$val ;;
                    --pin) pin=$val ;;
                    --key) key=$val ;;
                    --platform) platform=$val ;;
                esac
                ;;
            --proxy | --override)
                [ "$n" -gt 0 ] || die "$arg needs a value"
                val=$1
                shift
                n=$((n - 1))
                case $arg in
                    --proxy) proxy=$val ;;
                    --override)
                        case $val in
                            *=*) ;;
                            *) die "--override needs HOST=IP, got $val" ;;
                        esac
                        case $val in
                            *[!A-Za-z0-9.:_=\[\]-]*) die "--override needs HOST=IP, got $val" ;;
                        esac
                        overrides="$overrides $val"
                        ;;
                esac
                set -- "$@" "$arg" "$val"
                ;;
            --server=*) server=${arg#*=} ;;
            --pin=*) pin=${arg#*=} ;;
            --key=*) key=${arg#*=} ;;
            --platform=*) platform=${arg#*=} ;;
            *) set -- "$@" "$arg" ;;
        esac
    done
    [ -n "$server" ] || die "missing --server URL"
    [ -n "$pin" ] || die "missing --pin PIN"
    [ -n "$key" ] || die "missing --key KEY"
    [ -n "$platform" ] || die "missing --platform PLATFORM"
    server=${server%/}
    command -v curl >/dev/null 2>&1 || die "curl is required but was not found in PATH"

    # --override HOST=IP -> curl --resolve HOST:PORT:IP (PORT of --server).
    hostport=${server#*://}
    hostport=${hostport%%/*}
    case $hostport in
        \[*\]:*) port=${hostport##*]:} ;;
        \[*\]) port=443 ;;
        *:*) port=${hostport##*:} ;;
        *) port=443 ;;
    esac
    resolve=
    for o in $overrides; do
        h=${o%%=*}
        ip=${o#*=}
        ip=${ip#[}
        ip=${ip%]}
        case $ip in *:*) ip="[$ip]" ;; esac
        resolve="$resolve --resolve $h:$port:$ip"
    done

    tmp=$(mktemp -d 2>/dev/null || mktemp -d -t ward-install.XXXXXX) ||
        die "cannot create a temporary directory"
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    fetch "$server/download/agent/$platform" "$tmp/ward-agent" || exit 1
    verify agent ward-agent
    # The updater is optional: a server without its package installs the agent alone.
    if fetch "$server/download/update/$platform" "$tmp/ward-update" optional; then
        verify update ward-update
    else
        rm -f "$tmp/ward-update"
        say "the server has no ward-update package for $platform; installing the agent without its updater"
    fi

    "$tmp/ward-agent" install --server "$server" --pin "$pin" --key "$key" \
        --platform "$platform" "$@"
    status=$?
    exit "$status"
}

main "$@"
