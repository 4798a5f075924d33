"""Part of stage 4 (trial): a trial's backup — where it is, and what it holds beyond Keras's weights, so that
a trial killed at an epoch boundary and resumed computes what it would have undisturbed, bit for bit on
the same machine.

Where: Keras's ``BackupAndRestore`` folder at ``<results>/<sweep>/backup/<trial_id>/``; on a remote store
(s3://) a local folder mirrored there after every epoch (``backup_folder``, ``push_backup``), removed when
the trial lands (``drop_backup``).

Keras's ``BackupAndRestore`` keeps the weights and optimizer state of the last finished epoch. The next
epoch also draws on state it does not keep, and a resumed process starts those afresh:

- the batch order: NumPy's global generator draws each epoch's permutation (Keras's array adapter on JAX;
  a fused group draws from each member's own copy of it);
- the dropout masks: every layer's ``SeedGenerator`` (and Keras's global one), whose state moves on with
  each step;
- the callbacks' memory: early stopping's best value, wait and best weights (restored at the end), the
  plateau schedule's best, wait and cooldown (and the learning rate it set);
- Python's ``random``.

``ResumeState`` writes them after every epoch, beside the weights, as ``resume-<epoch>.npz`` (written
whole, then renamed), and puts them back when ``BackupAndRestore`` restores that epoch. A backup whose
epoch has no such file (an older rnnsweep wrote it, or the worker died between the two writes) cannot be
resumed exactly: ``exact_backup`` empties it, and the trial starts again from epoch 1.

Keras keeps its seed generators in private attributes: ``keras_private.seed_generators`` reads them.
"""
from __future__ import annotations

import json
import os
import posixpath
import random
import shutil
import tempfile

import numpy as np
import pyarrow.fs as pafs

from .keras_private import seed_generators
from .results import filesystem

METADATA = "training_metadata.json"  # BackupAndRestore's: the epoch its weights are of


def backup_epoch(folder: str) -> int | None:
    """The epoch ``BackupAndRestore``'s weights in ``folder`` are of, or None."""
    try:
        with open(os.path.join(folder, METADATA)) as f:
            return int(json.load(f)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def state_file(folder: str, epoch: int) -> str:
    return os.path.join(folder, f"resume-{epoch}.npz")


def exact_backup(folder: str) -> bool:
    """Can the backup in ``folder`` be resumed exactly? If not, it is emptied (the trial starts again)."""
    epoch = backup_epoch(folder)
    if epoch is None or os.path.exists(state_file(folder, epoch)):
        return True
    shutil.rmtree(folder, ignore_errors=True)
    return False


def _numpy_rng():
    return np.random.get_state, np.random.set_state


def resume_state(model, rng=None, early_stopping=None, plateau=None):
    """The callback (see the module's docstring). ``rng``: (get, set) of the NumPy generator state the batch
    order draws from (the global one unless a fused member has its own); the callbacks whose memory it keeps."""
    import keras

    get_rng, set_rng = rng or _numpy_rng()

    class ResumeState(keras.callbacks.Callback):
        folder = None

        def on_train_begin(self, logs=None):
            epoch = backup_epoch(self.folder) if self.folder else None
            if epoch:
                self._load(epoch)

        def on_epoch_end(self, epoch, logs=None):
            if self.folder:
                self._save(epoch + 1)

        def _save(self, epoch: int):
            kind, keys, pos, has_gauss, gauss = get_rng()
            arrays = {"np_keys": keys}
            for i, sg in enumerate(seed_generators(self.model)):
                arrays[f"sg_{i}"] = np.asarray(keras.ops.convert_to_numpy(sg.state.value))
            lr = self.model.optimizer.learning_rate
            meta = {"np": [kind, int(pos), int(has_gauss), float(gauss)], "py": random.getstate(),
                    "lr": float(keras.ops.convert_to_numpy(lr)) if hasattr(lr, "assign") else None}
            if early_stopping is not None:
                es = early_stopping
                meta["es"] = {"wait": es.wait, "stopped_epoch": es.stopped_epoch, "best_epoch": es.best_epoch,
                              "best": None if es.best is None else float(es.best),
                              "weights": None if es.best_weights is None else len(es.best_weights)}
                for i, w in enumerate(es.best_weights or []):
                    arrays[f"es_{i}"] = np.asarray(w)
            if plateau is not None:
                meta["plateau"] = {"wait": plateau.wait, "cooldown_counter": plateau.cooldown_counter,
                                   "best": None if plateau.best is None else float(plateau.best)}
            arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
            os.makedirs(self.folder, exist_ok=True)
            tmp = os.path.join(self.folder, f".resume-{epoch}.npz.tmp")
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, state_file(self.folder, epoch))
            for old in os.listdir(self.folder):  # the epoch before stays, for BackupAndRestore's copy of it
                if old.startswith("resume-") and int(old[7:-4]) < epoch - 1:
                    os.remove(os.path.join(self.folder, old))

        def _load(self, epoch: int):
            with np.load(state_file(self.folder, epoch)) as z:
                meta = json.loads(z["meta"].tobytes())
                kind, pos, has_gauss, gauss = meta["np"]
                set_rng((kind, z["np_keys"], pos, has_gauss, gauss))
                for i, sg in enumerate(seed_generators(self.model)):
                    sg.state.assign(z[f"sg_{i}"])
                if meta["lr"] is not None:
                    self.model.optimizer.learning_rate.assign(meta["lr"])
                if early_stopping is not None and "es" in meta:
                    es, m = early_stopping, meta["es"]
                    es.wait, es.stopped_epoch, es.best_epoch, es.best = m["wait"], m["stopped_epoch"], \
                        m["best_epoch"], m["best"]
                    es.best_weights = None if m["weights"] is None else [z[f"es_{i}"] for i in range(m["weights"])]
                if plateau is not None and "plateau" in meta:
                    plateau.wait, plateau.cooldown_counter, plateau.best = (
                        meta["plateau"]["wait"], meta["plateau"]["cooldown_counter"], meta["plateau"]["best"])
            state = meta["py"]
            random.setstate((state[0], tuple(state[1]), state[2]))

    return ResumeState()


def backup_folder(uri: str, sweep: str, trial_id: str) -> tuple[str, bool]:
    """(local folder for ``BackupAndRestore``, whether it mirrors a remote one). A remote backup
    left by an earlier attempt is copied down first."""
    fs, base = filesystem(uri)
    remote = posixpath.join(base, sweep, "backup", trial_id)
    if isinstance(fs, pafs.LocalFileSystem):
        return remote, False
    local = os.path.join(tempfile.gettempdir(), "rnnsweep-backup", sweep, trial_id)
    shutil.rmtree(local, ignore_errors=True)
    os.makedirs(local)
    if fs.get_file_info(remote).type == pafs.FileType.Directory:
        pafs.copy_files(remote, local, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    return local, True


def push_backup(local: str, uri: str, sweep: str, trial_id: str):
    """Mirror the local backup folder to the store (after each epoch)."""
    fs, base = filesystem(uri)
    if os.path.isdir(local):
        pafs.copy_files(local, posixpath.join(base, sweep, "backup", trial_id), destination_filesystem=fs)


def drop_backup(uri: str, sweep: str, trial_id: str):
    """The trial has landed: its backup goes."""
    fs, base = filesystem(uri)
    try:
        fs.delete_dir(posixpath.join(base, sweep, "backup", trial_id))
    except (FileNotFoundError, OSError):
        pass
