"""Stage 4 — one trial: train and evaluate one configuration, return a plain (JSON-able) result.

``run_trial`` never raises for a problem inside the trial: a NaN/inf loss stops it at once with
status ``diverged`` (as seed 000's LSTM-relu runs did), any exception gives status ``failed``
with its message, so a sweep goes on and loses nothing.
"""
from __future__ import annotations

import math
import os
import socket
import time
import traceback

from . import keras_private, worker
from .backup import exact_backup, resume_state
from .config import Trial
from .models import build_model, param_counts

METRICS = ("loss", "accuracy", "auc")


def _diverged_callback():
    import keras

    class StopOnNonFinite(keras.callbacks.Callback):
        """Stops training at the first non-finite batch loss and remembers it."""
        diverged_at = None

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.diverged_at = batch
                self.model.stop_training = True

    return StopOnNonFinite()


def _epoch_log(on_epoch=None):
    """Each finished epoch as a row (its absolute number, so a run restored from a backup goes on
    counting where it stopped), handed to ``on_epoch`` as it happens. ``on_epoch`` returning True
    (a search's pruner) stops training at the end of that epoch (not after the last: that trial
    has run its course)."""
    import keras

    class EpochLog(keras.callbacks.Callback):
        rows: list
        pruned_at = None
        share = 1  # trials trained together in this process (fused): each row's CPU is its part


        def on_train_begin(self, logs=None):
            self.rows = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t, self._cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "seconds": time.perf_counter() - self._t,
                   "cpu_seconds": (time.process_time() - self._cpu) / self.share}
            for m in METRICS:
                for k in (m, f"val_{m}"):
                    row[k] = _finite(logs[k]) if logs and k in logs else None
            lr = getattr(self.model.optimizer, "learning_rate", None)  # the epoch's rate (lr_schedule)
            row["learning_rate"] = float(lr) if lr is not None and not callable(lr) else None
            self.rows.append(row)
            if on_epoch and on_epoch(row) is True and epoch + 1 < self.params.get("epochs", 0):
                self.pruned_at = epoch + 1
                self.model.stop_training = True

    return EpochLog()


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def split_validation(x, y, validation_split):
    """Keras's ``validation_split``, done here so the counts are what is trained on: the *last*
    ``validation_split`` of the arrays, cut at ``floor(n * (1 - validation_split))`` as Keras cuts."""
    if not validation_split:
        return (x, y), None
    n = len(x)
    at = int(math.floor(n * (1.0 - validation_split)))
    if at in (0, n):
        raise ValueError(f"validation_split={validation_split} of {n} samples leaves no training or "
                         "no validation samples")
    return (x[:at], y[:at]), (x[at:], y[at:])


