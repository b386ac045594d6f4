#!/usr/bin/env bash
# The crate boundaries the compiler cannot see: what each crate's normal dependency tree may
# not contain. warden-core does no IO; warden-sandbox knows no other warden crate but the pure
# warden-wit conversion, which itself knows none; a program
# depending on `warden` (tests/downstream, outside the workspace) builds, runs, and gets no CLI,
# terminal or mock-server crates.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
# forbid PACKAGE-OR-MANIFEST CRATE... : none of CRATE in the normal dependency tree.
forbid() {
    local what=$1
    shift
    local args=(-p "$what")
    if [[ $what == *Cargo.toml ]]; then
        args=(--manifest-path "$what")
    fi
    local tree
    tree=$(cargo tree "${args[@]}" -e normal --prefix none --locked)
    for crate in "$@"; do
        if grep -qE "^$crate v" <<<"$tree"; then
            echo "check-deps: $what depends on $crate (normal dependencies), which it must not:" >&2
            cargo tree "${args[@]}" -e normal -i "$crate" --locked >&2 || true
            fail=1
        fi
    done
}

forbid warden-core tokio reqwest hyper wasmtime warden-llm warden-sandbox warden
forbid warden-llm wasmtime warden-sandbox warden
forbid warden-sandbox warden-core warden-llm warden warden-pack
forbid warden-wit warden-core warden-llm warden-sandbox warden tokio
# Packs build on the sandbox alone (the runtime uses them, not the other way round).
forbid warden-pack warden-core warden-llm warden
# Traces are built from events alone: no runtime, sandbox or model crate; the test collector
# (axum) only with the `testing` feature.
forbid warden-trace wasmtime warden-sandbox warden-llm warden axum
# The store knows the core's types only: no model client, sandbox or runtime.
forbid warden-store wasmtime reqwest hyper warden-llm warden-sandbox warden
forbid tests/downstream/Cargo.toml clap indicatif axum tracing-subscriber mock-llm warden-cli

# anyhow is for binaries: no library crate of warden depends on it. (It is in the downstream
# tree all the same, through tiktoken-rs and wasmtime's own crates, which use it internally.)
for lib in warden-core warden-llm warden-sandbox warden-wit warden-pack warden-store warden warden-trace warden-mcp; do
    if cargo tree -p "$lib" -e normal --depth 1 --prefix none --locked | grep -qE "^anyhow v"; then
        echo "check-deps: $lib depends on anyhow directly; library crates return typed errors" >&2
        fail=1
    fi
done

# The downstream program builds against the workspace's target directory, so its dev profile
# must be the workspace's: any difference rebuilds every dependency a second time.
dev_profile() {
    awk '/^\[/ { on = ($0 ~ /^\[profile\.dev[].]/) } on && !/^#/ && NF' "$1"
}
if ! diff <(dev_profile Cargo.toml) <(dev_profile tests/downstream/Cargo.toml) >&2; then
    echo "check-deps: tests/downstream/Cargo.toml's [profile.dev*] differs from Cargo.toml's (above)" >&2
    fail=1
fi

# The downstream program builds against the workspace's target directory (its dependencies are
# the workspace's, already built) and must run to a correct answer.
cargo run --quiet --locked --manifest-path tests/downstream/Cargo.toml --target-dir target

if [[ $fail != 0 ]]; then
    exit 1
fi
echo "check-deps: crate boundaries hold; the downstream program ran"
