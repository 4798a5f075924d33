"""The plain Keras loop, written the seed notebooks' way — a model by hand, ``model.fit`` with
``validation_split`` — on the same prepared arrays rnnsweep trains on. The peer of the throughput
benchmark: rnnsweep's trial must be at least as fast as this."""
from __future__ import annotations

import time


def _seed000(arch, units, glove):
    import keras
    from keras import layers

    rnn = {"GRU": layers.GRU, "LSTM": layers.LSTM}[arch]
    return [layers.Embedding(glove.shape[0], glove.shape[1], weights=[glove], trainable=False),
            rnn(units, activation="relu", kernel_initializer="he_normal"),
            layers.Dense(units, activation="relu", kernel_initializer="he_normal"),
            layers.Dense(1, activation="sigmoid", kernel_initializer="glorot_normal")], \
        keras.optimizers.Adam(learning_rate=1e-4)


def _seed001(vocab):
    import keras
    from keras import layers

    return [layers.Embedding(vocab, 50),
            layers.SimpleRNN(5, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001)),
            layers.Dense(1, activation="sigmoid")], keras.optimizers.RMSprop(learning_rate=1e-4)


def _seed004(vocab):
    import keras
    from keras import layers

    return [layers.Embedding(vocab, 100),
            layers.LSTM(32, dropout=0.5, recurrent_dropout=0.2, return_sequences=True),
            layers.LSTM(32, dropout=0.5, recurrent_dropout=0.2),
            layers.Dropout(0.5),
            layers.Dense(1, activation="sigmoid")], keras.optimizers.RMSprop()


def fit(case: str, prepared, trial) -> dict:
    """The seed's model for ``case``, trained as the notebook trains it; samples/s over ``fit``."""
    import keras

    tr = trial.training
    keras.utils.set_random_seed(tr.seed)
    m = trial.model
    if case.startswith("seed000"):
        stack, opt = _seed000(m.arch, m.units, prepared.embedding)
    elif case.startswith("seed001"):
        stack, opt = _seed001(prepared.vocab_size)
    else:
        stack, opt = _seed004(prepared.vocab_size)
    model = keras.Sequential([keras.Input(shape=(prepared.x_train.shape[1],)), *stack])
    model.compile(optimizer=opt, loss="binary_crossentropy", metrics=["accuracy"])
    n = tr.limit_train or len(prepared.x_train)
    t0 = time.perf_counter()
    model.fit(prepared.x_train[:n], prepared.y_train[:n], epochs=tr.epochs, batch_size=tr.batch_size,
              validation_split=tr.validation_split, verbose=0)
    seconds = time.perf_counter() - t0
    n_train = int(n * (1 - tr.validation_split))
    return {"samples_per_second": n_train * tr.epochs / seconds, "fit_seconds": seconds}
