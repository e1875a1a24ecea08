#!/usr/bin/env bash
# Auth-log throughput, Ward vs fail2ban-regex, on the same 1,000,000 lines
# (the loghub OpenSSH corpus repeated), in one run. Needs: apt-get install -y fail2ban
# Usage: benches/authlog/run.sh [LINES]   (from the repository root)
set -euo pipefail
lines="${1:-1000000}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
corpus="$root/../shared/corpora/loghub-openssh/OpenSSH_2k.log"
out="${TMPDIR:-/tmp}/ward-authlog-bench"
mkdir -p "$out"
input="$out/OpenSSH_repeated.log"

cargo build --release -p ward-rules --example authlog_bench
bench="${CARGO_TARGET_DIR:-$root/target}/release/examples/authlog_bench"

echo "== Ward (parse + evaluate built-in rules, one thread)"
"$bench" "$corpus" "$lines" --write-repeated "$input"

echo "== fail2ban-regex $(fail2ban-regex --version | head -1) with filter.d/sshd.conf"
/usr/bin/time -f "fail2ban-regex: %e s wall, %U s user, %S s sys, %M KB max RSS" \
    fail2ban-regex "$input" /etc/fail2ban/filter.d/sshd.conf > "$out/fail2ban.txt"
grep -E '^Lines:' "$out/fail2ban.txt"
echo "(lines per CPU-second = $lines / (user + sys))"
