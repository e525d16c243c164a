#!/usr/bin/env bash
# Drives `secrets serve` with Alibaba's official Python SDKs (tests/sdk/): installs them with
# pip into a throwaway virtual environment, builds the binary, runs pytest. Fails when no test
# ran (pytest exit code 5) as for any other failure.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "sdk-tests: $python not found" >&2; exit 1; }

venv=$(mktemp -d "${TMPDIR:-/tmp}/secrets-sdk-venv.XXXXXX")
trap 'rm -rf "$venv"' EXIT
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt

cargo build --quiet -p secrets-cli
export SECRETS_BIN="$PWD/target/debug/secrets"

status=0
"$venv/bin/python" -m pytest -p no:cacheprovider -q tests/sdk "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "sdk-tests: pytest collected no tests" >&2
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

# The same environment has `cryptography` (a dependency of aliyun-python-sdk-core): check the
# checked-in keyring, envelope and record-seal vectors with the independent Python decoder,
# written from docs/formats.md alone.
echo "sdk-tests: independent check of the format vectors"
"$venv/bin/python" crates/secret-crypto/tests/vectors/verify_vectors.py
