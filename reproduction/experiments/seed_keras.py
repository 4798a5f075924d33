"""The seeds' own code, as plain scripts on the same arrays rnnsweep trains on: the peers that tell
whether a difference from a seed's numbers comes from rnnsweep or from elsewhere (the framework, the
data, or the seed's own run-to-run variance). Two frameworks:

- ``keras3``: today's Keras 3 (what rnnsweep runs by default);
- ``tf_keras2``: tf.keras 2.x, the seeds' own framework (the ``tf_keras`` package, with the legacy
  optimizers that TensorFlow 2.x's ``tf.keras.optimizers`` were when the seeds ran).

    export RNNSWEEP_DATA=../shared/data
    python -m reproduction.experiments.seed_keras --maxlen 30 80 --seeds 1 2 3
    python -m reproduction.experiments.seed_keras --framework tf_keras2 --notebook 004 --seeds 1
    python -m reproduction.experiments.seed_keras --framework tf_keras2 --maxlen 200 --units 2 10 20

Writes one row per run to reproduction/results/plain_keras.csv (keras3) or tf_keras2.csv (appending;
a run already there is skipped). Each run starts in a fresh Python process, as each rnnsweep trial
starts from a fresh Keras session: measured, tf_keras 2 runs one after another in one process do not
give what the same run gives alone (seed 004's GRU, seed 3: 65.3 % as the fourth run of a process,
85.8 % alone), so a row never depends on the runs before it.
"""
import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).parent.parent / "results"  # reproduction/results
OUT = {"keras3": RESULTS / "plain_keras.csv", "tf_keras2": RESULTS / "tf_keras2.csv"}
KEYS = ["seed_notebook", "arch", "maxlen", "units", "seed"]


def framework(name: str):
    """(keras module, RMSprop class) of the framework."""
    if name == "tf_keras2":
        import tf_keras as keras

        return keras, keras.optimizers.legacy.RMSprop
    import keras

    return keras, keras.optimizers.RMSprop


def seed001(fw: str, maxlen: int, seed: int, arch="SimpleRNN", units=5, smoke=False, epochs=10, limit=None) -> dict:
    from rnnsweep import text

    keras, RMSprop = framework(fw)
    layers = keras.layers
    # The same prepared arrays as rnnsweep's trials (keras_imdb, num_words 2000, 'post' padding and truncating).
    p = text.prepare(dict(source="keras_imdb", num_words=2000, split="official", maxlen=maxlen, padding="post",
                          truncating="post"))
    keras.utils.set_random_seed(seed)
    # The seed's model, written as the notebook does.
    rnn = getattr(layers, arch)
    model = keras.Sequential([
        keras.Input(shape=(maxlen,)),
        layers.Embedding(2000, 50),
        rnn(units, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001)),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=RMSprop(learning_rate=1e-4), loss="binary_crossentropy", metrics=["accuracy"])
    return _fit(keras, model, p, epochs=epochs, batch_size=64, smoke=smoke, limit=limit,
                row=dict(seed_notebook="001", arch=arch, maxlen=maxlen, units=units, seed=seed))


