#!/usr/bin/env bash
# Runs the resume jitter test (500 sessions, connections cut at random, every broadcast
# must arrive in order exactly once) many times in a row while busy loops keep every
# core of the machine occupied: the conditions under which timing windows show.
#
# Usage: ./scripts/stress-jitter.sh [runs]      (default 50)
# Not a CI step: it takes several minutes. Prints `N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
test_name=jitter_every_message_arrives_in_order_once_across_random_breaks

bin=$(cargo test -p pulse-tests --test resume --no-run 2>&1 | grep -o 'target/debug/deps/resume-[0-9a-f]*' | head -1)
[ -x "$bin" ] || { echo "could not build the resume test" >&2; exit 1; }

load=()
for _ in $(seq "$(nproc)"); do
  (while :; do :; done) &
  load+=($!)
done
trap 'kill "${load[@]}" 2>/dev/null || true' EXIT

passed=0 failed=0
mkdir -p target
for run in $(seq "$runs"); do
  if "$bin" "$test_name" --exact --nocapture > target/stress-jitter-last.log 2>&1; then
    passed=$((passed + 1))
    printf 'run %d ok: %s\n' "$run" "$(grep -m1 'resumes' target/stress-jitter-last.log || true)"
  else
    failed=$((failed + 1))
    cp target/stress-jitter-last.log "target/stress-jitter-failure-$run.log"
    printf 'run %d FAILED (target/stress-jitter-failure-%d.log)\n' "$run" "$run"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
