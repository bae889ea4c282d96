#!/usr/bin/env bash
# Runs the chat example: installs the client's npm packages, bundles the client, and
# starts the server on http://127.0.0.1:3000 (or the port given: ./scripts/chat.sh --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --loglevel=error
npm run build -w @pulse-rs/client
(cd examples/chat/client && node build.mjs)
exec cargo run -p chat --bin chat -- "$@"
