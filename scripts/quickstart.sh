#!/usr/bin/env bash
# The main job on the embedded default: build `secrets`, create a secret in an embedded sled
# store and read it back (each command is its own process, so the read reopens the store).
# Usage: scripts/quickstart.sh [STORE_DIR]   (default: target/quickstart-store)
set -euo pipefail
cd "$(dirname "$0")/.."
store="${1:-target/quickstart-store}"
cargo build --quiet --release -p secrets-cli
secrets=target/release/secrets
name="quickstart/db-password-$(date +%s)"
echo "== secrets create-secret --secret-name $name (value from stdin)"
printf '%s' 'correct horse battery staple' |
  "$secrets" --store-dir "$store" create-secret --secret-name "$name" --version-id v1 \
    --secret-data-file - --description "made by scripts/quickstart.sh"
echo "== secrets get-secret-value --secret-name $name"
"$secrets" --store-dir "$store" get-secret-value --secret-name "$name"
