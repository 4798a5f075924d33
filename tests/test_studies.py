"""Every sweep file of the five seed studies, end to end through the driver at --smoke budget on
real fixture data (real Ray, real Keras, real Parquet), its report drawing each study's figure;
and the seeds' exact settings in the expanded configs."""
import os

import pandas as pd
import pytest
from helpers import FIXTURES, ROOT, data_env, non_blank_png, sweep_of

from rnnsweep import report, results
from rnnsweep.driver import main
from rnnsweep.sweep import SweepError, expand, grid, select_studies

AMAZON, BEST, GRID, STACKED, NAMES = (sweep_of(f"sweeps/{n}.py") for n in (
    "amazon_food", "imdb_best", "imdb_grid", "imdb_stacked", "names_gender"))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data dir as a user would fill it, of real fixture files under the names the loaders look for."""
    d = tmp_path_factory.mktemp("data")
    for name, target in [("aclImdb_labeled.tar.gz", "aclImdb_mini.tar.gz"), ("imdb_word_index.json", None),
                         ("names", None), ("amazon_fine_food_sample.csv.gz", "amazon_300.csv.gz"),
                         ("IMDB Dataset.csv.gz", "imdb_400.csv.gz"), ("glove.6B.50d.txt.gz", None)]:
        os.symlink(FIXTURES / (target or name), d / name)
    return d


def _smoke(spec, argv, data_dir, tmp_path):
    out = str(tmp_path / "results")
    with data_env(data_dir):
        s = main(spec, ["--smoke", "--results", out, "--address", "local"] + argv)
    assert s.counts["failed"] == 0, [r.get("error") for r in s.results if r["status"] == "failed"]
    r = report.report(os.path.join(out, spec["name"]))
    for name in r["files"]:
        if name.endswith(".png"):
            non_blank_png(os.path.join(r["out"], name))
    return s, r, results.load(out, spec["name"])[0]


def test_seed001_studies_smoke(data_dir, tmp_path):
    s, r, trials = _smoke(GRID, ["--study", "sequence_length,hidden_size,architecture", "--seeds", "1"],
                          data_dir, tmp_path)
    assert len(s.results) == 6 + 3 + 2 and s.datasets_put == 6  # one dataset per maxlen
    assert {"accuracy_vs_maxlen.png", "accuracy_vs_units.png", "study_architecture.png"} <= set(r["files"])
    assert (trials["fit_seconds"] > 0).all() and set(trials["arch"]) == {"SimpleRNN", "LSTM", "GRU"}


def test_seed002_names_smoke(data_dir, tmp_path):
    s, r, trials = _smoke(NAMES, ["--seeds", "1"], data_dir, tmp_path)
    assert len(s.results) == 5 + 10
    assert {"models_test_accuracy.png", "accuracy_vs_units.png", "accuracy_vs_embedding_dim.png"} <= set(r["files"])
    assert set(trials["arch"]) == {"bag", "SimpleRNN", "LSTM"}


def test_seed003_amazon_smoke(data_dir, tmp_path):
    s, r, trials = _smoke(AMAZON, ["--seeds", "1"], data_dir, tmp_path)
    assert len(s.results) == 3 and "models_test_accuracy.png" in r["files"]
    assert sorted(trials["layers"]) == [1, 2, 3]


def test_seed004_stacked_smoke(data_dir, tmp_path):
    s, r, trials = _smoke(STACKED, [], data_dir, tmp_path)
    assert sorted(t["name"] for t in s.results) == ["BiLSTM-32-bs512", "GRU-32-bs512", "LSTM-32-bs512"]
    assert {"study_stacked.png", "models_test_accuracy.png"} <= set(r["files"])


def test_beyond_the_seeds_search_smoke(data_dir, tmp_path):
    """sweeps/imdb_best.py: its TPE search drawn through the driver (3 trials), datasets prepared as
    draws need them, chosen on validation (no test split), and its report's search figure."""
    s, r, trials = _smoke(BEST, ["--study", "search", "--search-trials", "3"], data_dir, tmp_path)
    assert sorted(trials["search_number"]) == [0, 1, 2] and set(trials["study"]) == {"search"}
    assert trials["test_accuracy"].isna().all() and trials["best_val_accuracy"].notna().all()
    assert set(trials["split"]) == {"official"} and (trials["bidirectional"]).all()
    assert "search_search.png" in r["files"]
    # Seed 000's figures need seed 000's shape (widths × batch sizes alone): not drawn for a search.
    assert not [f for f in r["files"] if f.startswith("width_") or f == "overfitting_widest_gru.png"], r["files"]