def seed004(fw: str, arch: str, seed: int, smoke=False) -> dict:
    """Seed 004: Embedding(10000, 100) → RNN(32, dropout 0.5, recurrent_dropout 0.2) ×2 → Dropout(0.5)
    → Dense(1); RMSprop() (lr 1e-3), batch 512, 5 epochs, maxlen 500 'pre'."""
    from rnnsweep import text

    keras, RMSprop = framework(fw)
    layers = keras.layers
    p = text.prepare(dict(source="keras_imdb", num_words=10_000, split="official", maxlen=500))
    keras.utils.set_random_seed(seed)
    rnn = layers.GRU if arch == "GRU" else layers.LSTM

    def wrap(layer):
        return layers.Bidirectional(layer) if arch == "BiLSTM" else layer

    model = keras.Sequential([
        keras.Input(shape=(500,)),
        layers.Embedding(10_000, 100),
        wrap(rnn(32, dropout=0.5, recurrent_dropout=0.2, return_sequences=True)),
        wrap(rnn(32, dropout=0.5, recurrent_dropout=0.2)),
        layers.Dropout(0.5),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=RMSprop(learning_rate=1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    return _fit(keras, model, p, epochs=5, batch_size=512, smoke=smoke,
                row=dict(seed_notebook="004", arch=arch, maxlen=500, units=32, seed=seed))


def _fit(keras, model, p, epochs, batch_size, smoke, row, limit=None) -> dict:
    x, y, xt, yt = p.x_train[:limit], p.y_train[:limit], p.x_test, p.y_test  # limit: bench/backends.py's budget
    if smoke:  # a check that the script runs: 1 epoch on 1,024 reviews, 1,024 test reviews
        x, y, xt, yt, epochs = x[:1024], y[:1024], xt[:1024], yt[:1024], 1
    t0 = time.time()
    model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_split=0.2, verbose=0)
    seconds = time.time() - t0
    loss, accuracy = model.evaluate(xt, yt, batch_size=max(256, batch_size), verbose=0)
    return dict(row, test_accuracy=accuracy, test_loss=loss, fit_seconds=seconds, keras_version=keras.__version__,
                **versions())


def versions() -> dict:
    """What made a row, beside ``keras_version`` (the framework's own): the rnnsweep code that prepared
    the arrays — the checkout ``rnnsweep`` was imported from, a pinned worktree's when ``PYTHONPATH``
    names one — and TensorFlow's version (rows from before these columns were recorded have none)."""
    import subprocess

    import rnnsweep
    import tensorflow as tf

    here = Path(rnnsweep.__file__).parent

    def git(*a):
        return subprocess.run(["git", *a], capture_output=True, text=True, timeout=5, cwd=here).stdout.strip()

    sha = git("rev-parse", "--short", "HEAD")
    dirty = "+dirty" if git("status", "--porcelain", "--", str(here)) else ""
    return dict(code_version=f"rnnsweep {rnnsweep.__version__} ({sha}{dirty})", tf_version=tf.__version__)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framework", choices=list(OUT), default="keras3")
    ap.add_argument("--notebook", choices=["001", "004"], default="001")
    ap.add_argument("--maxlen", type=int, nargs="+", default=[30], help="seed 001's sequence lengths")
    ap.add_argument("--arch", nargs="+", default=None,
                    help="seed 004: LSTM GRU BiLSTM (the default); seed 001: SimpleRNN (the default) LSTM GRU")
    ap.add_argument("--units", type=int, nargs="+", default=[5], help="seed 001's hidden sizes")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--smoke", action="store_true", help="1 epoch on 1,024 reviews; writes nothing")
    args = ap.parse_args()
    out = OUT[args.framework]
    done = pd.read_csv(out, dtype={"seed_notebook": str}) if out.exists() else pd.DataFrame(columns=KEYS)
    for c in KEYS:  # older rows (seed 001, SimpleRNN(5) only) lack some keys
        if c not in done:
            done[c] = {"seed_notebook": "001", "arch": "SimpleRNN", "units": 5}.get(c)
    if args.notebook == "004":
        runs = [(a, 500, 32, s) for a in args.arch or ["LSTM", "GRU", "BiLSTM"] for s in args.seeds]
    else:
        runs = [(a, m, u, s) for a in args.arch or ["SimpleRNN"] for m in args.maxlen for u in args.units
                for s in args.seeds]
    for arch, maxlen, units, seed in runs:
        key = dict(seed_notebook=args.notebook, arch=arch, maxlen=maxlen, units=units, seed=seed)
        if not args.smoke and (done[KEYS].astype(str) == pd.Series(key).astype(str)).all(axis=1).any():
            continue
        row = fresh(args.framework, args.notebook, arch, maxlen, units, seed, args.smoke)
        print(row, flush=True)
        if args.smoke:
            continue
        # Re-read before appending: another peer run may have written meanwhile.
        done = pd.read_csv(out, dtype={"seed_notebook": str}) if out.exists() else done.iloc[:0]
        done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        done.to_csv(out, index=False)  # after every run: a cut session loses nothing


def one_run(fw: str, notebook: str, arch: str, maxlen: int, units: int, seed: int, smoke: bool) -> dict:
    row = seed004(fw, arch, seed, smoke) if notebook == "004" else seed001(fw, maxlen, seed, arch, units, smoke)
    return {**row, "framework": fw}


def fresh(*run) -> dict:
    """One run in a new Python process (spawned, not forked: nothing of this one's TensorFlow)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        return pool.submit(one_run, *run).result()


if __name__ == "__main__":
    main()
