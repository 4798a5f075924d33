"""Stage 4a — where a trial runs: this process's Keras made ready for one trial (its backend chosen,
TensorFlow's threads and GPU memory sized before TF starts, what an earlier trial in the same worker
left cleared) and what it runs on (device, versions), recorded in the trial's result.
"""
from __future__ import annotations

import time

from . import backends
from .models import cudnn
from .quiet import keras_backend, stderr_off


def configure_tf(cpus=None, gpu_memory_mb=None):
    """Thread pools sized to the CPUs this trial was given, and (when GPUs are shared) a hard
    memory limit, both *before* TF initialises its devices: TF otherwise grabs the whole GPU
    and takes every core, and the neighbouring trials crash or crawl."""
    with stderr_off():
        import tensorflow as tf

    try:
        if cpus:
            tf.config.threading.set_intra_op_parallelism_threads(int(cpus))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, int(cpus))))
        for gpu in tf.config.list_physical_devices("GPU"):
            if gpu_memory_mb:
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(gpu_memory_mb))])
            else:
                tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:  # already initialised in this process (e.g. a local debug run): keep it
        pass


def device_name() -> str:
    """CPU, or GPU:<name>; on JAX and torch backends too (a GPU machine may have no TensorFlow)."""
    backend = keras_backend()
    if backend == "jax":
        import jax

        d = jax.devices()[0]
        return "CPU" if d.platform == "cpu" else f"GPU:{d.device_kind}"
    if backend == "torch":
        import torch

        return f"GPU:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU:{details.get('device_name', gpus[0].name)}"


_TRIALS_HERE = [0]  # trials this process has started: a CPU worker is reused, see onray.submit


def started() -> int:
    """Count one more trial started in this process; its number here (1 in a fresh worker)."""
    _TRIALS_HERE[0] += 1
    return _TRIALS_HERE[0]


def _fresh_session():
    """What one trial leaves in Keras's global state cleared, so the next trial in the same
    process builds and trains exactly as in a fresh one (the seed is set after this). One collection:
    ``clear_session`` runs it, and after ``gc.freeze`` it visits only what trials made."""
    import keras

    keras.backend.clear_session()


def ready_keras(trial, result: dict, cpus=None, gpu_memory_mb=None):
    """Keras on the trial's backend in this process, TensorFlow's threads and GPU memory sized first,
    what an earlier trial here left cleared; records versions and device in ``result``."""
    backends.use(trial)  # before Keras's first import here: its backend is fixed per process
    result["cudnn"] = cudnn(trial.model, trial.dataset)
    if keras_backend() == "tensorflow":
        configure_tf(cpus, gpu_memory_mb)
    import keras

    if _TRIALS_HERE[0] > 1:
        _fresh_session()
    else:
        # What the imports made lives as long as the worker: out of every later collection (a full one,
        # over TensorFlow's, JAX's and Keras's objects, cost a kept worker's trial a quarter second, twice).
        import gc

        gc.freeze()
    result["import_seconds"] = time.time() - result["started_at"]  # TF's import: ~10 s in a fresh worker, 0 after
    result.update(device=device_name(), keras_version=keras.__version__, keras_backend=keras.backend.backend())
    if result["keras_backend"] == "tensorflow":
        import tensorflow as tf

        result["tf_version"] = tf.__version__
