#!/usr/bin/env bash
# Runs the chat on two nodes behind one Redis: http://127.0.0.1:3000 and :3001.
# A message sent on either node appears in the tabs of both, in the same order in every
# list; kill one node and its tabs move to the other (the nodes learn each other's
# addresses through Redis: the pages learn where to go, and each node admits the other's
# pages).
# Needs redis-server (Debian: apt-get install redis-server). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT=${REDIS_PORT:-6390}
npm ci --no-audit --no-fund --loglevel=error
npm run build -w @pulse-rs/client
(cd examples/chat/client && node build.mjs)
cargo build -q -p chat --bin chat

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null' EXIT INT TERM
export PULSE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
for port in 3000 3001; do
  target/debug/chat --port "$port" &
  pids+=($!)
done
wait
