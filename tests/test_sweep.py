import subprocess
import sys

import pytest
from helpers import ROOT, sweep_of

from rnnsweep.sweep import SweepError, choice, expand, grid, loguniform, select, select_studies, uniform, validate

SWEEP = sweep_of("sweeps/imdb_grid.py")


def test_imdb_grid_is_seed000s_18_models():
    trials = select_studies(expand(SWEEP), "grid")
    assert len(trials) == 18 and len({t.trial_id for t in trials}) == 18
    names = {t.name for t in trials}
    assert {"GRU-32-bs64", "LSTM-128-bs128", "GRU-128-bs32"} <= names and len(names) == 18
    t = next(t for t in trials if t.name == "GRU-32-bs64")
    assert t.dataset.num_words == 5000 and t.dataset.maxlen == 100 and t.dataset.padding == "post"
    assert t.dataset.truncating == "pre" and t.training.validation_split == 0.2
    assert t.model.activation == "relu" and t.model.learning_rate == 1e-4
    assert t.training.epochs == 100 and t.model.units == 32 and t.training.batch_size == 64


def test_ids_are_content_hashes_independent_of_key_order():
    a = expand(SWEEP)
    assert len(a) == 51 and len({t.name for t in a}) == 51
    reordered = {k: dict(reversed(list(v.items()))) if isinstance(v, dict) else v for k, v in reversed(SWEEP.items())}
    assert {t.name: t.trial_id for t in expand(reordered)} == {t.name: t.trial_id for t in a}
    # Writing a default explicitly changes nothing; changing a value changes the id.
    studies = SWEEP["studies"]
    explicit = {**SWEEP, "studies": {**studies, "grid": {**studies["grid"],
                                                           "training": {**studies["grid"]["training"], "seed": 42}}}}
    assert {t.trial_id for t in expand(explicit)} == {t.trial_id for t in a}
    longer = expand(SWEEP, {"training": {"epochs": 2}})
    assert not {t.trial_id for t in longer} & {t.trial_id for t in a}
    assert [t.name for t in longer] == [t.name for t in a]


def test_repeats_share_config_id_and_names_stay_unique():
    spec = {"name": "rep", "model": {"arch": grid("LSTM", "GRU")}, "training": {"seed": grid(1, 2, 3)},
            "dataset": {"maxlen": grid(50, 100)}}
    trials = expand(spec)
    assert len(trials) == 12 and len({t.name for t in trials}) == 12
    assert len({t.config_id for t in trials}) == 4
    assert "LSTM-32-bs32-maxlen50-seed2" in {t.name for t in trials}


def test_typo_is_rejected_before_anything_runs_with_a_suggestion():
    bad = {**SWEEP, "model": {"unit": 32}}
    with pytest.raises(SweepError, match=r"model\.unit: unknown key \(did you mean 'units'\?\)"):
        expand(bad)
    with pytest.raises(SweepError, match=r"dataset\.padding: 'middle' is not one of"):
        validate({"name": "x", "dataset": {"padding": "middle"}})
    with pytest.raises(SweepError, match=r"training\.batch_size: 0 is not a positive integer"):
        validate({"name": "x", "training": {"batch_size": grid(32, 0)}})
    with pytest.raises(SweepError, match=r"trainig: unknown key \(did you mean 'training'\?\)"):
        validate({"name": "x", "trainig": {}})


