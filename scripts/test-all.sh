#!/usr/bin/env bash
# Runs every test of the project. Usage: ./scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (unit, integration over real sockets)"
cargo test --workspace --all-targets
cargo test --workspace --doc
