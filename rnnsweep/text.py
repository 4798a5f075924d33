"""Stage 2 — text preparation: clean → tokenize → split → pad → embedding matrix, cached.

``prepare(dataset_config)`` turns one dataset section of a sweep into a ``Prepared`` dataset
(int32 sequences, float32 labels, optional embedding matrix). The source is looked up once, in
``ENCODERS``: which raw files it reads and how they become sequences. The result is cached on disk
by a fingerprint of the config and of those files, so preparing the same config twice is cheap.
"""
from __future__ import annotations

import random
import re
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import cache, data
from .data import Prepared
from .config import Dataset, stable_hash

# ----------------------------------------------------------------------------- cleaning

_TAG_RE = re.compile(r"<[^>]+>")


def clean_seed000(text: str) -> str:
    """Seed 000's ``preprocess_text``, exactly (no lowercasing: the Tokenizer does that)."""
    text = _TAG_RE.sub("", text)
    text = re.sub("[^a-zA-Z]", " ", text)
    text = re.sub(r"\s+[a-zA-Z]\s+", " ", text)
    return re.sub(r"\s+", " ", text)


CLEANERS = {"seed000": clean_seed000, "none": lambda t: t}

# ----------------------------------------------------------------------------- tokenizing

# Keras's default Tokenizer / text_to_word_sequence filters (apostrophe is *not* among them).
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(text, filters=KERAS_FILTERS, lower=True, split=" "):
    """Keras's legacy ``text_to_word_sequence``: lowercase, filters → split char, drop empties."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


@dataclass
class Tokenizer:
    """Keras's legacy ``keras.preprocessing.text.Tokenizer`` (removed in Keras 3), same semantics:
    word index by descending frequency, ties in first-seen order; indices >= num_words dropped
    (or mapped to the OOV token, index 1, when one is set); char-level mode."""

    num_words: int | None = None
    filters: str = KERAS_FILTERS
    lower: bool = True
    split: str = " "
    char_level: bool = False
    oov_token: str | None = None
    word_counts: OrderedDict = field(default_factory=OrderedDict)
    word_index: dict = field(default_factory=dict)

    def _seq(self, text):
        if self.char_level:
            return text.lower() if self.lower else text
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

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
    from .quiet import keras  # deferred: importing TF costs seconds and is not needed to validate a sweep

    return keras().utils.pad_sequences(sequences, maxlen=maxlen, padding=padding, truncating=truncating, dtype="int32")

# ----------------------------------------------------------------------------- Keras's IMDB encoding


def keras_imdb(train, test, num_words=None, seed=113, start_char=1, oov_char=2, index_from=3):
    """``keras.datasets.imdb.load_data``'s transformation of raw word-rank sequences, exactly:
    each split shuffled by one ``RandomState(seed)`` (train first), ``start_char`` prepended,
    ranks offset by ``index_from``, indices outside ``[0, num_words)`` → ``oov_char`` (with
    ``num_words=None``, Keras takes the largest index as the bound, so that word becomes OOV too)."""
    rng = np.random.RandomState(seed)
    out = []
    for xs, ys in (train, test):
        idx = np.arange(len(xs))
        rng.shuffle(idx)
        out.append(([[start_char] + [w + index_from for w in xs[i]] for i in idx], np.asarray(ys)[idx]))
    if not num_words:
        num_words = max(max(x) for part, _ in out for x in part)
    return [([[w if 0 <= w < num_words else oov_char for w in x] for x in xs], ys) for xs, ys in out]


def imdb_ranks(reviews, word_index, oov_char=2, index_from=3):
    """The raw ``imdb.npz`` sequences rebuilt from review texts: each word's rank in Keras's word
    index; a word not in the index gets the rank that ``keras_imdb`` turns into ``oov_char``."""
    return [[word_index.get(w, oov_char - index_from) for w in text_to_word_sequence(t)] for t in reviews]

# ----------------------------------------------------------------------------- GloVe matrix


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

# ----------------------------------------------------------------------------- sources


@dataclass
class Encoded:
    x_train: list
    y_train: np.ndarray
    x_test: list
    y_test: np.ndarray
    word_index: dict         # word → index, as the sequences use it
    index_size: int          # largest index + 1: seed 000's vocab_size = len(tokenizer.word_index) + 1
    meta: dict = field(default_factory=dict)
    pipeline: dict = field(default_factory=dict)  # how raw text becomes these sequences (``encode_texts``)


def _split(cfg, idx, official, times):
    """Train and test row numbers: seed 000's random split, aclImdb's official one, or by time."""
    from sklearn.model_selection import train_test_split

    if cfg["split"] == "official":
        if official is None or any(s is None for s in official):
            raise data.DataFormatError(f"dataset.split='official' needs the aclImdb layout; {cfg['source']} has none")
        return idx[official[idx] == "train"], idx[official[idx] == "test"]
    if cfg["split"] == "time":
        if times is None:
            raise data.DataFormatError(f"dataset.split='time' needs review times; {cfg['source']} has none")
        return train_test_split(idx[np.argsort(times[idx], kind="stable")], test_size=cfg["test_size"], shuffle=False)
    return train_test_split(idx, test_size=cfg["test_size"], random_state=cfg["split_seed"])


def _tokenized(cfg, texts, labels, official=None, times=None) -> Encoded:
    """Clean, [shuffle,] split, fit the Tokenizer on the training texts only, turn both splits to
    sequences."""
    clean = CLEANERS[cfg["clean"]]
    texts = [clean(t) for t in texts]
    idx = np.arange(len(texts))
    if cfg["shuffle_seed"] is not None:  # seed 002: random.shuffle of the list, now with a seed
        order = list(idx)
        random.Random(cfg["shuffle_seed"]).shuffle(order)
        idx = np.array(order)
    tr, te = _split(cfg, idx, official, times)
    tok = Tokenizer(num_words=cfg["num_words"], lower=cfg["lower"], char_level=cfg["char_level"],
                    oov_token=cfg["oov_token"]).fit_on_texts([texts[i] for i in tr])
    # Only the words the sequences can hold (index < num_words), in index order: the fitted Tokenizer again.
    words = list(tok.word_index)[:cfg["num_words"] - 1 if cfg["num_words"] else None]
    pipeline = dict(kind="tokenizer", clean=cfg["clean"], num_words=cfg["num_words"], lower=cfg["lower"],
                    char_level=cfg["char_level"], oov_token=cfg["oov_token"], words=words)
    return Encoded(tok.texts_to_sequences([texts[i] for i in tr]), labels[tr],
                   tok.texts_to_sequences([texts[i] for i in te]), labels[te], tok.word_index,
                   len(tok.word_index) + 1, {"train_rows": tr.tolist(), "test_rows": te.tolist()}, pipeline)


def _imdb_reviews(cfg, files):
    df = data.read("imdb_reviews", files["reviews"])
    return _tokenized(cfg, df["review"].tolist(), df["label"].to_numpy(), df["split"].to_numpy())


def _names(cfg, files):
    df = data.read("names", files["names"])
    return _tokenized(cfg, df["name"].tolist(), df["label"].to_numpy())


def _amazon_food(cfg, files):
    df = data.read("amazon_food", files["reviews"])
    df = df[df["Score"] != 3]  # positive = 4-5 stars, negative = 1-2; neutral 3-star reviews dropped
    if cfg["dedupe"]:  # the usual recipe: one copy of a review listed under several products, sane helpfulness
        df = df.drop_duplicates(subset=["UserId", "ProfileName", "Time", "Text"])
        df = df[pd.to_numeric(df["HelpfulnessNumerator"]) <= pd.to_numeric(df["HelpfulnessDenominator"])]
    times = pd.to_numeric(df["Time"]).to_numpy() if "Time" in df else None
    return _tokenized(cfg, df["Text"].tolist(), (df["Score"] > 3).astype("int8").to_numpy(), times=times)


def _keras_imdb_files(cfg) -> dict:
    """Keras's own ``imdb.npz`` when it is here or can be downloaded; offline without it, the same
    encoding rebuilt from the aclImdb reviews. Either way the word index (for GloVe rows)."""
    p = cfg["path"]
    if cfg["sample"]:
        data.locate("imdb_npz", sample=True)  # one line: the sample has no Keras IMDB encoding
    if p is None or str(p).endswith(".npz"):
        try:
            return {"npz": data.locate("imdb_npz", p), "word_index": data.locate("imdb_word_index")}
        except data.DataNotFound as e:
            if p is not None:
                raise
            missing = e
    try:
        found = {"reviews": data.locate("aclimdb", p), "word_index": data.locate("imdb_word_index")}
        if p is None:  # one line: which encoding this run gets, and why
            print(f"keras_imdb: {missing}; rebuilding Keras's encoding from {found['reviews'].name} and "
                  f"{found['word_index'].name} instead", file=sys.stderr, flush=True)
        return found
    except data.DataNotFound as e:
        raise data.DataNotFound(f"keras_imdb needs imdb.npz, or aclImdb and imdb_word_index.json, in {data.data_dir()}"
                                f" (or Keras's {data.keras_cache_dir()}): {e}") from None


def _keras_imdb(cfg, files):
    word_index = data.read("imdb_word_index", files["word_index"])
    if "npz" in files:
        raw = data.read("imdb_npz", files["npz"])
        train, test = (raw["x_train"], raw["y_train"]), (raw["x_test"], raw["y_test"])
    else:
        df = data.read("aclimdb", files["reviews"])
        train, test = [(imdb_ranks(df["review"][df["split"] == s], word_index), df["label"][df["split"] == s])
                       for s in ("train", "test")]
    (xtr, ytr), (xte, yte) = keras_imdb(train, test, cfg["num_words"])
    index = {w: i + 3 for w, i in word_index.items()}
    bound = cfg["num_words"] or max(max(x) for x in xtr + xte)  # keras_imdb's own bound when num_words is None
    pipeline = dict(kind="keras_imdb", num_words=bound, ranks={w: i for w, i in word_index.items() if i + 3 < bound})
    return Encoded(xtr, ytr, xte, yte, index, max(index.values()) + 1, pipeline=pipeline)


# dataset.source → (the raw files it reads, resolved before the cache lookup; how they become sequences)
ENCODERS = {
    # The official split lives only in the aclImdb layout: look for that first (a Kaggle CSV beside it has none).
    "imdb_reviews": (lambda cfg: {"reviews": data.locate("aclimdb" if cfg["split"] == "official" and not cfg["sample"]
                                                         else "imdb_reviews", cfg["path"], sample=cfg["sample"])},
                     _imdb_reviews),
    "keras_imdb": (_keras_imdb_files, _keras_imdb),
    "names": (lambda cfg: {"names": data.locate("names", cfg["path"], sample=cfg["sample"])}, _names),
    "amazon_food": (lambda cfg: {"reviews": data.locate("amazon_food", cfg["path"], sample=cfg["sample"])},
                    _amazon_food),
}

# ----------------------------------------------------------------------------- prepare


def resolve_dataset(config: Dataset | dict) -> dict:
    """The dataset section as a plain dict (every default in), ``glove_dim='auto'`` decided (100 when present,
    else 50): what the cache's fingerprint and the prepared dataset's description hold."""
    cfg = Dataset.of(config).as_dict()
    if cfg["embedding"] == "glove" and cfg["glove_dim"] == "auto":
        cfg["glove_dim"] = 50 if cfg["sample"] else 100 if data.available("glove100") or not data.available(
            "glove50") else 50
    return cfg


def prepare(config: Dataset | dict, use_cache=True) -> Prepared:
    cfg = resolve_dataset(config)
    files_of, encode = ENCODERS[cfg["source"]]
    files = files_of(cfg)
    if cfg["embedding"] == "glove":
        files["glove"] = data.locate(f"glove{cfg['glove_dim']}", sample=cfg["sample"])
    fp = cache.fingerprint({**cfg, "path": None}, files)
    if use_cache and (hit := cache.load(fp)) and hit.pipeline:  # one cached before pipelines were kept: again
        return hit
    t0 = time.time()
    enc = encode(cfg, files)
    rows = enc.index_size
    if cfg["num_words"] and cfg["embedding_rows"] == "num_words":
        rows = min(cfg["num_words"], rows)
    meta = {"fingerprint": fp, "config": cfg, "sources": {k: str(p) for k, p in files.items()}, **enc.meta}
    emb = None
    if cfg["embedding"] == "glove":
        vocab = {w for w, i in enc.word_index.items() if i < rows}
        vectors = data.read(f"glove{cfg['glove_dim']}", files["glove"], vocab=vocab)
        emb, coverage = embedding_matrix(enc.word_index, vectors, cfg["glove_dim"], rows)
        meta["glove_coverage"] = round(coverage, 4)
    maxlen = cfg["maxlen"] or max(map(len, enc.x_train))  # None: the longest training sequence (seed 002)
    meta.update(words=len(enc.word_index), vocab_size=rows, full_vocab_size=enc.index_size, maxlen=maxlen,
                prepare_seconds=round(time.time() - t0, 2))
    pipeline = {**enc.pipeline, "maxlen": maxlen, "padding": cfg["padding"], "truncating": cfg["truncating"],
                "fingerprint": fp}
    p = Prepared(pad(enc.x_train, maxlen, cfg["padding"], cfg["truncating"]),
                 np.asarray(enc.y_train, "float32"),
                 pad(enc.x_test, maxlen, cfg["padding"], cfg["truncating"]),
                 np.asarray(enc.y_test, "float32"), emb, rows, meta, pipeline)
    if use_cache:
        cache.save(p)
    return p


# ----------------------------------------------------------------------------- new text, as a trial's inputs were made


def encode_texts(pipeline: dict, texts: list[str]) -> np.ndarray:
    """Raw texts → the padded int32 sequences a trial trained on: its dataset's cleaning, vocabulary,
    ``num_words``, ``maxlen`` and padding (``pipeline``: ``Prepared.pipeline``, saved with the sweep)."""
    if pipeline["kind"] == "keras_imdb":
        # keras_imdb shuffles its splits; new texts keep their order: one text at a time.
        ranks = pipeline["ranks"]
        seqs = [keras_imdb((imdb_ranks([t], ranks), [0]), ([], []), pipeline["num_words"])[0][0][0] for t in texts]
    else:
        tok = Tokenizer(num_words=pipeline["num_words"], lower=pipeline["lower"], char_level=pipeline["char_level"],
                        oov_token=pipeline["oov_token"])
        tok.word_index = {w: i for i, w in enumerate(pipeline["words"], start=1)}
        seqs = tok.texts_to_sequences([CLEANERS[pipeline["clean"]](t) for t in texts])
    return pad(seqs, pipeline["maxlen"], pipeline["padding"], pipeline["truncating"])


def dataset_key(dataset: Dataset | dict) -> str:
    """One key per dataset section (a trial's ``dataset``): trials that share it share one prepared dataset."""
    return stable_hash(Dataset.of(dataset).as_dict())


def prepare_dataset(dataset: Dataset | dict, name: str):
    """The dataset of the trial called ``name``, or a one-line exit naming the missing/bad file (nothing has
    run yet)."""
    try:
        return prepare(dataset)
    except (data.DataNotFound, data.DataFormatError) as e:
        sys.exit(f"error: dataset of {name}: {e}")
