"""The Ray driver on a real local Ray cluster: results, resume, failures, zero-copy, interrupts."""
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest
from helpers import FIXTURE_DATASET, LOCAL, ROOT, each, freeze_trials, kill_driver_mid_sweep, no_hang, sweep_of
from tiny_sweep import SWEEP

from rnnsweep import results
from rnnsweep.driver import main
from rnnsweep.sweep import grid


def test_sweep_writes_resumes_reruns_failed_and_extends(tmp_path, capsys):
    spec = {**SWEEP, "model": {**SWEEP["model"], "activation": grid("tanh", "no_such_activation")}}
    out = str(tmp_path / "res")
    s = main(spec, ["--results", out] + LOCAL)
    assert s.counts == {"ok": 2, "diverged": 0, "failed": 2}
    # Zero-copy: one dataset config → one preparation, one ray.put; every task got read-only
    # arrays backed by the object store (not its own copy).
    assert s.datasets_put == 1
    assert all(r["dataset_zero_copy"] for r in s.results if r["status"] == "ok")
    trials, epochs = results.load(os.path.join(out, "tiny"))
    assert len(trials) == 4 and trials["trial_id"].is_unique
    failed = trials[trials["status"] == "failed"]
    assert len(failed) == 2 and failed["error"].str.contains("no_such_activation").all()
    ok = trials[trials["status"] == "ok"]
    assert set(ok["arch"]) == {"GRU", "LSTM"} and (ok["units"] == 4).all() and (ok["epochs_run"] == 1).all()
    assert ok["test_accuracy"].between(0, 1).all() and (ok["train_samples"] == 102).all()
    assert (ok["budget"].isna()).all() and (ok["device"] == "CPU").all() and ok["ray_version"].notna().all()
    assert len(epochs) == 2 and set(epochs["trial_id"]) == set(ok["trial_id"])
    meta = results.read_json(out, "tiny", "sweep.json")
    # Every row says which code made it, failed ones too: the run's version, commit and dirty flag.
    assert (trials["code_version"] == meta["runs"][0]["code_version"]).all()
    assert trials["code_version"].str.match(r"rnnsweep \S+ \([0-9a-f]{7,}(\+dirty)?\)$").all()
    assert len(meta["trials"]) == 4 and meta["runs"][0]["counts"]["failed"] == 2
    assert meta["spec"]["model"]["arch"] == {"grid": ["GRU", "LSTM"]}

    # Rerun (through a file:// URI this time): nothing to do.
    uri = (tmp_path / "res").as_uri()
    assert main(spec, ["--results", uri] + LOCAL).todo == []
    assert "nothing to do" in capsys.readouterr().out
    # --rerun-failed runs exactly the failed ones; still one row per trial.
    s = main(spec, ["--results", uri, "--rerun-failed"] + LOCAL)
    assert sorted(r["trial_id"] for r in s.results) == sorted(failed["trial_id"])
    assert len(results.load(os.path.join(out, "tiny"))[0]) == 4
    # Editing the sweep (a new width) runs only the new trials.
    wider = {**SWEEP, "model": {**SWEEP["model"], "units": grid(4, 8)}}
    s = main(wider, ["--results", out, "--dry-run"] + LOCAL)
    assert sorted(t.name for t in s.todo) == ["GRU-8-bs64", "LSTM-8-bs64"]
    s = main(wider, ["--results", out, "--only", "GRU-*"] + LOCAL)
    assert [r["name"] for r in s.results] == ["GRU-8-bs64"]
    trials, _ = results.load(out, "tiny")
    assert len(trials) == 5 and trials["trial_id"].is_unique

    # A row another code version made: --rerun-other-versions runs exactly that trial again.
    import pyarrow as pa
    import pyarrow.parquet as pq
    old = ok["trial_id"].iloc[0]
    f = tmp_path / "res" / "tiny" / "trials" / f"{old}.parquet"
    t = pq.read_table(f)
    pq.write_table(t.set_column(t.schema.get_field_index("code_version"), "code_version",
                                pa.array(["rnnsweep 0.0.1 (0123abc)"])), f)
    assert [t.name for t in main(wider, ["--results", out, "--dry-run"] + LOCAL).todo] == ["LSTM-8-bs64"]
    capsys.readouterr()
    s = main(wider, ["--results", out, "--dry-run", "--rerun-other-versions", "--only", "*-4-*"] + LOCAL)
    assert [t.trial_id for t in s.todo] == [old]
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines if line.strip().startswith(old)] == ["rerun"]
    s = main(wider, ["--results", out, "--rerun-other-versions", "--only", "*-4-*"] + LOCAL)
    assert [r["trial_id"] for r in s.results] == [old]
    trials, _ = results.load(out, "tiny")
    assert len(trials) == 5 and trials["code_version"].nunique() == 1


