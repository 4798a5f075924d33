"""The prepared-dataset cache of stage 2: ``data.Prepared`` arrays saved as one uncompressed .npz per
fingerprint (of the dataset config and the checksums of the raw files it reads) in
``$RNNSWEEP_CACHE`` (default ``~/.cache/rnnsweep/prepared``; not under the data dir, which may be
a read-only shared folder)."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import data
from .data import Prepared

CACHE_ENV = "RNNSWEEP_CACHE"
# Bump when prepare() changes its output for the same config. 2: keras_imdb shuffles the test split
# with the train split's RandomState, as Keras does. 3: names are labelled male = 1 (seed 002).
PREP_VERSION = 3



def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rnnsweep" / "prepared").expanduser()


_SUMS: dict = {}


def _checksum(path: Path) -> str:
    """A file's checksum, computed once per (path, size, mtime) in this process."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SUMS:
        _SUMS[key] = data.checksum(path)
    return _SUMS[key]


def fingerprint(cfg: dict, files: dict) -> str:
    sources = {k: _checksum(Path(p)) for k, p in files.items()}
    blob = json.dumps({"v": PREP_VERSION, "config": cfg, "sources": sources}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save(p: Prepared) -> Path:
    path = cache_dir() / f"{p.meta['fingerprint']}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = dict(x_train=p.x_train, y_train=p.y_train, x_test=p.x_test, y_test=p.y_test)
    if p.embedding is not None:
        arrays["embedding"] = p.embedding
    meta = {**p.meta}
    for k in ("train_rows", "test_rows"):  # which source rows went where: arrays, not JSON
        if k in meta:
            arrays[k] = np.asarray(meta.pop(k), dtype=np.int64)
    arrays["meta"] = np.frombuffer(json.dumps({**meta, "vocab_size": p.vocab_size}).encode(), dtype=np.uint8)
    if p.pipeline:
        arrays["pipeline"] = np.frombuffer(json.dumps(p.pipeline).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.part")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # uncompressed: loads at disk speed
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load(fp: str) -> Prepared | None:
    """The cached dataset of fingerprint ``fp``, or None."""
    path = cache_dir() / f"{fp}.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        meta = json.loads(z["meta"].tobytes())
        meta["cached"] = True
        for k in ("train_rows", "test_rows"):
            if k in z:
                meta[k] = z[k].tolist()
        return Prepared(z["x_train"], z["y_train"], z["x_test"], z["y_test"],
                        z["embedding"] if "embedding" in z else None, meta["vocab_size"], meta,
                        json.loads(z["pipeline"].tobytes()) if "pipeline" in z else None)
