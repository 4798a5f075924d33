"""Part of stage 3 (models): tf.keras 2.x's semantics on Keras 3, for ``model.semantics="tf_keras2"``.

The seeds ran on TensorFlow 2.x's ``tf.keras`` (2019-2022). Two things it computed differently from
Keras 3 touch their models; neither is a bug, they are different, and a reproduction must be able to
run either:

- **RMSprop** (seeds 001, 004). tf.keras 2.x (``optimizer_v2/rmsprop.py``, momentum 0) updates
  ``w -= lr·g / (√ms + ε)``; Keras 3 updates ``w -= lr·g / √(ms + ε)``, whose denominator never
  drops below √ε ≈ 3.2e-4, so weights with small gradients move far less. ``LegacyRMSprop`` is
  Keras 3's RMSprop with tf.keras 2.x's update. A sparse (embedding) gradient is summed per row
  first, as tf.keras 2.x's ``_deduplicate_indexed_slices`` did.
- **Dropout masks inside recurrent cells** (seeds 002, 003, 004). Where tf.keras 2.x ran its generic
  RNN loop inside ``fit`` (graph mode), its mask cache did not see into the ``while`` loop's body, so
  every timestep drew fresh input and recurrent masks (per gate, as here); Keras 3 draws them once
  per sequence. tf.keras 2.x ran the generic loop for SimpleRNN always and for LSTM/GRU when the
  fused (cuDNN-capable) kernel was ruled out: an activation other than tanh, or recurrent dropout.
  Otherwise its one input mask held for the whole sequence, as Keras 3's does. The ``PerStep*Cell``
  classes draw fresh masks at every call (every timestep); ``models`` uses them only where tf.keras 2.x
  ran the generic loop.

- **Repeated rows of an embedding's gradient** (learned embeddings: seeds 001-004). A token that
  occurs twice in a batch gives its row twice in the sparse (IndexedSlices) gradient. tf.keras 2.x
  summed the repeats first (``_deduplicate_indexed_slices``) and made one update of the row; Keras 3's
  Adam and RMSprop update the row once per repeat (measured: after 4 Adam steps a twice-repeated row
  moved 0.055 instead of 0.039). Here every optimizer sums the repeats first.

Otherwise Adam (seeds 000, 002, 003) computes the same dense update in both, and so does SGD
(``tests/test_semantics.py`` checks each against ``tf_keras.optimizers.legacy``).
"""
from __future__ import annotations

import keras
from keras import ops


def _summed_rows(gradient):
    """A sparse gradient (IndexedSlices) as a dense one, its repeated rows summed: tf.keras 2.x's
    deduplication (a row absent from the batch gets a zero gradient, which its sparse update also
    amounted to: its slots decayed and the weight moved by the same formula)."""
    if hasattr(gradient, "indices") and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.convert_to_tensor(gradient)
    return gradient


class _SummedRows:
    def update_step(self, gradient, variable, learning_rate):
        return super().update_step(_summed_rows(gradient), variable, learning_rate)


@keras.saving.register_keras_serializable(package="rnnsweep")
class LegacyAdam(_SummedRows, keras.optimizers.Adam):
    """Keras 3's Adam (the same update as tf.keras 2.x's), repeated rows summed first."""


@keras.saving.register_keras_serializable(package="rnnsweep")
class LegacySGD(_SummedRows, keras.optimizers.SGD):
    """Keras 3's SGD (the same update as tf.keras 2.x's), repeated rows summed first."""


@keras.saving.register_keras_serializable(package="rnnsweep")
class LegacyRMSprop(keras.optimizers.RMSprop):
    """RMSprop with tf.keras 2.x's update: ``w -= lr·g / (√ms + ε)`` (no momentum, not centered;
    other settings fall back to Keras 3's update, which tf.keras 2.x's fused kernel matched)."""

    def update_step(self, gradient, variable, learning_rate):
        gradient = _summed_rows(gradient)
        if self.momentum > 0 or self.centered:
            return super().update_step(gradient, variable, learning_rate)
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self._velocities[self._get_variable_index(variable)]
        self.assign(velocity, ops.add(ops.multiply(self.rho, velocity),
                                      ops.multiply(1 - self.rho, ops.square(gradient))))
        self.assign_sub(variable, ops.divide(ops.multiply(lr, gradient),
                                             ops.add(ops.sqrt(velocity), self.epsilon)))