def test_budget_overrides_are_recorded(tmp_path):
    out = str(tmp_path / "res")
    s = main(SWEEP, ["--results", out, "--epochs", "2", "--limit-train", "64", "--only", "LSTM-*"] + LOCAL)
    (r,) = s.results
    assert r["epochs_run"] == 2 and r["train_samples"] == 51
    trials, epochs = results.load(out, "tiny")
    assert trials["budget"].tolist() == ["epochs=2 limit_train=64"] and trials["epochs"].tolist() == [2]
    assert epochs["epoch"].tolist() == [1, 2]



def _run_until(cmd, env, out_dir, n_files):
    # A driver started as a user starts one: Ctrl-C (SIGINT) raises KeyboardInterrupt. Under a shell that
    # ran the tests in the background (`cmd &`), SIGINT is inherited ignored, and the Ctrl-C below would
    # be a no-op (seen: the sweep ran to its end).
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None:
        if len(_finished(out_dir)) >= n_files:  # trials that have ended, not those still running
            break
        time.sleep(0.2)
    assert p.poll() is None, p.stdout.read()
    return p





def _finished(out) -> dict:
    """The trials that have ended (a running trial's row says 'running' until it does)."""
    return {k: v for k, v in results.done(out, "tiny").items() if v in ("ok", "diverged", "failed")}


@pytest.mark.slow
def test_ctrl_c_and_sigkill_lose_nothing_and_resume(tmp_path):
    out = str(tmp_path / "res")
    env = {**os.environ, "TINY_UNITS": "4,8,12"}  # 6 trials
    cmd = [sys.executable, str(ROOT / "tests" / "tiny_sweep.py"), "--results", out] + LOCAL

    # Ctrl-C while trials run: running tasks cancelled, written results kept, a hint to resume.
    p = _run_until(cmd, env, out, 1)
    frozen = freeze_trials(p.pid)
    landed = len(_finished(out))
    p.send_signal(signal.SIGINT)
    _, alive = psutil.wait_procs(frozen, timeout=30)  # the driver cancels (kills) the frozen workers
    each(alive, "resume")  # any survivor goes on
    text = p.communicate(timeout=120)[0]
    assert p.returncode == 130 and "Run the same command again to resume" in text, text[-2000:]
    cancelled = int(text.split(" cancelled.")[0].rsplit(" ", 1)[-1])
    n_after_interrupt = len(_finished(out))
    assert 1 <= landed <= n_after_interrupt < 6 and cancelled >= 1  # trials were running when it landed

    # SIGKILL of the driver in the middle of the sweep, trials running.
    p = _run_until(cmd, env, out, n_after_interrupt + 1)
    kill_driver_mid_sweep(p)

    # Rerun: runs only what is missing and ends with exactly 6 rows.
    done_before = _finished(out)
    assert n_after_interrupt < len(done_before) < 6
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{len(done_before)} already in" in p.stdout
    trials, epochs = results.load(out, "tiny")
    assert len(trials) == 6 and trials["trial_id"].is_unique
    assert (trials["status"] == "ok").all(), trials.loc[trials["status"] != "ok", ["name", "error"]].to_string()
    assert len(epochs) == 6 and not epochs.duplicated(["trial_id", "epoch"]).any()
    leftovers = [f for f in os.listdir(os.path.join(out, "tiny", "trials")) if not f.endswith(".parquet")]
    assert leftovers == []  # no half-written temp files left visible


def test_unreadable_sweep_json_stops_before_anything_and_is_kept(tmp_path):
    """Bug: any OSError reading sweep.json counted as "no file", and the driver wrote a fresh one
    over the run history. Only "not found" means missing; anything else stops in one line."""
    out = tmp_path / "res"
    (out / "tiny" / "sweep.json").mkdir(parents=True)  # there, but not readable as a file
    with pytest.raises(SystemExit) as e:
        main(SWEEP, ["--results", str(out)] + LOCAL)
    msg = str(e.value)
    assert msg.startswith(f"error: {out}/tiny/sweep.json: cannot be read") and "\n" not in msg
    assert (out / "tiny" / "sweep.json").is_dir() and not (out / "tiny" / "trials").exists()
    (out / "tiny" / "sweep.json").rmdir()
    (out / "tiny" / "sweep.json").write_text('{"runs": [{"started_at": 1')  # cut short
    with pytest.raises(SystemExit, match=r"sweep.json: cannot be read \(JSONDecodeError"):
        main(SWEEP, ["--results", str(out)] + LOCAL)
    assert (out / "tiny" / "sweep.json").read_text() == '{"runs": [{"started_at": 1'
    assert not (out / "tiny" / "trials").exists()


