#!/usr/bin/env bash
# Benchmarks `secrets serve` (release build, embedded sled store) with the signed load
# generator (crates/secrets-server/examples/loadgen.rs), loopback only, bounded in count and
# time. Usage: scripts/bench-server.sh [get|put|mix ...]; LOADGEN_FLAGS adds loadgen flags.
set -euo pipefail
cd "$(dirname "$0")/.."

ops=("${@:-get}")
cargo build --quiet --release -p secrets-cli --bin secrets
cargo build --quiet --release -p secrets-server --example loadgen

dir=$(mktemp -d "${TMPDIR:-/tmp}/secrets-bench.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

secret=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
cat >"$dir/keys.json" <<JSON
{"bench": {"secret": "$secret", "policy": {"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}}}
JSON
chmod 600 "$dir/keys.json"

RUST_LOG=${SERVER_LOG:-info} ./target/release/secrets --store-dir "$dir/store" serve \
  --listen 127.0.0.1:0 --access-keys "$dir/keys.json" >"$dir/out" 2>"$dir/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$dir/out" ] && break; sleep 0.1; done
addr=$(sed -n 's/.*"Listening":"\([^"]*\)".*/\1/p' "$dir/out")
[ -n "$addr" ] || { echo "the server did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }

# CPU seconds (user + system) the server has used so far.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$server_pid/stat"; }

for op in "${ops[@]}"; do
  echo "== $op ($(cut -d' ' -f1-3 /proc/loadavg) load before)"
  before=$(server_cpu)
  # shellcheck disable=SC2086
  LOADGEN_ACCESS_KEY_SECRET=$secret /usr/bin/time -f "loadgen cpu: %U s user, %S s system" \
    ./target/release/examples/loadgen --addr "$addr" --access-key-id bench --op "$op" \
    ${LOADGEN_FLAGS:-}
  echo "server cpu: $(awk -v a="$before" -v b="$(server_cpu)" 'BEGIN {printf "%.2f", b - a}') s"
done
echo "server log: $(wc -l <"$dir/server.log") lines"
