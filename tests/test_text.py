import numpy as np
import pytest
from helpers import FIXTURE_DATASET, FIXTURES
from sklearn.model_selection import train_test_split

from rnnsweep import data, text

SEED000_IN = ("Basically there's a family where a little boy (Jake) thinks there's a zombie in his closet & his "
              "parents are fighting all the time.<br /><br />This movie is slower than a soap opera... and "
              "suddenly, Jake decides to become Rambo and kill the zombie.")
SEED000_OUT = ("Basically there a family where little boy Jake thinks there a zombie in his closet his parents are "
               "fighting all the time This movie is slower than soap opera and suddenly Jake decides to become "
               "Rambo and kill the zombie ")


def test_seed000_cleaning_example():
    assert text.clean_seed000(SEED000_IN) == SEED000_OUT


@pytest.fixture(scope="module")
def reviews():
    df = data.read("imdb_reviews", FIXTURES / "imdb_400.csv.gz")
    return [text.clean_seed000(t) for t in df["review"]] + df["review"].tolist()[:100]


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 1000}, {"num_words": 500, "oov_token": "<OOV>"},
                                    {"lower": False, "num_words": 300}])
def test_tokenizer_parity_with_legacy_keras(reviews, kwargs):
    from tf_keras.preprocessing.text import Tokenizer as Legacy

    fit, held_out = reviews[:350], reviews[350:]
    ours, theirs = text.Tokenizer(**kwargs).fit_on_texts(fit), Legacy(**kwargs)
    theirs.fit_on_texts(fit)
    assert list(ours.word_index.items()) == list(theirs.word_index.items())
    assert ours.texts_to_sequences(held_out) == theirs.texts_to_sequences(held_out)


def test_char_level_tokenizer_parity(fixture_data):
    from tf_keras.preprocessing.text import Tokenizer as Legacy

    names = data.read("names", fixture_data / "names")["name"].tolist()
    ours, theirs = text.Tokenizer(char_level=True).fit_on_texts(names), Legacy(char_level=True)
    theirs.fit_on_texts(names)
    assert ours.word_index == theirs.word_index
    assert ours.texts_to_sequences(names) == theirs.texts_to_sequences(names)


def test_padding_options():
    seqs = [[1, 2, 3, 4, 5], [6]]
    assert text.pad(seqs, 3, padding="post").tolist() == [[3, 4, 5], [6, 0, 0]]  # seed 000: truncating 'pre'
    assert text.pad(seqs, 3, padding="pre", truncating="post").tolist() == [[1, 2, 3], [0, 0, 6]]
    assert text.pad(seqs, 3).dtype == np.int32


def test_prepare_fixture_seed000_and_cache(cache_root):
    p = text.prepare(FIXTURE_DATASET)
    assert p.x_train.shape == (320, 40) and p.x_test.shape == (80, 40)
    assert p.x_train.dtype == np.int32 and p.y_train.dtype == np.float32
    assert p.embedding.shape == (1000, 50) and p.vocab_size == 1000 and p.x_train.max() < 1000
    assert (p.x_train[:, -1] == 0).any()  # padding='post'
    # Split: train_test_split(test_size=0.2, random_state=42) over the rows, as seed 000.
    tr, te = train_test_split(np.arange(400), test_size=0.2, random_state=42)
    assert p.meta["train_rows"] == tr.tolist() and p.meta["test_rows"] == te.tolist()
    labels = data.read("imdb_reviews", FIXTURE_DATASET["path"])["label"].to_numpy()
    assert np.array_equal(p.y_test, labels[te])
    again = text.prepare(FIXTURE_DATASET)
    assert again.meta.get("cached") and again.meta["fingerprint"] == p.meta["fingerprint"]
    for k in ("x_train", "y_train", "x_test", "y_test", "embedding"):
        assert np.array_equal(getattr(again, k), getattr(p, k))
    # The full matrix (seed 000's len(word_index)+1 rows) only adds rows past num_words.
    full = text.prepare({**FIXTURE_DATASET, "embedding_rows": "full"})
    assert full.vocab_size == full.meta["words"] + 1 > 1000
    assert np.array_equal(full.embedding[:1000], p.embedding) and np.array_equal(full.x_train, p.x_train)
    assert full.meta["fingerprint"] != p.meta["fingerprint"]


