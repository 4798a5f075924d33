"""Stage 1 — data sources: find the raw files, download them when allowed, read them.

Every loader looks for its files in this order:
  1. an explicit ``path`` argument;
  2. the data directory: ``$RNNSWEEP_DATA`` (default ``~/.cache/rnnsweep``);
  3. a download from the canonical URL into that directory (atomic: temp file + rename),
     unless ``RNNSWEEP_OFFLINE=1``;
  4. otherwise a one-line ``DataNotFound`` naming the files and the variable to set.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

DATA_ENV = "RNNSWEEP_DATA"
OFFLINE_ENV = "RNNSWEEP_OFFLINE"

ACLIMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ACLIMDB_SIZE = 84_125_825
GLOVE_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"

IMDB_CSV_NAMES = ("IMDB Dataset.csv", "IMDB Dataset.csv.gz", "imdb_50k.csv.gz", "imdb_50k.csv")
ACLIMDB_NAMES = ("aclImdb", "aclImdb_v1.tar.gz", "aclImdb_labeled.tar.gz")

# Keras's default Tokenizer / text_to_word_sequence filters (apostrophe is *not* among them).
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


class DataNotFound(FileNotFoundError):
    """A data file is missing and could not be downloaded."""


class DataFormatError(ValueError):
    """A data file exists but is not in the expected format."""


def data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV) or Path.home() / ".cache" / "rnnsweep").expanduser()


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes")


def find(names, path=None, url=None, size=None, md5=None, what="data") -> Path:
    """Resolve a data file: explicit path → data dir → download → one-line error."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataNotFound(f"{what}: {p} does not exist")
        return p
    d = data_dir()
    for name in names:
        if (d / name).exists():
            return d / name
    if url and not offline():
        dest = d / Path(url).name
        download(url, dest, size=size, md5=md5)
        return dest
    why = f"{OFFLINE_ENV} is set" if offline() else "no download URL"
    raise DataNotFound(f"{what}: none of {', '.join(names)} in {d} ({why}); "
                       f"set {DATA_ENV} to the folder that holds them or pass path=")


def download(url, dest: Path, size=None, md5=None) -> Path:
    """Download to a temp file beside ``dest``, check it, then rename: never a half file."""
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    digest = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or size
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        got = os.path.getsize(tmp)
        if size and got != size:
            raise DataFormatError(f"{url}: downloaded {got} bytes, expected {size} bytes")
        if md5 and digest.hexdigest() != md5:
            raise DataFormatError(f"{url}: md5 {digest.hexdigest()} != expected {md5}")
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


# --------------------------------------------------------------------------- IMDB reviews

def imdb_reviews(path=None, fmt="auto") -> pd.DataFrame:
    """The 50k labeled IMDB reviews as a DataFrame ``review, label (0/1), split, rating``.

    ``fmt``: "csv" (Kaggle's ``IMDB Dataset.csv``, ``review,sentiment``), "aclimdb"
    (Stanford's layout; keeps the official 25k/25k split in ``split``) or "auto" (the path's
    format; in the data dir the CSV first, as seed 000 used it, then aclImdb).
    """
    path = imdb_reviews_path(path, fmt)
    if path.is_dir() or ".tar" in path.name or path.name.endswith(".tgz"):
        return _read_aclimdb(path)
    return _read_imdb_csv(path)


def imdb_reviews_path(path=None, fmt="auto") -> Path:
    names = {"csv": IMDB_CSV_NAMES, "aclimdb": ACLIMDB_NAMES}.get(fmt, IMDB_CSV_NAMES + ACLIMDB_NAMES)
    return find(names, path=path, url=None if fmt == "csv" else ACLIMDB_URL, size=ACLIMDB_SIZE, what="imdb_reviews")


def _read_imdb_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as e:
        raise DataFormatError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    missing = {"review", "sentiment"} - set(df.columns)
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {sorted(missing)}; expected 'review,sentiment'")
    bad = ~df["sentiment"].isin(["positive", "negative"])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(f"{path}: row {row + 2}: sentiment {df['sentiment'][row]!r} "
                              "is not 'positive' or 'negative'")
    return pd.DataFrame({"review": df["review"],
                         "label": (df["sentiment"] == "positive").astype("int8"),
                         "split": None, "rating": np.nan})


