"""Stage 1 — raw data: find the files, download them when allowed, read them. No text work here.

``SOURCES`` is the one table of raw data: name → file names, download URL, checksum, reader.
``locate(name)`` finds a source's file in this order:
  1. an explicit ``path`` argument;
  2. the data directory: ``$RNNSWEEP_DATA`` (default ``~/.cache/rnnsweep``), then, for Keras's
     own files, Keras's cache (``~/.keras/datasets``);
  3. a download from the URL into the data directory (atomic, checked), unless ``RNNSWEEP_OFFLINE=1``;
  4. otherwise a one-line ``DataNotFound`` naming the files and the variable to set.
``read(name, path)`` locates, then reads it (a malformed file is a one-line ``DataFormatError``).
``Prepared`` is a dataset as trials take it, once ``text.prepare`` has made it from these files.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import io
import json
import os
import re
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:  # pandas is heavy: imported where a table is read, not by every Ray worker
    import pandas as pd

DATA_ENV = "RNNSWEEP_DATA"
OFFLINE_ENV = "RNNSWEEP_OFFLINE"


class DataNotFound(FileNotFoundError):
    """A data file is missing and could not be downloaded."""


class DataFormatError(ValueError):
    """A data file exists but is not in the expected format."""


@dataclass
class Prepared:
    """A dataset as trials take it (``text.prepare``'s output; ``cache`` keeps it): padded sequences, labels, the
    embedding matrix, and how they were made."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    embedding: np.ndarray | None
    vocab_size: int          # Embedding input_dim the model must use
    meta: dict               # config, fingerprint, sources, word count, GloVe dim/coverage, timings
    pipeline: dict | None = None  # raw text → these sequences (``text.encode_texts``); the driver saves it with
                                  # the sweep and sends the workers the arrays without it

# ----------------------------------------------------------------------------- readers


def _read_csv(path: Path, columns) -> pd.DataFrame:
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError, OSError) as e:
        raise DataFormatError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    missing = set(columns) - set(df.columns)
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {sorted(missing)}; expected {','.join(columns)}")
    return df


def read_imdb_reviews(path: Path) -> pd.DataFrame:
    """``review, label (0/1), split, rating`` from Kaggle's CSV (``review,sentiment``; no split) or
    Stanford's aclImdb layout, a folder or a tarball (the official 25k/25k split in ``split``)."""
    import pandas as pd

    if path.is_dir() or ".tar" in path.name or path.name.endswith(".tgz"):
        return _read_aclimdb(path)
    df = _read_csv(path, ("review", "sentiment"))
    bad = ~df["sentiment"].isin(["positive", "negative"])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(f"{path}: row {row + 2}: sentiment {df['sentiment'][row]!r} "
                              "is not 'positive' or 'negative'")
    return pd.DataFrame({"review": df["review"], "label": (df["sentiment"] == "positive").astype("int8"),
                         "split": None, "rating": np.nan})


_ACL_RE = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _aclimdb_files(path: Path):
    """(name, bytes) of each review file in an aclImdb folder or tarball."""
    if path.is_dir():
        root = path if path.name == "aclImdb" else path / "aclImdb"
        for f in root.glob("*/*/*.txt"):
            yield str(f.relative_to(root.parent)), f.read_bytes()
    else:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                if m.isfile() and _ACL_RE.search(m.name):
                    yield m.name, tar.extractfile(m).read()


def _read_aclimdb(path: Path) -> pd.DataFrame:
    import pandas as pd

    rows = []
    try:
        for name, content in _aclimdb_files(path):
            m = _ACL_RE.search(name)
            if m:
                split, pol, rid, rating = m.groups()
                rows.append((split, pol, int(rid), int(rating), content.decode("utf-8")))
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError, zlib.error) as e:
        raise DataFormatError(f"{path}: not a readable aclImdb folder or tar archive ({e})") from None
    if not rows:
        raise DataFormatError(f"{path}: no aclImdb/{{train,test}}/{{pos,neg}}/<id>_<rating>.txt files")
    # Stable order: train then test, pos then neg, ascending id (the order of the staged CSV).
    rows.sort(key=lambda r: (r[0] != "train", r[1] != "pos", r[2]))
    split, pol, _, rating, text = zip(*rows)
    return pd.DataFrame({"review": list(text), "label": (np.array(pol) == "pos").astype("int8"),
                         "split": list(split), "rating": np.array(rating, dtype=float)})