def test_glove_auto_falls_back_to_50d_and_records_it(tmp_path, monkeypatch):
    cfg = text.resolve_dataset({"embedding": "glove", "glove_dim": "auto"})
    assert cfg["glove_dim"] == 50  # fixtures (like ../shared/data) have only the 50d file
    monkeypatch.setenv("RNNSWEEP_DATA", str(tmp_path))
    (tmp_path / "glove.6B.100d.txt").write_text("the " + " ".join(["0.1"] * 100) + "\n")
    (tmp_path / "glove.6B.50d.txt").write_text("the " + " ".join(["0.1"] * 50) + "\n")
    assert text.resolve_dataset({"embedding": "glove"})["glove_dim"] == 100


def test_prepare_full_seed000(full_data):
    cfg = dict(source="imdb_reviews", clean="seed000", num_words=5000, maxlen=100, padding="post",
               split="seed000", embedding="glove", glove_dim="auto")
    p = text.prepare(cfg)
    assert p.x_train.shape == (40_000, 100) and p.x_test.shape == (10_000, 100)
    assert p.embedding.shape == (5000, 50) and p.meta["config"]["glove_dim"] == 50
    assert p.meta["full_vocab_size"] > 90_000  # seed 000 printed 92,547 for its own row order
    assert text.prepare(cfg).meta.get("cached")


def test_prepare_names_char_level_and_amazon(fixture_data):
    names = text.prepare(dict(source="names", path=str(fixture_data / "names"), char_level=True, maxlen=12))
    assert names.x_train.shape == (240, 12) and names.x_test.shape == (60, 12)
    assert 20 <= names.vocab_size <= 40  # letters (lowercased), plus '-', ' ', ... and padding
    assert set(np.unique(names.y_train)) == {0.0, 1.0}
    amazon = text.prepare(dict(source="amazon_food", path=str(fixture_data / "amazon_300.csv.gz"), maxlen=50))
    n = len(amazon.x_train) + len(amazon.x_test)
    scores = data.read("amazon_food", fixture_data / "amazon_300.csv.gz")["Score"]
    assert n == (scores != 3).sum() and amazon.y_train.mean() > 0.5  # 3-star reviews dropped; mostly positive


def test_prepare_keras_imdb_official_split(full_data):
    p = text.prepare(dict(source="keras_imdb", num_words=10_000, maxlen=200, split="official"))
    assert p.x_train.shape == (25_000, 200) and p.x_test.shape == (25_000, 200)
    assert p.vocab_size == 10_000 and p.x_train.max() == 9_999


def _npz_source(tmp_path):
    """A Keras-format imdb.npz and word index built from the real mini aclImdb reviews, served
    from file:// URLs (a real download, no network)."""
    import collections
    import json

    df = data.read("aclimdb", FIXTURES / "aclImdb_mini.tar.gz")
    counts = collections.Counter(w for t in df["review"] for w in text.text_to_word_sequence(t))
    word_index = {w: i for i, (w, _) in enumerate(counts.most_common(), 1)}
    server = tmp_path / "server"
    server.mkdir()
    (server / "imdb_word_index.json").write_text(json.dumps(word_index))
    arrays = {}
    for split in ("train", "test"):
        part = df[df["split"] == split]
        xs = np.empty(len(part), dtype=object)
        xs[:] = text.imdb_ranks(part["review"], word_index)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = xs, part["label"].to_numpy()
    np.savez(server / "imdb.npz", **arrays)
    return server