def shared_batches(x, y, batch_size: int, shuffle: bool):
    """Batches of ``(x, y)`` for ``fit``/``evaluate`` gathered from the arrays as they are, in exactly
    the order Keras's own array adapter would give them. Keras copies arrays it is given into
    TensorFlow tensors (a copy of the whole dataset per worker, though the object store's arrays
    are shared read-only memory); here Keras's adapter shuffles and batches only the row numbers
    (``np.arange``: the same shuffle op, so the same order) and each batch is gathered from the
    shared arrays when it is needed. TensorFlow backend only (elsewhere ``None``: pass the arrays)."""
    if worker.keras_backend() != "tensorflow":
        return None
    import tensorflow as tf

    order = keras_private.index_batches(len(x), batch_size, shuffle)
    types = (tf.as_dtype(x.dtype), tf.as_dtype(y.dtype))

    def gather(i):
        return x[i], y[i]  # only this batch is copied

    def batch(i):
        bx, by = tf.numpy_function(gather, [i], types, stateful=False)
        # The static shapes Keras's own tf.gather gives (a full batch's size is known when there is no
        # partial batch): the training step is then traced, and computes, exactly as Keras's.
        bx.set_shape(i.shape.concatenate(x.shape[1:]))
        by.set_shape(i.shape.concatenate(y.shape[1:]))
        return bx, by

    n = -(-len(x) // batch_size)
    return order.map(batch).apply(tf.data.experimental.assert_cardinality(n)).prefetch(2)


BACKUP_PAIRS = [("latest.weights.h5", "training_metadata.json"),
                ("latest.weights.h5.bkp", "training_metadata.json.bkp")]  # BackupAndRestore's, and its copies


def _readable(weights: str, metadata: str) -> bool:
    """Whether a backup's weights file reads whole and its metadata names an epoch."""
    import json

    import h5py

    try:
        with open(metadata) as f:
            int(json.load(f)["epoch"])
        with h5py.File(weights, "r") as f:
            f.visititems(lambda _, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)
        return True
    except Exception:  # noqa: BLE001 - missing, cut short, or not what Keras wrote
        return False


def usable_backup(folder: str) -> bool:
    """Keras's ``BackupAndRestore`` folder, made safe to restore from: a worker killed while it
    wrote leaves the weights cut short (Keras falls back to its copy) or the metadata empty (Keras
    fails on it). The newest readable pair goes in place; with none the folder is emptied and the
    trial starts again from epoch 1. False when nothing is left to restore."""
    import shutil

    if not os.path.isdir(folder) or not os.listdir(folder):
        return False
    for weights, metadata in BACKUP_PAIRS:
        w, m = os.path.join(folder, weights), os.path.join(folder, metadata)
        if _readable(w, m):
            for src, dst in zip((w, m), (os.path.join(folder, f) for f in BACKUP_PAIRS[0])):
                if src != dst:
                    shutil.copyfile(src, dst)
            return True
    shutil.rmtree(folder)
    return False


def callbacks_of(model, training, val, result, on_epoch=None, backup_dir=None, on_backup=None, tensorboard_dir=None,
                 rng=None):
    """The trial's callbacks: the divergence stop, the epoch log, learning-rate schedules, optional early
    stopping, and with ``backup_dir`` Keras's ``BackupAndRestore`` with what it does not keep (``resume``: a
    retried trial goes on from its last finished epoch exactly as it would have; ``on_backup`` runs after each
    backup; ``rng``: a fused member's own NumPy generator). Returns (divergence stop, epoch log, all of them)."""
    import keras

    stop, log = _diverged_callback(), _epoch_log(on_epoch)
    # The epoch's row is out before its backup: a worker killed in between redoes that epoch, and
    # no epoch is ever lost or counted twice.
    callbacks = [stop, log]
    if backup_dir and not usable_backup(backup_dir):
        print(f"rnnsweep: the backup in {backup_dir} cannot be read; {result.get('name')} starts again from epoch 1")
    elif backup_dir and not exact_backup(backup_dir):
        print(f"rnnsweep: the backup in {backup_dir} holds no random state to resume {result.get('name')} exactly "
              "(an older rnnsweep wrote it); it starts again from epoch 1")
    plateau = early = None
    if training.lr_schedule == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss" if val else "loss", factor=0.5, patience=1,
                                                    min_lr=1e-6)
        callbacks.append(plateau)
    elif training.lr_schedule == "cosine":
        lr0, n = float(model.optimizer.learning_rate), training.epochs
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch: lr0 * 0.5 * (1 + math.cos(math.pi * epoch / n))))
    if training.early_stopping:
        early = keras.callbacks.EarlyStopping(monitor=training.early_stopping_monitor,
                                              patience=training.early_stopping, restore_best_weights=True)
        callbacks.append(early)
    if backup_dir:
        # After the schedules and early stopping have taken the epoch in: their memory is part of the state
        # kept. double_checkpoint: Keras writes the weights file in place, and a worker killed mid-write
        # leaves it corrupt; Keras then restores the epoch before from the copy it kept.
        state = resume_state(model, rng, early, plateau)
        state.folder = backup_dir
        callbacks += [state, keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True),
                      keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: on_backup and on_backup())]
    if tensorboard_dir:  # `tensorboard --logdir <results>/<sweep>/tensorboard`
        callbacks.append(keras.callbacks.TensorBoard(log_dir=tensorboard_dir))
    return stop, log, callbacks


