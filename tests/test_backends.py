"""``training.backend`` and fused seed repeats: JAX trials on their own Ray workers, a fused group's rows
equal to its members run one by one, ``auto``'s choice from measured epoch times; and the JAX suite
(``tests/on_jax``, ``test_semantics`` again) in a process whose Keras runs on JAX."""
import os
import subprocess
import sys

import pandas as pd
import pytest
from helpers import ROOT
from tiny_sweep import SWEEP

from rnnsweep import backends, results
from rnnsweep.config import Trial
from rnnsweep.driver import main
from rnnsweep.sweep import expand, grid

LOCAL = ["--address", "local", "--cpus-per-trial", "1"]
SEEDS = {**SWEEP, "name": "seeds", "model": dict(arch="GRU", units=4),
         "training": {**SWEEP["training"], "seed": grid(1, 2, 3), "epochs": 2, "backend": "jax"}}


def test_the_jax_suite_passes_on_keras_jax_backend():
    """Keras's backend is fixed per process: the JAX suite runs in its own, with KERAS_BACKEND=jax."""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_semantics.py",
                          "on_jax"], cwd=ROOT / "tests", env=env, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout.splitlines()[-1]


def test_jax_seed_repeats_run_fused_on_jax_workers_and_equal_their_unfused_rows(tmp_path):
    pytest.importorskip("jax")
    fused, alone = (str(tmp_path / d) for d in ("fused", "alone"))
    main(SEEDS, ["--results", fused, "--fuse", "3"] + LOCAL)  # unset, k would depend on this machine's slots
    main(SEEDS, ["--results", alone, "--fuse", "1"] + LOCAL)
    f, a = (results.read_table(d, "seeds", "trials").to_pandas().set_index("trial_id").sort_index()
            for d in (fused, alone))
    assert list(f.index) == list(a.index) and (f["status"] == "ok").all()  # the same trials, by id
    assert (f["keras_backend"] == "jax").all() and (a["keras_backend"] == "jax").all()
    assert f["fused_group"].nunique() == 1 and (f["fused_members"] == 3).all() and a["fused_group"].isna().all()
    for col in ("final_val_accuracy", "final_val_loss", "final_loss", "test_accuracy"):
        pd.testing.assert_series_equal(f[col], a[col], atol=1e-4, check_exact=False)
    assert f["final_val_loss"].nunique() == 3  # three seeds, three different runs


def test_backend_is_part_of_the_trial_id_unless_it_is_the_default():
    base = {**SWEEP, "model": dict(arch="GRU", units=4)}
    ids = {b: expand({**base, "training": {**base["training"], **({"backend": b} if b else {})}})[0].trial_id
           for b in (None, "tensorflow", "jax", "auto")}
    assert ids[None] == ids["tensorflow"] and len({ids[None], ids["jax"], ids["auto"]}) == 3


def _row(backend, units, per_epoch, device="CPU"):
    return dict(status="ok", train_samples=1000, fit_seconds=3 * per_epoch + 1, epochs_run=3, resumed_from_epoch=0,
                first_epoch_seconds=per_epoch + 1, outside_epochs_seconds=0.0, seconds=3 * per_epoch + 5,
                val_samples=250, dataset_rows=1250, arch="GRU", units=units, batch_size=64,
                keras_backend=backend, device=device, backend="jax" if backend == "jax" else "tensorflow")


def test_auto_takes_the_backend_measured_faster_for_that_model_else_the_rule():
    trials = pd.DataFrame([_row("tensorflow", 128, 10.0), _row("jax", 128, 14.0), _row("jax", 4, 2.0),
                           _row("tensorflow", 32, 9.0), _row("jax", 32, 3.0, device="GPU:H100")])
    rates = backends.measured(trials)

    def trial(units, **model):
        return Trial.of({"model": {"arch": "GRU", "units": units, **model},
                         "training": {"batch_size": 64, "backend": "auto"}})
    assert backends.choose(trial(128), rates, "CPU")[0] == "tensorflow"  # measured: TF 10 s vs JAX 14 s
    assert "measured on CPU" in backends.choose(trial(128), rates, "CPU")[1]
    b, why = backends.choose(trial(32), rates, "CPU")  # JAX measured on a GPU only: the rule
    assert b == "jax" and why.startswith("rule on CPU") and "only tensorflow measured" in why
    assert backends.choose(trial(256), {}, "CPU")[0] == "tensorflow"
    dropped = trial(32, arch="LSTM", recurrent_dropout=0.2)  # seed 004's
    assert backends.choose(dropped, {}, "CPU") == ("tensorflow", "rule on CPU (recurrent_dropout 0.2)")
    resolved = backends.resolve([trial(128)], trials, gpus=0)[0]
    assert resolved.backend_choice["backend"] == "tensorflow"
    assert backends.runtime_env(resolved) == {"env_vars": {"KERAS_BACKEND": "tensorflow"}}
    # The default is TensorFlow whatever $KERAS_BACKEND the driver exports: the trial id promises it.
    assert backends.runtime_env(Trial.of({})) == {"env_vars": {"KERAS_BACKEND": "tensorflow"}}


def test_a_fused_members_rate_is_its_share_of_the_groups_time():
    """A fused member records its group's wall time: a model's rate counts 1/k of it per member."""
    solo, fused3 = _row("jax", 32, 3.0), {**_row("jax", 32, 3.0), "fused_members": 3}
    (alone,), (shared,) = (backends.measured(pd.DataFrame([r])).values() for r in (solo, fused3))
    assert shared["per_sample"] == pytest.approx(alone["per_sample"] / 3)
    assert shared["fixed"] == pytest.approx(alone["fixed"] / 3)


def test_fuse_below_one_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="--fuse 0"):
        main(SEEDS, ["--results", str(tmp_path), "--fuse", "0"] + LOCAL)


def test_auto_after_calibrate_runs_each_model_on_the_backend_timed_faster_and_says_why(tmp_path, capsys):
    """``--dry-run --calibrate`` times both backends (a short run each, in fresh processes) into the sweep's
    calibration.json; the run then puts each trial on the faster one and records why."""
    pytest.importorskip("jax")
    out = str(tmp_path)
    spec = {**SWEEP, "training": {**SWEEP["training"], "backend": "auto"}}
    main(spec, ["--results", out, "--dry-run", "--calibrate"] + LOCAL)
    said = capsys.readouterr().out
    assert said.count("on TensorFlow and on JAX") == 2 and "backend of GRU-4-bs64" in said
    cal = results.read_json(out, "tiny", "calibration.json")["rates"]
    assert sorted(e["backend"] for e in cal) == ["jax", "jax", "tensorflow", "tensorflow"]
    main(spec, ["--results", out] + LOCAL)
    rows = results.read_table(out, "tiny", "trials").to_pandas()
    for _, r in rows.iterrows():
        timed = {e["backend"]: e["per_sample"] for e in cal if e["shape"] == backends.shape_key(
            {"dataset": spec["dataset"], "model": {"arch": r["arch"], "units": 4}, "training": spec["training"]})}
        assert r["keras_backend"] == min(timed, key=timed.get), (r["name"], timed)
        assert r["backend_choice"].startswith("measured on CPU")


def test_fuse_also_takes_the_learning_rate_and_refuses_a_dropout_rate_naming_it(capsys):
    from rnnsweep.driver import parse_args

    assert parse_args(["--fuse-also", "learning_rate"]).fuse_also == ("learning_rate",)
    assert parse_args(["--fuse-also", "model.learning_rate"]).fuse_also == ("learning_rate",)
    with pytest.raises(SystemExit):
        parse_args(["--fuse-also", "dropout"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--fuse-also" in err and "'dropout' cannot differ within a fused group" in err
