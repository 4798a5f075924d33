"""Searching a study (Optuna's samplers and pruners through the driver): the spec is checked like
every other key, draws are reproducible from the seed, a resumed search draws what an
uninterrupted one would, and a pruned trial lands ``pruned`` with its history and frees its slot."""
import importlib
import math
import sys
from pathlib import Path

import pytest

from rnnsweep import schema, search
from rnnsweep.results import load
from rnnsweep.sweep import SweepError, choice, expand, grid, loguniform, searches


BASE = dict(name="s", dataset=dict(source="names", char_level=True, maxlen=None),
            model=dict(arch="GRU", units=choice(4, 8, 16), learning_rate=loguniform(1e-4, 1e-1)),
            training=dict(epochs=6))


def spec(**search_kw):
    return {**BASE, "search": {**dict(trials=8, startup_trials=3, seed=5), **search_kw}}


@pytest.mark.parametrize("bad, message", [
    (dict(samplr="tpe"), "search.samplr: unknown key (did you mean 'sampler'?)"),
    (dict(sampler="grid"), "search.sampler: 'grid' is not one of 'tpe', 'random'"),
    (dict(pruner=dict(kind="asha", min_epoch=2)), "search.pruner.min_epoch: unknown key (did you mean 'min_epochs'?)"),
    (dict(pruner=dict(kind="sha")), "search.pruner.kind: 'sha' is not one of 'asha', 'hyperband', 'median'"),
    (dict(metric="val_loss"), "search.direction: 'maximize' with metric 'val_loss' (want minimize)"),
    (dict(trials=0), "search.trials: 0 is not a positive integer"),
    (dict(pruner=dict(kind="asha", reduction=1)), "search.pruner.reduction: 1 is not an integer ≥ 2"),
])
def test_a_typo_in_a_search_is_one_line_naming_the_key(bad, message):
    with pytest.raises(SweepError) as e:
        expand(spec(**bad))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_sampler_needs_a_trial_count_and_a_grid_only_prunes():
    with pytest.raises(SweepError, match=r"search.trials: the sampler draws model.units, model.learning_rate"):
        expand({**BASE, "search": dict(sampler="tpe")})
    gridded = {**BASE, "model": dict(arch="GRU", units=grid(4, 8))}
    with pytest.raises(SweepError, match=r"search.trials: this study has no values for a sampler to draw"):
        expand({**gridded, "search": dict(trials=4)})
    trials = expand({**gridded, "search": dict(pruner=dict(kind="median"))})
    assert [t.prune["pruner"]["kind"] for t in trials] == ["median", "median"]  # listed, and pruned
    assert searches({**gridded, "search": dict(pruner=dict(kind="median"))}) == []


def test_a_searched_study_draws_and_lists_nothing():
    assert expand(spec()) == []
    (plan,) = searches(spec())
    assert plan["search"]["sampler"] == "tpe" and plan["search"]["trials"] == 8
    assert plan["fixed"]["training"]["evaluate_test"] is False  # choose on validation only
    assert [(s, k) for s, k, _ in plan["sampled"]] == [("model", "units"), ("model", "learning_rate")]
    # Its trials restore the epoch it ranks them by, unless the study says otherwise.
    assert plan["fixed"]["training"]["early_stopping_monitor"] == "val_accuracy"
    assert searches(spec(metric="val_auc"))[0]["fixed"]["training"]["early_stopping_monitor"] == "val_auc"
    own = {**spec(), "training": {**spec().get("training", {}), "early_stopping_monitor": "val_loss"}}
    assert searches(own)[0]["fixed"]["training"]["early_stopping_monitor"] == "val_loss"


@pytest.mark.parametrize("body, message", [
    (dict(best_of="serch"),
     "studies.winner.best_of: 'serch' is not another study of this sweep (did you mean 'search'?)"),
    (dict(best_of="winner"), "studies.winner.best_of: 'winner' is not another study"),
    (dict(best_of="search", samples=3), "studies.winner.best_of: a study that reruns the best trial lists its points; "
                                        "drop samples="),
    (dict(best_of="search", model=dict(units=choice(4, 8))), "studies.winner.best_of: model.units is sampled"),
])
def test_a_bad_best_of_is_one_line_naming_the_study(body, message):
    bad = {**BASE, "studies": dict(search=dict(search=dict(trials=4)), winner=body)}
    with pytest.raises(SweepError) as e:
        expand(bad)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_config_read_back_from_its_row_is_the_config_it_was_written_from():
    """Mixed-type settings (glove_dim 50 or "auto") and dicts are stored as strings: config_of
    restores the values, so a winner's trial is the searched trial's settings, not their text."""
    import pyarrow as pa

    from rnnsweep import settings

    (t,) = expand({**BASE, "dataset": dict(source="imdb_reviews", embedding="glove", glove_dim=50, maxlen=None),
                   "model": dict(arch="GRU", units=8, dense_units="same")})
    row = {k: schema._cell(getattr(getattr(t, sec), k), pa.string() if s.column_type == "string" else pa.float64())
           for sec, k, s in settings.columns()}
    assert row["glove_dim"] == "50"
    assert search.config_of(row) == t.sections()


