#!/usr/bin/env bash
# Benchmarks one after another (they must not share the CPUs), each printing its table into
# bench/results/<name>.log; BENCHMARKS.md quotes these (bench/README.md says which section).
#   RNNSWEEP_DATA=../shared/data bash bench/run_all.sh           # sections 1-5, ~60 min on 2 cores
#   RNNSWEEP_DATA=../shared/data bash bench/run_all.sh all       # every CPU benchmark, many hours
#   RNNSWEEP_DATA=../shared/data bash bench/run_all.sh NAME...   # the ones named
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
FIRST="levers throughput breakdown sweep_wall sharing orchestration"
ALL="$FIRST scale search quick backends fusestep model_bytes chaos overhead"
case "${1:-}" in
  "") names=$FIRST ;;
  all) names=$ALL ;;
  *) names="$*" ;;
esac
for name in $names; do
  echo "== $name $(date -u +%H:%M:%S)"
  python -m "bench.$name" 2>&1 | grep -v "^WARNING\|^I0000\|^W0000\|^E0000" | tee "bench/results/$name.log"
done
