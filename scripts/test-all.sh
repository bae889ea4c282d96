#!/usr/bin/env bash
# Runs every test of the project: Rust (unit, integration over real sockets, compile-fail
# UI tests, generated-TypeScript snapshots) and TypeScript (tsc --strict, vitest against
# the real server). Needs cargo and node/npm. Usage: ./scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== npm packages"
(cd pulse-client-gen/ts && npm ci --no-audit --no-fund --loglevel=error)

echo "== cargo test"
cargo test --workspace --all-targets
cargo test --workspace --doc

echo "== TypeScript: tsc --strict"
cargo build -p pulse-tests --bin ts-test-server
(cd pulse-client-gen/ts && npx tsc --noEmit -p tsconfig.json)

echo "== TypeScript: vitest against the real server"
(cd pulse-client-gen/ts && npx vitest run)