def _fit(model, train, val, training, result, verbose, on_epoch=None, backup_dir=None, earlier=(), on_backup=None,
         tensorboard_dir=None):
    """``model.fit`` with ``callbacks_of``'s callbacks (``earlier`` holds the rows of the epochs a resumed
    trial does not run again). Fills ``result`` with the history and sample counts."""
    stop, log, callbacks = callbacks_of(model, training, val, result, on_epoch, backup_dir, on_backup, tensorboard_dir)
    t0 = time.perf_counter()
    batches = shared_batches(*train, training.batch_size, shuffle=True)
    if batches is None:  # another backend: Keras's own adapter
        model.fit(*train, validation_data=val, batch_size=training.batch_size, epochs=training.epochs,
                  callbacks=callbacks, verbose=verbose)
    else:
        model.fit(batches, epochs=training.epochs, callbacks=callbacks, verbose=verbose, shuffle=False,
                  validation_data=shared_batches(*val, training.batch_size, shuffle=False) if val else None)
    record_fit(result, time.perf_counter() - t0, stop.diverged_at, log, model, train, val, earlier)


def record_fit(result, fit_seconds, diverged_at, log, model, train, val, earlier=()):
    """The trial's history (with a resumed trial's ``earlier`` epochs), counts and status after training."""
    result["fit_seconds"] = fit_seconds
    resumed = log.rows[0]["epoch"] - 1 if log.rows else (getattr(model, "_initial_epoch", 0) or 0)
    result["history"] = [r for r in earlier if r["epoch"] <= resumed] + log.rows
    n_epochs, n_train = len(result["history"]), len(train[0])
    result.update(epochs_run=n_epochs, train_samples=n_train, val_samples=len(val[0]) if val else 0,
                  resumed_from_epoch=resumed,
                  samples_per_second=n_train * len(log.rows) / fit_seconds if log.rows else None)
    if diverged_at is not None:
        result["status"] = "diverged"
        result["error"] = f"loss became non-finite in epoch {n_epochs}, batch {diverged_at}"
    elif log.pruned_at is not None:
        result["status"] = "pruned"  # its history is whole; it is not evaluated on the test split


def _evaluate(model, prepared, training, result):
    n_test = min(len(prepared.x_test), training.limit_test or len(prepared.x_test))
    t0 = time.perf_counter()
    x, y, size = prepared.x_test[:n_test], prepared.y_test[:n_test], max(256, training.batch_size)
    batches = shared_batches(x, y, size, shuffle=False)
    scores = (model.evaluate(x, y, batch_size=size, verbose=0, return_dict=True) if batches is None else
              model.evaluate(batches, verbose=0, return_dict=True))
    record_test(result, scores, time.perf_counter() - t0)


def record_test(result, scores: dict, seconds: float):
    result["evaluate_seconds"] = seconds
    for m in METRICS:
        result[f"test_{m}"] = _finite(scores[m]) if m in scores else None  # auc: None with training.auc off
    if result["test_loss"] is None:
        result["status"], result["error"] = "diverged", "test loss is non-finite"


def new_result(trial: Trial, prepared) -> dict:
    """A trial's result as it starts: ids, config, seed, where it runs, its dataset."""
    here = worker.started()
    training = trial.training
    return dict(trial_id=trial.trial_id, name=trial.name, config_id=trial.config_id, config=trial.as_dict(),
                status="ok", error=None, history=[], seed=training.seed, host=socket.gethostname(), pid=os.getpid(),
                # Which source rows went where is the dataset's (its cache holds it), not each trial's: with
                # it, every result carried 40,000 row numbers to the driver and stayed in its memory.
                dataset={k: v for k, v in prepared.meta.items() if k not in ("train_rows", "test_rows")},
                started_at=time.time(),
                test_samples=min(len(prepared.x_test), training.limit_test or len(prepared.x_test)),
                trial_in_worker=here, dataset_rows=len(prepared.x_train),
                backend_choice=(trial.backend_choice or {}).get("why"))


