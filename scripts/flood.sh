#!/usr/bin/env bash
# The black-box flood of issue 27, against the chat (debug build, default settings,
# `ulimit -n` 20,000): 21,000 WebSocket upgrades from one address in 4 client processes
# while a client from another address must get its `hello` within 1 s every time; then
# 3,000 silent and 1,000 slowloris connections, each closed by the server within 30 s;
# the server's descriptors back where they started after each. Not part of CI (it takes
# about two minutes and both cores); `scripts/flood.py` is the client.
#
# Usage: ./scripts/flood.sh [flood.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000

cargo build -q -p chat --bin chat
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=target/flood-chat.log
PULSE_LOG=warn target/debug/chat --port "$port" > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "chat on http://" "$log" && break; sleep 0.1; done
python3 scripts/flood.py "127.0.0.1:$port" "$pid" "$@"
