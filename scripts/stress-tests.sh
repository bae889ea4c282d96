#!/usr/bin/env bash
# Runs whole integration-test binaries many times in a row while busy loops keep every
# core occupied (three per core): the conditions under which timing windows show.
#
# Usage: ./scripts/stress-tests.sh [runs] [test ...]
#   default: 20 runs of history presence failover rooms redis_backplane
# Not a CI step: it takes several minutes. Prints `<test>: N passed, M failed` and keeps
# each failing run's output in target/stress/<test>-<run>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
shift || true
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(history presence failover rooms redis_backplane)

args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
cargo test -q -p pulse-tests "${args[@]}" --no-run

load=()
for _ in $(seq $(( $(nproc) * 3 ))); do
  (while :; do :; done) &
  load+=($!)
done
trap 'kill "${load[@]}" 2>/dev/null || true' EXIT

mkdir -p target/stress
status=0
for t in "${tests[@]}"; do
  bin=$(ls -t target/debug/deps/"$t"-* | grep -v '\.d$' | head -1)
  passed=0 failed=0
  for run in $(seq "$runs"); do
    if "$bin" -q > "target/stress/$t-last.log" 2>&1; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      cp "target/stress/$t-last.log" "target/stress/$t-$run.log"
      status=1
    fi
  done
  echo "$t: $passed passed, $failed failed"
done
exit $status