_ACL_RE = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _read_aclimdb(path: Path) -> pd.DataFrame:
    """Read ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` from a folder or tarball."""
    rows = []

    def add(name, text):
        m = _ACL_RE.search(name)
        if m:
            split, pol, rid, rating = m.groups()
            rows.append((split, pol, int(rid), int(rating), text))

    if path.is_dir():
        root = path if path.name == "aclImdb" else path / "aclImdb"
        for f in root.glob("*/*/*.txt"):
            add(str(f.relative_to(root.parent)), f.read_text(encoding="utf-8"))
    else:
        try:
            with tarfile.open(path, "r:*") as tar:
                for m in tar:
                    if m.isfile() and _ACL_RE.search(m.name):
                        add(m.name, tar.extractfile(m).read().decode("utf-8"))
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DataFormatError(f"{path}: not a readable tar archive ({e})") from None
    if not rows:
        raise DataFormatError(f"{path}: no aclImdb/{{train,test}}/{{pos,neg}}/<id>_<rating>.txt files")
    # Stable order: train then test, pos then neg, ascending id (the order of the staged CSV).
    rows.sort(key=lambda r: (r[0] != "train", r[1] != "pos", r[2]))
    split, pol, _, rating, text = zip(*rows)
    return pd.DataFrame({"review": list(text),
                         "label": (np.array(pol) == "pos").astype("int8"),
                         "split": list(split), "rating": np.array(rating, dtype=float)})


# --------------------------------------------------------------------------- Keras IMDB

def keras_imdb(num_words=None, path=None, word_index_path=None, seed=113,
               start_char=1, oov_char=2, index_from=3):
    """``(x_train, y_train), (x_test, y_test)`` exactly as ``keras.datasets.imdb.load_data``.

    Uses Keras's own loader when its ``imdb.npz`` is cached (or downloadable); otherwise
    rebuilds the same encoding from the aclImdb reviews (official split) and the published
    ``imdb_word_index.json``. Sequences are lists of ints (ragged), labels int8.
    """
    cached = Path.home() / ".keras" / "datasets" / "imdb.npz"
    if path is None and (cached.exists() or not offline()):
        try:
            import keras
            (xtr, ytr), (xte, yte) = keras.datasets.imdb.load_data(
                num_words=num_words, seed=seed, start_char=start_char, oov_char=oov_char,
                index_from=index_from)
            return (list(map(list, xtr)), ytr.astype("int8")), (list(map(list, xte)), yte.astype("int8"))
        except Exception:  # no network / corrupt cache: fall back to the rebuild below
            pass
    word_index = imdb_word_index(word_index_path)
    df = imdb_reviews(path, fmt="aclimdb")
    if df["split"].isna().any():
        raise DataFormatError(f"keras_imdb needs the aclImdb layout (official split), got {path}")
    out = []
    for split in ("train", "test"):
        part = df[df["split"] == split]
        xs = [encode_keras_imdb(t, word_index, num_words, start_char, oov_char, index_from)
              for t in part["review"]]
        ys = part["label"].to_numpy()
        # keras.datasets.imdb shuffles each split with RandomState(seed).
        idx = np.arange(len(xs))
        np.random.RandomState(seed).shuffle(idx)
        out.append(([xs[i] for i in idx], ys[idx]))
    return out[0], out[1]


def imdb_word_index_path(path=None) -> Path:
    return find(("imdb_word_index.json",), path=path, url=WORD_INDEX_URL, md5=WORD_INDEX_MD5, what="imdb_word_index")


def imdb_word_index(path=None) -> dict:
    with open(imdb_word_index_path(path), encoding="utf-8") as fh:
        return json.load(fh)


