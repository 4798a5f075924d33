"""Stage 3 — models: one builder from a trial's ``model`` section (``config.Model``, or its plain dict).

    Embedding (learned or pretrained, frozen or not) → [Dropout] → RNN × layers (SimpleRNN | LSTM |
    GRU, optionally Bidirectional) → [Dense hidden] → [Dropout] → Dense(1, sigmoid)

or, with ``arch="bag"``, seed 002's dense bag-of-tokens model (multi-hot → Dense × layers → Dense(1)).
Every setting of the section and its default is declared in ``settings.MODEL``.
"""
from __future__ import annotations

import functools

from .config import Dataset, Model


def _init(name, stddev):
    import keras

    if name == "random_normal":
        return keras.initializers.RandomNormal(stddev=stddev)
    return name


def _bag(s, inputs, vocab_size):
    """Seed 002's ``texts_to_matrix(mode="binary")``: which tokens occur (the padding index 0, which
    that matrix never sets, masked out) → Dense × layers."""
    import keras
    import numpy as np
    from keras import layers

    keep = np.ones(vocab_size, dtype="float32")
    keep[0] = 0.0
    x = layers.CategoryEncoding(num_tokens=vocab_size, output_mode="multi_hot")(inputs)
    x = layers.Lambda(lambda t: keras.ops.multiply(t, keep), name="drop_padding")(x)
    for _ in range(s.layers):
        x = layers.Dense(s.units, activation=s.activation,
                         kernel_initializer=_init(s.kernel_initializer, s.init_stddev))(x)
    return x


def _recurrent(s, inputs, vocab_size, embedding):
    """Embedding (learned, or a pretrained matrix frozen unless told) → [BatchNorm] → [Dropout] →
    RNN × layers, each but the last returning sequences."""
    from keras import layers, regularizers

    rnn = {"SimpleRNN": layers.SimpleRNN, "LSTM": layers.LSTM, "GRU": layers.GRU}[s.arch]
    dim = embedding.shape[1] if embedding is not None else s.embedding_dim
    trainable = embedding is None if s.embedding_trainable is None else s.embedding_trainable
    scale = s.embedding_lr_scale if trainable else 1.0
    emb = (ScaledEmbedding(scale=scale, input_dim=vocab_size, output_dim=dim, mask_zero=s.mask_zero,
                           name="embedding")
           if scale != 1.0 else
           layers.Embedding(vocab_size, dim, mask_zero=s.mask_zero, trainable=trainable, name="embedding"))
    x = emb(inputs)
    if embedding is not None or scale != 1.0:  # stored divided by scale: the layer's output is unchanged
        emb.set_weights([(emb.get_weights()[0] if embedding is None else embedding) / scale])
    if s.batch_norm:
        x = layers.BatchNormalization()(x)
    if s.embedding_dropout:
        x = layers.Dropout(s.embedding_dropout)(x)
    if s.spatial_dropout:
        x = layers.SpatialDropout1D(s.spatial_dropout)(x)
    cell_kwargs = dict(activation=s.activation, kernel_initializer=_init(s.kernel_initializer, s.init_stddev),
                       kernel_regularizer=regularizers.L2(s.l2) if s.l2 else None,
                       dropout=s.dropout, recurrent_dropout=s.recurrent_dropout)
    per_step = s.semantics == "tf_keras2" and _per_step_masks(s)
    for i in range(s.layers):
        sequences = i < s.layers - 1 or s.pooling != "last"
        if per_step:  # tf.keras 2.x's generic loop: fresh dropout masks at every timestep
            from .semantics import recurrent_layer  # imports Keras: only a tf_keras2 model needs it

            cell = recurrent_layer(s.arch, s.units, sequences, **cell_kwargs)
        else:
            cell = rnn(s.units, return_sequences=sequences, **cell_kwargs)
        x = (layers.Bidirectional(cell) if s.bidirectional else cell)(x)
    return _pool(s.pooling, x)


def _pool(how: str, x):
    """Max and/or mean over the last recurrent layer's outputs at every timestep; both skip masked
    (padding) steps when the embedding masks zeros."""
    from keras import layers

    if how == "last":
        return x
    pooled = {"max": [MaskedMax()(x)], "mean": [layers.GlobalAveragePooling1D()(x)],
              "max_mean": [MaskedMax()(x), layers.GlobalAveragePooling1D()(x)]}[how]
    return pooled[0] if len(pooled) == 1 else layers.Concatenate()(pooled)


@functools.cache  # one class per process (Keras registers it by name)
def _masked_max_layer():
    import keras

    @keras.saving.register_keras_serializable(package="rnnsweep")
    class MaskedMax(keras.layers.Layer):
        """Max over time, padding steps left out (Keras's GlobalMaxPooling1D ignores the mask)."""

        def __init__(self, **kw):
            super().__init__(**kw)
            self.supports_masking = True

        def call(self, x, mask=None):
            if mask is not None:
                x = keras.ops.where(keras.ops.expand_dims(mask, -1), x, keras.ops.full_like(x, -1e9))
            return keras.ops.max(x, axis=1)

        def compute_mask(self, x, mask=None):
            return None

    return MaskedMax


