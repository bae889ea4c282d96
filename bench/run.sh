#!/usr/bin/env bash
# Runs every benchmark workload against Pulse and its baselines, server and load client
# pinned to different cores, and writes docs/benchmarks.md.
#
#   bench/run.sh           the full suite (release build, a few minutes)
#   bench/run.sh --smoke   a tiny run of each workload against each server (CI: checks
#                          the suite works, not how fast)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
[ "${1:-}" = "--smoke" ] && mode=smoke
out=target/bench
mkdir -p "$out"
results="$out/results-$mode.jsonl"
: > "$results"

if [ "$mode" = full ]; then
  cargo build --release -q -p pulse-bench
  cargo build --release -q -p chat --bin chat
  bin=target/release
  # The scale curve: up to 19,900 sessions, as many as one process may hold open here
  # (20,000 files per process, and the server is one process) less a margin.
  fanout=("1000 2000" "5000 400" "10000 200" "19900 100")
  idle=(1000 5000 10000 19900)
  echo_runs=("1 5000" "64 300")
  echo_rounds=5
  w1_repeat="5000 400"; w1_rounds=4
  two_node="5000 400"; two_node_rounds=3
  jitter_run="100 1000"; jitter_rounds=3
  soak_run="40000 200"
  release_secs=60
  page_runs=10
else
  cargo build -q -p pulse-bench
  cargo build -q -p chat --bin chat
  bin=target/debug
  fanout=("20 20")
  idle=(100)
  echo_runs=("1 50" "4 50")
  echo_rounds=1
  w1_repeat="20 20"; w1_rounds=1
  two_node="20 20"; two_node_rounds=1
  jitter_run="10 100"; jitter_rounds=1
  soak_run="300 20"
  release_secs=5
  page_runs=1
fi
[ -d node_modules/socket.io ] || npm ci --no-audit --no-fund --loglevel=error
ulimit -n 20000 2>/dev/null || true

# Two cores here: the server on one, the load client on the other. (taskset execs the
# command, so $! below is the server's own pid, whose RSS W2 reads.)
pin_server=()
pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0)
  pin_client=(taskset -c 1)
fi

# start_server KIND [ARG]: a fresh server on a free port (ARG: a Redis URL to join a
# backplane, or `recover` for Socket.IO's connection state recovery); sets $port and
# $server_pid.
start_server() {
  local kind=$1 extra=${2:-} log="$out/server-$1-$RANDOM.log"
  if [ "$kind" = socketio-node ]; then
    "${pin_server[@]}" node bench/socketio/server.mjs 0 $extra > "$log" 2>&1 &
  else
    "${pin_server[@]}" "$bin/bench-server" "$kind" 0 $extra > "$log" 2>&1 &
  fi
  server_pid=$!
  servers+=("$server_pid")
  for _ in $(seq 100); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.1; done
  port=$(grep -o 'listening on [0-9]*' "$log" | grep -o '[0-9]*$')
  [ -n "$port" ] || { echo "server $kind did not start:"; cat "$log"; exit 1; }
}

