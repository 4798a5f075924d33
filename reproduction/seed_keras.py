"""Seed 001's own code, as a plain Keras script on the same arrays rnnsweep trains on: the peer that
tells whether a difference from the seed's numbers comes from rnnsweep or from elsewhere (today's
Keras/TF versus the seed's, the data, or the seed's own run-to-run variance).

    RNNSWEEP_DATA=../shared/data python reproduction/seed_keras.py --maxlen 30 80 --seeds 1 2 3

Writes one row per run to reproduction/results/plain_keras.csv (appending; a run already there is skipped).
"""
import argparse
import time
from pathlib import Path

import pandas as pd

OUT = Path(__file__).parent / "results" / "plain_keras.csv"


def seed001(maxlen: int, seed: int) -> dict:
    import keras
    from keras import layers

    from rnnsweep import text

    # The same prepared arrays as rnnsweep's trials (keras_imdb, num_words 2000, 'post' padding and truncating).
    p = text.prepare(dict(source="keras_imdb", num_words=2000, split="official", maxlen=maxlen, padding="post",
                          truncating="post"))
    keras.utils.set_random_seed(seed)
    # The seed's model, written as the notebook does.
    model = keras.Sequential([
        keras.Input(shape=(maxlen,)),
        layers.Embedding(2000, 50),
        layers.SimpleRNN(5, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001)),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-4), loss="binary_crossentropy",
                  metrics=["accuracy"])
    t0 = time.time()
    model.fit(p.x_train, p.y_train, epochs=10, batch_size=64, validation_split=0.2, verbose=0)
    seconds = time.time() - t0
    loss, accuracy = model.evaluate(p.x_test, p.y_test, verbose=0)
    return dict(seed_notebook="001", maxlen=maxlen, units=5, arch="SimpleRNN", seed=seed, test_accuracy=accuracy,
                test_loss=loss, fit_seconds=seconds, keras_version=keras.__version__)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maxlen", type=int, nargs="+", default=[30])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = ap.parse_args()
    done = pd.read_csv(OUT) if OUT.exists() else pd.DataFrame(columns=["maxlen", "seed"])
    for maxlen in args.maxlen:
        for seed in args.seeds:
            if ((done["maxlen"] == maxlen) & (done["seed"] == seed)).any():
                continue
            row = seed001(maxlen, seed)
            print(row, flush=True)
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            OUT.parent.mkdir(parents=True, exist_ok=True)
            done.to_csv(OUT, index=False)  # after every run: a cut session loses nothing


if __name__ == "__main__":
    main()
