#!/usr/bin/env bash
# The agent loop against the in-repo mock run as an external server (BENCHMARKS.md, "Agent
# loop"): the release mock started with scripts/bench/calc-loop.json (it calls `calc` on
# every turn) and one worker thread, then `warden-bench --base-url` for each format,
# ROUNDS times, alternating. One JSON line per bench run.
#
# Honours CARGO_TARGET_DIR. Extra arguments go to warden-bench (e.g. --sequential-only).
# Usage: ROUNDS=3 scripts/bench/loop-external.sh [warden-bench arguments...]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-3}
cargo build --release -p mock-llm -p warden-cli --bin mock-llm --bin warden-bench
bin="${CARGO_TARGET_DIR:-target}/release"

out=$(mktemp)
"$bin/mock-llm" --threads 1 --script scripts/bench/calc-loop.json >"$out" 2>/dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q 'listening on' "$out" && break
  sleep 0.05
done
base=$(sed -n 's/^mock-llm listening on \(http:[^ ]*\)$/\1/p' "$out")
[ -n "$base" ] || { echo "the mock did not start" >&2; exit 1; }

for _ in $(seq "$rounds"); do
  "$bin/warden-bench" --base-url "$base/v1" --format openai "$@"
  "$bin/warden-bench" --base-url "$base" --format anthropic "$@"
done
