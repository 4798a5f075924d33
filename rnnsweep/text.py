"""Stage 2 — text preparation: clean → tokenize → split → pad → embedding matrix, cached.

``prepare(dataset_config)`` turns one dataset section of a sweep into a ``Prepared`` dataset
(int32 sequences, float32 labels, optional embedding matrix). It is cached on disk by a
fingerprint of the config and the source files, so preparing the same config twice is cheap.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import data

CACHE_ENV = "RNNSWEEP_CACHE"
PREP_VERSION = 1  # bump when prepare() changes its output for the same config

# Every dataset key, its default, and (where finite) its allowed values.
DATASET_DEFAULTS = dict(
    source="imdb_reviews",   # imdb_reviews | keras_imdb | names | amazon_food
    path=None,               # explicit source file/folder (else the data dir, see data.py)
    clean="none",            # "seed000": seed 000's regex cleaning; "none"
    num_words=None,          # Tokenizer(num_words=...): keep indices < num_words
    oov_token=None,          # Tokenizer(oov_token=...): index 1 when set
    char_level=False,        # Tokenizer(char_level=True): seed 002's names
    lower=True,
    maxlen=100,
    padding="pre",           # keras.utils.pad_sequences defaults; seed 000 uses "post"
    truncating="pre",
    split="seed000",         # "seed000": train_test_split(test_size, random_state); "official": aclImdb 25k/25k
    test_size=0.2,
    split_seed=42,
    embedding="learned",     # "learned" | "glove" (frozen or not: model.embedding_trainable)
    glove_dim="auto",        # 50 | 100 | 200 | 300 | "auto" (100 when present, else 50)
    embedding_rows="num_words",  # "num_words": only rows the sequences can reach; "full": seed 000's
)
DATASET_CHOICES = dict(
    source=("imdb_reviews", "keras_imdb", "names", "amazon_food"),
    clean=("seed000", "none"),
    padding=("pre", "post"),
    truncating=("pre", "post"),
    split=("seed000", "official"),
    embedding=("learned", "glove"),
    glove_dim=("auto", 50, 100, 200, 300),
    embedding_rows=("num_words", "full"),
)

# ----------------------------------------------------------------------------- cleaning

_TAG_RE = re.compile(r"<[^>]+>")


def clean_seed000(text: str) -> str:
    """Seed 000's ``preprocess_text``, exactly (no lowercasing: the Tokenizer does that)."""
    text = _TAG_RE.sub("", text)
    text = re.sub("[^a-zA-Z]", " ", text)
    text = re.sub(r"\s+[a-zA-Z]\s+", " ", text)
    return re.sub(r"\s+", " ", text)


CLEANERS = {"seed000": clean_seed000, "none": lambda t: t}

# ----------------------------------------------------------------------------- tokenizer


@dataclass
class Tokenizer:
    """Keras's legacy ``keras.preprocessing.text.Tokenizer`` (removed in Keras 3), same semantics:
    word index by descending frequency, ties in first-seen order; indices >= num_words dropped
    (or mapped to the OOV token, index 1, when one is set); char-level mode."""

    num_words: int | None = None
    filters: str = data.KERAS_FILTERS
    lower: bool = True
    split: str = " "
    char_level: bool = False
    oov_token: str | None = None
    word_counts: OrderedDict = field(default_factory=OrderedDict)
    word_index: dict = field(default_factory=dict)

    def _seq(self, text):
        if self.char_level:
            return text.lower() if self.lower else text
        return data.text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        for text in texts:
            for w in self._seq(text):
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
        wcounts = sorted(self.word_counts.items(), key=lambda x: x[1], reverse=True)  # stable
        vocab = ([self.oov_token] if self.oov_token is not None else []) + [w for w, _ in wcounts]
        self.word_index = dict(zip(vocab, range(1, len(vocab) + 1)))
        return self

    def texts_to_sequences(self, texts):
        index, n = self.word_index, self.num_words
        oov = index.get(self.oov_token) if self.oov_token is not None else None
        out = []
        for text in texts:
            seq = []
            for w in self._seq(text):
                i = index.get(w)
                if i is not None and not (n and i >= n):
                    seq.append(i)
                elif oov is not None:
                    seq.append(oov)
            out.append(seq)
        return out


