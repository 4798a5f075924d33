"""Each piece of Keras's private API rnnsweep reads (``rnnsweep/keras_private.py``) is still where it reads
it and does what it relies on: a Keras release that moves one fails here, naming it, not silently in a
trial's batch order or a resumed trial's numbers."""
import numpy as np
import pytest

from rnnsweep import keras_private


def test_index_batches_are_kerass_own_order_of_row_numbers():
    import tensorflow as tf

    plain = [b.numpy().tolist() for b in keras_private.index_batches(10, 4, shuffle=False)]
    assert plain == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    tf.random.set_seed(1)
    shuffled = sorted(i for b in keras_private.index_batches(10, 4, shuffle=True) for i in b.numpy().tolist())
    assert shuffled == list(range(10))


def test_seed_generators_are_every_layers_and_the_global_one():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dropout(0.5), keras.layers.Dropout(0.2),
                              keras.layers.Dense(1)])
    keras.random.normal((1,))  # makes Keras's global generator
    gens = keras_private.seed_generators(model)
    assert len(gens) == 3 and all(hasattr(g, "state") for g in gens)


def test_what_fit_does_before_its_first_epoch_on_jax_is_there():
    import keras

    pytest.importorskip("jax")
    it = keras_private.jax_epoch_iterator(np.zeros((8, 3), "float32"), np.zeros((8, 1), "float32"), 4)
    assert hasattr(it, "enumerate_epoch")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    assert callable(getattr(model, "_symbolic_build", None))