def text_to_word_sequence(text, filters=KERAS_FILTERS, lower=True, split=" "):
    """Keras's legacy ``text_to_word_sequence``: lowercase, filters → split char, drop empties."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


def encode_keras_imdb(text, word_index, num_words=None, start_char=1, oov_char=2, index_from=3):
    seq = [start_char] if start_char is not None else []
    for w in text_to_word_sequence(text):
        i = word_index.get(w)
        i = oov_char if i is None else i + index_from
        if num_words is not None and i >= num_words:
            i = oov_char
        seq.append(i)
    return seq


# --------------------------------------------------------------------------- GloVe

def glove_path(dim=100, path=None, download=True) -> Path:
    names = (f"glove.6B.{dim}d.txt", f"glove.6B.{dim}d.txt.gz", f"glove.6B.{dim}d.imdb.txt.gz",
             "glove.6B.zip")
    p = find(names, path=path, url=GLOVE_URL if download else None, what=f"GloVe {dim}d")
    if p.name == "glove.6B.zip":
        with zipfile.ZipFile(p) as z:
            if f"glove.6B.{dim}d.txt" not in z.namelist():
                raise DataNotFound(f"{p}: has no glove.6B.{dim}d.txt")
    return p


def glove_available(dim) -> bool:
    try:
        glove_path(dim, download=False)
        return True
    except DataNotFound:
        return False


def load_glove(vocab=None, dim=100, path=None) -> dict:
    """Vectors ``{word: float32[dim]}`` from GloVe's text format (plain, .gz, or in glove.6B.zip),
    keeping only ``vocab`` words when given (reading all 400k 100d vectors takes ~1 GB)."""
    p = glove_path(dim, path)
    if p.suffix == ".zip":
        z = zipfile.ZipFile(p)
        fh = io.TextIOWrapper(z.open(f"glove.6B.{dim}d.txt"), encoding="utf-8")
    elif p.suffix == ".gz":
        fh = gzip.open(p, "rt", encoding="utf-8")
    else:
        fh = open(p, encoding="utf-8")
    vectors = {}
    with fh:
        for n, line in enumerate(fh, 1):
            word, _, rest = line.rstrip("\n").partition(" ")
            if vocab is not None and word not in vocab:
                continue
            vec = np.array(rest.split(" "), dtype=np.float32)
            if vec.shape != (dim,):
                raise DataFormatError(f"{p}: line {n} ({word!r}) has {vec.size} values, expected {dim}")
            vectors[word] = vec
    return vectors


def embedding_matrix(word_index: dict, vectors: dict, dim: int, rows: int):
    """Seed 000's matrix: row i = GloVe vector of the word with index i, zeros where not found.
    Returns (matrix float32[rows, dim], coverage = found / words with index < rows)."""
    m = np.zeros((rows, dim), dtype=np.float32)
    found = total = 0
    for word, i in word_index.items():
        if i < rows:
            total += 1
            v = vectors.get(word)
            if v is not None:
                m[i] = v
                found += 1
    return m, (found / total if total else 0.0)


# --------------------------------------------------------------------------- names, Amazon

def names_path(path=None) -> Path:
    return find(("names",), path=path, what="names corpus (names/male.txt, names/female.txt)")


def amazon_food_path(path=None) -> Path:
    return find(("Reviews.csv", "Reviews.csv.gz", "amazon_fine_food_sample.csv.gz"), path=path,
                what="Amazon Fine Food reviews")


def names(path=None) -> pd.DataFrame:
    """NLTK names corpus (seed 002): ``name, label`` with label 1 = female, 0 = male."""
    d = names_path(path)
    frames = []
    for fname, label in (("male.txt", 0), ("female.txt", 1)):
        f = d / fname
        if not f.exists():
            raise DataNotFound(f"names corpus: {f} does not exist")
        lines = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines()]
        frames.append(pd.DataFrame({"name": [n for n in lines if n and not n.startswith("#")],
                                    "label": label}))
    return pd.concat(frames, ignore_index=True)


def amazon_food(path=None) -> pd.DataFrame:
    """Amazon Fine Food reviews (seed 003), Kaggle ``Reviews.csv`` columns incl. ``Score, Text``."""
    p = amazon_food_path(path)
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as e:
        raise DataFormatError(f"{p}: not a readable CSV ({str(e).splitlines()[0]})") from None
    missing = {"Score", "Text"} - set(df.columns)
    if missing:
        raise DataFormatError(f"{p}: missing column(s) {sorted(missing)}")
    return df
