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
echo "== cargo build (programs used by end-to-end tests)"
cargo build --workspace --bins --locked
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast
