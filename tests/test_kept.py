"""Kept models on a real local Ray cluster: which a study keeps, loading one back to its recorded test
numbers, raw text through its pipeline, an ensemble of a winner's repeats, models trained on JAX (fused)
loading on TensorFlow, and the same on S3 (moto's server)."""
import json
import os

import numpy as np
import pandas as pd
import pytest
from helpers import FIXTURES, data_env

from rnnsweep import kept, load_model, report, results, text
from rnnsweep.driver import main
from rnnsweep.predict import main as predict_main
from rnnsweep.predict import predict
from rnnsweep.search import config_of
from rnnsweep.sweep import SweepError, grid, validate

LOCAL = ["--address", "local", "--cpus-per-trial", "1"]
SWEEP = dict(
    name="kept",
    dataset=dict(source="imdb_reviews", path=str(FIXTURES / "imdb_400.csv.gz"), clean="seed000",
                 num_words=500, maxlen=30, padding="post", embedding="glove", glove_dim=50),
    model=dict(arch="GRU", units=4),
    training=dict(batch_size=64, epochs=2, limit_train=256, validation_split=0.25),
    studies=dict(
        widths=dict(model=dict(units=grid(4, 8, 16))),
        repeats=dict(best_of="widths", ensemble="repeats", training=dict(seed=grid(1, 2))),
        top2=dict(best_of="widths", ensemble=2),  # the two best widths (so widths keeps two models)
    ),
)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The widths study, then its winner's two repeats and their ensemble (a second run: best_of waits)."""
    out = tmp_path_factory.mktemp("kept")
    with data_env(FIXTURES, out / "cache"):
        first = main(SWEEP, ["--results", str(out)] + LOCAL)
        second = main(SWEEP, ["--results", str(out)] + LOCAL)
    return out, first, second


def rows(out, sweep="kept"):
    return results.load(os.path.join(out, sweep))[0].set_index("name")


def prepared_of(sweep_dir, trial):
    """The trial's dataset, prepared again from its row (read with Arrow: ints stay ints, nulls None)."""
    return text.prepare(config_of(kept.find(str(sweep_dir), trial)[2])["dataset"])


def test_a_study_keeps_its_best_model_and_a_winners_repeats_all_of_theirs(swept):
    out, first, second = swept
    assert first.counts["ok"] == 3 and second.counts["ok"] == 4  # two repeats and two ensembles
    t = rows(out)
    widths = t[t["study"] == "widths"].reset_index()
    top2 = widths.assign(v=-widths["best_val_accuracy"]).sort_values(["v", "trial_id"])["trial_id"][:2]
    assert set(widths.loc[widths["model_uri"].notna(), "trial_id"]) == set(top2)  # the third's model went
    repeats = t[(t["study"] == "repeats") & t["ensemble_members"].isna()]
    assert len(repeats) == 2 and repeats["model_uri"].notna().all() and (repeats["model_bytes"] > 0).all()
    # The k best's ensemble: the two kept widths, chosen on validation.
    ens = t[t["study"] == "top2"]
    assert len(ens) == 1 and set(json.loads(ens["ensemble_members"].iloc[0])) == set(top2)
    # Only the kept models are on disk: the other width's file went when the study's best were known.
    on_disk = sorted(os.listdir(out / "kept" / "models"))
    assert on_disk == sorted(f"{tid}.keras" for tid in t.loc[t["model_uri"].notna(), "trial_id"])
    # Keeping models changed no trial's id: the same sweep with --keep-models none has nothing to run.
    assert main(SWEEP, ["--results", str(out), "--keep-models", "none", "--dry-run"] + LOCAL).todo == []


def test_a_kept_model_gives_its_trials_recorded_test_numbers_exactly(swept):
    out, _, _ = swept
    t = rows(out)
    name = t[t["ensemble_members"].isna() & t["model_uri"].notna()].index[0]
    model = load_model(str(out / "kept"), name)
    row = t.loc[name]
    prepared = prepared_of(out / "kept", name)
    scores = model.evaluate(prepared.x_test, prepared.y_test, batch_size=256, verbose=0, return_dict=True)
    assert scores["accuracy"] == row["test_accuracy"] and scores["loss"] == pytest.approx(row["test_loss"], abs=0)
    # By id prefix too.
    assert load_model(str(out / "kept"), row["trial_id"][:8]).count_params() == model.count_params()


def test_raw_text_through_predict_equals_the_model_on_the_trials_own_encoding(swept):
    out, _, _ = swept
    t = rows(out)
    name = t[(t["study"] == "repeats") & t["model_uri"].notna()].index[0]
    row = t.loc[name].to_dict()
    prepared = prepared_of(out / "kept", name)
    reviews = pd.read_csv(FIXTURES / "imdb_400.csv.gz")["review"]
    raw = [reviews[i] for i in prepared.meta["test_rows"][:25]]
    pipeline = kept.read_pipeline(str(out), "kept", row["dataset_fingerprint"])
    assert (text.encode_texts(pipeline, raw) == prepared.x_test[:25]).all()
    model = load_model(str(out / "kept"), name)
    want = model.predict(prepared.x_test[:25], verbose=0).reshape(-1)
    assert np.array_equal(predict(str(out / "kept"), name, raw), want.astype("float64"))


