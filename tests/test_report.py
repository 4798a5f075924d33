"""The report: real smoke sweep → tables, figures, HTML; statistics of repeats; bad input."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import FIXTURE_DATASET, FIXTURES, data_env, non_blank_png, sweep_of
from scipy import stats

from rnnsweep import figures, report, results, tables, text
from rnnsweep.driver import main
from rnnsweep.trial import run_trial

SWEEP = sweep_of("sweeps/imdb_grid.py")

FIGURES = ["val_accuracy_all.png", "width_32_val_curves.png", "width_64_val_curves.png", "width_128_val_curves.png",
           "overfitting_widest_gru.png", "best_batch_size_per_width.png", "heatmap_test_accuracy.png",
           "accuracy_vs_minutes.png", "accuracy_vs_params.png", "accuracy_vs_units.png", "time_per_arch.png"]


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """`python sweeps/imdb_grid.py --smoke` (all 18 trials, real Ray) on a data dir of real fixture
    reviews and GloVe 50d."""
    root = tmp_path_factory.mktemp("smoke")
    data = root / "data"
    data.mkdir()
    os.symlink(FIXTURES / "imdb_400.csv.gz", data / "IMDB Dataset.csv.gz")
    os.symlink(FIXTURES / "glove.6B.50d.txt.gz", data / "glove.6B.50d.txt.gz")
    with data_env(data, root / "cache"):
        s = main(SWEEP, ["--smoke", "--study", "grid", "--results", str(root / "results"), "--address", "local"])
    assert len(s.results) == 18
    return root / "results"



def test_report_of_a_real_smoke_sweep(smoke_results):
    p = subprocess.run([sys.executable, "-m", "rnnsweep.report", str(smoke_results)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = smoke_results / "imdb_grid" / "report"
    assert "imdb_grid: wrote 14 files" in p.stdout and "one value of maxlen" in p.stdout
    for name in FIGURES:
        non_blank_png(out / name)
    s = pd.read_csv(out / "summary.csv")
    assert len(s) == 18 and s["config"].is_unique and set(s["status"]) == {"ok"}
    for col in ("rank", "config", "arch", "units", "batch_size", "n", "test_accuracy", "test_auc", "test_loss",
                "best_val_accuracy", "best_val_epoch", "epochs_run", "minutes", "trainable_params"):
        assert col in s, col
    assert s["test_accuracy"].is_monotonic_decreasing and s["rank"].iloc[0] == 1
    assert (s["epochs_run"] == 2).all() and "test_accuracy_std" not in s  # no repeats in this sweep
    md = (out / "summary.md").read_text()
    assert md.count("\n| ") == 18 + 1 and "## Diverged and failed trials" in md
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(FIGURES) and "GRU-32-bs64" in page


def test_report_of_a_partial_sweep_skips_with_notes(smoke_results, tmp_path):
    trials, _ = results.read_tables(str(smoke_results), "imdb_grid")
    part = tmp_path / "imdb_grid" / "trials"
    part.mkdir(parents=True)
    pq.write_table(trials.slice(0, 3), part / "part.parquet")  # a sweep still running: no epochs yet
    r = report.report(str(tmp_path / "imdb_grid"), out=str(tmp_path / "out"))
    assert "val_accuracy_all.png" not in r["files"] and any("no epoch rows yet" in n for n in r["notes"])
    assert len(pd.read_csv(tmp_path / "out" / "summary.csv")) == 3
    for name in r["files"]:
        if name.endswith(".png"):
            non_blank_png(tmp_path / "out" / name)


def test_repeats_mean_std_ci_match_scipy(tmp_path):
    prepared = text.prepare(FIXTURE_DATASET)
    configs = [dict(arch="GRU", units=4), dict(arch="LSTM", units=4)]
    for model in configs:
        for seed in (1, 2, 3):
            cfg = {"sweep": "rep", "trial_id": f"{model['arch']}{seed}", "config_id": model["arch"],
                   "name": f"{model['arch']}-4-bs64-seed{seed}", "model": model,
                   "training": dict(batch_size=64, epochs=1, seed=seed, limit_train=96)}
            results.write_trial(str(tmp_path), "rep", run_trial(cfg, prepared))
    r = report.report(str(tmp_path / "rep"))
    s = r["summary"].set_index("config")
    trials, _ = results.load(str(tmp_path), "rep")
    assert set(s.index) == {"GRU-4-bs64", "LSTM-4-bs64"} and (s["n"] == 3).all()
    for arch, name in (("GRU", "GRU-4-bs64"), ("LSTM", "LSTM-4-bs64")):
        for m in ("test_accuracy", "test_auc", "test_loss"):
            v = trials[trials["arch"] == arch][m]
            assert v.nunique() > 1  # the seeds really differ
            half = stats.t.ppf(0.975, 2) * v.std(ddof=1) / np.sqrt(3)
            assert s.loc[name, m] == pytest.approx(v.mean())
            assert s.loc[name, f"{m}_std"] == pytest.approx(v.std(ddof=1))
            lo, hi = stats.t.interval(0.95, 2, loc=v.mean(), scale=stats.sem(v))
            assert (s.loc[name, f"{m}_ci_low"], s.loc[name, f"{m}_ci_high"]) == pytest.approx((lo, hi))
            assert hi - lo == pytest.approx(2 * half)
    assert list(s.sort_values("rank").index) == list(s.sort_values("test_accuracy", ascending=False).index)
    md = (tmp_path / "rep" / "report" / "summary.md").read_text()
    assert "±" in md and "95 % CI" in md


def test_bad_input_is_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "rnnsweep.report", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode != 0 and p.stderr.strip() == f"error: {tmp_path}: no <sweep>/trials table here"
    d = tmp_path / "s" / "trials"
    d.mkdir(parents=True)
    pq.write_table(pa.table({"trial_id": ["a"], "name": ["x"]}), d / "a.parquet")
    p = subprocess.run([sys.executable, "-m", "rnnsweep.report", str(tmp_path / "s")], capture_output=True, text=True)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines() == [
        f"error: {d / 'a.parquet'}: missing column(s) config_id, status, arch, units, batch_size, test_accuracy"]


def test_pareto_front():
    x = np.array([1.0, 2.0, 3.0, 1.5, 4.0])
    y = np.array([0.5, 0.7, 0.6, 0.4, 0.9])
    assert figures.pareto_front(x, y).tolist() == [0, 1, 4]


def test_study_views_use_each_studys_own_trials(tmp_path):
    """A sweep with a sequence-length and a hidden-size study, 2 seeds each: each study curve has
    only its own points, with CI error bars (real trials, written and read as Parquet)."""
    from rnnsweep.sweep import expand, grid

    spec = dict(name="studies", dataset={**FIXTURE_DATASET, "maxlen": 30},
                model=dict(arch=grid("GRU", "LSTM"), units=2),
                training=dict(batch_size=64, epochs=1, limit_train=96, seed=grid(1, 2)),
                studies=dict(seq=dict(dataset=dict(maxlen=grid(10, 30))), hidden=dict(model=dict(units=grid(2, 6)))))
    trials = expand(spec)
    assert len(trials) == 12
    prepared = {}
    for t in trials:
        key = t.dataset.maxlen
        prepared[key] = prepared.get(key) or text.prepare(t.dataset)
        results.write_trial(str(tmp_path), "studies", run_trial(t, prepared[key]))
    r = report.report(str(tmp_path / "studies"))
    for name in ("accuracy_vs_maxlen.png", "accuracy_vs_units.png"):
        assert name in r["files"]
        non_blank_png(tmp_path / "studies" / "report" / name)
    ok = tables.prepare_trials(results.load(str(tmp_path), "studies")[0])
    seq = tables.study_trials(ok, "maxlen")
    assert len(seq) == 8 and set(seq["units"]) == {2}          # no hidden-size points on the maxlen curve
    hidden = tables.study_trials(ok, "units")
    assert len(hidden) == 8 and set(hidden["maxlen"]) == {30}
    s = r["summary"]
    assert len(s) == 6 and (s["n"] == 2).all() and s["test_accuracy_ci_low"].notna().all()
    assert set(s["study"]) == {"seq", "hidden", "seq,hidden"}
