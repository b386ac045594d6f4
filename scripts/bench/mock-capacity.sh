#!/usr/bin/env bash
# The mock LLM server's capacity on one core (BENCHMARKS.md, "Mock LLM server capacity"):
# the release mock with one worker thread pinned to core 0, wrk with 32 connections pinned
# to core 1, per wire format; the mock's CPU time is read from /proc/PID/stat before and
# after each wrk run. Prints one line per format.
#
# Needs wrk (apt-get install -y wrk), taskset and two cores. Honours CARGO_TARGET_DIR.
# Usage: scripts/bench/mock-capacity.sh [SECONDS]   (default 8)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-8}
here=scripts/bench
cargo build --release -p mock-llm
mock="${CARGO_TARGET_DIR:-target}/release/mock-llm"

out=$(mktemp)
taskset -c 0 "$mock" --threads 1 >"$out" 2>/dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q 'listening on' "$out" && break
  sleep 0.05
done
base=$(sed -n 's/^mock-llm listening on \(http:[^ ]*\)$/\1/p' "$out")
[ -n "$base" ] || { echo "the mock did not start" >&2; exit 1; }

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
printf '%-10s %10s %12s %22s %10s\n' format requests mock_cpu_s requests_per_cpu_second wrk_req_s
for format in openai anthropic; do
  case $format in
    openai) route=/v1/chat/completions ;;
    anthropic) route=/v1/messages ;;
  esac
  before=$(ticks)
  report=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" -s "$here/$format.lua" "$base$route")
  after=$(ticks)
  requests=$(echo "$report" | awk '/requests in/ {print $1}')
  rps=$(echo "$report" | awk '/Requests\/sec/ {print $2}')
  non2xx=$(echo "$report" | awk '/Non-2xx/ {print $NF}')
  [ -z "$non2xx" ] || { echo "$format: $non2xx answers were not 2xx" >&2; exit 1; }
  cpu=$(awk -v a="$before" -v b="$after" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
  per_cpu=$(awk -v n="$requests" -v c="$cpu" 'BEGIN {printf "%.0f", (c > 0 ? n / c : 0)}')
  printf '%-10s %10s %12s %22s %10s\n' "$format" "$requests" "$cpu" "$per_cpu" "$rps"
done