def pad(sequences, maxlen, padding="pre", truncating="pre"):
    import keras  # deferred: importing TF costs seconds and is not needed to validate a sweep

    return keras.utils.pad_sequences(sequences, maxlen=maxlen, padding=padding,
                                     truncating=truncating, dtype="int32")

# ----------------------------------------------------------------------------- prepare


@dataclass
class Prepared:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    embedding: np.ndarray | None
    vocab_size: int          # Embedding input_dim the model must use
    meta: dict               # config, fingerprint, sources, word count, GloVe dim/coverage, timings


def resolve_dataset(config: dict) -> dict:
    """Defaults filled in and ``glove_dim='auto'`` decided (100 when present, else 50)."""
    cfg = {**DATASET_DEFAULTS, **config}
    if cfg["embedding"] == "glove" and cfg["glove_dim"] == "auto":
        cfg["glove_dim"] = 100 if data.glove_available(100) or not data.glove_available(50) else 50
    return cfg


def fingerprint(cfg: dict, sources: dict) -> str:
    blob = json.dumps({"v": PREP_VERSION, "config": cfg, "sources": sources}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    # Not under the data dir: that may be a read-only shared folder.
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rnnsweep" / "prepared").expanduser()


def _source_paths(cfg) -> dict:
    """The files a config reads, resolved now so their checksums enter the fingerprint."""
    src, p = cfg["source"], cfg["path"]
    paths = {}
    if src == "imdb_reviews":
        paths["reviews"] = data.imdb_reviews_path(p)
    elif src == "keras_imdb":
        npz = Path.home() / ".keras" / "datasets" / "imdb.npz"  # Keras's own cache wins
        paths["reviews"] = p or (npz if npz.exists() else None) or data.imdb_reviews_path(fmt="aclimdb")
        paths["word_index"] = data.imdb_word_index_path()
    elif src == "names":
        paths["names"] = data.names_path(p)
    elif src == "amazon_food":
        paths["reviews"] = data.amazon_food_path(p)
    if cfg["embedding"] == "glove":
        paths["glove"] = data.glove_path(cfg["glove_dim"])
    return {k: Path(v) for k, v in paths.items()}


_SUM_CACHE: dict = {}


def _checksum(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SUM_CACHE:
        _SUM_CACHE[key] = data.checksum(path)
    return _SUM_CACHE[key]


def _texts_labels(cfg, paths):
    """Raw texts, labels and (where the source has one) the official split per row."""
    src = cfg["source"]
    if src == "imdb_reviews":
        df = data.imdb_reviews(paths["reviews"])
        return df["review"].tolist(), df["label"].to_numpy(), df["split"].to_numpy()
    if src == "names":
        df = data.names(paths["names"])
        return df["name"].tolist(), df["label"].to_numpy(), None
    if src == "amazon_food":
        df = data.amazon_food(paths["reviews"])
        # Positive = 4-5 stars, negative = 1-2, neutral 3-star reviews dropped.
        df = df[df["Score"] != 3]
        return df["Text"].astype(str).tolist(), (df["Score"] > 3).astype("int8").to_numpy(), None
    raise ValueError(f"dataset.source: {src!r} has no raw texts")


def _split(cfg, n, official):
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    if cfg["split"] == "official":
        if official is None or any(s is None for s in official):
            raise ValueError(f"dataset.split='official' needs the aclImdb layout; {cfg['source']} has none")
        return idx[official == "train"], idx[official == "test"]
    return train_test_split(idx, test_size=cfg["test_size"], random_state=cfg["split_seed"])


def prepare(config: dict, use_cache=True, progress=print) -> Prepared:
    cfg = resolve_dataset(config)
    paths = _source_paths(cfg)
    fp = fingerprint({**cfg, "path": None}, {k: _checksum(p) for k, p in paths.items()})
    cache = cache_dir() / f"{fp}.npz"
    if use_cache and cache.exists():
        return load_prepared(cache)
    t0 = time.time()
    meta = {"fingerprint": fp, "config": cfg, "sources": {k: str(p) for k, p in paths.items()}}
    if cfg["source"] == "keras_imdb":
        (xtr, ytr), (xte, yte) = data.keras_imdb(cfg["num_words"], path=cfg["path"],
                                                 word_index_path=paths["word_index"])
        word_index = {w: i + 3 for w, i in data.imdb_word_index(paths["word_index"]).items()}
        n_index = max(word_index.values()) + 1
    else:
        texts, labels, official = _texts_labels(cfg, paths)
        clean = CLEANERS[cfg["clean"]]
        texts = [clean(t) for t in texts]
        tr, te = _split(cfg, len(texts), official)
        tok = Tokenizer(num_words=cfg["num_words"], lower=cfg["lower"], char_level=cfg["char_level"],
                        oov_token=cfg["oov_token"])
        tok.fit_on_texts([texts[i] for i in tr])  # training texts only
        xtr = tok.texts_to_sequences([texts[i] for i in tr])
        xte = tok.texts_to_sequences([texts[i] for i in te])
        ytr, yte = labels[tr], labels[te]
        word_index = tok.word_index
        n_index = len(word_index) + 1  # seed 000: vocab_size = len(tokenizer.word_index) + 1
        meta["train_rows"], meta["test_rows"] = tr.tolist(), te.tolist()
    full_rows = n_index
    rows = min(cfg["num_words"], full_rows) if cfg["num_words"] and cfg["embedding_rows"] == "num_words" \
        else full_rows
    emb = None
    if cfg["embedding"] == "glove":
        dim = cfg["glove_dim"]
        vocab = {w for w, i in word_index.items() if i < rows}
        emb, coverage = data.embedding_matrix(word_index, data.load_glove(vocab, dim, paths["glove"]), dim, rows)
        meta["glove_coverage"] = round(coverage, 4)
    meta.update(words=len(word_index), vocab_size=rows, full_vocab_size=full_rows,
                prepare_seconds=round(time.time() - t0, 2))
    p = Prepared(pad(xtr, cfg["maxlen"], cfg["padding"], cfg["truncating"]), np.asarray(ytr, "float32"),
                 pad(xte, cfg["maxlen"], cfg["padding"], cfg["truncating"]), np.asarray(yte, "float32"),
                 emb, rows, meta)
    if use_cache:
        save_prepared(p, cache)
    return p


def save_prepared(p: Prepared, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = dict(x_train=p.x_train, y_train=p.y_train, x_test=p.x_test, y_test=p.y_test)
    if p.embedding is not None:
        arrays["embedding"] = p.embedding
    meta = {**p.meta}
    for k in ("train_rows", "test_rows"):  # which source rows went where: arrays, not JSON
        if k in meta:
            arrays[k] = np.asarray(meta.pop(k), dtype=np.int64)
    arrays["meta"] = np.frombuffer(json.dumps({**meta, "vocab_size": p.vocab_size}).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.part")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # uncompressed: loads at disk speed
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_prepared(path: Path) -> Prepared:
    with np.load(path) as z:
        meta = json.loads(z["meta"].tobytes())
        meta["cached"] = True
        for k in ("train_rows", "test_rows"):
            if k in z:
                meta[k] = z[k].tolist()
        return Prepared(z["x_train"], z["y_train"], z["x_test"], z["y_test"],
                        z["embedding"] if "embedding" in z else None, meta["vocab_size"], meta)
