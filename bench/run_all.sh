#!/usr/bin/env bash
# Every benchmark, one after another (they must not share the CPUs), each printing its table into
# bench/results/<name>.log; BENCHMARKS.md quotes these. ~60 min on 2 cores.
#   RNNSWEEP_DATA=../shared/data bash bench/run_all.sh [names...]
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
for b in "${@:-levers throughput breakdown sweep_wall sharing orchestration}"; do
  for name in $b; do
    echo "== $name $(date -u +%H:%M:%S)"
    python -m "bench.$name" 2>&1 | grep -v "^WARNING\|^I0000\|^W0000\|^E0000" | tee "bench/results/$name.log"
  done
done
