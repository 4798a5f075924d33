"""Stage 3 — models: one builder from a flat, JSON-able spec.

    Embedding (learned or pretrained, frozen or not) → [Dropout] → RNN × layers (SimpleRNN | LSTM |
    GRU, optionally Bidirectional) → [Dense hidden] → [Dropout] → Dense(1, sigmoid)

or, with ``arch="bag"``, seed 002's dense bag-of-tokens model (multi-hot → Dense × layers → Dense(1)).
"""
from __future__ import annotations

MODEL_DEFAULTS = dict(
    arch="LSTM",                 # SimpleRNN | LSTM | GRU | bag
    units=32,
    layers=1,                    # stacked recurrent (or, for bag, hidden Dense) layers
    bidirectional=False,
    activation="tanh",           # of the recurrent layers (seed 000: relu)
    kernel_initializer="glorot_uniform",  # he_normal | glorot_normal | glorot_uniform | random_normal
    init_stddev=0.05,            # stddev when an initializer is random_normal
    dropout=0.0,                 # inside the recurrent layers
    recurrent_dropout=0.0,
    embedding_dim=100,           # ignored with a pretrained matrix (its width is used)
    embedding_trainable=None,    # None: learned → trainable, pretrained (GloVe) → frozen
    mask_zero=False,
    embedding_dropout=0.0,       # Dropout right after the embedding (seed 003)
    dense_units=None,            # optional hidden Dense: int, or "same" = units (seed 000)
    dense_activation="relu",
    dense_initializer="glorot_uniform",
    output_dropout=0.0,          # Dropout before the output layer (seed 004)
    output_initializer="glorot_uniform",
    optimizer="adam",            # adam | rmsprop | sgd
    learning_rate=1e-3,
)
MODEL_CHOICES = dict(
    arch=("SimpleRNN", "LSTM", "GRU", "bag"),
    kernel_initializer=("he_normal", "glorot_normal", "glorot_uniform", "random_normal"),
    dense_initializer=("he_normal", "glorot_normal", "glorot_uniform", "random_normal"),
    output_initializer=("he_normal", "glorot_normal", "glorot_uniform", "random_normal"),
    optimizer=("adam", "rmsprop", "sgd"),
)


def _init(name, stddev):
    import keras

    if name == "random_normal":
        return keras.initializers.RandomNormal(stddev=stddev)
    return name


def build_model(spec: dict, vocab_size: int, maxlen: int, embedding=None):
    """A compiled Keras model. ``embedding``: optional pretrained matrix [vocab_size, dim]."""
    import keras
    from keras import layers

    s = {**MODEL_DEFAULTS, **spec}
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
