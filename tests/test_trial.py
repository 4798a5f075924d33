import math
import os

import numpy as np
import pytest
from helpers import FIXTURE_DATASET

from rnnsweep import text
from rnnsweep.trial import run_trial

MODEL = dict(arch="GRU", units=8, activation="relu", kernel_initializer="he_normal", dense_units="same",
             learning_rate=1e-3)


@pytest.fixture
def prepared(fixture_data):  # cached on disk after the first call
    return text.prepare(FIXTURE_DATASET)


def test_trial_trains_and_reports(prepared):
    r = run_trial({"trial_id": "t1", "name": "GRU-8-bs32", "model": MODEL,
                   "training": dict(batch_size=32, epochs=2, seed=7)}, prepared, cpus=1)
    assert r["status"] == "ok", r.get("error")
    assert [e["epoch"] for e in r["history"]] == [1, 2]
    for e in r["history"]:
        for k in ("loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc", "seconds"):
            assert math.isfinite(e[k]), k
    assert 0 <= r["test_accuracy"] <= 1 and 0 <= r["test_auc"] <= 1 and r["test_loss"] > 0
    # Keras's validation_split=0.2 holds out the last 64 of the 320 training reviews.
    assert (r["train_samples"], r["val_samples"], r["test_samples"]) == (256, 64, 80)
    assert r["non_trainable_params"] == 1000 * 50 and r["trainable_params"] > 0  # frozen GloVe
    assert r["device"] == "CPU" and r["tf_version"] and r["keras_version"].startswith("3")
    assert r["samples_per_second"] > 0 and r["fit_seconds"] > 0 and r["seed"] == 7


def test_same_seed_same_result(prepared):
    cfg = {"model": {**MODEL, "units": 4}, "training": dict(batch_size=64, epochs=1, seed=3, limit_train=128)}
    a, b = run_trial(cfg, prepared), run_trial(cfg, prepared)
    assert a["history"][0]["loss"] == pytest.approx(b["history"][0]["loss"], rel=1e-5)
    assert a["train_samples"] == 102  # Keras cuts at floor(128 * 0.8), not 128 - int(128 * 0.2)


def test_auc_off_reports_accuracy_only_and_trains_the_same_weights(prepared):
    """training.auc=False (the seeds after 000 report accuracy only): no AUC in the rows, the same losses,
    accuracies and test numbers to the last bit (a metric changes no weight), and its own trial id."""
    from rnnsweep.config import Trial

    cfg = {"model": {**MODEL, "units": 4}, "training": dict(batch_size=64, epochs=2, seed=3, limit_train=128)}
    off = {**cfg, "training": {**cfg["training"], "auc": False}}
    a, b = run_trial(cfg, prepared, cpus=1), run_trial(off, prepared, cpus=1)
    assert a["status"] == b["status"] == "ok", (a.get("error"), b.get("error"))
    assert b["test_auc"] is None and all(e["auc"] is None and e["val_auc"] is None for e in b["history"])
    assert a["test_auc"] is not None
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [e[k] for e in a["history"]] == [e[k] for e in b["history"]], k
    assert (a["test_loss"], a["test_accuracy"]) == (b["test_loss"], b["test_accuracy"])
    assert Trial.of(cfg).trial_id != Trial.of(off).trial_id


def test_nan_loss_stops_at_once_as_diverged(prepared):
    cfg = {"model": {**MODEL, "arch": "SimpleRNN", "units": 32, "learning_rate": 1e8, "optimizer": "sgd"},
           "training": dict(batch_size=16, epochs=5)}
    r = run_trial(cfg, prepared)
    assert r["status"] == "diverged", r
    assert r["epochs_run"] == 1 and "non-finite" in r["error"]
    assert r.get("test_accuracy") is None


def test_exception_is_recorded_as_failed(prepared):
    r = run_trial({"name": "bad", "model": {"arch": "Transformer"}, "training": {"epochs": 1}}, prepared)
    assert r["status"] == "failed" and "model.arch: 'Transformer' is not one of" in r["error"] and r["traceback"]