def test_typo_in_a_sweep_script_fails_in_one_line(tmp_path):
    script = (ROOT / "sweeps" / "imdb_grid.py").read_text().replace("units=grid(", "unit=grid(")
    (tmp_path / "typo.py").write_text(script)
    p = subprocess.run([sys.executable, str(tmp_path / "typo.py"), "--results", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines()[-1] == (
        "error: sweep 'imdb_grid': studies.grid: model.unit: unknown key (did you mean 'units'?)")
    assert not (tmp_path / "r").exists()


def test_select_by_glob_and_id():
    trials = select_studies(expand(SWEEP), "grid")
    assert [t.name for t in select(trials, "GRU-32-*")] == ["GRU-32-bs32", "GRU-32-bs64", "GRU-32-bs128"]
    tid = trials[5].trial_id
    assert select(trials, f"{tid[:8]},LSTM-64-bs32")[0].trial_id == tid
    assert len(select(trials, f"{tid[:8]},LSTM-64-bs32")) == 2


def test_seed001_studies_exactly():
    """Seed 001's settings, in all three studies of imdb_grid; shared points run once."""
    trials = expand(SWEEP)
    seq, hidden, arch = (select_studies(trials, s) for s in ("sequence_length", "hidden_size", "architecture"))
    assert len(seq) == 6 * 3 and len(hidden) == 4 * 3 and len(arch) == 3 * 3
    assert len(select_studies(trials, "sequence_length,hidden_size,architecture")) == 18 + 9 + 6
    for t in seq + hidden + arch:
        d, m, tr = t.dataset, t.model, t.training
        assert (d.source, d.num_words, d.split, d.padding, d.truncating) == (
            "keras_imdb", 2000, "official", "post", "post")
        assert (m.embedding_dim, m.embedding_trainable, m.kernel_initializer, m.init_stddev) == (
            50, None, "random_normal", 0.001)
        assert (m.optimizer, m.learning_rate, m.layers, m.dense_units) == ("rmsprop", 1e-4, 1, None)
        assert (tr.epochs, tr.batch_size, tr.validation_split) == (10, 64, 0.2) and tr.seed in (1, 2, 3)
    assert {(t.dataset.maxlen, t.model.units, t.model.arch) for t in seq} == {
        (n, 5, "SimpleRNN") for n in (30, 50, 80, 100, 150, 200)}
    assert {(t.dataset.maxlen, t.model.units) for t in hidden} == {(200, u) for u in (2, 5, 10, 20)}
    assert {(t.dataset.maxlen, t.model.units, t.model.arch) for t in arch} == {
        (30, 5, a) for a in ("SimpleRNN", "LSTM", "GRU")}
    shared = {t.study for t in trials if "," in (t.study or "")}
    assert shared == {"sequence_length,hidden_size", "sequence_length,architecture"}
    assert len({t.config_id for t in seq + hidden + arch}) == 11  # three seeds per configuration
    with pytest.raises(SweepError, match=r"--study 'hiden_size': no such study \(did you mean 'hidden_size'\?\)"):
        select_studies(trials, "hiden_size")
    with pytest.raises(SweepError, match=r"studies\.hidden_size\.modle: unknown key \(did you mean 'model'\?\)"):
        validate({**SWEEP, "studies": {"hidden_size": {"modle": {}}}})
    with pytest.raises(SweepError, match=r"studies\.hidden_size: model\.units: 0 is not a positive integer"):
        validate({**SWEEP, "studies": {"hidden_size": {"model": {"units": grid(0, 5)}}}})


def test_sampling_is_reproducible_distinct_and_grows_by_appending():
    space = dict(name="search", model=dict(arch="LSTM", embedding_dim=choice(32, 64, 96, 128),
                                           units=choice(16, 32, 48, 64), learning_rate=loguniform(1e-4, 1e-2),
                                           dropout=uniform(0.0, 0.5)),
                 training=dict(seed=grid(1, 2)), samples=10, sample_seed=7)
    ten = expand(space)
    assert len(ten) == 20 and len({t.config_id for t in ten}) == 10  # 2 executions (seeds) per point
    assert [t.trial_id for t in expand(space)] == [t.trial_id for t in ten]  # same spec, same trials
    points = {(t.model.embedding_dim, t.model.units) for t in ten}
    assert all(1e-4 <= t.model.learning_rate < 1e-2 and 0 <= t.model.dropout < 0.5 for t in ten)
    twelve = expand({**space, "samples": 12})
    assert [t.trial_id for t in twelve[:20]] == [t.trial_id for t in ten]  # growing N keeps the old ones
    assert len(expand({**space, "sample_seed": 8})) == 20 and expand({**space, "sample_seed": 8})[0] != ten[0]
    # A finite space is drawn without repeats, up to its size.
    small = dict(name="s", model=dict(units=choice(16, 32), embedding_dim=choice(32, 64)), samples=10)
    assert sorted((t.model.units, t.model.embedding_dim) for t in expand(small)) == [
        (16, 32), (16, 64), (32, 32), (32, 64)]
    assert len(points) > 1
    for bad, msg in [({**space, "samples": 0}, r"samples: 0 is not a positive integer"),
                     ({k: v for k, v in space.items() if k != "samples"}, r"embedding_dim: a sampled value needs"),
                     ({**space, "model": {"units": choice(16, 0)}}, r"model\.units: 0 is not a positive integer"),
                     ({**space, "model": {"units": uniform(1, 4)}}, r"uniform\(1, 4\) draws numbers; use choice"),
                     ({**space, "model": {"learning_rate": loguniform(0, 1)}}, r"needs 0 < low < high")]:
        with pytest.raises(SweepError, match=msg):
            expand(bad)


def test_names_are_unique_across_studies():
    """Bug: two studies gridding units, one with embedding_dim=50, both named GRU-10-bs32."""
    spec = {"name": "two", "model": {"arch": "GRU"},
            "studies": {"wide": {"model": {"units": grid(10, 20)}},
                        "small_emb": {"model": {"units": grid(10, 20), "embedding_dim": 50}}}}
    trials = expand(spec)
    names = [t.name for t in trials]
    assert len(trials) == 4 and len(set(names)) == 4
    assert {"GRU-10-bs32-wide", "GRU-10-bs32-small_emb"} <= set(names)
    assert len(select(trials, "GRU-10-bs32-small_emb")) == 1  # --trial can pick either
    # Within one study, the settings that tell them apart.
    same = expand({"name": "one", "studies": {"m": {"model": {"arch": "GRU"}}, "n": {"model": {"dropout": 0.2}}},
                   "model": {"units": 4}})
    assert sorted(t.name for t in same) == ["GRU-4-bs32", "LSTM-4-bs32"]  # already apart: nothing appended
    # Apart only by a setting no study varies: the study's name is appended.
    apart = expand({"name": "one", "studies": {"m": {"model": {"dropout": 0.1}}, "n": {"model": {"dropout": 0.2}}}})
    assert sorted(t.name for t in apart) == ["LSTM-32-bs32-m", "LSTM-32-bs32-n"]


def test_a_new_setting_with_a_neutral_default_keeps_every_id(monkeypatch):
    """Bug: ids hashed every default, so adding a setting (say unroll=False) changed every id and
    a rerun of a finished sweep ran it all again."""
    from rnnsweep import settings

    before = {t.name: (t.trial_id, t.config_id) for t in select_studies(expand(SWEEP), "grid")}
    from rnnsweep import config

    monkeypatch.setitem(settings.MODEL, "unroll", settings.Setting(False, bool, "unroll the recurrence"))
    monkeypatch.setitem(config.TYPES, "model", config._section("model"))  # the typed section, declared again
    after = select_studies(expand(SWEEP), "grid")
    assert all(t.model.unroll is False for t in after) and len(after) == 18
    assert {t.name: (t.trial_id, t.config_id) for t in after} == before
    changed = expand({**SWEEP, "model": {"unroll": True}})
    assert not {t.trial_id for t in changed} & {v[0] for v in before.values()}


def test_every_setting_declares_a_valid_default_and_a_column_type():
    from rnnsweep import settings

    for section, key, s in settings.columns():
        assert s.problem(s.default) is None, f"{section}.{key}"
        assert s.column_type in ("bool", "int64", "float64", "string") and s.doc, f"{section}.{key}"
    assert settings.MODEL["dense_units"].column_type == "string"      # int or "same"
    assert settings.DATASET["maxlen"].column_type == "int64"
    assert settings.MODEL["dropout"].problem(1.5) == "1.5 is not a fraction in [0, 1)"
    assert settings.TRAINING["early_stopping"].kind() == "positive integer or None"


def test_reading_results_and_checking_a_sweep_do_not_import_tensorflow():
    code = ("import sys, rnnsweep.results, rnnsweep.report, rnnsweep.sweep; "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, "
            "[m for m in sys.modules if m.startswith(('keras', 'tensorflow'))][:3]")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr


def test_a_study_shares_the_sections_it_does_not_vary_and_every_value_stays():
    spec = {"name": "s", "model": {"arch": "GRU", "units": 4}, "training": {"seed": grid(1, 2, 3)}}
    trials = expand(spec, {"model": {"units": 8}, "training": {"epochs": 2}})
    assert trials[0].model is trials[2].model and trials[0].dataset is trials[1].dataset
    assert trials[0].training is not trials[1].training  # the seed varies
    assert [t.training.seed for t in trials] == [1, 2, 3] and {t.training.epochs for t in trials} == {2}
    assert trials[0].model.units == 8  # an override reaches a shared section too
    # The ids are those of each trial's own copy of its settings.
    from rnnsweep.config import ids

    assert all(ids(t.sections()) == (t.trial_id, t.config_id)
               for t in trials)


def test_a_trial_is_one_typed_value_with_every_default_filled_in_and_checked_once():
    """config.Trial: built once from its plain form, read by fields downstream; frozen (a section its study's
    trials share cannot change under them); its plain form reads back equal; pickled by reference, as Ray
    sends it to a worker (a class made by make_dataclass said module "types" before 3.12, and a worker then
    unpickled another class)."""
    import dataclasses
    import pickle

    from rnnsweep.config import Model, Trial, trial_id

    t = Trial.of({"model": {"arch": "GRU", "units": 8}, "training": {"seed": 3}})
    assert (t.model.units, t.model.dropout, t.training.epochs, t.dataset.maxlen) == (8, 0.0, 10, 100)
    assert t.trial_id == trial_id({"model": {"arch": "GRU", "units": 8}, "training": {"seed": 3}})
    assert Trial.of(t.as_dict()) == t and pickle.loads(pickle.dumps(t)).model.__class__ is Model
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.model.units = 16
    with pytest.raises(SweepError, match=r"^model\.units: 0 is not a positive integer$"):
        Trial.of({"model": {"units": 0}})
    with pytest.raises(SweepError, match=r"^model\.unitz: unknown key \(did you mean 'units'\?\)$"):
        Trial.of({"model": {"unitz": 8}})
    wider = t.changed(model={"units": 16})
    assert wider.model.units == 16 and wider.trial_id != t.trial_id and t.model.units == 8


def test_an_auc_metric_a_study_does_not_report_is_a_one_line_error():
    """training.auc=False: a search ranked on val_auc, or early stopping watching it, would never see it."""
    searched = {"name": "s", "model": {"units": choice(4, 8)}, "training": {"auc": False},
                "search": {"trials": 2, "metric": "val_auc"}}
    with pytest.raises(SweepError, match=r"^sweep 's': search.metric: 'val_auc' is not reported with training"):
        from rnnsweep.sweep import searches

        searches(searched)
    with pytest.raises(SweepError, match=r"training.early_stopping_monitor: 'val_auc' is not reported"):
        expand({"name": "s", "training": {"early_stopping": 2, "early_stopping_monitor": "val_auc"}},
               {"training": {"auc": False}})
    assert expand({"name": "s", "training": {"auc": False}})[0].training.auc is False
