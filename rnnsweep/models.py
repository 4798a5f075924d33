"""Stage 3 — models: one builder from a flat, JSON-able spec.

    Embedding (learned or pretrained, frozen or not) → [Dropout] → RNN × layers (SimpleRNN | LSTM |
    GRU, optionally Bidirectional) → [Dense hidden] → [Dropout] → Dense(1, sigmoid)

or, with ``arch="bag"``, seed 002's dense bag-of-tokens model (multi-hot → Dense × layers → Dense(1)).
Every key of the spec and its default is declared in ``settings.MODEL``.
"""
from __future__ import annotations

from . import settings


def _init(name, stddev):
    import keras

    if name == "random_normal":
        return keras.initializers.RandomNormal(stddev=stddev)
    return name


def build_model(spec: dict, vocab_size: int, maxlen: int, embedding=None):
    """A compiled Keras model. ``embedding``: optional pretrained matrix [vocab_size, dim]."""
    import keras
    from keras import layers

    s = {**settings.defaults("model"), **spec}
    rnn = {"SimpleRNN": layers.SimpleRNN, "LSTM": layers.LSTM, "GRU": layers.GRU}.get(s["arch"])
    inputs = keras.Input(shape=(maxlen,), dtype="int32", name="tokens")
    if s["arch"] == "bag":
        x = layers.CategoryEncoding(num_tokens=vocab_size, output_mode="multi_hot")(inputs)
        for _ in range(s["layers"]):
            x = layers.Dense(s["units"], activation=s["activation"],
                             kernel_initializer=_init(s["kernel_initializer"], s["init_stddev"]))(x)
    else:
        dim = embedding.shape[1] if embedding is not None else s["embedding_dim"]
        trainable = s["embedding_trainable"]
        if trainable is None:
            trainable = embedding is None
        emb = layers.Embedding(vocab_size, dim, mask_zero=s["mask_zero"], trainable=trainable, name="embedding")
        x = emb(inputs)
        if embedding is not None:
            emb.set_weights([embedding])
        if s["embedding_dropout"]:
            x = layers.Dropout(s["embedding_dropout"])(x)
        for i in range(s["layers"]):
            cell = rnn(s["units"], activation=s["activation"], return_sequences=i < s["layers"] - 1,
                       kernel_initializer=_init(s["kernel_initializer"], s["init_stddev"]),
                       dropout=s["dropout"], recurrent_dropout=s["recurrent_dropout"])
            x = (layers.Bidirectional(cell) if s["bidirectional"] else cell)(x)
    if s["dense_units"]:
        units = s["units"] if s["dense_units"] == "same" else s["dense_units"]
        x = layers.Dense(units, activation=s["dense_activation"],
                         kernel_initializer=_init(s["dense_initializer"], s["init_stddev"]))(x)
    if s["output_dropout"]:
        x = layers.Dropout(s["output_dropout"])(x)
    outputs = layers.Dense(1, activation="sigmoid",
                           kernel_initializer=_init(s["output_initializer"], s["init_stddev"]))(x)
    model = keras.Model(inputs, outputs, name=f"{s['arch']}-{s['units']}")
    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                 "sgd": keras.optimizers.SGD}[s["optimizer"]](learning_rate=s["learning_rate"])
    model.compile(optimizer=optimizer, loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC(name="auc")])
    return model


def param_counts(model) -> tuple[int, int]:
    """(trainable, non-trainable) parameter counts, as ``model.summary()`` prints them."""
    import numpy as np

    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return trainable, sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