def test_early_stopping_restores_best(prepared):
    """The weights left after an early stop are the best epoch's, not the last one's: the model
    scores the best validation loss of its history again."""
    import keras

    from rnnsweep.config import Training
    from rnnsweep.models import build_model
    from rnnsweep.trial import _fit, split_validation

    keras.utils.set_random_seed(1)
    training = Training(batch_size=64, epochs=30, early_stopping=2)
    train, val = split_validation(prepared.x_train, prepared.y_train, training.validation_split)
    model = build_model({**MODEL, "learning_rate": 0.05}, prepared.vocab_size, train[0].shape[1], prepared.embedding)
    result = {}
    _fit(model, train, val, training, result, verbose=0)
    losses = [h["val_loss"] for h in result["history"]]
    assert result["epochs_run"] < 30 and losses[-1] > min(losses)  # stopped, after the best epoch had passed
    now = model.evaluate(*val, batch_size=256, verbose=0, return_dict=True)["loss"]
    assert now == pytest.approx(min(losses), rel=1e-5) and now != pytest.approx(losses[-1], rel=1e-3)


@pytest.mark.parametrize("schedule", [None, "cosine", "plateau"])
def test_learning_rate_schedules_set_each_epochs_rate(prepared, schedule):
    """training.lr_schedule: cosine decays from learning_rate to 0 at the last epoch, epoch by epoch;
    plateau halves the rate after an epoch whose val_loss did not improve; each epoch row says its rate."""
    lr0 = 0.05
    r = run_trial({"model": {**MODEL, "units": 4, "learning_rate": lr0},
                   "training": dict(batch_size=64, epochs=4, seed=3, limit_train=192, lr_schedule=schedule)}, prepared)
    assert r["status"] == "ok", r.get("error")
    rates = [h["learning_rate"] for h in r["history"]]
    if schedule is None:
        assert rates == pytest.approx([lr0] * 4)
    elif schedule == "cosine":
        assert rates == pytest.approx([lr0 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)], rel=1e-5)
    else:
        want, best = [lr0], math.inf
        for h in r["history"][:-1]:  # ReduceLROnPlateau(patience=1): an epoch without a new best halves the next
            want.append(want[-1] if h["val_loss"] < best else want[-1] * 0.5)
            best = min(best, h["val_loss"])
        assert rates == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("n,split,expected", [(512, 0.2, (409, 103)), (128, 0.2, (102, 26)), (320, 0.2, (256, 64)),
                                              (100, 0.3, (70, 30)), (10, 0.0, (10, 0))])
def test_validation_counts_are_what_keras_trains_on(n, split, expected):
    """Bug: 512 samples with validation_split=0.2 were recorded as 410 trained; Keras trains on 409."""
    import numpy as np
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    from rnnsweep.trial import split_validation

    x, y = np.arange(n * 2).reshape(n, 2), np.arange(n)
    (xt, yt), val = split_validation(x, y, split)
    assert (len(xt), len(val[0]) if val else 0) == expected
    if split:  # the very arrays Keras's own validation_split would give
        (kx, ky, _), (vx, vy, _) = train_validation_split((x, y, None), validation_split=split)
        assert np.array_equal(kx, xt) and np.array_equal(vx, val[0]) and np.array_equal(vy, val[1])


def test_512_samples_train_on_409(prepared):
    big = text.Prepared(np.concatenate([prepared.x_train] * 2)[:512], np.concatenate([prepared.y_train] * 2)[:512],
                        prepared.x_test, prepared.y_test, prepared.embedding, prepared.vocab_size, prepared.meta)
    r = run_trial({"model": {**MODEL, "units": 2}, "training": dict(batch_size=128, epochs=1)}, big)
    assert r["status"] == "ok", r.get("error")
    assert (r["train_samples"], r["val_samples"]) == (409, 103)
    assert r["samples_per_second"] == pytest.approx(409 / r["fit_seconds"])


JAX_TRIAL = """
import json, sys
from helpers import FIXTURE_DATASET
from rnnsweep import text
from rnnsweep.trial import run_trial
r = run_trial({"name": "GRU-8", "model": {"arch": "GRU", "units": 8, "precision": sys.argv[1]},
               "training": {"epochs": 2, "batch_size": 64}}, text.prepare(FIXTURE_DATASET))
print(json.dumps({k: r.get(k) for k in ("status", "error", "keras_backend", "device", "tf_version", "epochs_run",
                                        "test_accuracy", "cudnn")}))
"""


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_trial_runs_on_the_jax_backend_without_tensorflow(precision, tmp_path):
    """The GPU machines this is measured on have JAX but no TensorFlow: the trial path must not need it."""
    pytest.importorskip("jax")
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(Path(__file__).parent)}
    # TensorFlow made unimportable, as on that machine.
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text("raise ImportError('no TensorFlow on this machine')\n")
    env["PYTHONPATH"] += os.pathsep + str(tmp_path)
    out = subprocess.run([sys.executable, "-c", JAX_TRIAL, precision], env=env, capture_output=True, text=True,
                         timeout=600)
    r = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {"stderr": out.stderr[-2000:]}
    assert r.get("status") == "ok", r
    assert (r["keras_backend"], r["device"], r["tf_version"], r["epochs_run"]) == ("jax", "CPU", None, 2)
    assert 0 <= r["test_accuracy"] <= 1 and r["cudnn"] == "yes"