def MaskedMax(**kw):  # noqa: N802 - a layer, built on first use (importing this module never loads Keras)
    return _masked_max_layer()(**kw)


@functools.cache
def _scaled_embedding_layer():
    import keras

    @keras.saving.register_keras_serializable(package="rnnsweep")
    class ScaledEmbedding(keras.layers.Embedding):
        """An Embedding whose output is ``scale`` × its weights' rows. Adam's and RMSprop's steps do not
        depend on a gradient's size, so these weights move ``learning_rate`` a step and the embedding
        the layer hands on ``scale × learning_rate``: a smaller rate for a fine-tuned pretrained matrix."""

        def __init__(self, scale=1.0, **kw):
            super().__init__(**kw)
            self.scale = scale

        def call(self, inputs):
            return super().call(inputs) * self.scale

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    return ScaledEmbedding


def ScaledEmbedding(**kw):  # noqa: N802 - a layer, built on first use, like MaskedMax
    return _scaled_embedding_layer()(**kw)


def custom_objects() -> dict:
    """rnnsweep's own layers by the names a kept ``.keras`` file gives them: what ``load_model`` needs."""
    from . import semantics  # noqa: F401 - registers seed semantics' layers and optimizers with Keras

    return {f"rnnsweep>{c.__name__}": c for c in (_masked_max_layer(), _scaled_embedding_layer())}


def _per_step_masks(s: Model) -> bool:
    """Did tf.keras 2.x draw this model's recurrent dropout masks per timestep inside ``fit``? Only
    with dropout, in its generic loop: SimpleRNN always, LSTM/GRU without tanh or with recurrent
    dropout (semantics.py says why; kept here so reading a config never imports Keras)."""
    if s.arch == "bag" or not (s.dropout or s.recurrent_dropout):
        return False
    return s.arch == "SimpleRNN" or s.activation != "tanh" or bool(s.recurrent_dropout)


def cudnn(spec: Model | dict, dataset: Dataset | dict | None = None) -> str:
    """Whether Keras's TF backend can run this model's recurrent layers on cuDNN on a GPU, and if not
    why: "yes", or "no (activation=relu)". Keras falls back to its generic loop, silently, for
    any other setting; the check mirrors its ``cudnn_ok`` (and, with masking, its right-padding test)."""
    s = Model.of(spec)
    if s.arch == "bag":
        return "no (no recurrent layer)"
    if s.arch == "SimpleRNN":
        return "no (SimpleRNN has no cuDNN kernel)"
    why = [f"activation={s.activation}"] if s.activation != "tanh" else []
    if s.recurrent_dropout:
        why.append(f"recurrent_dropout={s.recurrent_dropout}")
    if s.mask_zero and Dataset.of(dataset).padding != "post":
        why.append("mask_zero with padding=pre (cuDNN needs right-padded sequences)")
    if s.semantics == "tf_keras2" and _per_step_masks(s):
        why.append("semantics=tf_keras2: per-timestep dropout masks need the generic loop")
    return f"no ({', '.join(why)})" if why else "yes"


def build_model(spec: Model | dict, vocab_size: int, maxlen: int, embedding=None, auc: bool = True):
    """A compiled Keras model. ``embedding``: optional pretrained matrix [vocab_size, dim]; ``auc``: Keras's AUC
    among its metrics (``training.auc``), beside accuracy."""
    import keras
    from keras import layers

    s = Model.of(spec)  # a dict's values are checked: model.arch: 'Transformer' is not one of ...
    # Global in Keras: set for every model, so a worker that ran a mixed-precision trial before
    # builds the next one in float32 again.
    keras.mixed_precision.set_dtype_policy(s.precision)
    inputs = keras.Input(shape=(maxlen,), dtype="int32", name="tokens")
    x = _bag(s, inputs, vocab_size) if s.arch == "bag" else _recurrent(s, inputs, vocab_size, embedding)
    if s.dense_units:
        units = s.units if s.dense_units == "same" else s.dense_units
        x = layers.Dense(units, activation=s.dense_activation,
                         kernel_initializer=_init(s.dense_initializer, s.init_stddev))(x)
    if s.output_dropout:
        x = layers.Dropout(s.output_dropout)(x)
    if s.batch_norm:
        x = layers.BatchNormalization()(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32",  # a float32 sigmoid and loss, as Keras advises
                           kernel_initializer=_init(s.output_initializer, s.init_stddev))(x)
    model = keras.Model(inputs, outputs, name=f"{s.arch}-{s.units}")
    optimizers = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}
    if s.semantics == "tf_keras2":
        from .semantics import OPTIMIZERS  # imports Keras: only a tf_keras2 model needs it

        optimizers = OPTIMIZERS  # tf.keras 2.x's RMSprop update; repeated embedding rows summed
    optimizer = optimizers[s.optimizer](learning_rate=s.learning_rate,
                                           **({"clipnorm": s.clipnorm} if s.clipnorm else {}))
    model.compile(optimizer=optimizer, loss="binary_crossentropy",
                  metrics=["accuracy"] + ([keras.metrics.AUC(name="auc")] if auc else []))
    return model


def param_counts(model) -> tuple[int, int]:
    """(trainable, non-trainable) parameter counts, as ``model.summary()`` prints them."""
    import numpy as np

    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return trainable, sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