def test_unknown_only_pattern_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="--only 'GRU-999' matches none of the 2 trials of tiny"):
        main(SWEEP, ["--results", str(tmp_path), "--only", "GRU-999"] + LOCAL)


def test_missing_data_file_stops_before_anything_runs(tmp_path):
    spec = {**SWEEP, "dataset": {**SWEEP["dataset"], "path": str(tmp_path / "reviews.csv")}}
    with pytest.raises(SystemExit) as e:
        main(spec, ["--results", str(tmp_path / "res")] + LOCAL)
    assert str(e.value) == f"error: dataset of GRU-4-bs64: imdb_reviews: {tmp_path / 'reviews.csv'} does not exist"
    assert not (tmp_path / "res" / "tiny" / "trials").exists()


@pytest.mark.parametrize("where,msg", [("/proc/x", "/proc/x: cannot write results there"),
                                       ("foo://bucket/x", "foo://bucket/x: not a results location pyarrow can open")])
def test_results_location_that_cannot_be_written_is_one_line_before_anything(where, msg, capsys):
    with pytest.raises(SystemExit) as e:
        main(SWEEP, ["--results", where] + LOCAL)
    assert str(e.value).startswith(f"error: {msg}") and "\n" not in str(e.value)
    assert "dataset" not in capsys.readouterr().out  # stopped before any preparation


@pytest.mark.parametrize("what", ["cpus", "gpus"])
def test_a_trial_no_node_can_hold_stops_instead_of_waiting(tmp_path, what):
    """Seen: --gpus-per-trial 2 on a machine without a GPU sat at 0% until killed. More than any
    machine has, on any machine; the line names what the largest node has, as Ray counts it there."""
    import re

    import ray

    with no_hang(), pytest.raises(SystemExit) as e:
        main(SWEEP, ["--results", str(tmp_path), "--address", "local", f"--{what}-per-trial", "4096"])
    said = re.fullmatch(rf"error: --{what}-per-trial 4096: no node of this cluster has that many {what[:-1].upper()}s "
                        r"\(the largest has (\d+)\); lower it, or add bigger nodes", str(e.value))
    assert said, str(e.value)
    assert not ray.is_initialized() and not (tmp_path / "tiny" / "sweep.json").exists()
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)  # what Ray counts here
    try:
        assert int(said[1]) == int(ray.cluster_resources().get(what[:-1].upper(), 0))
    finally:
        ray.shutdown()


def _dead_address():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed


def test_a_ray_address_that_does_not_answer_is_one_line_within_seconds(tmp_path, monkeypatch):
    """Seen: after a head died without `ray stop`, the driver joined its address from Ray's address
    file, retried for 14 minutes and ended in a traceback."""
    from rnnsweep import onray

    dead = _dead_address()
    with no_hang(), pytest.raises(SystemExit, match=rf"error: the Ray cluster at {dead} does not answer; `--address "
                                                    r"local`"):
        main(SWEEP, ["--results", str(tmp_path), "--address", dead])
    stale = tmp_path / "ray_current_cluster"
    stale.write_text(dead + "\n")
    monkeypatch.setattr(onray, "ADDRESS_FILE", str(stale))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    left = rf"at {dead} \(from {stale}, left by `ray start`\) does not answer"
    with no_hang(), pytest.raises(SystemExit, match=left):
        main(SWEEP, ["--results", str(tmp_path)])
    assert not (tmp_path / "tiny" / "sweep.json").exists()


