import subprocess
import sys

import pytest
from conftest import ROOT

from rnnsweep.sweep import SweepError, expand, grid, select, validate

sys.path.insert(0, str(ROOT / "sweeps"))
from imdb_grid import SWEEP  # noqa: E402


def test_imdb_grid_is_seed000s_18_models():
    trials = expand(SWEEP)
    assert len(trials) == 18 and len({t["trial_id"] for t in trials}) == 18
    names = {t["name"] for t in trials}
    assert {"GRU-32-bs64", "LSTM-128-bs128", "GRU-128-bs32"} <= names and len(names) == 18
    t = next(t for t in trials if t["name"] == "GRU-32-bs64")
    assert t["dataset"]["num_words"] == 5000 and t["dataset"]["maxlen"] == 100 and t["dataset"]["padding"] == "post"
    assert t["dataset"]["truncating"] == "pre" and t["training"]["validation_split"] == 0.2
    assert t["model"]["activation"] == "relu" and t["model"]["learning_rate"] == 1e-4
    assert t["training"]["epochs"] == 100 and t["model"]["units"] == 32 and t["training"]["batch_size"] == 64


def test_ids_are_content_hashes_independent_of_key_order():
    a = expand(SWEEP)
    reordered = {k: dict(reversed(list(v.items()))) if isinstance(v, dict) else v for k, v in reversed(SWEEP.items())}
    assert {t["name"]: t["trial_id"] for t in expand(reordered)} == {t["name"]: t["trial_id"] for t in a}
    # Writing a default explicitly changes nothing; changing a value changes the id.
    explicit = {**SWEEP, "training": {**SWEEP["training"], "seed": 42}}
    assert {t["trial_id"] for t in expand(explicit)} == {t["trial_id"] for t in a}
    longer = expand(SWEEP, {"training": {"epochs": 2}})
    assert not {t["trial_id"] for t in longer} & {t["trial_id"] for t in a}
    assert [t["name"] for t in longer] == [t["name"] for t in a]


def test_repeats_share_config_id_and_names_stay_unique():
    spec = {"name": "rep", "model": {"arch": grid("LSTM", "GRU")}, "training": {"seed": grid(1, 2, 3)},
            "dataset": {"maxlen": grid(50, 100)}}
    trials = expand(spec)
    assert len(trials) == 12 and len({t["name"] for t in trials}) == 12
    assert len({t["config_id"] for t in trials}) == 4
    assert "LSTM-32-bs32-maxlen50-seed2" in {t["name"] for t in trials}


def test_typo_is_rejected_before_anything_runs_with_a_suggestion():
    bad = {**SWEEP, "model": {**SWEEP["model"], "unit": 32}}
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
        "error: sweep 'imdb_grid': model.unit: unknown key (did you mean 'units'?)")
    assert not (tmp_path / "r").exists()


def test_select_by_glob_and_id():
    trials = expand(SWEEP)
    assert [t["name"] for t in select(trials, "GRU-32-*")] == ["GRU-32-bs32", "GRU-32-bs64", "GRU-32-bs128"]
    tid = trials[5]["trial_id"]
    assert select(trials, f"{tid[:8]},LSTM-64-bs32")[0]["trial_id"] == tid
    assert len(select(trials, f"{tid[:8]},LSTM-64-bs32")) == 2


def test_studies_are_a_union_sharing_the_base_point():
    from rnn_studies import SWEEP as STUDIES

    trials = expand(STUDIES)
    assert len(trials) == 3 * 3 * (5 + 5) - 3 * 3  # the base point (maxlen 100, units 5) runs once
    assert len({t["trial_id"] for t in trials}) == len({t["name"] for t in trials}) == 81
    shared = [t for t in trials if t["study"] == "sequence_length,hidden_size"]
    assert len(shared) == 9 and {(t["dataset"]["maxlen"], t["model"]["units"]) for t in shared} == {(100, 5)}
    seq = [t for t in trials if "sequence_length" in t["study"]]
    assert {t["dataset"]["maxlen"] for t in seq} == {25, 50, 100, 200, 400}
    assert {t["model"]["units"] for t in seq} == {5}
    assert len({t["config_id"] for t in trials}) == 27  # three seeds per configuration
    with pytest.raises(SweepError, match=r"studies\.hidden_size\.modle: unknown key \(did you mean 'model'\?\)"):
        validate({**STUDIES, "studies": {"hidden_size": {"modle": {}}}})
    with pytest.raises(SweepError, match=r"studies\.hidden_size: model\.units: 0 is not a positive integer"):
        validate({**STUDIES, "studies": {"hidden_size": {"model": {"units": grid(0, 5)}}}})


def test_names_are_unique_across_studies():
    """Bug: two studies gridding units, one with embedding_dim=50, both named GRU-10-bs32."""
    spec = {"name": "two", "model": {"arch": "GRU"},
            "studies": {"wide": {"model": {"units": grid(10, 20)}},
                        "small_emb": {"model": {"units": grid(10, 20), "embedding_dim": 50}}}}
    trials = expand(spec)
    names = [t["name"] for t in trials]
    assert len(trials) == 4 and len(set(names)) == 4
    assert {"GRU-10-bs32-embedding_dim100", "GRU-10-bs32-embedding_dim50"} <= set(names)
    assert len(select(trials, "GRU-10-bs32-embedding_dim50")) == 1  # --trial can pick either


def test_a_new_setting_with_a_neutral_default_keeps_every_id(monkeypatch):
    """Bug: ids hashed every default, so adding a setting (say unroll=False) changed every id and
    a rerun of a finished sweep ran it all again."""
    from rnnsweep import settings

    before = {t["name"]: (t["trial_id"], t["config_id"]) for t in expand(SWEEP)}
    monkeypatch.setitem(settings.MODEL, "unroll", settings.Setting(False, bool, "unroll the recurrence"))
    after = expand(SWEEP)
    assert all(t["model"]["unroll"] is False for t in after)
    assert {t["name"]: (t["trial_id"], t["config_id"]) for t in after} == before
    changed = expand({**SWEEP, "model": {**SWEEP["model"], "unroll": True}})
    assert not {t["trial_id"] for t in changed} & {v[0] for v in before.values()}


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
