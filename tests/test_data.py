import gzip
import tarfile
import zipfile

import numpy as np
import pytest

from rnnsweep import data, text

KERAS_X_TRAIN_0 = [1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65, 458, 4468, 66, 3941, 4, 173, 36, 256, 5, 25, 100,
                   43, 838, 112, 50, 670, 2, 9, 35, 480, 284, 5, 150, 4, 172, 112, 167, 2, 336, 385, 39, 4, 172,
                   4536, 1111, 17, 546, 38, 13, 447, 4, 192, 50, 16, 6, 147, 2025, 19, 14, 22, 4, 1920, 4613, 469,
                   4, 22, 71, 87, 12, 16, 43, 530]


def test_imdb_csv(fixture_data):
    df = data.read("imdb_reviews", fixture_data / "imdb_400.csv.gz")
    assert len(df) == 400 and df["label"].sum() == 200
    assert df["split"].isna().all()
    assert df["review"].str.contains("<br />").any()  # raw text, untouched


def test_aclimdb_tarball_and_folder_agree(fixture_data, tmp_path):
    tar = data.read("imdb_reviews", fixture_data / "aclImdb_mini.tar.gz")
    assert tar["split"].value_counts().to_dict() == {"train": 17, "test": 16}
    assert set(tar["rating"][tar["label"] == 1]) <= {7, 8, 9, 10}
    assert set(tar["rating"][tar["label"] == 0]) <= {1, 2, 3, 4}
    with tarfile.open(fixture_data / "aclImdb_mini.tar.gz") as t:
        t.extractall(tmp_path, filter="data")
    folder = data.read("imdb_reviews", tmp_path / "aclImdb")
    assert folder.equals(tar)


def test_malformed_csv_names_file_and_field(tmp_path):
    bad = tmp_path / "reviews.csv"
    bad.write_text("text,label\nhello,positive\n")
    with pytest.raises(data.DataFormatError, match=r"reviews.csv: missing column\(s\) \['review', 'sentiment'\]"):
        data.read("imdb_reviews", bad)
    bad.write_text("review,sentiment\ngood,positive\nmeh,neutral\n")
    with pytest.raises(data.DataFormatError, match=r"reviews.csv: row 3: sentiment 'neutral'"):
        data.read("imdb_reviews", bad)
    garbage = tmp_path / "x.csv.gz"
    garbage.write_bytes(b"not gzip at all")
    with pytest.raises(data.DataFormatError, match="x.csv.gz: not a readable CSV"):
        data.read("imdb_reviews", garbage)


def test_missing_data_is_one_line_naming_files_and_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNSWEEP_DATA", str(tmp_path))
    with pytest.raises(data.DataNotFound) as e:
        data.read("imdb_reviews")
    msg = str(e.value)
    assert "\n" not in msg and "IMDB Dataset.csv" in msg and "aclImdb_v1.tar.gz" in msg and "RNNSWEEP_DATA" in msg
    with pytest.raises(data.DataNotFound, match="does not exist"):
        data.read("imdb_reviews", tmp_path / "nope.csv")


def test_download_is_atomic_and_checked(tmp_path, fixture_data):
    src = fixture_data / "imdb_400.csv.gz"
    url = src.as_uri()  # urllib reads file:// URLs: a real download path with no network
    dest = tmp_path / "d" / "imdb.csv.gz"
    with pytest.raises(data.DataFormatError, match="expected 5 bytes"):
        data.fetch(url, dest, size=5)
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # no half file left behind
    data.fetch(url, dest, size=src.stat().st_size)
    assert dest.read_bytes() == src.read_bytes()


def test_glove_formats_and_matrix(fixture_data, tmp_path):
    vec = data.read("glove50", vocab={"the", "movie", "zzzznotaword"})
    assert set(vec) == {"the", "movie"} and vec["the"][:2].tolist() == pytest.approx([0.418, 0.24968])
    # Same vectors from glove.6B.zip and from a plain .txt.
    with gzip.open(fixture_data / "glove.6B.50d.txt.gz", "rb") as fh:
        raw = fh.read()
    with zipfile.ZipFile(tmp_path / "glove.6B.zip", "w") as z:
        z.writestr("glove.6B.50d.txt", raw)
    assert np.array_equal(data.read("glove50", tmp_path / "glove.6B.zip", vocab={"the"})["the"], vec["the"])
    m, coverage = text.embedding_matrix({"the": 1, "zzzznotaword": 2, "movie": 3, "rare": 9}, vec, 50, rows=4)
    assert m.shape == (4, 50) and m.dtype == np.float32
    assert not m[0].any() and not m[2].any()       # padding row and a word GloVe lacks: zeros
    assert np.array_equal(m[1], vec["the"]) and coverage == pytest.approx(2 / 3)
    with pytest.raises(data.DataNotFound, match="no glove.6B.100d.txt"):
        data.locate("glove100", tmp_path / "glove.6B.zip")


def test_names_and_amazon(fixture_data):
    n = data.read("names", fixture_data / "names")
    assert set(n["label"]) == {0, 1} and n["name"].str.len().min() > 1
    a = data.read("amazon_food", fixture_data / "amazon_300.csv.gz")
    assert len(a) == 300 and a["Score"].between(1, 5).all()


def test_full_imdb_both_formats(full_data):
    csv = data.read("imdb_reviews", full_data / "imdb_50k.csv.gz")
    acl = data.read("imdb_reviews", full_data / "aclImdb_labeled.tar.gz")
    assert len(csv) == len(acl) == 50_000 and csv["label"].sum() == 25_000
    assert acl["split"].value_counts().to_dict() == {"train": 25_000, "test": 25_000}
    assert csv["review"].tolist() == acl["review"].tolist()  # same reviews, same order


def test_keras_imdb_rebuild_matches_published_x_train_0(full_data):
    word_index = data.read("imdb_word_index")
    df = data.read("aclimdb")
    train, test = [(text.imdb_ranks(df["review"][df["split"] == s], word_index), df["label"][df["split"] == s])
                   for s in ("train", "test")]
    (xtr, ytr), (xte, yte) = text.keras_imdb(train, test, num_words=10_000)
    assert len(xtr) == len(xte) == 25_000 and ytr.sum() == yte.sum() == 12_500
    match = [x for x in xtr if x[:len(KERAS_X_TRAIN_0)] == KERAS_X_TRAIN_0]
    assert len(match) == 1
    assert max(max(x) for x in xtr) == 9_999 and all(x[0] == 1 for x in xtr[:100])