def test_the_winner_waits_for_its_search_and_says_so(tmp_path, capsys):
    """Before the search it reruns has ended, a best_of study is left out with the reason; asked for
    by name, it is a one-line error."""
    mod = importlib.reload(importlib.import_module("search_sweep"))
    with pytest.raises(SystemExit) as e:
        mod.main(mod.SWEEP, ["--results", str(tmp_path), "--study", "winner", "--dry-run"])
    assert str(e.value) == ("error: study 'winner': waits for study 'search': 0 of its 4 trials ended; "
                            "run it again when that study is done")
    mod.main(mod.SWEEP, ["--results", str(tmp_path), "--dry-run"])
    out = capsys.readouterr().out
    assert "study 'winner': left out for now: waits for study 'search': 0 of its 4 trials ended" in out


def _value(t):
    """A made-up objective of the drawn values: TPE then has something to model."""
    return 1.0 - abs(math.log10(t.model.learning_rate) + 2.0) / 3 + t.model.units / 100


def _run(searcher, study, n, told=()):
    """Ask ``n`` trials one after another, each told its made-up value after ``epochs`` reports."""
    out = []
    for _ in range(n):
        t = searcher.ask(study)
        history = [{"epoch": e, "val_accuracy": _value(t) * e / 6} for e in range(1, 7)]
        for h in history:
            searcher.report(t, h["epoch"], h["val_accuracy"])
        searcher.tell(t, "ok", history)
        out.append((t, history))
    return out


def test_tpe_draws_are_reproducible_from_the_seed_and_a_replayed_search_draws_the_same_next_trials():
    (plan,) = searches(spec())
    a = _run(search.Searcher([plan], {}, {}), None, 8)
    b = _run(search.Searcher([plan], {}, {}), None, 8)
    assert [t.trial_id for t, _ in a] == [t.trial_id for t, _ in b]
    (other,) = searches(spec(seed=6))
    assert [t.trial_id for t, _ in a] != [t.trial_id for t, _ in _run(search.Searcher([other], {}, {}), None, 8)]
    # A driver that stopped after 5 trials: a fresh Searcher replays them as the results hold them
    # (parameters from the config columns, per-epoch values, status) and draws trials 6-8 as before.
    fresh = search.Searcher([plan], {}, {})
    fresh.replay(None, [{"trial_id": t.trial_id, "status": "ok", "history": h, "number": t.search_number,
                         "params": search.params_of(plan, {k: v for s in t.sections().values() for k, v in s.items()})}
                        for t, h in a[:5]])
    assert [t.trial_id for t, _ in _run(fresh, None, 3)] == [t.trial_id for t, _ in a[5:]]
    # TPE did model the space after its 3 random draws: the later draws are not the random sampler's.
    rand = search.Searcher([{**plan, "search": {**plan["search"], "sampler": "random"}}], {}, {})
    assert [t.trial_id for t, _ in a[3:]] != [t.trial_id for t, _ in _run(rand, None, 8)[3:]]


def test_the_pruner_stops_a_trial_below_the_rung():
    (plan,) = searches(spec(pruner=dict(kind="asha", min_epochs=1, reduction=2)))
    s = search.Searcher([plan], {}, {})
    good = s.ask(None)
    for e in range(1, 7):
        assert s.report(good, e, 0.9) is False
    s.tell(good, "ok", [{"epoch": e, "val_accuracy": 0.9} for e in range(1, 7)])
    bad = s.ask(None)
    assert s.report(bad, 1, 0.1) is True  # worse than the rung's best at epoch 1
    s.tell(bad, "pruned", [{"epoch": 1, "val_accuracy": 0.1}])
    assert [t.state.name for t in s.studies[None].trials] == ["COMPLETE", "PRUNED"]  # Optuna's own record


@pytest.fixture
def one_slot():
    """A local Ray with one CPU: trials run one after another, so every draw knows all before it."""
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _search(tmp_path, monkeypatch, trials, folder):
    monkeypatch.setenv("SEARCH_TRIALS", str(trials))
    monkeypatch.setenv("SEARCH_EPOCHS", "4")
    mod = importlib.reload(importlib.import_module("search_sweep"))
    mod.main(mod.SWEEP, ["--results", str(tmp_path / folder), "--study", "search"])
    t, e = load(str(tmp_path / folder / "tiny_search"))
    return t.sort_values("search_number").reset_index(drop=True), e


