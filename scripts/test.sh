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

echo "== PostgreSQL for the tests of secret-storage-postgres"
# A throwaway cluster (scripts/postgres.sh), stopped on exit. With CI=true a PostgreSQL that
# cannot start fails the run; elsewhere its tests then say they are skipped.
if [ -z "${SECRETS_TEST_POSTGRES_URL:-}" ]; then
  # shellcheck source=scripts/postgres.sh
  source ./scripts/postgres.sh
  pg_started_at=$SECONDS
  if pg_test_start; then
    trap pg_test_stop EXIT
    echo "PostgreSQL started in $((SECONDS - pg_started_at)) s"
  elif [ "${CI:-}" = true ]; then
    echo "PostgreSQL could not be started, and CI=true: failing" >&2
    exit 1
  else
    echo "PostgreSQL could not be started: its tests will be skipped" >&2
  fi
fi

echo "== cargo test"
cargo test --workspace --all-features

echo "== Alibaba's Python SDKs against secrets serve"
./scripts/sdk-tests.sh

echo "== Alibaba's Node.js SDKs against secrets serve"
./scripts/sdk-node-tests.sh

echo "== fuzz smoke runs"
./scripts/fuzz-smoke.sh
