#!/usr/bin/env bash
# Soak the sled backend's crash-recovery test: kill a writing child process at random moments,
# again and again, for MINUTES minutes (default 10), each round with a fresh seed.
#
#   scripts/crash-soak.sh [MINUTES] [KILLS_PER_ROUND]
#
# Stops at the first failure, printing the seed (replay with CRASH_SEED=<seed>) and keeping the
# damaged store's directory, whose path the failure names.
set -euo pipefail

minutes="${1:-10}"
per_round="${2:-200}"
if ! [[ "$minutes" =~ ^[0-9]+$ && "$per_round" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [MINUTES] [KILLS_PER_ROUND]" >&2
    exit 2
fi

cd "$(dirname "$0")/.."
# Release build: more writes per kill, so more crash points per minute.
cargo test --release -p secret-storage-sled --test crash_recovery --no-run

deadline=$((SECONDS + minutes * 60))
round=0
kills=0
while ((SECONDS < deadline)); do
    round=$((round + 1))
    echo "== round $round ($((deadline - SECONDS)) s left): $per_round kills"
    CRASH_ITERATIONS="$per_round" cargo test --release -q -p secret-storage-sled \
        --test crash_recovery -- --nocapture acknowledged_writes_survive_sigkill
    kills=$((kills + per_round))
done
echo "crash soak passed: $round rounds, $kills kills in $minutes minutes"
