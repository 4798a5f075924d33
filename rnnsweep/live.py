"""What a running trial writes beside the results: its epochs so far (with a trial row marked
``running``), and its Keras ``BackupAndRestore`` folder, so a retry after a killed worker or a lost
node goes on from its last finished epoch. On a remote store (s3://) the backup lives in a local
folder mirrored to ``<results>/<sweep>/backup/<trial_id>/`` after every epoch.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import tempfile

import pyarrow.fs as pafs

from .results import filesystem, read_trial_file, write_trial


def write_epochs(uri: str, sweep: str, result: dict, budget: dict | None = None):
    """A running trial's epochs so far, and its trial row with status ``running``: a report drawn
    during the sweep shows its curves; a rerun treats it as not done. Its final rows replace both."""
    write_trial(uri, sweep, {**result, "status": "running"}, budget)


def read_epochs(uri: str, sweep: str, trial_id: str) -> list[dict]:
    """The epoch rows already written for one trial (by an earlier attempt), oldest first."""
    table = read_trial_file(uri, sweep, "epochs", trial_id)
    rows = table.to_pylist() if table is not None else []
    ids = ("sweep", "trial_id", "config_id", "name")
    return sorted(({k: v for k, v in r.items() if k not in ids} for r in rows), key=lambda r: r["epoch"])


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