def read_imdb_npz(path: Path) -> dict:
    """Keras's ``imdb.npz``: ragged ``x_train, y_train, x_test, y_test`` (word ranks, not yet offset).
    Pickled object arrays: only Keras's published file (checked by sha256 when downloaded)."""
    try:
        with np.load(path, allow_pickle=True) as z:
            return {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise DataFormatError(f"{path}: not Keras's imdb.npz ({e})") from None


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (ValueError, OSError) as e:
        raise DataFormatError(f"{path}: not readable JSON ({e})") from None


def read_names(path: Path) -> pd.DataFrame:
    """NLTK names corpus (seed 002): ``name, label`` with label 1 = male, 0 = female, as seed 002."""
    import pandas as pd

    frames = []
    for fname, label in (("male.txt", 1), ("female.txt", 0)):
        f = path / fname
        if not f.exists():
            raise DataNotFound(f"names corpus: {f} does not exist")
        lines = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines()]
        frames.append(pd.DataFrame({"name": [n for n in lines if n and not n.startswith("#")], "label": label}))
    return pd.concat(frames, ignore_index=True)


def read_amazon_food(path: Path) -> pd.DataFrame:
    """Amazon Fine Food reviews (seed 003), Kaggle ``Reviews.csv`` columns incl. ``Score, Text``."""
    import pandas as pd

    df = _read_csv(path, ("Score", "Text"))
    score = pd.to_numeric(df["Score"], errors="coerce")
    if score.isna().any():
        row = int(np.flatnonzero(score.isna())[0])
        raise DataFormatError(f"{path}: row {row + 2}: Score {df['Score'][row]!r} is not a number")
    return df.assign(Score=score.astype(int))


def read_glove(path: Path, dim: int, vocab=None) -> dict:
    """Vectors ``{word: float32[dim]}`` from GloVe's text format (plain, .gz, or in glove.6B.zip),
    keeping only ``vocab`` words when given (reading all 400k 100d vectors takes ~1 GB)."""
    if path.suffix == ".zip":
        fh = io.TextIOWrapper(zipfile.ZipFile(path).open(f"glove.6B.{dim}d.txt"), encoding="utf-8")
    else:
        fh = gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")
    vectors = {}
    try:
        with fh:
            for n, line in enumerate(fh, 1):
                word, _, rest = line.rstrip("\n").partition(" ")
                if vocab is not None and word not in vocab:
                    continue
                vec = np.array(rest.split(" "), dtype=np.float32)
                if vec.shape != (dim,):
                    raise DataFormatError(f"{path}: line {n} ({word!r}) has {vec.size} values, expected {dim}")
                vectors[word] = vec
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as e:
        raise DataFormatError(f"{path}: not a readable GloVe file ({e})") from None
    return vectors


# ----------------------------------------------------------------------------- the table of sources


@dataclass(frozen=True)
class Source:
    what: str                      # for messages
    names: tuple                   # file names looked for in the data dir, in this order
    read: Callable                 # reader(path, **kw)
    url: str | None = None         # download URL (None: the user must provide the file)
    size: int | None = None        # expected download size, bytes
    sha256: str | None = None      # expected download checksum
    keras_cache: bool = False      # also look in Keras's own datasets cache


ACLIMDB = ("aclImdb", "aclImdb_v1.tar.gz", "aclImdb_labeled.tar.gz")
_ACL_URL = dict(url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz", size=84_125_825)
_KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SOURCES = {
    "imdb_reviews": Source("imdb_reviews", ("IMDB Dataset.csv", "IMDB Dataset.csv.gz", "imdb_50k.csv.gz",
                                            "imdb_50k.csv") + ACLIMDB, read_imdb_reviews, **_ACL_URL),
    "aclimdb": Source("imdb_reviews (aclImdb layout)", ACLIMDB, read_imdb_reviews, **_ACL_URL),
    "imdb_npz": Source("Keras imdb.npz", ("imdb.npz",), read_imdb_npz, _KERAS + "imdb.npz", 17_464_789,
                       "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f", keras_cache=True),
    "imdb_word_index": Source("imdb_word_index", ("imdb_word_index.json",), read_json, _KERAS + "imdb_word_index.json",
                              1_641_221, "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6",
                              keras_cache=True),
    "names": Source("names corpus (names/male.txt, names/female.txt)", ("names",), read_names),
    "amazon_food": Source("Amazon Fine Food reviews", ("Reviews.csv", "Reviews.csv.gz",
                                                       "amazon_fine_food_sample.csv.gz"), read_amazon_food),
    **{f"glove{d}": Source(f"GloVe {d}d", (f"glove.6B.{d}d.txt", f"glove.6B.{d}d.txt.gz", f"glove.6B.{d}d.imdb.txt.gz",
                                           "glove.6B.zip"), functools.partial(read_glove, dim=d),
                           "https://nlp.stanford.edu/data/glove.6B.zip") for d in (50, 100, 200, 300)},
}

# ----------------------------------------------------------------------------- finding and downloading


# The small real sample shipped with rnnsweep (rnnsweep/sample/make_sample.py cut it): dataset.sample=True.
SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_FILES = {"imdb_reviews": "imdb_3000.csv.gz", "glove50": "glove.6B.50d.sample.txt.gz"}
DOWNLOAD_TIMEOUT = 60  # seconds without a byte before a download gives up


def data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV) or Path.home() / ".cache" / "rnnsweep").expanduser()


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes")