class _FreshMasks:
    """A fresh dropout mask at every call of the cell, i.e. at every timestep (never cached).

    On TensorFlow each call draws from the cell's seed generator. On JAX the recurrent loop is a
    ``lax.scan`` and a seed generator's state may not change inside it (that ends in
    ``UnexpectedTracerError``), so there the cell draws one key per sequence outside the loop (where
    Keras asks for its masks) and carries a timestep counter as one more state: each step's masks
    come from ``fold_in(key, step)``, one independent key per gate and per mask, as on TensorFlow."""

    _key = None      # JAX: this sequence's key, drawn before the loop
    _masks = None    # JAX: this step's (input masks, recurrent masks), set for the step's call

    def _per_sequence_key(self) -> bool:
        return keras.backend.backend() == "jax" and bool(self.dropout or self.recurrent_dropout)

    def get_dropout_mask(self, step_input):
        if self._per_sequence_key():
            return self._mask_or_key(0)
        return self._create_dropout_mask(step_input, self.dropout) if self.dropout > 0 else None

    def get_recurrent_dropout_mask(self, step_input):
        if self._per_sequence_key():
            return self._mask_or_key(1)
        return (self._create_dropout_mask(step_input, self.recurrent_dropout)
                if self.recurrent_dropout > 0 else None)

    def _mask_or_key(self, which):
        if self._masks is None:  # outside the loop (RNN.call readies the masks): draw the sequence's key
            if self._key is None:
                self._key = self.seed_generator.next()
            return None
        return self._masks[which]

    def reset_dropout_mask(self):
        self._key = None
        super().reset_dropout_mask()

    def get_initial_state(self, batch_size=None):
        states = super().get_initial_state(batch_size)
        if not self._per_sequence_key():
            return states
        return list(states) + [ops.zeros((batch_size, 1), dtype="float32")]  # the step counter

    def call(self, inputs, states, training=False):
        if not self._per_sequence_key():
            return super().call(inputs, states, training=training)
        *states, step = states
        if self._key is None:  # called on its own, not by an RNN layer
            self._key = self.seed_generator.next()
        self._masks = self._step_masks(inputs, states[0], step)
        try:
            output, new = super().call(inputs, list(states), training=training)
        finally:
            self._masks = None
        return output, list(new) + [step + 1]

    def _step_masks(self, inputs, h, step):
        import jax

        key = jax.random.fold_in(self._key, ops.cast(step[0, 0], "uint32"))
        count = getattr(self, "dropout_mask_count", None)
        keys = iter(jax.random.split(key, 2 * (count or 1)))

        def masks(like, rate):
            if not rate:
                return None
            drawn = [keras.random.dropout(ops.ones_like(like), rate=rate, seed=next(keys)) for _ in range(count or 1)]
            return drawn if count else drawn[0]
        return masks(inputs, self.dropout), masks(h, self.recurrent_dropout)


@keras.saving.register_keras_serializable(package="rnnsweep")
class PerStepSimpleRNNCell(_FreshMasks, keras.layers.SimpleRNNCell):
    pass


@keras.saving.register_keras_serializable(package="rnnsweep")
class PerStepLSTMCell(_FreshMasks, keras.layers.LSTMCell):
    pass


@keras.saving.register_keras_serializable(package="rnnsweep")
class PerStepGRUCell(_FreshMasks, keras.layers.GRUCell):
    pass


CELLS = {"SimpleRNN": PerStepSimpleRNNCell, "LSTM": PerStepLSTMCell, "GRU": PerStepGRUCell}


def recurrent_layer(arch: str, units: int, return_sequences: bool, **cell_kwargs):
    """``keras.layers.RNN`` over a per-step-mask cell: tf.keras 2.x's generic loop. Used only where
    tf.keras 2.x ran that loop, so it never takes a cuDNN path away."""
    return keras.layers.RNN(CELLS[arch](units, **cell_kwargs), return_sequences=return_sequences)


OPTIMIZERS = {"adam": LegacyAdam, "rmsprop": LegacyRMSprop, "sgd": LegacySGD}