@pytest.mark.parametrize("cut,resumed", [
    (["latest.weights.h5"], 1),  # killed while Keras wrote the weights: Keras's own copy
    (["training_metadata.json"], 1),  # killed between the metadata's truncation and its write
    (["latest.weights.h5", "latest.weights.h5.bkp"], 0),  # nothing readable: from epoch 1
])
def test_a_worker_killed_while_writing_its_backup_resumes_from_what_reads(prepared, tmp_path, cut, resumed):
    """Keras writes the backup's files in place: a worker killed mid-write leaves one cut short.
    The retry goes on from the newest backup that reads whole (or from the start), never fails
    (an emptied metadata file failed the trial: CI's SIGKILL test hit it)."""
    backup = str(tmp_path / "backup")
    cfg = {"name": "GRU-8", "model": MODEL, "training": dict(batch_size=64, epochs=4, seed=5)}
    seen = []

    def killed_while_writing_epoch_2():
        seen.append(1)
        if len(seen) == 2:
            for name in cut:
                with open(os.path.join(backup, name), "r+b") as fh:
                    fh.truncate(100 if name.endswith("h5") or name.endswith("bkp") else 0)
            raise KeyboardInterrupt  # the worker is gone (a BaseException: run_trial does not catch it)

    with pytest.raises(KeyboardInterrupt):
        run_trial(cfg, prepared, backup_dir=backup, on_backup=killed_while_writing_epoch_2)
    r = run_trial(cfg, prepared, backup_dir=backup)  # the retry
    assert r["status"] == "ok", r["error"]
    assert r["resumed_from_epoch"] == resumed and [h["epoch"] for h in r["history"]] == list(range(resumed + 1, 5))


@pytest.mark.parametrize("arch,batch,extra", [("GRU", 32, {"dropout": 0.2}), ("LSTM", 32, {"dropout": 0.2}),
                                              ("SimpleRNN", 16, {"optimizer": "sgd"})])
def test_shared_batches_train_exactly_as_keras_own_arrays(prepared, arch, batch, extra):
    """fit fed batch by batch from the (shared, read-only) arrays sees Keras's own batch order and
    static batch shapes: every batch's loss, the weights and the evaluation are the same, bit for bit
    (a batch size that divides the data gives Keras a static batch dimension; SimpleRNN + SGD at
    batch 16 told that apart)."""
    import keras

    from rnnsweep.models import build_model
    from rnnsweep.trial import shared_batches

    x, y = prepared.x_train.copy(), prepared.y_train.copy()
    x.flags.writeable = y.flags.writeable = False  # as the object store hands them over
    (xt, yt), val = split_validation_for_test(x, y)
    spec = {**MODEL, "arch": arch, **extra}
    runs = []
    for shared in (False, True):
        keras.utils.set_random_seed(5)
        m = build_model(spec, prepared.vocab_size, x.shape[1], prepared.embedding)
        losses = []
        each = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda b, logs, losses=losses: losses.append(float(logs["loss"])))
        if shared:
            h = m.fit(shared_batches(xt, yt, batch, shuffle=True), epochs=3, verbose=0, shuffle=False,
                      validation_data=shared_batches(*val, batch, shuffle=False), callbacks=[each])
            score = m.evaluate(shared_batches(prepared.x_test, prepared.y_test, 256, shuffle=False), verbose=0)
        else:
            h = m.fit(xt, yt, batch_size=batch, epochs=3, verbose=0, validation_data=val, callbacks=[each])
            score = m.evaluate(prepared.x_test, prepared.y_test, batch_size=256, verbose=0)
        runs.append((h.history, losses, [w.copy() for w in m.get_weights()], score))
    (h0, l0, w0, s0), (h1, l1, w1, s1) = runs
    assert h0 == h1 and l0 == l1 and s0 == s1
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1))


def split_validation_for_test(x, y):
    from rnnsweep.trial import split_validation

    return split_validation(x, y, 0.2)
