"""On JAX the trial passes the object store's read-only arrays to ``fit`` as they are (``shared_batches`` is
TensorFlow's): Keras's JAX array adapter keeps them and gathers each batch, copying only that batch."""
import numpy as np
from keras.src.trainers.data_adapters import array_slicing
from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

from rnnsweep.trial import shared_batches


def test_fit_on_jax_reads_the_shared_arrays_without_a_copy():
    x = np.arange(4000 * 50, dtype="int32").reshape(4000, 50)
    y = np.zeros(4000, dtype="int32")
    x.flags.writeable = y.flags.writeable = False  # as the object store hands them to a task
    assert shared_batches(x, y, 64, shuffle=True) is None  # Keras's own adapter, as below
    kept = array_slicing.convert_to_sliceable(ArrayDataAdapter(x, y, batch_size=64, shuffle=True)._inputs,
                                              target_backend="jax")
    assert np.shares_memory(kept[0].array, x) and np.shares_memory(kept[1].array, y)
