#!/usr/bin/env bash
# Agent footprint: binary sizes of the release builds of ward-agent and
# ward-update for every platform, and the idle RSS and CPU of the release
# (static musl) agent and updater, enrolled with a real ward-server (default
# 30 s keepalives), next to fail2ban-server (the host-protection daemon an
# operator would otherwise run; Debian package fail2ban) watching one sshd
# log, measured in the same run.
# Usage: benches/agent-footprint/run.sh [IDLE_SECS]   (default 60; as root)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
idle=${1:-60}
scripts/build-agents.sh --profile release >/dev/null
cargo build --bins >/dev/null 2>&1
pkgs=target/packages/release
echo "== release binaries (LTO, opt-level s, stripped)"
for p in linux-x86_64 linux-i686 linux-aarch64; do
  printf '%-14s ward-agent %9s bytes   ward-update %9s bytes\n' "$p" \
    "$(stat -c %s $pkgs/$p/ward-agent)" "$(stat -c %s $pkgs/$p/ward-update)"
done
file "$pkgs/linux-x86_64/ward-agent" | sed 's/^.*: /linux-x86_64 ward-agent: /'

work=$(mktemp -d /tmp/ward-footprint-XXXXXX)
cleanup() {
  [[ -x $work/pfx/bin/ward-agent ]] && "$work/pfx/bin/ward-agent" stop --prefix "$work/pfx" >/dev/null 2>&1 || true
  for f in "$work/pfx/data/update.pid" "$work/server.pid" "$work/f2b.pid2"; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
WARD_PACKAGES_DIR="$root/$pkgs" target/debug/ward-server serve --data-dir "$work/srv" \
  --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
echo $! >"$work/server.pid"
for _ in $(seq 100); do curl -fsk "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
cmd=$(target/debug/ward-server install-command --data-dir "$work/srv" --platform linux-x86_64)
sh -c "$cmd --prefix '$work/pfx'" >/dev/null

d=$work/f2b
mkdir -p "$d"
cp -r /etc/fail2ban "$d/conf"
touch "$d/auth.log"
printf '[sshd]\nenabled = true\nbackend = polling\nlogpath = %s/auth.log\n' "$d" >"$d/conf/jail.d/zz-bench.local"
fail2ban-server -f -x -c "$d/conf" -s "$d/s.sock" -p "$d/p.pid" --logtarget "$d/log" >/dev/null 2>&1 &
echo $! >"$work/f2b.pid2"

sleep 10 # let both settle
agent=$(cat "$work/pfx/data/agent.pid")
updater=$(cat "$work/pfx/data/update.pid")
f2b=$(cat "$work/f2b.pid2")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
declare -A t0 max
for p in $agent $updater $f2b; do t0[$p]=$(ticks "$p"); max[$p]=0; done
for _ in $(seq "$idle"); do
  for p in $agent $updater $f2b; do
    r=$(rss_kib "$p")
    ((r > max[$p])) && max[$p]=$r
  done
  sleep 1
done
echo "== idle for ${idle} s (after 10 s to settle): RSS max and CPU average"
for row in "ward-agent (musl, release):$agent" "ward-update (musl, release):$updater" "fail2ban-server $(fail2ban-server --version 2>/dev/null | head -1 | awk '{print $NF}'):$f2b"; do
  name=${row%:*}
  p=${row##*:}
  used=$(($(ticks "$p") - t0[$p]))
  printf '%-32s RSS %6.1f MiB   CPU %.3f %% of one core\n' "$name" \
    "$(echo "${max[$p]} / 1024" | bc -l)" "$(echo "$used * 100 / $hz / $idle" | bc -l)"
done
