#!/usr/bin/env bash
# A/B: Pulse's bench server at another commit against this checkout, the same load
# client, the two in turn (three rounds), server and client pinned to their cores.
#
#   bench/ab.sh REV [WORKLOAD ARGS …]     default workloads: idle 19900, idle 1000, fanout 5000 400
#
# Prints each run's JSON line tagged "build":"base"|"head", then the median ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/ab.sh REV}
shift
base=target/ab-base
[ -d "$base" ] || git worktree add -f "$base" "$rev" >/dev/null
git -C "$base" checkout -q --detach "$rev"
(cd "$base" && cargo build --release -q -p pulse-bench)
cargo build --release -q -p pulse-bench
ulimit -n 20000
out=target/ab.jsonl
: > "$out"
pin_server=(); pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin_server=(taskset -c 0); pin_client=(taskset -c 1); fi
workloads=("idle 19900" "idle 1000" "fanout 5000 400")
[ $# -gt 0 ] && workloads=("$*")
run() { # BIN LABEL WORKLOAD…
  local bin=$1 label=$2 log=target/ab-server.log
  shift 2
  "${pin_server[@]}" "$bin" pulse 0 > "$log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(grep -o 'listening on [0-9]*' "$log" | grep -o '[0-9]*$')
  "${pin_client[@]}" target/release/bench-load pulse "$port" "$@" "$pid" | sed "s/^{/{\"build\":\"$label\",/" | tee -a "$out"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
for round in 1 2 3; do
  for side in base head; do
    bin=target/release/bench-server
    [ "$side" = base ] && bin=$base/target/release/bench-server
    for workload in "${workloads[@]}"; do
      # shellcheck disable=SC2086
      run "$bin" "$side" $workload
    done
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
keys = {"W1": ["server_ns_per_delivery", "deliveries_per_s"], "W2": ["bytes_per_session", "anon_bytes_per_session"]}
for workload, names in keys.items():
    for n in sorted({r["sessions"] for r in rows if r["workload"] == workload}):
        for key in names:
            runs = {b: [r[key] for r in rows if r["workload"] == workload and r["sessions"] == n and r["build"] == b] for b in ("base", "head")}
            if runs["base"] and runs["head"]:
                ratio = statistics.median(runs["head"]) / statistics.median(runs["base"])
                print(f"{workload} {n:,} {key}: base {runs['base']} head {runs['head']}: {ratio:.3f}×")
PY
