#!/usr/bin/env bash
# Runs every test of warden: the host workspace (unit + end-to-end) and the guest tools'
# own unit tests (natively on the host target).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
cargo test --manifest-path guest-tools/Cargo.toml --workspace --locked
bash scripts/check-deps.sh
