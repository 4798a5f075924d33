#!/usr/bin/env bash
# Issue 28's payoff: seed 001's three studies on Keras's JAX backend (seed repeats fused, rnnsweep.fused),
# under both semantics, from one pinned commit, into reproduction/results/imdb_grid beside the TensorFlow
# rows (training.backend=jax is part of each trial id). SEEDS=1-6 first (against TensorFlow's seeds 1-6),
# then SEEDS=1-20. Resumes like run_pinned.sh: run it again with the same PIN.
#
#   RNNSWEEP_DATA=$PWD/../shared/data PIN=<commit> SEEDS=1-6 nohup bash reproduction/run_jax.sh > reproduction/logs/jax.log 2>&1 &
set -uo pipefail
PIN=${PIN:?set PIN to the commit the rows come from}
. "$(dirname "$0")/pinned.sh"
SEEDS=${SEEDS:-1-6}
run() { nice -n 10 python "$WT/sweeps/imdb_grid.py" --results "$RES" --address local --cpus-per-trial 1 \
          --rerun-other-versions --study sequence_length,hidden_size,architecture --seeds "$SEEDS" \
          --set training.backend=jax --fuse 8 "$@"; }
echo "== $(date -u +%FT%TZ) keras3 seeds $SEEDS"; run
echo "== $(date -u +%FT%TZ) tf_keras2 seeds $SEEDS"; run --set model.semantics=tf_keras2
echo "== $(date -u +%FT%TZ) done"