def test_keras_imdb_downloads_uses_and_fingerprints_imdb_npz(tmp_path, monkeypatch):
    """Bug: without a cached imdb.npz, preparation downloaded aclImdb (84 MB) only to checksum it,
    while imdb.npz was what got used; the fingerprint and meta named the wrong file."""
    import dataclasses

    server = _npz_source(tmp_path)
    for name, f in (("imdb_npz", "imdb.npz"), ("imdb_word_index", "imdb_word_index.json")):
        src = data.SOURCES[name]
        monkeypatch.setitem(data.SOURCES, name, dataclasses.replace(
            src, url=(server / f).as_uri(), size=None, sha256=data.checksum(server / f)))
    for name in ("aclimdb", "imdb_reviews"):  # any attempt to fetch aclImdb fails loudly
        monkeypatch.setitem(data.SOURCES, name, dataclasses.replace(
            data.SOURCES[name], url=(tmp_path / "nowhere" / "aclImdb_v1.tar.gz").as_uri()))
    online, offline = tmp_path / "online", tmp_path / "offline"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("RNNSWEEP_DATA", str(online))
    monkeypatch.setenv("RNNSWEEP_OFFLINE", "0")
    cfg = dict(source="keras_imdb", num_words=60, maxlen=30, split="official")
    p = text.prepare(cfg)
    assert p.meta["sources"] == {"npz": str(online / "imdb.npz"), "word_index": str(online / "imdb_word_index.json")}
    assert sorted(f.name for f in online.iterdir()) == ["imdb.npz", "imdb_word_index.json"]  # no aclImdb

    # Offline, with only the reviews and the word index: the same arrays, rebuilt; another fingerprint.
    offline.mkdir()
    (offline / "aclImdb_labeled.tar.gz").symlink_to(FIXTURES / "aclImdb_mini.tar.gz")
    (offline / "imdb_word_index.json").symlink_to(server / "imdb_word_index.json")
    monkeypatch.setenv("RNNSWEEP_DATA", str(offline))
    monkeypatch.setenv("RNNSWEEP_OFFLINE", "1")
    r = text.prepare(cfg)
    assert r.meta["sources"]["reviews"] == str(offline / "aclImdb_labeled.tar.gz")
    assert r.meta["fingerprint"] != p.meta["fingerprint"]
    for k in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(r, k), getattr(p, k)), k
    assert p.x_train.shape == (17, 30) and p.x_train.max() == 59 and (p.x_train == 2).any()  # OOV beyond num_words


def test_keras_imdb_shuffles_like_keras():
    """Both splits shuffled by one RandomState(113), train first, exactly as keras.datasets.imdb."""
    train = ([[i] for i in range(10)], np.arange(10))
    test = ([[i] for i in range(10, 18)], np.arange(10, 18))
    (xtr, ytr), (xte, yte) = text.keras_imdb(train, test, num_words=100)
    rng = np.random.RandomState(113)
    a, b = np.arange(10), np.arange(8)
    rng.shuffle(a)
    rng.shuffle(b)
    assert ytr.tolist() == a.tolist() and yte.tolist() == (b + 10).tolist()
    assert xtr[0] == [1, int(a[0]) + 3] and xte[0] == [1, int(b[0]) + 13]


def test_names_as_seed002(full_data):
    """7,944 names (male.txt = 1), shuffled with a recorded seed, then train_test_split(0.2, 42):
    6,355 / 1,589; 29 characters + padding; padded 'pre' to the longest training name (15)."""
    import random

    from sklearn.model_selection import train_test_split

    cfg = dict(source="names", char_level=True, maxlen=None, shuffle_seed=1)
    p = text.prepare(cfg)
    assert (len(p.x_train), len(p.x_test), p.vocab_size, p.x_train.shape[1]) == (6355, 1589, 30, 15)
    df = data.read("names")
    assert (df["label"] == 1).sum() == 2943 and len(df) == 7944  # male.txt
    order = list(range(len(df)))
    random.Random(1).shuffle(order)
    tr, te = train_test_split(order, test_size=0.2, random_state=42)
    assert p.meta["train_rows"] == list(tr) and np.array_equal(p.y_test, df["label"].to_numpy()[te])
    assert (p.x_train[:, 0] == 0).any() and (p.x_train[:, -1] != 0).all()  # 'pre' padding
    assert text.prepare({**cfg, "shuffle_seed": 2}).meta["train_rows"] != p.meta["train_rows"]


