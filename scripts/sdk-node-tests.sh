#!/usr/bin/env bash
# Drives `secrets serve` with Alibaba's official Node.js SDKs (tests/sdk-node/): installs them
# with `npm ci` from the committed package-lock.json into tests/sdk-node/node_modules (git-ignored),
# builds the binary, runs the tests with Node's own runner (node --test). Fails when no test ran
# as for any other failure. Extra arguments go to node before the test directory, e.g.
# --test-name-pattern=lifecycle.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null || { echo "sdk-node-tests: node not found (Node.js 20 or later is needed)" >&2; exit 1; }
command -v npm >/dev/null || { echo "sdk-node-tests: npm not found" >&2; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "sdk-node-tests: Node.js $(node --version) is too old, 20 or later is needed" >&2
  exit 1
fi

(cd tests/sdk-node && npm ci --no-audit --no-fund --loglevel=error)

cargo build --quiet -p secrets-cli
export SECRETS_BIN="$PWD/target/debug/secrets"

results=$(mktemp "${TMPDIR:-/tmp}/secrets-sdk-node.XXXXXX")
trap 'rm -f "$results"' EXIT

status=0
node --test \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$results" \
  "$@" tests/sdk-node/ || status=$?

# The TAP summary ends with "# tests N" and "# pass N".
passed=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$results" | tail -n 1)
if [ "${passed:-0}" -eq 0 ]; then
  echo "sdk-node-tests: no test passed (did any run?)" >&2
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"
echo "sdk-node-tests: $passed tests passed"