def seeded_model(trial: Trial, prepared, result: dict):
    """The trial's (train, val) arrays and its compiled model, built right after its seed is set."""
    import keras

    training = trial.training
    keras.utils.set_random_seed(training.seed)
    n = training.limit_train or len(prepared.x_train)
    train, val = split_validation(prepared.x_train[:n], prepared.y_train[:n], training.validation_split)
    t0 = time.time()
    model = build_model(trial.model, prepared.vocab_size, train[0].shape[1], prepared.embedding, trial.training.auc)
    result["build_seconds"] = time.time() - t0
    result["trainable_params"], result["non_trainable_params"] = param_counts(model)
    return train, val, model


def failed(result: dict, e: Exception):
    result["status"] = "failed"
    result["error"] = f"{type(e).__name__}: {e}".strip()[:2000]
    result["traceback"] = traceback.format_exc()[-4000:]


def finish(result: dict, cpu_start: float, gpus: float, share: int = 1) -> dict:
    """Wall time and compute: this process's CPU time over the trial (all its threads) and the GPUs it held ×
    its wall time (a fraction when trials share a GPU), each divided by ``share`` (trials trained together)."""
    result["seconds"] = time.time() - result["started_at"]
    result["finished_at"] = time.time()
    result["cpu_seconds"] = (time.process_time() - cpu_start) / share
    result["gpu_seconds"] = result["seconds"] * (gpus or 0.0) / share
    # A resumed trial: what the attempts before this one spent on the epochs it kept (this process's times
    # are only its own), from those epochs' rows; CPU unknown where they predate per-epoch CPU seconds.
    kept = [h for h in result["history"] if h["epoch"] <= (result.get("resumed_from_epoch") or 0)]
    spent = [h.get("cpu_seconds") for h in kept]
    result["earlier_cpu_seconds"] = None if None in spent else float(sum(spent))
    result["earlier_gpu_seconds"] = sum(h.get("seconds") or 0.0 for h in kept) * (gpus or 0.0) / share
    return result


def run_trial(config: Trial | dict, prepared, cpus=None, gpu_memory_mb=None, verbose=0, on_epoch=None, backup_dir=None,
              earlier=(), on_backup=None, tensorboard_dir=None, gpus: float = 0.0, on_trained=None,
              on_done=None) -> dict:
    """Train ``config`` (a ``Trial``, or its plain form: a test's ``{"model": {...}, "training": {...}}``) on a
    ``data.Prepared`` dataset and return the result dict. ``on_epoch(row)`` sees each epoch as it
    ends; ``backup_dir``/``earlier``: see ``_fit``; ``gpus``: the GPUs this trial holds (for its
    GPU-seconds); ``on_trained(model)`` sees the trained model (tests compare weights); ``on_done(model, result)``
    the model whose test numbers the result holds, when its status is ok (the task keeps it)."""
    cpu_start = time.process_time()
    try:
        config = Trial.of(config)
    except ValueError as e:  # a hand-made config with a bad value: a failed result naming it, never raised
        result = dict(trial_id=config.get("trial_id"), name=config.get("name"), config_id=config.get("config_id"),
                      config=config, status="ok", history=[], started_at=time.time())
        failed(result, e)
        return finish(result, cpu_start, gpus)
    result = new_result(config, prepared)
    training = config.training
    try:
        worker.ready_keras(config, result, cpus, gpu_memory_mb)
        train, val, model = seeded_model(config, prepared, result)
        _fit(model, train, val, training, result, verbose, on_epoch, backup_dir, earlier, on_backup, tensorboard_dir)
        if on_trained:
            on_trained(model)
        if result["status"] == "ok" and training.evaluate_test:
            _evaluate(model, prepared, training, result)
        if on_done and result["status"] == "ok":
            on_done(model, result)
    except Exception as e:  # recorded, never raised: the sweep must go on
        failed(result, e)
    return finish(result, cpu_start, gpus)
