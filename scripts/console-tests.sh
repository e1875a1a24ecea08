#!/usr/bin/env bash
# Console end-to-end tests: headless Chromium (Debian's `chromium`, driven by
# `playwright-core` from npm) against a real ward-server with a real
# ward-agent installed into a temporary prefix. Saves a PNG of every page
# (desktop and phone width) under tests/console/screenshots/.
#
# Usage: scripts/console-tests.sh [test files...]   (default: every tests/console/*.test.mjs)
# Environment: CONSOLE_TEST_BIN_DIR (default: build and use target/debug), CHROMIUM.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

install_pkgs() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "console-tests: missing $* and not root; install them with apt-get" >&2
    exit 1
  fi
  echo "console-tests: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need=()
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if ((${#need[@]})); then install_pkgs "${need[@]}"; fi

if [[ -z ${CONSOLE_TEST_BIN_DIR:-} ]]; then
  echo "== cargo build (ward-server, ward-agent)"
  cargo build --locked -p ward-server -p ward-agent
  export CONSOLE_TEST_BIN_DIR=${CARGO_TARGET_DIR:-$root/target}/debug
fi

cd tests/console
echo "== npm ci (playwright-core)"
npm ci --no-audit --no-fund --loglevel=error

echo "== console tests (headless Chromium)"
rm -rf screenshots
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
files=("$@")
((${#files[@]})) || files=(./*.test.mjs)
status=0
node --test --test-concurrency=1 --test-timeout=600000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}" || status=$?
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -1)
cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap" | tail -1)
fail=$((${fail:-0} + ${cancelled:-0}))
echo "screenshots: $(find screenshots -name '*.png' 2>/dev/null | wc -l) PNG files in tests/console/screenshots/"
echo "console: ${pass:-0} passed, ${fail} failed"
exit "$status"