def test_a_search_prunes_lands_its_trials_and_resumes_drawing_the_same_trials(tmp_path, monkeypatch, one_slot):
    whole, epochs = _search(tmp_path, monkeypatch, 5, "whole")
    assert list(whole["search_number"]) == [0, 1, 2, 3, 4]
    assert set(whole["status"]) <= {"ok", "pruned"} and "pruned" in set(whole["status"])
    pruned = whole[whole["status"] == "pruned"]
    for _, r in pruned.iterrows():  # stopped at the end of an epoch, its history whole, no test split
        got = sorted(epochs[epochs["trial_id"] == r["trial_id"]]["epoch"])
        assert got == list(range(1, r["epochs_run"] + 1)) and r["epochs_run"] < 4
        assert math.isnan(r["test_accuracy"])
        later = whole[whole["search_number"] == r["search_number"] + 1]
        if len(later):  # its slot went to the next draw at once
            assert later["started_at"].iloc[0] >= r["finished_at"]
    assert whole[whole["status"] == "ok"]["test_accuracy"].isna().all()  # chosen on validation only
    # Stopped after 3 trials, then run again with the same spec: 2 more, the very ones drawn above.
    part, _ = _search(tmp_path, monkeypatch, 3, "cut")
    assert list(part["trial_id"]) == list(whole["trial_id"][:3])
    resumed, _ = _search(tmp_path, monkeypatch, 5, "cut")
    assert list(resumed["trial_id"]) == list(whole["trial_id"])
    assert list(resumed["status"]) == list(whole["status"])
    # The report: the search's figure, and its best trial in the summary; pruned trials are not failures.
    from rnnsweep.report import report

    r = report(str(tmp_path / "whole" / "tiny_search"), out=str(tmp_path / "report"))
    assert "search_search.png" in r["files"]
    md = (tmp_path / "report" / "summary.md").read_text()
    ok = whole[whole["status"] == "ok"]
    best = ok.loc[ok["best_val_accuracy"].idxmax(), "name"]
    assert "5 trials drawn" in md and f"`{best}`" in md
    assert "pruned" not in md.split("## Diverged and failed trials")[1]
    # The winner's repeats: the best finished trial's settings, seeds 1-2, evaluated on the test split.
    mod = importlib.import_module("search_sweep")
    mod.main(mod.SWEEP, ["--results", str(tmp_path / "whole"), "--study", "winner"])
    t, _ = load(str(tmp_path / "whole" / "tiny_search"))
    won = t[t["study"] == "winner"].sort_values("seed")
    top = ok.loc[ok["best_val_accuracy"].idxmax()]
    assert list(won["seed"]) == [1, 2] and (won["status"] == "ok").all()
    assert (won["units"] == top["units"]).all() and (won["learning_rate"] == top["learning_rate"]).all()
    assert won["test_accuracy"].notna().all() and won["evaluate_test"].all()
    assert set(won["trial_id"]).isdisjoint(whole["trial_id"])


@pytest.mark.slow
def test_a_driver_killed_mid_trial_resumes_the_search_where_it_stood(tmp_path):
    """SIGKILL the driver while a drawn trial trains (its backup holds a finished epoch): the same
    command replays the finished trials, resumes that one from its backup under its own number, and
    draws the rest; a run after that has nothing to do."""
    import os
    import subprocess
    import time

    from helpers import descendants, kill_driver_mid_sweep

    from rnnsweep import results

    out = str(tmp_path / "res")
    cmd = [sys.executable, str(Path(__file__).parent / "search_sweep.py"), "--results", out, "--study", "search",
           "--address", "local", "--cpus-per-trial", str(os.cpu_count())]  # one trial at a time
    env = {**os.environ, "SEARCH_TRIALS": "3", "SEARCH_EPOCHS": "8", "SEARCH_PRUNER": "none"}
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, mid = time.time() + 300, None
    while time.time() < deadline and p.poll() is None and mid is None:
        t = results.read_table(out, "tiny_search", "trials").to_pandas() if os.path.isdir(out) else None
        if t is not None and len(t):
            running = t[(t["status"] == "running") & (t["search_number"] == 1) & (t["epochs_run"] >= 2)]
            mid = running.iloc[0] if len(running) else None
        time.sleep(0.2)
    assert mid is not None and descendants(p.pid), p.stdout.read() if p.poll() is not None else "no trial 1"
    kill_driver_mid_sweep(p)

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    t, e = load(out, "tiny_search")
    assert sorted(t["search_number"]) == [0, 1, 2] and (t["status"] == "ok").all()
    resumed = t[t["search_number"] == 1].iloc[0]
    assert resumed["trial_id"] == mid["trial_id"] and resumed["resumed_from_epoch"] >= 1  # from its backup
    assert sorted(e[e["trial_id"] == mid["trial_id"]]["epoch"]) == list(range(1, 9))  # every epoch once
    last = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=200)
    assert "nothing to do" in last.stdout, last.stdout[-2000:]
