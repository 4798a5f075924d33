"""TensorFlow writes its C++ start-up lines (CUDA probing, oneDNN notices, "failed call to cuInit" on a
machine without a GPU) straight to file descriptor 2, before any log level applies. They are
noise, not errors: importing TF and listing its devices with fd 2 pointed at /dev/null keeps the
terminal rnnsweep's. Python exceptions still propagate and print as usual. ``keras_backend`` says which
backend Keras will start on, without starting it."""
from __future__ import annotations

import contextlib
import json
import os
import sys


@contextlib.contextmanager
def stderr_off():
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def keras_backend() -> str:
    """Keras's backend, found as Keras finds it ($KERAS_BACKEND, else ~/.keras/keras.json, else
    tensorflow) without importing Keras: TF's thread pools must be set before TF starts."""
    name = os.environ.get("KERAS_BACKEND")
    if not name:
        path = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json")
        try:
            with open(path) as fh:
                name = json.load(fh).get("backend")
        except (OSError, ValueError):
            name = None
    return name or "tensorflow"


def keras():
    """The keras module, TensorFlow imported and its devices listed without the start-up lines (on another
    backend, Keras alone: a machine with JAX and no TensorFlow prepares data and loads models too)."""
    if "keras" not in sys.modules and keras_backend() != "tensorflow":
        import keras  # noqa: F401
    if "keras" not in sys.modules:
        with stderr_off():
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
    import keras

    return keras
