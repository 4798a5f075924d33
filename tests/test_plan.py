"""One decision of what runs where (``plan.Planner``): an explicit backend wins over ``$KERAS_BACKEND``, ``auto``
is resolved for a search's draws and a pruned grid's trials as for listed ones, ``--fuse`` on TensorFlow
says it fuses nothing, and a row that ran on another backend than its id promises is refused."""
import os
from dataclasses import replace

import pandas as pd
import pytest
from search_sweep import SWEEP as SEARCH
from tiny_sweep import SWEEP as TINY

from rnnsweep import results
from rnnsweep.config import Trial
from rnnsweep.driver import main
from rnnsweep.fused import groups
from rnnsweep.plan import Planner, check_row

LOCAL = ["--address", "local", "--cpus-per-trial", "1"]


def test_an_exported_keras_backend_never_runs_a_tensorflow_trial_elsewhere(tmp_path, monkeypatch, capsys):
    from rnnsweep.quiet import keras

    keras()  # this process's Keras stays on TensorFlow (the driver prepares the data with it)
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # the driver's environment; its Ray workers inherit it
    s = main(TINY, ["--results", str(tmp_path), "--only", "GRU-*"] + LOCAL)
    assert s.counts["ok"] == 1 and s.results[0]["keras_backend"] == "tensorflow"
    assert "KERAS_BACKEND=jax is exported, but training.backend is tensorflow" in capsys.readouterr().out


def test_auto_is_resolved_for_a_searchs_draws_and_a_pruned_grids_trials(tmp_path, monkeypatch):
    monkeypatch.setenv("SEARCH_TRIALS", "1")
    spec = {**SEARCH, "studies": {k: v for k, v in SEARCH["studies"].items() if k in ("search", "pruned_grid")}}
    s = main(spec, ["--results", str(tmp_path), "--set", "training.backend=auto", "--search-trials", "1"] + LOCAL)
    assert len(s.results) == 3
    t = results.load(os.path.join(tmp_path, "tiny_search"))[0]
    assert set(t["study"]) == {"search", "pruned_grid"}
    # Few units: the rule on CPU takes JAX (no timings yet), and every row says so and ran there.
    assert (t["keras_backend"] == "jax").all() and t["backend_choice"].str.startswith("rule on CPU").all()


def test_fuse_on_tensorflow_says_in_one_line_that_fusing_needs_jax(tmp_path, capsys):
    main(TINY, ["--results", str(tmp_path), "--seeds", "1-3", "--fuse", "3", "--dry-run"] + LOCAL)
    assert "--fuse 3: fusing needs JAX; 6 trials run on TensorFlow, one by one" in capsys.readouterr().out


def test_the_planner_groups_only_jax_repeats_and_keeps_each_tasks_backend():
    base = {"model": {"arch": "GRU", "units": 4}, "config_id": "c"}
    jax = [Trial.of({**base, "name": f"j{s}", "trial_id": f"j{s}", "training": {"backend": "jax", "seed": s}})
           for s in (1, 2)]
    auto = Trial.of({**base, "name": "a", "trial_id": "a", "config_id": "a", "training": {"backend": "auto"}})
    tasks = Planner(1, 0.0, fuse=2, trials=pd.DataFrame()).tasks(jax + [auto])
    assert [(t.name, t.backend, t.fused) for t in tasks] == [("j1 ×2 fused", "jax", True), ("a", "jax", False)]
    assert tasks[1].members[0].backend_choice["why"].startswith("rule on CPU")
    assert all(t.runtime_env["env_vars"]["KERAS_BACKEND"] == t.backend for t in tasks)


@pytest.mark.parametrize("setting, choice, ran, refused", [
    ("tensorflow", None, "jax", True), ("tensorflow", None, "tensorflow", False), ("jax", None, "jax", False),
    ("auto", "jax", "tensorflow", True), ("auto", "jax", "jax", False)])
def test_a_row_whose_backend_is_not_what_its_setting_promised_is_refused(setting, choice, ran, refused):
    trial = Trial.of({"training": {"backend": setting}, **({"backend_choice": {"backend": choice}} if choice else {})})
    row = check_row(trial, {"status": "ok", "keras_backend": ran})
    assert (row["status"] == "failed") == refused
    if refused:
        assert f"ran on {ran} but its training.backend promises" in row["error"]


def _seed_repeat(seed, **model):
    """A JAX seed repeat of one LSTM (fused.groups reads only ids, backend, prune and settings)."""
    return Trial.of({"trial_id": f"t{seed}", "config_id": "c", "name": f"LSTM-8-seed{seed}", "dataset": {"maxlen": 40},
                     "model": {"arch": "LSTM", "units": 8, "learning_rate": 3e-3, **model},
                     "training": dict(batch_size=32, epochs=2, seed=seed, backend="jax")})

def test_groups_gather_seed_repeats_of_jax_trials_only():
    jax_trials = [_seed_repeat(s) for s in (1, 2, 3)]
    tf_trial = _seed_repeat(4).changed(training={"backend": "tensorflow"})
    pruned = replace(_seed_repeat(5), prune={"metric": "val_accuracy"})
    got = groups(jax_trials + [tf_trial, pruned], fuse=2)
    assert [len(g) if isinstance(g, list) else g.name for g in got] == [2, "LSTM-8-seed3", "LSTM-8-seed4",
                                                                          "LSTM-8-seed5"]
    assert groups(jax_trials, fuse=1) == jax_trials
    # Learning rates differ: fused only where the user lets them (--fuse-also learning_rate); a shape never.
    rates = [replace(_seed_repeat(s, learning_rate=r), config_id=f"c{r}") for s, r in ((1, 1e-3), (2, 3e-3), (3, 1e-2))]
    wider = replace(_seed_repeat(4, units=16), config_id="c16")
    assert groups(rates + [wider], fuse=4) == rates + [wider]
    assert [len(g) if isinstance(g, list) else g.name for g in groups(rates + [wider], 4, also=("learning_rate",))
            ] == [3, "LSTM-8-seed4"]
    # Unset, on GPUs k leaves a task for every slot, in groups of even size (at most FUSE_MAX = 8); on
    # CPUs, where fusing measured no faster, nothing is fused.
    six = [_seed_repeat(s) for s in range(1, 7)]
    assert [len(g) for g in groups(six, None, slots=1, gpus=1)] == [6]
    assert [len(g) for g in groups(six, None, slots=2, gpus=0.5)] == [3, 3]
    assert groups(six, None, slots=8, gpus=0.125) == six  # more slots than trials: one trial each
    assert [len(g) for g in groups([_seed_repeat(s) for s in range(1, 21)], None, slots=2, gpus=1)] == [7, 7, 6]
    assert groups(six, None, slots=1) == six and [len(g) for g in groups(six, 6, slots=1)] == [6]
