"""Seed 001's SimpleRNN(2) at maxlen 200 (issue 26, point 4): rnnsweep's tf.keras 2 semantics learns for
some seeds while the seed's own code on tf.keras 2 stayed near chance for all six. Is it the training
step, the initial weights, or seed spread? Measured, each run in a fresh process:

    python -m reproduction.experiments.simplernn2 init     # initial weights per seed, both sides → simplernn2_init.csv
    python -m reproduction.experiments.simplernn2 swap --seeds 1 2 3 4 5 6   # → simplernn2_swap.csv

Both ran from one pinned commit, ce99f63, in a worktree with ``--out`` this checkout's results, so every
row records one code version:

    git worktree add --detach /tmp/rnnsweep-pin-ce99f63 ce99f63 && cd /tmp/rnnsweep-pin-ce99f63
    OUT=/work/main/reproduction/results  # this checkout's
    PYTHONPATH=$PWD python -m reproduction.experiments.simplernn2 init --seeds 1 2 3 4 5 6 7 8 9 10 11 12 --out $OUT
    PYTHONPATH=$PWD python -m reproduction.experiments.simplernn2 swap --seeds 1 2 3 4 5 6 7 8 9 10 11 12 --out $OUT

Both sides' own runs of seeds 7-12 are run_pinned.sh's steps s001_rnn2 and p001_rnn2.

- ``init``: the initial weights rnnsweep (``models.build_model``, tf.keras 2 semantics, seeded as
  ``trial.run_trial`` seeds) and the seed's code on tf.keras 2 (``seed_keras.seed001``'s model) draw
  from the same seed: per tensor, its mean and standard deviation, and for the recurrent kernel (a
  2×2 orthogonal matrix: a rotation or a reflection) its determinant and largest real eigenvalue.
- ``swap``: the seed's code on tf.keras 2, its own batches and training step, started from
  rnnsweep's initial weights of the same seed. If it then learns where rnnsweep learns, the
  difference between the two sides is which initial weights each seed draws, not the training.

The step itself is checked by ``tests/test_semantics.py -k seed001``: the same weights and batches
give the same weights after several steps on both sides.
"""
import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).parent.parent / "results"  # reproduction/results
MAXLEN, UNITS, VOCAB = 200, 2, 2000
SPEC = dict(arch="SimpleRNN", units=UNITS, embedding_dim=50, kernel_initializer="random_normal", init_stddev=0.001,
            optimizer="rmsprop", learning_rate=1e-4, semantics="tf_keras2")
NAMES = ["embedding", "rnn_kernel", "rnn_recurrent_kernel", "rnn_bias", "dense_kernel", "dense_bias"]


def ours(seed: int) -> list[np.ndarray]:
    """rnnsweep's initial weights of the trial SimpleRNN-2-bs64-maxlen200-seed<seed>, tf.keras 2 semantics."""
    import keras

    from rnnsweep.models import build_model

    keras.utils.set_random_seed(seed)  # as trial.run_trial: seeded, then the model built
    return build_model(SPEC, VOCAB, MAXLEN).get_weights()


def theirs(seed: int):
    """The seed's code's model on tf.keras 2 (as ``seed_keras.seed001`` builds it), and its weights."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential([keras.Input(shape=(MAXLEN,)), layers.Embedding(VOCAB, 50),
                              layers.SimpleRNN(UNITS, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001)),
                              layers.Dense(1, activation="sigmoid")])
    return model, model.get_weights()


def describe(side: str, seed: int, weights) -> list[dict]:
    rows = []
    for name, w in zip(NAMES, weights):
        row = dict(side=side, seed=seed, tensor=name, mean=float(w.mean()), std=float(w.std()))
        if name == "rnn_recurrent_kernel":
            eig = np.linalg.eigvals(w)
            row["spectral_radius"] = float(np.abs(eig).max())
            row["determinant"] = float(np.linalg.det(w))  # +1 a rotation, -1 a reflection
            # How much of the state one step keeps in place: 1 for a reflection (eigenvalues +1, -1), cos θ
            # for a rotation by θ. A post-padded review is followed by up to 180 steps of zeros.
            row["max_real_eigenvalue"] = float(eig.real.max())
        rows.append(row)
    return rows


def init_rows(seed: int) -> list[dict]:
    return describe("rnnsweep (tf.keras 2 semantics)", seed, ours(seed)) + \
        describe("seed's code on tf.keras 2", seed, theirs(seed)[1])


def swap_run(seed: int) -> dict:
    """The seed's code on tf.keras 2 (its batches, its step) from rnnsweep's initial weights."""
    import tensorflow as tf
    import tf_keras as keras

    from rnnsweep import text

    start = ours(seed)
    p = text.prepare(dict(source="keras_imdb", num_words=VOCAB, split="official", maxlen=MAXLEN, padding="post",
                          truncating="post"))
    model, _ = theirs(seed)  # seeded as the seed's code seeds it: its own shuffle stream
    model.set_weights(start)
    model.compile(optimizer=keras.optimizers.legacy.RMSprop(learning_rate=1e-4), loss="binary_crossentropy",
                  metrics=["accuracy"])
    t0 = time.time()
    model.fit(p.x_train, p.y_train, epochs=10, batch_size=64, validation_split=0.2, verbose=0)
    loss, accuracy = model.evaluate(p.x_test, p.y_test, batch_size=256, verbose=0)
    try:
        from rnnsweep.version import code_version
    except ImportError:
        from rnnsweep.cluster import code_version
    return dict(seed=seed, start="rnnsweep's initial weights", test_accuracy=accuracy, test_loss=loss,
                fit_seconds=time.time() - t0, tf_version=tf.__version__, keras_version=keras.__version__,
                code_version=code_version())


def fresh(fn, *args):
    """One run in a new Python process (spawned: nothing of this one's TensorFlow or Keras state)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        return pool.submit(fn, *args).result()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["init", "swap"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--out", type=Path, default=OUT, help="the folder of the CSVs (a pinned run writes to main's)")
    args = ap.parse_args()
    if args.what == "init":
        rows = [r for s in args.seeds for r in fresh(init_rows, s)]
        pd.DataFrame(rows).to_csv(args.out / "simplernn2_init.csv", index=False)
        print(pd.DataFrame(rows).to_string())
        return
    out = args.out / "simplernn2_swap.csv"
    for seed in args.seeds:
        done = pd.read_csv(out) if out.exists() else pd.DataFrame(columns=["seed"])
        if seed in set(done["seed"]):
            continue
        row = fresh(swap_run, seed)
        print(row, flush=True)
        pd.concat([done, pd.DataFrame([row])], ignore_index=True).to_csv(out, index=False)  # each run kept


if __name__ == "__main__":
    main()
