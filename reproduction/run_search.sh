#!/usr/bin/env bash
# Issue 16's IMDB search, from one pinned commit (like run_pinned.sh), so its rows share one code
# version across sessions. Run it again with the same PIN to resume: finished and pruned trials are
# replayed into the search, a running one resumes from its epoch backup.
#
#   RNNSWEEP_DATA=../shared/data nohup bash reproduction/run_search.sh > reproduction/logs/search.log 2>&1 &
#   STUDY=winner RNNSWEEP_DATA=../shared/data nohup bash reproduction/run_search.sh --search-trials 32 \
#     > reproduction/logs/winner.log 2>&1 &
#
# The committed search stopped at 32 of its 40 trials, this machine's budget of about 4 h (3.1 h of wall
# time, 4.8 CPU-hours): the winner's run passes --search-trials 32 so that it counts the search as ended.
#
# The search runs from 67c22f1 (where it started); the winner's seed repeats from 8ee34c7, the first
# commit with best_of. Each study's rows then come from one version.
#
# Issue 26's widened search runs from 45ee2db (the first commit with it), its refit winner from 6f6198e
# (the first with refit=), at NICE 19
# when other pinned runs share the cores:
#
#   STUDY=wide NICE=19 RNNSWEEP_DATA=$PWD/../shared/data nohup bash reproduction/run_search.sh > reproduction/logs/wide.log 2>&1 &
#   STUDY=wide_winner RNNSWEEP_DATA=$PWD/../shared/data nohup bash reproduction/run_search.sh > reproduction/logs/wide_winner.log 2>&1 &
# Issue 37's winner_ensemble (winner_val_accuracy's seeds retrained on JAX with their models kept, then their
# ensemble) runs from the first commit with kept models and ensembles:
#
#   STUDY=winner_ensemble RNNSWEEP_DATA=$PWD/../shared/data nohup bash reproduction/run_search.sh --search-trials 32 \
#     > reproduction/logs/winner_ensemble.log 2>&1 &
set -uo pipefail
STUDY=${STUDY:-search}
case "$STUDY" in
  winner) PIN=${PIN:-8ee34c7} ;;
  wide) PIN=${PIN:-45ee2db} ;;
  wide_winner) PIN=${PIN:-6f6198e} ;;
  winner_ensemble) PIN=${PIN:-8ee179e} ;;
  *) PIN=${PIN:-67c22f1} ;;
esac
. "$(dirname "$0")/pinned.sh"
echo "== $(date -u +%FT%TZ) imdb_best --study $STUDY"
nice -n "${NICE:-10}" python "$WT/sweeps/imdb_best.py" --results "$RES" --address local \
  --cpus-per-trial 1 --study "$STUDY" "$@"
echo "== $(date -u +%FT%TZ) done"
