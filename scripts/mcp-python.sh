#!/usr/bin/env bash
# warden's MCP server against the official Python MCP SDK's client, over stdio and over
# Streamable HTTP. Creates a virtual environment (.venv-mcp, or $WARDEN_MCP_VENV) with the SDK
# from PyPI, builds the warden binary, and runs scripts/mcp_python_client.py both ways.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${WARDEN_MCP_VENV:-.venv-mcp}
if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "mcp>=2.3,<3"

cargo build --quiet --locked -p warden-cli --bin warden
target=${CARGO_TARGET_DIR:-target}
warden=$target/debug/warden
# The typed test component the build made (the newest, if several checkouts share the dir).
typed=$(ls -t "$target"/wasm-guests-*/wasm32-wasip2/release/tool_typed.wasm | head -1)

"$venv/bin/python" scripts/mcp_python_client.py stdio "$warden" "$typed"

log=$(mktemp)
"$warden" mcp serve "$typed" builtin:calc --http 127.0.0.1:0 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
    url=$(grep -o 'http://[^ ]*/mcp' "$log" || true)
    [[ -n $url ]] && break
    sleep 0.1
done
if [[ -z ${url:-} ]]; then
    echo "the HTTP server did not start:" >&2
    cat "$log" >&2
    exit 1
fi
"$venv/bin/python" scripts/mcp_python_client.py http "$url"
