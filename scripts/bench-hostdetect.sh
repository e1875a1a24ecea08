#!/usr/bin/env bash
# Reproduces the "Host detection" figures of BENCHMARKS.md (root, Linux):
#
#  A. ward-agent CPU and RSS (release build, process and file collectors on
#     with their defaults) idle, then under a storm of RATE process starts
#     per second, next to forkstat (Debian's process-connector monitor)
#     watching the same storm;
#  B. baseline hashing of a tree (default /usr) by the file collector's code
#     (SHA-256, no size limit) next to AIDE (Debian's aide) initialising a
#     database of the same tree with sha256, in the same run, warm cache.
#
# Usage: scripts/bench-hostdetect.sh [agent|hash|all]   (default all)
# Environment: RATE (200), SECS (60 per phase), TREE (/usr), PORT (18543),
#   SKIP_BUILD=1, KEEP=1 (keep the work dir), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
RATE=${RATE:-200}
SECS=${SECS:-60}
TREE=${TREE:-/usr}
PORT=${PORT:-18543}
T=${CARGO_TARGET_DIR:-$PWD/target}/release
WORK=$(mktemp -d /tmp/ward-bench-host.XXXXXX)
cleanup() {
    [[ -n "${AGENT_BIN:-}" && -x "$AGENT_BIN" ]] && "$AGENT_BIN" stop --prefix "$WORK/prefix" >/dev/null 2>&1 || true
    [[ -n "${SERVER_PID:-}" ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ "${KEEP:-0}" == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT

MUSL=${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-musl/release
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release -q -p ward-server
    # The shipped agent: static (musl), release profile.
    cargo build --release -q -p ward-agent --target x86_64-unknown-linux-musl
    cargo build --release -q -p ward-collect-proc --example exec_storm
    cargo build --release -q -p ward-collect-files --example baseline_bench
fi

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# Process starts the agent's process collector handled so far.
collector() { # collector NAME FIELD: a field of the collector's first source in status.json
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=[c for c in d.get("collectors",[]) if c["name"]==sys.argv[2]]; print(c[0]["state"] if sys.argv[3]=="state" else c[0]["sources"][0].get(sys.argv[3],"")) if c else print("")' \
        "$WORK/prefix/data/status.json" "$1" "$2" 2>/dev/null || true
}
procs_seen() { collector process lines; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# measure PID SECS: prints "cpu% avgRSS_MiB maxRSS_MiB" over SECS seconds.
measure() {
    local pid=$1 secs=$2 t0 t1 sum=0 max=0 n=0 r
    t0=$(ticks "$pid")
    for ((i = 0; i < secs; i++)); do
        sleep 1
        r=$(rss_kib "$pid"); sum=$((sum + r)); n=$((n + 1)); ((r > max)) && max=$r
    done
    t1=$(ticks "$pid")
    awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$secs" -v sum=$sum -v n=$n -v max=$max \
        'BEGIN { printf "%.2f %.1f %.1f\n", d / hz / s * 100, sum / n / 1024, max / 1024 }'
}

bench_agent() {
    echo "== A. agent footprint (release musl build), ${SECS}s per phase, storm ${RATE}/s"
    # The server serves the ward-agent next to it: the static build.
    mkdir -p "$WORK/bin"
    cp "$T/ward-server" "$WORK/bin/"
    cp "$MUSL/ward-agent" "$WORK/bin/"
    T_SERVER="$WORK/bin/ward-server"
    "$T_SERVER" serve --data-dir "$WORK/server" --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -fsk "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
    key=$("$T_SERVER" keys create --label bench --data-dir "$WORK/server" --json | sed -n 's/.*"secret": *"\([^"]*\)".*/\1/p')
    cmd=$("$T_SERVER" install-command --platform linux-x86_64 --key "$key" --data-dir "$WORK/server")
    sh -c "$cmd --prefix '$WORK/prefix'" >"$WORK/install.log" 2>&1
    AGENT_BIN="$WORK/prefix/bin/ward-agent"
    pid=$(cat "$WORK/prefix/data/agent.pid")
    # Until the first file-integrity walk is done and a minute has passed.
    for _ in $(seq 300); do [[ $(collector files state) == running ]] && break; sleep 1; done
    sleep 30
    execs0=$(procs_seen); t0=$(date +%s)
    read -r cpu avg max < <(measure "$pid" "$SECS")
    bg=$(( ($(procs_seen) - execs0) / ($(date +%s) - t0) ))
    echo "ward-agent idle:          CPU ${cpu} % of a core, RSS avg ${avg} MiB (max ${max} MiB); ${bg} process starts/s on the machine meanwhile, $(wc -l </proc/net/tcp) TCP sockets"
    "$T/examples/exec_storm" "$RATE" "$SECS" >"$WORK/storm.txt" &
    storm=$!
    read -r cpu avg max < <(measure "$pid" "$SECS")
    wait "$storm"
    echo "ward-agent under storm:   CPU ${cpu} % of a core, RSS avg ${avg} MiB (max ${max} MiB); $(cat "$WORK/storm.txt")"
    echo "  process collector: $(collector process lines) starts handled, $(collector process events) events, $(collector process detail)"
    if command -v forkstat >/dev/null || apt-get install -y -q forkstat >/dev/null 2>&1; then
        forkstat -e exec >/dev/null 2>&1 &
        fs=$!
        sleep 2
        "$T/examples/exec_storm" "$RATE" "$SECS" >"$WORK/storm2.txt" &
        storm=$!
        read -r cpu avg max < <(measure "$fs" "$SECS")
        wait "$storm"
        kill "$fs" 2>/dev/null || true
        echo "forkstat -e exec, same storm: CPU ${cpu} % of a core, RSS avg ${avg} MiB (max ${max} MiB); $(cat "$WORK/storm2.txt")"
    else
        echo "forkstat: not installed (apt-get install forkstat)"
    fi
}

bench_hash() {
    echo "== B. baseline hashing of $TREE (warm cache, SHA-256)"
    command -v aide >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends aide >/dev/null
    "$T/examples/baseline_bench" "$TREE" >/dev/null # warms the page cache
    "$T/examples/baseline_bench" "$TREE"
    cat >"$WORK/aide.conf" <<CONF
database_out=file:$WORK/aide.db.new
gzip_dbout=no
Ward = p+i+n+u+g+s+m+c+sha256
$TREE Ward
CONF
    /usr/bin/time -f "aide --init: %e s wall, %U+%S s CPU, peak RSS %M KiB" \
        aide --init --config "$WORK/aide.conf" >/dev/null 2>"$WORK/aide.err" || true
    grep -E "^aide --init" "$WORK/aide.err" || tail -3 "$WORK/aide.err"
    echo "aide database: $(du -h "$WORK/aide.db.new" 2>/dev/null | cut -f1) ($(grep -c '^/' "$WORK/aide.db.new" 2>/dev/null || echo '?') entries)"
}

case $what in
    agent) bench_agent ;;
    hash) bench_hash ;;
    all) bench_hash; bench_agent ;;
    *) echo "usage: $0 [agent|hash|all]" >&2; exit 2 ;;
esac