def test_seed_settings_exactly():
    """What --dry-run shows: the seeds' own settings."""
    stacked = expand(STACKED)
    assert len(stacked) == 3
    for t in stacked:
        d, m, tr = t.dataset, t.model, t.training
        assert (d.source, d.num_words, d.maxlen, d.padding, d.truncating) == (
            "keras_imdb", 10_000, 500, "pre", "pre")
        assert (m.units, m.layers, m.dropout, m.recurrent_dropout, m.output_dropout,
                m.embedding_dim, m.optimizer, m.learning_rate) == (32, 2, 0.5, 0.2, 0.5, 100, "rmsprop", 1e-3)
        assert (tr.batch_size, tr.epochs, tr.validation_split) == (512, 5, 0.2)
    names = expand(NAMES)
    models = pd.DataFrame([{**t.model.as_dict(), "study": t.study} for t in names if t.study != "random_search"])
    assert len(models) == 15 and (models["optimizer"] == "adam").all()
    assert all(t.training.epochs == 20 and t.training.batch_size == 128 for t in names
               if t.study != "random_search")
    search = select_studies(names, "random_search")
    assert len(search) == 20 and all(t.training.epochs == 1 for t in search)
    assert {(t.model.embedding_dim, t.model.units) for t in search} <= {
        (d, u) for d in (32, 64, 96, 128) for u in (16, 32, 48, 64)}
    amazon = expand(AMAZON)
    assert {(t.training.batch_size, t.training.epochs, t.training.validation_split) for t in amazon} \
        == {(1000, 10, 0.3)}
    assert {t.dataset.split for t in amazon} == {"time"} and all(t.dataset.dedupe for t in amazon)


def test_imdb_best_winners_from_the_committed_search():
    """On the committed search (stopped at 32 trials): both winner studies take the settings of its
    best trial by val_accuracy, and winner_val_accuracy restores the epoch the search scored."""
    from rnnsweep.search import resolve_best

    committed = str(ROOT / "reproduction" / "results")
    spec, waiting = resolve_best(BEST, committed, search_trials=32)
    assert not waiting  # issue 26's widened search, too, has drawn all 32 of its trials
    rows = results.load(committed + "/imdb_best")[0]
    searched = rows[rows["study"] == "search"]
    best = searched.loc[searched["best_val_accuracy"].idxmax()]
    for name, monitor in (("winner", "val_loss"), ("winner_val_accuracy", "val_accuracy")):
        body = spec["studies"][name]
        assert body["training"]["early_stopping_monitor"] == monitor
        assert body["training"].get("evaluate_test", True) is True  # the winners touch the test split
        for section, key in (("model", "arch"), ("model", "units"), ("model", "learning_rate"),
                             ("dataset", "maxlen"), ("training", "batch_size")):
            assert body[section][key] == best[key], (name, key)
    # The winners' committed rows are what a rerun finds done: a setting added after the search ran (its
    # column empty in the search's rows) reads as its default, so the ids are the ones that ran.
    listed = expand(spec)
    done = results.done(committed, "imdb_best")
    for name in ("winner", "winner_val_accuracy", "wide_winner", "winner_ensemble"):
        mine = [t for t in listed if name in t.studies]
        assert len(mine) == 3 and all(done.get(t.trial_id) == "ok" for t in mine), name
    # refit=True: the winner's settings on all 25k training reviews for the epoch the search scored.
    refit = {**BEST, "studies": {"search": BEST["studies"]["search"],
                                            "final": dict(best_of="search", refit=True,
                                                          training=dict(seed=grid(1, 2, 3)))}}
    final = resolve_best(refit, committed, search_trials=32)[0]["studies"]["final"]["training"]
    assert (final["validation_split"], final["early_stopping"], final["epochs"]) == (0.0, None, best["best_val_epoch"])
    assert final["seed"] == grid(1, 2, 3) and final["batch_size"] == best["batch_size"]
    with pytest.raises(SweepError, match=r"studies\.final\.refit: True or False, in a study with best_of= \(got 'yes' "
                                         r"without best_of\)"):
        expand({**BEST, "studies": {"final": dict(refit="yes")}})
    # The widened search's winner: its best trial's settings (wide016), refit on all 25k for its scored epochs.
    wide = rows[(rows["study"] == "wide") & (rows["status"] == "ok")]
    top = wide.loc[wide["best_val_accuracy"].idxmax()]
    body = spec["studies"]["wide_winner"]
    assert top["name"].startswith("wide016-") and body["training"]["epochs"] == top["best_val_epoch"]
    assert (body["training"]["validation_split"], body["dataset"]["num_words"], body["model"]["embedding_lr_scale"],
            body["model"]["layers"]) == (0.0, top["num_words"], top["embedding_lr_scale"], top["layers"])
    # Uncapped, the 40-trial search has not ended: its winners wait and say why; wide's does not.
    _, waiting = resolve_best(BEST, committed)
    assert waiting == {n: "waits for study 'search': 32 of its 40 trials ended"
                       for n in ("winner", "winner_val_accuracy", "winner_ensemble")}
