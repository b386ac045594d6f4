#!/usr/bin/env bash
# Times a tool author's path (BENCHMARKS.md, "Tool packs: from `tool new` to an agent's call"):
# the five commands from `warden tool new` to an agent calling the new tool (a scripted mock
# model asks for it), then an incremental rebuild after an edit. One-time setup (a signing key,
# trusting it) is done first and not timed. Everything stays on loopback.
#
#   bash scripts/bench-authoring.sh [path/to/warden] [path/to/mock-llm]
#
# CARGO_TARGET_DIR for the tool crate defaults to a fresh folder (a cold build of the SDK and
# its dependencies); set it to reuse one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
warden=${1:-$root/target/debug/warden}
mock=${2:-$root/target/debug/mock-llm}
work=$(mktemp -d)
trap 'kill "$mock_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
export WARDEN_CONFIG_DIR=$work/config WARDEN_DATA_DIR=$work/data WARDEN_CACHE_DIR=$work/cache \
  WARDEN_STATE_DIR=$work/state BENCH_KEY=k CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$work/target}
cd "$work"

echo '{"kind":"tool_loop","tool":"greet_me","arguments":"{\"name\":\"Ada\"}","times":1,"answer":"Greeted Ada."}' > model.json
"$mock" --listen 127.0.0.1:0 --script model.json > mock.out 2>&1 &
mock_pid=$!
for _ in $(seq 100); do grep -q 'OpenAI base URL' mock.out && break; sleep 0.1; done
base=$(grep 'OpenAI base URL' mock.out | awk '{print $NF}')
"$warden" key generate --out me >/dev/null && "$warden" trust add me.pub >/dev/null
cat > agent.toml <<TOML
name = "greeter"
[model]
provider = "openai"
name = "gpt-4o-mini"
base_url = "$base"
api_key_env = "BENCH_KEY"

[[tools]]
pack = "greet-me"
TOML

now() { date +%s.%N; }
step() { local t0; t0=$(now); "$@" >"$work/last.out" 2>&1 || { cat "$work/last.out"; exit 1; }; echo "  $(echo "$(now) - $t0" | bc | xargs printf '%6.1f') s  $*"; }
t_start=$(now)
echo "from tool new to an agent's call (5 commands):"
step "$warden" tool new greet-me
step "$warden" pack build greet-me
step "$warden" pack sign greet-me/pack --key me.key
step "$warden" pack install greet-me/pack --yes
step "$warden" run agent.toml "Greet Ada"
grep -q "Greeted Ada." "$work/last.out" && grep -q "greet_me" "$work/last.out" || { echo "the agent did not call the tool"; cat "$work/last.out"; exit 1; }
cat "$work/last.out" | sed "s/^/    /"
echo "  total $(echo "$(now) - $t_start" | bc | xargs printf '%.1f') s"

echo "incremental: edit the tool, rebuild, sign, upgrade:"
sed -i 's/Hello, {name}!/Hi, {name}!/; s/version = "0.1.0"/version = "0.1.1"/' greet-me/src/lib.rs greet-me/pack.toml
t_start=$(now)
step "$warden" pack build greet-me
step "$warden" pack sign greet-me/pack --key me.key
step "$warden" pack upgrade greet-me/pack --yes
echo "  total $(echo "$(now) - $t_start" | bc | xargs printf '%.1f') s"
