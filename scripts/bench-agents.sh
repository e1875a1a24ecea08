#!/usr/bin/env bash
# Reproduces the agent-scale benchmark of BENCHMARKS.md: starts a release
# build of ward-server on loopback with a temporary data dir, creates a
# verification key and an API token, and runs `ward-bench agents` with N
# simulated agents (real TLS, real wire protocol) against it.
#
# Usage: scripts/bench-agents.sh N [more ward-bench agents options…]
#   e.g. scripts/bench-agents.sh 30000
#        KEEPALIVE_SECS=5 scripts/bench-agents.sh 30000 --json
#
# Environment:
#   KEEPALIVE_SECS  server policy keepalive interval (default 30)
#   DURATION        seconds to hold all sessions (default 120)
#   PORT            loopback port of the server (default 18443)
#   LOG_LEVEL       server log level (default warn: ~3 info lines per session
#                   start would otherwise go to WORK_DIR/server.log)
#   WORK_DIR        where the data dir, logs and credentials go (default: a new /tmp dir)
#   KEEP=1          keep WORK_DIR afterwards (default: removed)
#   SKIP_BUILD=1    use the binaries already built
#   CARGO_TARGET_DIR  as usual (default: ./target)
#
# Root is needed for more than ~20,000 agents (the open-files hard limit is
# raised to /proc/sys/fs/nr_open for both processes). Traffic stays on
# 127.0.0.0/8: sessions come from 127.0.0.2-127.0.0.9 so ephemeral ports are
# not the limit.
set -euo pipefail
command -v jq >/dev/null 2>&1 || { echo "bench-agents: needs jq (apt-get install -y jq)" >&2; exit 2; }

N=${1:-}
if ! [[ "$N" =~ ^[0-9]+$ ]] || [ "$N" -lt 1 ]; then
    echo "usage: $0 N [ward-bench agents options…]" >&2
    exit 2
fi
shift

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
profile=release-server
keepalive=${KEEPALIVE_SECS:-30}
duration=${DURATION:-120}
port=${PORT:-18443}
log_level=${LOG_LEVEL:-warn}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && cargo build --profile "$profile" -p ward-server -p ward-bench)
fi
server_bin=$target/$profile/ward-server
bench_bin=$target/$profile/ward-bench

# Both processes inherit this: the server raises its soft limit to the hard
# one. Raising the hard limit needs CAP_SYS_RESOURCE (root normally has it).
ulimit -Hn "$(cat /proc/sys/fs/nr_open)" 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
nofile=$(ulimit -Sn)
# One bench process holds up to (limit - 576) sessions (ward-bench keeps
# 512 + its enrollment concurrency free); larger runs use several shards.
per_bench=$((nofile - 576))
shards=$(((N + per_bench - 1) / per_bench))
if [ "$nofile" -lt $((N + 1024)) ]; then
    echo "warning: open-files limit is $nofile (hard limit not raisable here): one ward-server" \
        "process cannot hold $N sessions; the run shows how it fails" >&2
fi

work=${WORK_DIR:-$(mktemp -d /tmp/ward-bench.XXXXXX)}
mkdir -p "$work"
data=$work/data
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" != 1 ] && [ -z "${WORK_DIR:-}" ]; then
        rm -rf "$work"
    else
        echo "kept $work (server.log, agents.json, result)" >&2
    fi
}
trap cleanup EXIT

echo "server: $server_bin on 127.0.0.1:$port, keepalive ${keepalive}s, data $data" >&2
WARD_POLICY__KEEPALIVE_SECS=$keepalive WARD_LOG__LEVEL=$log_level \
    "$server_bin" serve --data-dir "$data" --listen "127.0.0.1:$port" \
    >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 600); do
    if [ -s "$data/server.json" ] && curl -sk -o /dev/null "https://127.0.0.1:$port/healthz"; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "ward-server exited; its log:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
url=$(jq -r .url "$data/server.json")
pin=$(jq -r .pin "$data/server.json")
key=$("$server_bin" keys create --data-dir "$data" --label bench --json | jq -r .secret)
token=$("$server_bin" token create --data-dir "$data" --label bench 2>/dev/null)

common=(--server "$url" --pin "$pin" --duration "$duration" --enrolled-file "$work/agents.json"
    --server-pid "$server_pid")
export WARD_BENCH_KEY=$key WARD_BENCH_TOKEN=$token
if [ "$shards" -le 1 ]; then
    "$bench_bin" agents "${common[@]}" --count "$N" "$@" | tee "$work/result"
else
    echo "splitting $N agents over $shards ward-bench processes of at most $per_bench" >&2
    "$bench_bin" agents "${common[@]}" --count "$N" --enroll-only "$@" >"$work/result.enroll"
    pids=()
    for i in $(seq 0 $((shards - 1))); do
        offset=$((i * per_bench))
        count=$((N - offset < per_bench ? N - offset : per_bench))
        "$bench_bin" agents "${common[@]}" --count "$count" --offset "$offset" \
            --expect-protected "$N" --progress $((i == 0 ? 5 : 0)) "$@" >"$work/result.$i" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
    for i in $(seq 0 $((shards - 1))); do
        echo "== shard $i =="
        cat "$work/result.$i"
    done | tee "$work/result"
fi

echo "server log: $(grep -c . "$work/server.log" || true) lines, $(grep -ci error "$work/server.log" || true) with 'error'" >&2
