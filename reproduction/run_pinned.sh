#!/usr/bin/env bash
# The reproduction runs of issue 15, all from one pinned commit, so that each study's rows share one
# code version however many sessions the runs take (a run cut mid-trial resumes from its epoch
# backup; a finished trial is never run twice). Run it again with the same PIN to resume.
#
#   RNNSWEEP_DATA=../shared/data nohup bash reproduction/run_pinned.sh > reproduction/logs/pinned.log 2>&1 &
# The pinned worktree and its environment: pinned.sh. Results land in this checkout's reproduction/results/.
set -uo pipefail
PIN=${PIN:-864a19e}
. "$(dirname "$0")/pinned.sh"
STEPS=${STEPS:-"s004_tf2 s004_k3 s002_k3 s002_tf2 s001_k3 s001_tf2 p001 p004 s000_grid"}
run() { nice -n 10 python "$WT/sweeps/$1.py" --results "$RES" --address local --cpus-per-trial 1 \
          --rerun-other-versions "${@:2}"; }
TF2=(--set model.semantics=tf_keras2)
S001=(--study sequence_length,hidden_size,architecture --seeds 1-6)
# Seed 002: its five models under Keras 3 (one version with the next step), and the three with dropout
# (models 3-5, where the semantics differ) under tf.keras 2; 3 seeds each, as the sweep says.
S002_K3=(--study bag_of_characters,simple_rnn,simple_rnn_dropout,stacked_simple_rnn,bilstm)
S002_TF2=(--study simple_rnn_dropout,stacked_simple_rnn,bilstm)
# Seed 000's grid, one driver per group (two trials in flight on two CPUs, the next starting as soon as
# one ends, so no core waits for a pair's slower half); within a group the sweep's order. The seed's own
# comparison (GRU-32 vs LSTM-64 at batch 64) and batch 64's row came first; then the cheapest models
# first (measured here: a 128-unit model takes 35-40 s an epoch, a 32-unit one 10-15 s), so that the
# most land per session: the rest of batch 128 with GRU-128 at 64, width 32 at batch 32, width 64 at
# batch 32 with the LSTM-128s, then the rest. GRID_ORDER="..." runs other groups (each as --only takes).
GRID_ORDER=${GRID_ORDER:-"GRU-32-bs64,LSTM-64-bs64,GRU-64-bs64,LSTM-32-bs64
  GRU-128-bs64,GRU-128-bs128,LSTM-32-bs128,LSTM-64-bs128,*-32-bs32,*-32-bs128,GRU-64-bs128
  *-64-bs32,LSTM-128-bs64,LSTM-128-bs128 *-bs32"}
# The seed's own code on tf.keras 2 (the peer), on the arrays this pinned rnnsweep prepares; it writes
# reproduction/results/tf_keras2.csv in this checkout.
peer() { nice -n 10 python "$MAIN/reproduction/experiments/seed_keras.py" --framework tf_keras2 "$@"; }
for step in $STEPS; do
  echo "== $(date -u +%FT%TZ) $step"
  case $step in
    s004_tf2) run imdb_stacked --seeds 1-3 "${TF2[@]}" ;;
    s004_k3) run imdb_stacked --seeds 1-3 ;;
    s002_k3) run names_gender "${S002_K3[@]}" ;;
    s002_tf2) run names_gender "${S002_TF2[@]}" "${TF2[@]}" ;;
    s001_k3) run imdb_grid "${S001[@]}" ;;
    s001_tf2) run imdb_grid "${S001[@]}" "${TF2[@]}" ;;
    p004) peer --notebook 004 --seeds 1 2 3 ;;
    # Seed 001's peer in three parts (p001 runs all three): its architecture study first, the points
    # where the two semantics differ most (LSTM and GRU with RMSprop 1e-4).
    p001) peer --notebook 001 --maxlen 30 --arch LSTM GRU --seeds 1 2 3 4 5 6
          peer --notebook 001 --maxlen 30 50 80 100 150 200 --seeds 1 2 3 4 5 6
          peer --notebook 001 --maxlen 200 --units 2 10 20 --seeds 1 2 3 4 5 6 ;;
    p001_arch) peer --notebook 001 --maxlen 30 --arch LSTM GRU --seeds 1 2 3 4 5 6 ;;
    # Issue 26: seed 002's random search from this pin (it had rows of an unrecorded version), and seed
    # 001's SimpleRNN(2) at maxlen 200 with seeds 7-12 on both sides (reproduction/experiments/simplernn2.py, rnn2.py).
    s002_rs) run names_gender --study random_search
             run names_gender --study random_search --epochs 20 ;;
    s001_rnn2) set -f; run imdb_grid --study hidden_size --seeds 1-12 --only 'SimpleRNN-2-*' "${TF2[@]}"; set +f ;;
    p001_rnn2) peer --notebook 001 --maxlen 200 --units 2 --seeds 7 8 9 10 11 12 ;;
    # Issue 28: JAX's seed 001 sat below TensorFlow's at every SimpleRNN point, most at SimpleRNN(10)
    # (seeds 1-6); TensorFlow's side at seeds 7-20 too, so both backends have 20 seeds there.
    s001_rnn10) set -f; run imdb_grid --study hidden_size --seeds 1-20 --only 'SimpleRNN-10-*'
                run imdb_grid --study hidden_size --seeds 1-20 --only 'SimpleRNN-10-*' "${TF2[@]}"; set +f ;;
    # set -f: a group's globs (*-bs128) are --only's, not the shell's.
    s000_grid) set -f; for group in $GRID_ORDER; do run imdb_grid --study grid --only "$group"; done; set +f ;;
  esac
done
echo "== $(date -u +%FT%TZ) done"
