#!/usr/bin/env bash
# Runs every cargo-fuzz target for a short while (FUZZ_SECONDS each, default 30), starting from
# the committed seed corpora. Needs the nightly toolchain; installs cargo-fuzz if missing.
# Usage: scripts/fuzz-smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-${FUZZ_SECONDS:-30}}"
if ! cargo +nightly --version >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "fuzz-smoke: no nightly toolchain in CI" >&2
    exit 1
  fi
  echo "fuzz-smoke: no nightly toolchain; skipped (set up rustup's nightly to run it)" >&2
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
for target in $(cargo +nightly fuzz list); do
  echo "== fuzz $target for ${seconds}s"
  # A scratch copy of the corpus, so a run never dirties the checkout.
  work=$(mktemp -d)
  cp -r "corpus/$target/." "$work/" 2>/dev/null || true
  log="$work.log"
  if ! cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$seconds" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target failed; the crashing input is under fuzz/artifacts/$target" >&2
    rm -rf "$work" "$log"
    exit 1
  fi
  grep -E '^Done' "$log" || true
  rm -rf "$work" "$log"
done