def locate(name: str, path=None, download=True, sample=False) -> Path:
    """The file of source ``name``: explicit path → data dir → download → one-line error; with
    ``sample``, the sample shipped with rnnsweep."""
    src = SOURCES[name]
    if sample:
        if name not in SAMPLE_FILES:
            raise DataNotFound(f"{src.what}: not in the sample shipped with rnnsweep (IMDB reviews and GloVe 50d "
                               f"only); put the files in {data_dir()} or set {DATA_ENV}")
        return SAMPLE_DIR / SAMPLE_FILES[name]
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataNotFound(f"{src.what}: {p} does not exist")
        return _checked(name, p)
    dirs = [data_dir()] + ([keras_cache_dir()] if src.keras_cache else [])
    for d in dirs:
        for n in src.names:
            if (d / n).exists():
                return _checked(name, d / n)
    if src.url and download and not offline():
        dest = data_dir() / Path(src.url).name
        try:
            return _checked(name, fetch(src.url, dest, size=src.size, sha256=src.sha256))
        except (OSError, http.client.HTTPException) as e:  # URLError, HTTPError, timeouts, refused, proxies
            reason = getattr(e, "reason", None) or e
            raise DataNotFound(f"{src.what}: {dest.name} could not be downloaded from {src.url} ({reason}); "
                               f"put {' or '.join(src.names[:2])} in {data_dir()} yourself, or set {DATA_ENV} to "
                               "the folder that holds it") from None
    why = f"{OFFLINE_ENV} is set" if offline() and src.url else "no download URL" if not src.url else "not downloaded"
    raise DataNotFound(f"{src.what}: none of {', '.join(src.names)} in {data_dir()} ({why}); "
                       f"set {DATA_ENV} to the folder that holds them or pass path=")


def _checked(name: str, p: Path) -> Path:
    m = re.fullmatch(r"glove(\d+)", name)
    if m and p.suffix == ".zip":  # glove.6B.zip holds every dimension: this one must be in it
        try:
            with zipfile.ZipFile(p) as z:
                found = f"glove.6B.{m[1]}d.txt" in z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise DataFormatError(f"{p}: not a readable zip ({e})") from None
        if not found:
            raise DataNotFound(f"{p}: has no glove.6B.{m[1]}d.txt")
    return p


def available(name: str) -> bool:
    """Is the source's file here already (no download)?"""
    try:
        locate(name, download=False)
        return True
    except (DataNotFound, DataFormatError):
        return False


def read(name: str, path=None, **kw):
    """Locate source ``name`` (or take ``path``) and read it with its reader."""
    return SOURCES[name].read(locate(name, path), **kw)


def fetch(url, dest: Path, size=None, sha256=None) -> Path:
    """Download to a temp file beside ``dest``, check it, then rename: never a half file."""
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    digest = hashlib.sha256()
    try:
        # A timeout: behind a proxy that swallows connections, a download must fail, not hang.
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or size
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        got = os.path.getsize(tmp)
        if size and got != size:
            raise DataFormatError(f"{url}: downloaded {got} bytes, expected {size} bytes")
        if sha256 and digest.hexdigest() != sha256:
            raise DataFormatError(f"{url}: sha256 {digest.hexdigest()} != expected {sha256}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def checksum(path: Path) -> str:
    """sha256 of a file (or of a folder's file names and sizes: cheap, and changes when it does)."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                h.update(f"{f.relative_to(path)}:{f.stat().st_size}\n".encode())
    else:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()