def test_amazon_as_seed003(fixture_data):
    """3-star reviews dropped, repeats dropped, oldest 80 % for training, newest 20 % for testing."""
    path = str(fixture_data / "amazon_300.csv.gz")
    p = text.prepare(dict(source="amazon_food", path=path, dedupe=True, split="time", maxlen=100))
    df = data.read("amazon_food", path)
    df = df[df["Score"] != 3]
    kept = df.drop_duplicates(subset=["UserId", "ProfileName", "Time", "Text"])
    assert len(p.x_train) + len(p.x_test) == len(kept) < len(df)  # the fixture has repeated reviews
    times = kept["Time"].astype(int).to_numpy()
    assert times[p.meta["train_rows"]].max() <= times[p.meta["test_rows"]].min()
    assert len(p.x_test) == int(np.ceil(0.2 * len(kept)))
    with pytest.raises(data.DataFormatError, match="split='time' needs review times; names has none"):
        text.prepare(dict(source="names", path=str(fixture_data / "names"), split="time"))


def _downloads_fail(monkeypatch, tmp_path):
    """Downloads really fail, as behind a dead proxy: every request goes to a closed local port."""
    monkeypatch.setenv("RNNSWEEP_OFFLINE", "0")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)


def test_a_failed_download_is_one_line_naming_file_url_and_variable(tmp_path, monkeypatch):
    _downloads_fail(monkeypatch, tmp_path)
    monkeypatch.setenv("RNNSWEEP_DATA", str(tmp_path / "empty"))
    with pytest.raises(data.DataNotFound) as e:
        data.locate("imdb_word_index")
    msg = str(e.value)
    assert "\n" not in msg and "imdb_word_index.json could not be downloaded from https://" in msg
    assert "RNNSWEEP_DATA" in msg and str(tmp_path / "empty") in msg
    assert not list((tmp_path / "empty").glob("*.part"))  # no half file left behind


def test_keras_imdb_falls_back_to_the_rebuild_when_imdb_npz_cannot_be_downloaded(tmp_path, monkeypatch, capsys):
    _downloads_fail(monkeypatch, tmp_path)
    here = tmp_path / "data"
    here.mkdir()
    (here / "aclImdb_labeled.tar.gz").symlink_to(FIXTURES / "aclImdb_mini.tar.gz")
    (here / "imdb_word_index.json").symlink_to(FIXTURES / "imdb_word_index.json")
    monkeypatch.setenv("RNNSWEEP_DATA", str(here))
    p = text.prepare(dict(source="keras_imdb", num_words=60, maxlen=30, split="official"))
    assert p.meta["sources"]["reviews"] == str(here / "aclImdb_labeled.tar.gz") and len(p.x_train) > 0
    said = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("keras_imdb:")]
    assert len(said) == 1 and "imdb.npz could not be downloaded" in said[0] and "rebuilding" in said[0]


def test_the_official_split_reads_the_aclimdb_layout_when_a_kaggle_csv_is_beside_it(tmp_path, monkeypatch):
    """Both IMDB files in the data folder (as ../shared/data has them): the Kaggle CSV has no official
    split, so split='official' reads the aclImdb tarball; split='seed000' keeps reading the CSV."""
    here = tmp_path / "data"
    here.mkdir()
    (here / "IMDB Dataset.csv.gz").symlink_to(FIXTURES / "imdb_400.csv.gz")
    (here / "aclImdb_labeled.tar.gz").symlink_to(FIXTURES / "aclImdb_mini.tar.gz")
    monkeypatch.setenv("RNNSWEEP_DATA", str(here))
    official = text.prepare(dict(source="imdb_reviews", num_words=60, maxlen=30, split="official", shuffle_seed=1))
    assert official.meta["sources"]["reviews"] == str(here / "aclImdb_labeled.tar.gz")
    df = data.read("aclimdb", FIXTURES / "aclImdb_mini.tar.gz")
    assert (len(official.x_train), len(official.x_test)) == tuple((df["split"] == s).sum() for s in ("train", "test"))
    kaggle = text.prepare(dict(source="imdb_reviews", num_words=60, maxlen=30))
    assert kaggle.meta["sources"]["reviews"] == str(here / "IMDB Dataset.csv.gz") and len(kaggle.x_train) == 320
