"""The one place rnnsweep reaches into Keras's private API (``keras.src`` and underscored names), each for
something the public API does not give; ``tests/test_keras_private.py`` fails, naming the piece, when a
Keras release moves one.

- ``index_batches``: Keras's own array adapter shuffling and batching row numbers, so that ``fit`` can be
  fed from the shared arrays in exactly the order Keras would draw (``trial.shared_batches``).
- ``jax_epoch_iterator`` and ``symbolic_build``: what ``fit`` on JAX does before its first epoch (the
  iterator it makes of the arrays, the build that draws one permutation), for a fused group (``fused``).
- ``seed_generators``: every dropout ``SeedGenerator`` of a model and Keras's global one, whose states a
  backup keeps so that a resumed trial draws what it would have (``resume``).
"""
from __future__ import annotations


def index_batches(n: int, batch_size: int, shuffle):
    """A ``tf.data`` dataset of row-number batches of ``range(n)``, in Keras's own order (TensorFlow)."""
    import numpy as np
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    return ArrayDataAdapter(np.arange(n), batch_size=batch_size, shuffle=shuffle).get_tf_dataset()


def jax_epoch_iterator(x, y, batch_size: int):
    """The iterator Keras's JAX ``fit`` makes of training arrays (shuffled)."""
    from keras.src.backend.jax.trainer import JAXEpochIterator

    return JAXEpochIterator(x=x, y=y, batch_size=batch_size, shuffle=True, steps_per_execution=1)


def symbolic_build(model, iterator):
    """What ``fit`` does to a model before its first epoch: builds it, its optimizer and metrics from the
    iterator's first batch (drawing the permutation that batch needs)."""
    model._symbolic_build(iterator=iterator)


def seed_generators(model) -> list:
    """Every ``SeedGenerator`` the model's layers draw from, in a fixed order, and Keras's global one."""
    from keras.src.backend.common import global_state
    from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR

    gens = [sg for layer in model._flatten_layers(include_self=True) for sg in layer._seed_generators]
    glob = global_state.get_global_attribute(GLOBAL_SEED_GENERATOR)
    return gens + ([glob] if glob is not None else [])