@pytest.mark.slow
def test_a_second_driver_on_the_same_sweep_is_refused_naming_the_first(tmp_path):
    out = str(tmp_path / "res")
    env = {**os.environ, "TINY_UNITS": "4,8,12"}  # 6 trials
    cmd = [sys.executable, str(ROOT / "tests" / "tiny_sweep.py"), "--results", out] + LOCAL
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    held = os.path.join(out, "tiny", "lease.json")
    deadline = time.time() + 240
    while not os.path.exists(held) and first.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    frozen = freeze_trials(first.pid)  # the first driver keeps running while the second tries
    try:
        with pytest.raises(SystemExit) as e:
            main(SWEEP, ["--results", out] + LOCAL)
        msg = str(e.value)
        assert f"another driver runs sweep 'tiny' on these results: {socket.gethostname()} pid {first.pid}" in msg
        assert "\n" not in msg
    finally:
        each(frozen, "resume")
    text = first.communicate(timeout=400)[0]
    assert first.returncode == 0, text[-2000:]
    trials, _ = results.load(out, "tiny")
    assert len(trials) == 6 and trials["trial_id"].is_unique and not os.path.exists(held)  # released at the end


def test_seed000s_lstm_relu_that_blows_up_ends_diverged_and_the_sweep_goes_on(tmp_path):
    """Seed 000's LSTM-relu (he_normal, hidden Dense(units, relu)) at a learning rate that blows up:
    `diverged` at the epoch it happened, its history so far kept; the other trial runs on."""
    spec = {**SWEEP, "dataset": FIXTURE_DATASET,
            "model": dict(arch="LSTM", units=8, activation="relu", kernel_initializer="he_normal",
                                   dense_units="same", dense_initializer="he_normal",
                                   output_initializer="glorot_normal", learning_rate=grid(1e-4, 1.0)),
            "training": dict(batch_size=32, epochs=3)}
    s = main(spec, ["--results", str(tmp_path)] + LOCAL)
    assert s.counts == {"ok": 1, "diverged": 1, "failed": 0}
    trials, epochs = results.load(str(tmp_path), "tiny")
    bad = trials[trials["status"] == "diverged"].iloc[0]
    assert bad["learning_rate"] == 1.0 and bad["error"].startswith("loss became non-finite in epoch 1, batch")
    assert bad["epochs_run"] == 1 and pd.isna(bad["test_accuracy"])
    assert epochs[epochs["trial_id"] == bad["trial_id"]]["epoch"].tolist() == [1]  # its history so far
    good = trials[trials["status"] == "ok"].iloc[0]
    assert good["epochs_run"] == 3 and 0 <= good["test_accuracy"] <= 1


def test_smoke_without_the_data_runs_on_the_sample_shipped_with_rnnsweep(tmp_path, monkeypatch, capsys):
    """A fresh machine with no data and no network: README's smoke command runs, on the sample."""
    GRID = sweep_of("sweeps/imdb_grid.py")

    monkeypatch.setenv("RNNSWEEP_DATA", str(tmp_path / "nothing-here"))
    out = str(tmp_path / "results")
    s = main(GRID, ["--smoke", "--study", "grid", "--only", "GRU-32-bs64,LSTM-32-bs128", "--results", out] + LOCAL)
    assert s.counts["ok"] == 2
    said = capsys.readouterr().out
    assert "the IMDB reviews or GloVe vectors are not in" in said and "3,000-review sample" in said
    trials = results.load(out, "imdb_grid")[0]
    assert trials["sample"].all() and (trials["glove_dim_used"] == 50).all() and (trials["dataset_rows"] == 2400).all()
    assert (trials["glove_coverage"] > 0.9).all() and trials["test_accuracy"].between(0, 1).all()


def test_quick_is_its_own_budget_with_the_learning_rate_scaled_and_says_so(tmp_path, monkeypatch, capsys):
    """README's first command, --quick, listed (no training): on the sample when the data is not here,
    each trial's learning rate ×20 and the quick budget in its config, so its ids are neither the
    study's nor --smoke's; the output says these are quick-run numbers."""
    GRID = sweep_of("sweeps/imdb_grid.py")

    from rnnsweep.driver import QUICK, QUICK_LR_SCALE

    monkeypatch.setenv("RNNSWEEP_DATA", str(tmp_path / "nothing-here"))
    args = ["--study", "grid", "--results", str(tmp_path / "results"), "--dry-run"] + LOCAL
    quick, smoke, full = (main(GRID, flag + args).todo for flag in (["--quick"], ["--smoke"], []))
    assert len(quick) == len(smoke) == len(full) == 18
    assert not {t.trial_id for t in quick} & ({t.trial_id for t in smoke} | {t.trial_id for t in full})
    by_name = {t.name: t for t in full}
    for t in quick:
        assert t.dataset.sample and t.training.epochs == QUICK["epochs"]
        study_lr = by_name[t.name].model.learning_rate
        assert t.model.learning_rate == pytest.approx(study_lr * QUICK_LR_SCALE)
    assert "these are quick-run numbers" in capsys.readouterr().out

