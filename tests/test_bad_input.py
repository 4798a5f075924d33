"""Bad input, as a new user would give it: every case stops before any trial starts, with one line
(no traceback) naming the file, field or option, and writes nothing to the results."""
import gzip
import io
import os
import tarfile

import pytest
from helpers import FIXTURES
from tiny_sweep import SWEEP

from rnnsweep.driver import main



def _csv(tmp_path, name, content: bytes):
    p = tmp_path / name
    p.write_bytes(content)
    return p


def _no_layout_tar(tmp_path):
    p = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(p, "w:gz") as t:
        data = b"just a file"
        info = tarfile.TarInfo("reviews/foo.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return p


def _data(spec_path):
    return {**SWEEP, "dataset": {**SWEEP["dataset"], "path": str(spec_path)}}


def _model(**kw):
    return {**SWEEP, "model": {**SWEEP["model"], **kw}}


def _training(**kw):
    return {**SWEEP, "training": {**SWEEP["training"], **kw}}


NEUTRAL = b"review,sentiment\ngood,positive\nmeh,neutral\n"
CASES = {
    "csv missing a column": (lambda d: _data(_csv(d, "r.csv", b"text,label\nhello,positive\n")), [],
                             "r.csv: missing column(s) ['review', 'sentiment']"),
    "labels not positive/negative": (lambda d: _data(_csv(d, "r.csv", NEUTRAL)), [],
                                     "r.csv: row 3: sentiment 'neutral' is not 'positive' or 'negative'"),
    "empty file": (lambda d: _data(_csv(d, "r.csv", b"")), [], "r.csv: not a readable CSV"),
    "non-UTF-8 bytes": (lambda d: _data(_csv(d, "r.csv", b"review,sentiment\n\xff\xfe caf\xe9,positive\n")), [],
                        "r.csv: not a readable CSV"),
    "truncated gzip": (lambda d: _data(_csv(d, "r.csv.gz", (FIXTURES / "imdb_400.csv.gz").read_bytes()[:5000])), [],
                       "r.csv.gz: not a readable CSV"),
    "tarball without the aclImdb layout": (lambda d: _data(_no_layout_tar(d)), [],
                                           "aclImdb_v1.tar.gz: no aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt"),
    "unknown sweep key": (lambda d: _model(unit=4), [], "model.unit: unknown key (did you mean 'units'?)"),
    "wrong type": (lambda d: _model(units="4"), [], "model.units: '4' is not a positive integer"),
    "units 0": (lambda d: _model(units=0), [], "model.units: 0 is not a positive integer"),
    "dropout 1.5": (lambda d: _model(dropout=1.5), [], "model.dropout: 1.5 is not a fraction in [0, 1)"),
    "maxlen 0": (lambda d: {**SWEEP, "dataset": {**SWEEP["dataset"], "maxlen": 0}}, [],
                 "dataset.maxlen: 0 is not a positive integer or None"),
    "batch 0": (lambda d: _training(batch_size=0), [], "training.batch_size: 0 is not a positive integer"),
    "validation_split 1": (lambda d: _training(validation_split=1), [],
                           "training.validation_split: 1 is not a fraction in [0, 1)"),
    "unknown architecture": (lambda d: _model(arch="Transformer"), [], "model.arch: 'Transformer' is not one of"),
    "unknown optimizer": (lambda d: _model(optimizer="adamw"), [], "model.optimizer: 'adamw' is not one of"),
    "SWEEP not a dict": (lambda d: [SWEEP], [], "a sweep is a dict, got list"),
    "results under /proc": (lambda d: SWEEP, ["--results", "/proc/rnnsweep"], "/proc/rnnsweep: cannot write results"),
    "unknown results scheme": (lambda d: SWEEP, ["--results", "foo://bucket/x"],
                               "foo://bucket/x: not a results location"),
    "--only matching nothing": (lambda d: SWEEP, ["--only", "GRU-999"],
                                "--only 'GRU-999' matches none of the 2 trials"),
    "--study that does not exist": (lambda d: SWEEP, ["--study", "grid"], "--study 'grid': no such study"),
    "--seeds not integers": (lambda d: SWEEP, ["--seeds", "1-x"], "--seeds '1-x': expected integers like 1-10"),
    "--seeds backwards": (lambda d: SWEEP, ["--seeds", "3-1"], "--seeds '3-1': the range 3-1 is empty (write it "
                                                                "low-high: 1-3)"),
    "--set unknown key": (lambda d: SWEEP, ["--set", "model.semantic=tf_keras2"],
                          "override model.semantic: unknown key (did you mean 'semantics'?)"),
    "--set bad value": (lambda d: SWEEP, ["--set", "model.semantics=tf2"],
                        "override model.semantics: 'tf2' is not one of 'keras3', 'tf_keras2'"),
    "--set no section": (lambda d: SWEEP, ["--set", "units=4"], "--set 'units=4': expected SECTION.KEY=VALUE"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_stops_in_one_line_and_writes_nothing(case, tmp_path, capsys):
    make, argv, msg = CASES[case]
    spec = make(tmp_path)
    out = tmp_path / "results"
    argv = argv if "--results" in argv else ["--results", str(out)] + argv
    with pytest.raises(SystemExit) as e:
        main(spec, argv + ["--address", "local"])
    text = str(e.value)
    assert text.startswith("error: ") and msg in text and "\n" not in text, text
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists() or not any(out.rglob("*")), list(out.rglob("*"))


def test_glove_rows_of_the_wrong_width(tmp_path, monkeypatch):
    d = tmp_path / "data"
    d.mkdir()
    os.symlink(FIXTURES / "imdb_400.csv.gz", d / "IMDB Dataset.csv.gz")
    with gzip.open(d / "glove.6B.50d.txt.gz", "wt") as fh:
        fh.write("the " + " ".join(["0.1"] * 50) + "\nmovie 0.1 0.2\n")
    monkeypatch.setenv("RNNSWEEP_DATA", str(d))
    spec = {**SWEEP, "dataset": {**SWEEP["dataset"], "path": None}}
    with pytest.raises(SystemExit) as e:
        main(spec, ["--results", str(tmp_path / "results"), "--address", "local"])
    assert str(e.value).endswith("glove.6B.50d.txt.gz: line 2 ('movie') has 2 values, expected 50")
    assert not (tmp_path / "results").exists()


def test_results_of_an_older_rnnsweep_load_and_resume_and_a_corrupt_file_is_named(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rnnsweep import results
    from rnnsweep.sweep import expand

    out = tmp_path / "results"
    trials = out / "tiny" / "trials"
    trials.mkdir(parents=True)
    done = expand(SWEEP)[0]
    # A row as an older rnnsweep wrote it: a few columns, none of the newer ones.
    pq.write_table(pa.table({"trial_id": [done.trial_id], "name": [done.name], "status": ["ok"],
                             "test_accuracy": [0.5]}), trials / f"{done.trial_id}.parquet")
    t, _ = results.load(str(out / "tiny"))
    assert t["trial_id"].tolist() == [done.trial_id] and t["dropout"].isna().all()  # newer columns: empty
    s = main(SWEEP, ["--results", str(out), "--dry-run", "--address", "local"])
    assert [x.name for x in s.todo] == [t.name for t in expand(SWEEP)[1:]]  # resumes: only the other
    (trials / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SystemExit) as e:
        main(SWEEP, ["--results", str(out), "--address", "local"])
    assert str(e.value).startswith(f"error: {trials / 'broken.parquet'}: not a readable Parquet file")
    assert "\n" not in str(e.value)
