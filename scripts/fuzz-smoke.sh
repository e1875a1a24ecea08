#!/usr/bin/env bash
# Short fuzz run of every cargo-fuzz target (CI runs it; see fuzz/README.md).
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1   # the machine has only the stable toolchain
targets=$(cargo fuzz list)
RUSTC_BOOTSTRAP=1 cargo fuzz build -O
for t in $targets; do
  mkdir -p "corpus/$t"
  seeds=()
  [[ -d seeds/$t ]] && seeds=("seeds/$t")
  echo "== fuzz $t for ${secs}s"
  log=$(mktemp)
  rc=0
  cargo fuzz run -O "$t" "corpus/$t" "${seeds[@]}" -- -max_total_time="$secs" -max_len=16384 >"$log" 2>&1 || rc=$?
  grep -E '^(Done [0-9]+ runs|==[0-9]+==ERROR|SUMMARY|thread .* panicked)' "$log" || true
  if [[ $rc -ne 0 ]]; then
    tail -40 "$log" >&2
    echo "fuzz-smoke: target $t crashed (exit $rc); the input is under fuzz/artifacts/$t/" >&2
    exit 1
  fi
  rm -f "$log"
done
echo "fuzz-smoke: $(echo $targets | wc -w) targets ran ${secs}s each without a crash"
