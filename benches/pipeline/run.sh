#!/usr/bin/env bash
# Event pipeline benchmarks (release builds, real processes, loopback only):
#  1. alert latency: a log line written on the host -> alert in the API, with a
#     real ward-agent following the log and a real ward-server; side by side
#     with fail2ban's ban latency on the same lines (tests/e2e detection.rs
#     bench_alert_latency);
#  2. ingest rate into the embedded store: simulated agents (real TLS and wire
#     protocol, tests/e2e/examples/ingest_load.rs) send events to a release
#     ward-server until every one is acknowledged (stored in SQLite);
#     side by side with rsyslog receiving the same number of lines over TCP
#     into a file.
# Needs root (the agent is installed into a temporary prefix), Debian's
# fail2ban, python3-pyinotify and rsyslog.
# Usage: benches/pipeline/run.sh [BURSTS (100)] [AGENTS (4)] [EVENTS_PER_AGENT (250000)]
set -euo pipefail
bursts="${1:-100}"
agents="${2:-4}"
per_agent="${3:-250000}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}/release"

cargo build --release --bins
cargo build --release -p ward-e2e --examples --tests

echo "== 1. alert latency (${bursts} bursts of 8 failed logins)"
BENCH_ALERT_BURSTS="$bursts" cargo test --release -p ward-e2e --test detection bench_alert_latency \
    -- --ignored --nocapture 2>&1 | grep -E '^(Ward|fail2ban) over'

echo "== 2. ingest rate: ${agents} agents x ${per_agent} events, batches of 1000, 4 in flight"
work=$(mktemp -d /tmp/ward-bench-ingest.XXXXXX)
server_pid=""
rsyslog_pid=""
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    [[ -n $rsyslog_pid ]] && kill "$rsyslog_pid" 2>/dev/null && wait "$rsyslog_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env -u WARD_LOG__LEVEL "$target/ward-server" serve --data-dir "$work/data" --listen "127.0.0.1:$port" \
    >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    curl -fsSk --max-time 1 "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
pin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pin"])' "$work/data/server.json")
key=$("$target/ward-server" keys create --data-dir "$work/data" --label bench | awk '/^key:/ {print $2}')
"$target/examples/ingest_load" --url "https://127.0.0.1:$port" --pin "$pin" --key "$key" \
    --agents "$agents" --events "$per_agent" --batch 1000 --window 4 | tail -1 | tee "$work/summary.json"
stored=$(python3 - "$work/data/ward.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select count(*) from events").fetchone()[0])
PY
)
echo "events in the store: $stored (expected $((agents * per_agent)))"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

echo "== 2b. rsyslog: the same number of lines over TCP (imtcp -> omfile)"
total=$((agents * per_agent))
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/rsyslog"
cat >"$work/rsyslog/rsyslog.conf" <<CONF
global(workDirectory="$work/rsyslog")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$rport" ruleset="bench")
ruleset(name="bench") { action(type="omfile" file="$work/rsyslog/received.log") }
CONF
rsyslogd -n -f "$work/rsyslog/rsyslog.conf" -i "$work/rsyslog/rsyslogd.pid" >"$work/rsyslog/out" 2>&1 &
rsyslog_pid=$!
python3 - "$rport" "$total" "$work/rsyslog/received.log" <<'PY'
import os, socket, sys, time
port, total, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        time.sleep(0.1)
line = b"<86>Dec 10 06:55:46 web-1 sshd[24200]: Failed password for invalid user oracle from 192.0.2.7 port %d ssh2\n"
chunk = b"".join(line % (40000 + i % 20000) for i in range(1000))
t0 = time.time()
for _ in range(total // 1000):
    s.sendall(chunk)
s.close()
while True:
    try:
        n = sum(1 for _ in open(out, "rb"))
    except FileNotFoundError:
        n = 0
    if n >= total or time.time() - t0 > 600:
        break
    time.sleep(0.05)
secs = time.time() - t0
print(f"rsyslog: {n} lines in {secs:.2f} s = {n / secs:,.0f} lines/s (file only: no acknowledgement, no de-duplication, no index, nothing evaluated)")
PY
