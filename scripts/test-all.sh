#!/usr/bin/env bash
# Runs every test of the project. Needs cargo and node/npm; installs the npm packages,
# and Debian's chromium, redis-server, nginx and openssl when they are missing (as root).
#
#   Rust:        unit and integration tests over real sockets, compile-fail UI tests,
#                generated-TypeScript snapshots, the API docs' examples and links
#   TypeScript:  the generated chat module is current, tsc --strict (with the misuse
#                files), vitest against the real server (runtime and DOM renderer)
#   Browser:     the chat in headless Chromium, two tabs and more, and behind Debian's
#                nginx with TLS (docs/deployment.md's configuration); a todo app through
#                Vite's dev server with <StrictMode>, a late tab and a hot-module edit
#   Adoption:    docs/getting-started.md followed on a fresh copy of the starter (the
#                packed npm package, Vite, the dev loop, the page in Chromium), and
#                `cargo package` of the three published crates
#
# Usage: ./scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "system packages: chromium (browser tests), redis-server (backplane tests), nginx and openssl (behind a proxy)"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "the tests need Debian's ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

step "npm packages, and the client runtime built (the chat client imports its dist/)"
npm ci --no-audit --no-fund --loglevel=error
npm run build -w @pulse-rs/client

step "cargo test (the session core's property tests with 10,000 cases)"
PULSE_CORE_CASES=10000 cargo test --workspace --all-targets
cargo test --workspace --doc
# The published crates' API docs: every link resolves (the examples ran just above).
RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p pulse-runtime -p pulse-macros -p pulse-client-gen

step "the chat's generated TypeScript is up to date"
cargo run -q -p chat --bin chat-ts -- --check examples/chat/client/src/generated/chat.ts

step "tsc --strict"
(cd pulse-client-gen/ts && npx tsc --noEmit -p tsconfig.json)
(cd examples/chat/client && npx tsc --noEmit -p tsconfig.json)
(cd examples/starter/client && npm run -s typecheck)
node_modules/.bin/tsc --noEmit -p tests/browser/todo/tsconfig.json

step "vitest: the client runtime and renderer against the real server"
cargo build -q -p pulse-tests --bin ts-test-server
(cd pulse-client-gen/ts && npx vitest run)

step "benchmarks: a smoke run of every workload against every server (not for timing)"
bench/run.sh --smoke > target/bench-smoke.log 2>&1 || { cat target/bench-smoke.log; exit 1; }
echo "bench smoke: $(grep -c '"workload"' target/bench-smoke.log) runs, all delivered"

step "browser: the chat, and a todo app through Vite's dev server, in headless Chromium"
cargo build -q -p chat -p pulse-tests --bin chat --bin todo-server
(cd examples/chat/client && node build.mjs)
(cd tests/browser && npm test)

step "getting started: docs/getting-started.md on a fresh copy, in headless Chromium"
./scripts/getting-started-test.sh

step "crates: cargo package for pulse-macros, pulse-runtime, pulse-client-gen"
./scripts/package-crates.sh --allow-dirty