def test_the_ensemble_is_the_average_of_its_members_probabilities(swept):
    out, _, _ = swept
    t = rows(out)
    ens = t[t["ensemble_members"].notna() & (t["study"] == "repeats")]
    assert len(ens) == 1 and ens.index[0].endswith("-ensemble2") and ens["status"].iloc[0] == "ok"
    members = json.loads(ens["ensemble_members"].iloc[0])
    assert sorted(members) == sorted(t.loc[(t["study"] == "repeats") & t["ensemble_members"].isna(), "trial_id"])
    prepared = prepared_of(out / "kept", members[0])
    p = np.mean([load_model(str(out / "kept"), m).predict(prepared.x_test, batch_size=256, verbose=0).reshape(-1)
                 for m in members], axis=0)
    assert ens["test_accuracy"].iloc[0] == pytest.approx(((p > 0.5) == prepared.y_test).mean(), abs=1e-7)
    assert ens["best_val_accuracy"].notna().all() and (ens["val_samples"] == 64).all()  # chosen on validation only
    lines = report.report(str(out / "kept"))["models"]
    assert any("ensemble2: test_accuracy" in x for x in lines) and any(".keras (" in x for x in lines)


def test_bad_inputs_to_a_kept_model_are_one_line_each(swept, tmp_path, capsys):
    out, _, _ = swept
    t = rows(out)
    unkept = t[t["model_uri"].isna() & t["ensemble_members"].isna()].index[0]  # the third width
    kept_name = t[t["model_uri"].notna()].index[0]
    sweep_dir = str(out / "kept")

    def error(*argv):
        with pytest.raises(SystemExit) as e:
            predict_main([sweep_dir, *argv])
        return str(e.value)

    assert "no trial named 'nosuch'" in error("nosuch", "good film")
    assert f"{unkept}: no model kept" in error(unkept, "good film") and "--keep-models all" in error(unkept, "x")
    assert "text 2 is empty" in error(kept_name, "good film", "  ")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe not utf-8")
    assert f"{bad}: not UTF-8 text" in error(kept_name, "--file", str(bad))
    # A file cut short (a copy that did not finish): one line naming it and what to do.
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(sweep_dir, broken)
    f = broken / t.loc[kept_name, "model_uri"]
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(SystemExit) as e:
        predict_main([str(broken), kept_name, "good film"])
    assert "cannot be read" in str(e.value) and "run its study again" in str(e.value)
    good = tmp_path / "good.txt"
    good.write_text("A wonderful, moving film.\nDull and far too long.\n", encoding="utf-8")
    probs = predict_main([sweep_dir, kept_name, "--file", str(good)])
    printed = capsys.readouterr().out.splitlines()[-2:]
    assert len(probs) == 2 and [line.split()[0] for line in printed] == [f"{p:.4f}" for p in probs]


def test_keep_models_and_ensemble_are_checked_before_anything_runs():
    with pytest.raises(SweepError, match=r"studies.widths.keep_models: 'most'"):
        validate({**SWEEP, "studies": {**SWEEP["studies"], "widths": {**SWEEP["studies"]["widths"],
                                                                        "keep_models": "most"}}})
    with pytest.raises(SweepError, match="ensemble: an ensemble averages a finished study's models: give best_of="):
        validate({**SWEEP, "studies": {"widths": {"ensemble": 3}}})
    policies = kept.policies({"studies": {"a": {}, "b": {"best_of": "a", "ensemble": 3}, "c": {"keep_models": 2}}})
    assert policies == {"a": 3, "b": "all", "c": 2}


def test_models_trained_on_jax_and_fused_load_on_tensorflow(tmp_path):
    """Seed repeats trained as one fused JAX program: each member's model is an ordinary Keras file, and on
    TensorFlow (this process) it gives the member's recorded test numbers to float round-off."""
    spec = {**SWEEP, "name": "kept_jax", "training": {**SWEEP["training"], "backend": "jax", "seed": grid(1, 2)},
            "studies": None}
    spec.pop("studies")
    s = main(spec, ["--results", str(tmp_path), "--fuse", "2", "--keep-models", "all"] + LOCAL)
    assert s.counts["ok"] == 2 and all(r.get("fused_members") == 2 for r in s.results)
    t = rows(tmp_path, "kept_jax")
    assert (t["keras_backend"] == "jax").all() and t["model_uri"].notna().all()
    for name, row in t.iterrows():
        prepared = prepared_of(tmp_path / "kept_jax", name)
        scores = load_model(str(tmp_path / "kept_jax"), name).evaluate(
            prepared.x_test, prepared.y_test, batch_size=256, verbose=0, return_dict=True)
        assert scores["loss"] == pytest.approx(row["test_loss"], abs=1e-5)
        assert scores["accuracy"] == pytest.approx(row["test_accuracy"], abs=1.5 / len(prepared.y_test))


def test_kept_models_on_s3(tmp_path):
    pytest.importorskip("moto")
    from s3_server import moto_server

    with moto_server() as (uri, _):
        spec = {**SWEEP, "name": "kept_s3"}
        spec.pop("studies")
        main(spec, ["--results", uri] + LOCAL)
        sweep_uri = uri.replace("/results?", "/results/kept_s3?")
        t = results.load(sweep_uri)[0]
        assert t["model_uri"].notna().all()
        prepared = prepared_of(sweep_uri, t["name"].iloc[0])
        model = load_model(sweep_uri, t["name"].iloc[0])
        scores = model.evaluate(prepared.x_test, prepared.y_test, batch_size=256, verbose=0, return_dict=True)
        assert scores["accuracy"] == t["test_accuracy"].iloc[0]
        assert len(predict(sweep_uri, t["name"].iloc[0], ["A fine film."])) == 1