# A fresh redis-server (no persistence) on a free port, beside the servers; sets
# $redis_url and $redis_pid.
start_redis() {
  local log="$out/redis.log" redis_port
  redis_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${pin_server[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no > "$log" 2>&1 &
  redis_pid=$!
  servers+=("$redis_pid")
  for _ in $(seq 100); do grep -q "Ready to accept" "$log" 2>/dev/null && break; sleep 0.1; done
  grep -q "Ready to accept" "$log" || { echo "redis-server did not start:"; cat "$log"; exit 1; }
  redis_url="redis://127.0.0.1:$redis_port"
}

# Stops every server (and redis-server) started since the last stop.
servers=()
stop_server() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  servers=()
}
trap stop_server EXIT

# A run that fails is recorded as such (the report lists it; a smoke run fails on it)
# rather than ending the whole suite.
load() { "${pin_client[@]}" timeout 600 "$bin/bench-load" "$@" | tee -a "$results" || failed "$@"; }
failed() { echo "{\"workload\":\"failed\",\"command\":\"bench-load $*\"}" | tee -a "$results"; }
# The same, its result marked as a repeat (counted in the targets' medians, not the tables).
load_again() { "${pin_client[@]}" timeout 600 "$bin/bench-load" "$@" | sed 's/}$/,"repeat":true}/' | tee -a "$results" || failed "$@"; }

for kind in raw raw-per-frame pulse socketioxide socketio-node; do
  echo "== $kind"
  # A fresh server for each workload, so one's memory does not count in the next.
  for run in "${fanout[@]}"; do start_server $kind; load $kind $port fanout $run $server_pid; stop_server; done
  for n in "${idle[@]}"; do start_server $kind; load $kind $port idle $n $server_pid; stop_server; done
done

# W2, after: the largest crowd comes and goes; how much memory each Rust server keeps
# for the minute after (sampled every 5 s).
for kind in raw pulse socketioxide; do
  echo "== W2 after, $kind"
  start_server $kind; load $kind $port release "${idle[-1]}" $server_pid $release_secs; stop_server
done

# W1's server CPU per delivery moves run to run too (0.83× and 0.99× of raw's in two
# runs): the target's figure is the median of the run above and these, the servers in turn.
for round in $(seq "$w1_rounds"); do
  echo "== W1 repeat $round of $w1_rounds"
  for kind in raw raw-per-frame pulse; do start_server $kind; load_again $kind $port fanout $w1_repeat $server_pid; stop_server; done
done

# W3's latencies move run to run by more than the differences measured: each server is
# run in turn (raw, pulse, …, then again), and the report takes each one's median.
for round in $(seq "$echo_rounds"); do
  echo "== W3 round $round of $echo_rounds"
  for run in "${echo_runs[@]}"; do
    for kind in raw raw-per-frame pulse socketioxide socketio-node; do start_server $kind; load $kind $port echo $run; stop_server; done
  done
done

# Two nodes through Redis: a publisher on node 1, the subscribers split over both, the
# server CPU counted over both nodes and redis-server. The baseline is single-node Pulse
# at the same size (W1 above and its repeats); rounds alternate the servers.
for round in $(seq "$two_node_rounds"); do
  echo "== two nodes, round $round of $two_node_rounds"
  for kind in pulse socketioxide socketio-node; do
    start_redis
    start_server $kind "$redis_url"; first=$port; first_pid=$server_pid
    start_server $kind "$redis_url"
    load $kind "$first,$port" fanout $two_node "$first_pid,$server_pid,$redis_pid"
    stop_server
  done
done

# W4: breaks at random while a publisher sends; Pulse resumes its sessions, Socket.IO
# (Node) uses its connection state recovery; the raw servers and socketioxide cannot resume.
for round in $(seq "$jitter_rounds"); do
  echo "== W4 jitter, round $round of $jitter_rounds"
  for kind in raw raw-per-frame pulse socketioxide socketio-node; do
    recover=""; [ "$kind" = socketio-node ] && recover=recover
    start_server $kind $recover; load $kind $port jitter $jitter_run; stop_server
  done
done

echo "== churn soak (pulse)"
start_server pulse; load pulse $port soak $soak_run $server_pid; stop_server

# The chat's pages in Chromium: the first paint over HTTP, and links over the socket.
if [ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ]; then
  echo "== pages (Chromium)"
  npm run -s build -w @pulse-rs/client
  (cd examples/chat/client && node build.mjs >/dev/null 2>&1)
  node bench/pages.mjs "$bin/chat" examples/chat/client/dist "$page_runs" "$results" \
    || echo '{"workload":"failed","command":"bench/pages.mjs"}' >> "$results"
fi

python3 bench/report.py "$results" "$mode" > "$out/report-$mode.md"
if [ "$mode" = full ]; then
  cp "$out/report-$mode.md" docs/benchmarks.md
  echo "wrote docs/benchmarks.md"
else
  cat "$out/report-$mode.md"
fi
