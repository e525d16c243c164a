#!/usr/bin/env bash
# Runs every check and test the project has; CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "== cargo doc"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --all-features

echo "== cargo test"
cargo test --workspace --all-features

echo "== fuzz smoke runs"
./scripts/fuzz-smoke.sh
