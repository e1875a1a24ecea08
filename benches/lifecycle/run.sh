#!/usr/bin/env bash
# Agent lifecycle benchmarks, in one run (release builds):
#   1. command delivery: one bulk uninstall for N simulated agents (real TLS
#      sessions, real protocol) -> every signed command arrives (p50/p99);
#   2. remote uninstall of real agents: API call -> asset uninstalled and the
#      install gone from the disk (each of R agents, one after another);
#   3. side by side, what an operator does without it: `ssh root@host
#      ward-agent uninstall` to a real sshd on a network-namespace host.
# Needs root (namespace host), openssh-server and openssh-client.
# Usage: benches/lifecycle/run.sh [N agents for 1, default 1000] [R agents for 2 and 3, default 10]
set -euo pipefail
N=${1:-1000}
R=${2:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/ward-lifecycle-bench.XXXXXX")
ns="wlb$$"
cleanup() {
    [ -f "$work/sshd.pid" ] && kill "$(cat "$work/sshd.pid")" 2>/dev/null || true
    for p in "$work"/agents/*/data/agent.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    ip link del "${ns}h" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && cargo build --profile release-server -p ward-server && cargo build --release -p ward-agent &&
    cargo build --release -p ward-e2e --example command_fanout)
server_bin=$target/release-server/ward-server
agent_bin=$target/release/ward-agent
fanout=$target/release/examples/command_fanout
mkdir -p "$target/release-server/" && cp "$agent_bin" "$target/release-server/ward-agent"

# A namespace host 10.215.x.2 reaching this machine at 10.215.x.1.
third=$(($$ % 250))
ip netns add "$ns"
ip link add "${ns}h" type veth peer name "${ns}n"
ip link set "${ns}n" netns "$ns"
ip addr add "10.215.$third.1/30" dev "${ns}h" && ip link set "${ns}h" up
ip netns exec "$ns" ip addr add "10.215.$third.2/30" dev "${ns}n"
ip netns exec "$ns" ip link set "${ns}n" up
ip netns exec "$ns" ip link set lo up
host_addr=10.215.$third.1 ns_addr=10.215.$third.2

ulimit -n 65536 2>/dev/null || true
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0",0)); print(s.getsockname()[1])')
WARD_LOG__LEVEL=warn "$server_bin" serve --data-dir "$work/server" --listen "0.0.0.0:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -f "$work/server/server.json" ] && break; sleep 0.1; done
sleep 1
pin=$(sed -n 's/.*"pin": "\(sha256[^"]*\)".*/\1/p' "$work/server/server.json")
token=$("$server_bin" token create --data-dir "$work/server" --label bench | grep -o 'wt_[A-Za-z0-9_-]*')
key=$("$server_bin" keys list --data-dir "$work/server" | grep -o 'wk_[A-Za-z0-9_-]*' | head -1)
url="https://127.0.0.1:$port"
api() { curl -fsSk --pinnedpubkey "$pin" -H "Authorization: Bearer $token" "$@"; }
now_ms() { date +%s%3N; }

echo "== 1. command delivery: one bulk uninstall for $N simulated agents"
"$fanout" --url "$url" --pin "$pin" --key "$key" --token "$token" --agents "$N"

echo "== 2. remote uninstall of $R real agents (API call -> uninstalled and files gone)"
install_cmd=$("$server_bin" install-command --data-dir "$work/server" --platform linux-x86_64 --server "https://$host_addr:$port")
mkdir -p "$work/agents"
lat=()
for i in $(seq "$R"); do
    p="$work/agents/r$i"
    sh -c "$install_cmd --prefix '$p'" >/dev/null
    id=$(sed -n 's/.*"agent_id": "\([^"]*\)".*/\1/p' "$p/data/identity.json")
    t0=$(now_ms)
    api -X POST "$url/api/v1/assets/$id/uninstall" >/dev/null
    until [ ! -e "$p" ] && api "$url/api/v1/assets/$id" | grep -q '"status_reason":"uninstalled"'; do sleep 0.01; done
    lat+=($(($(now_ms) - t0)))
done
printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END {printf "remote uninstall: n=%d p50=%d ms max=%d ms\n", NR, a[int((NR+1)/2)], a[NR]}'

echo "== 3. the same by hand: ssh root@host ward-agent uninstall ($R times, key auth, new connection each)"
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$work/id"
cp "$work/id.pub" "$work/authorized_keys"
cat >"$work/sshd_config" <<EOF
ListenAddress $ns_addr
Port 22
HostKey $work/hostkey
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
mkdir -p /run/sshd
ip netns exec "$ns" /usr/sbin/sshd -f "$work/sshd_config"
for _ in $(seq 50); do [ -f "$work/sshd.pid" ] && break; sleep 0.1; done
ssh_lat=()
for i in $(seq "$R"); do
    p="$work/agents/s$i"
    sh -c "$install_cmd --prefix '$p'" >/dev/null
    t0=$(now_ms)
    ssh -q -i "$work/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
        "root@$ns_addr" "$p/bin/ward-agent uninstall --prefix $p" >/dev/null
    [ ! -e "$p" ] || { echo "ssh uninstall left $p" >&2; exit 1; }
    ssh_lat+=($(($(now_ms) - t0)))
done
printf '%s\n' "${ssh_lat[@]}" | sort -n | awk '{a[NR]=$1} END {printf "ssh + ward-agent uninstall: n=%d p50=%d ms max=%d ms\n", NR, a[int((NR+1)/2)], a[NR]}'
