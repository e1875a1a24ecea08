#!/usr/bin/env bash
# Runs every check and test of Ward: formatting, lints, unit, integration and
# end-to-end tests (real processes, TLS, SQLite, network namespaces).
# Usage: scripts/test.sh            (everything; needs root for namespace tests)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo deny (licenses, bans, sources)"
command -v cargo-deny >/dev/null 2>&1 || cargo install cargo-deny --locked --quiet
cargo deny --log-level error check bans licenses sources
echo "== cargo build (programs used by end-to-end tests)"
cargo build --workspace --bins --locked
echo "== cross-built agents (tests/e2e/tests/platforms.rs: qemu-user i686/aarch64, static musl x86_64)"
scripts/build-agents.sh --profile agent-test
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast
echo "== console end-to-end tests (headless Chromium, real server and agent)"
CONSOLE_TEST_BIN_DIR="${CARGO_TARGET_DIR:-$PWD/target}/debug" scripts/console-tests.sh
echo "== fuzz smoke (every cargo-fuzz target, ${WARD_FUZZ_SECS:-20}s each)"
scripts/fuzz-smoke.sh "${WARD_FUZZ_SECS:-20}"
