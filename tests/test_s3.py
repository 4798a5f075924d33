"""Results straight to object storage: a real S3 API (moto's server on loopback), through the
same pyarrow filesystem code a cluster uses for s3://bucket/prefix."""
import subprocess
import sys
import time

import pyarrow.fs as pafs
import pytest
from helpers import ROOT
from s3_server import moto_server

from rnnsweep import report, results
from rnnsweep.driver import main
from tiny_sweep import SWEEP


@pytest.fixture
def s3_uri():
    pytest.importorskip("moto")
    with moto_server() as (uri, _):
        yield uri


def test_sweep_results_and_report_on_s3(s3_uri):
    s = main(SWEEP, ["--results", s3_uri, "--address", "local", "--only", "GRU-*"])
    assert s.counts["ok"] == 1
    assert main(SWEEP, ["--results", s3_uri, "--address", "local"]).results[0]["name"] == "LSTM-4-bs64"
    assert main(SWEEP, ["--results", s3_uri, "--address", "local"]).todo == []  # resume reads S3
    trials, epochs = results.load(s3_uri, "tiny")
    assert sorted(trials["name"]) == ["GRU-4-bs64", "LSTM-4-bs64"] and len(epochs) == 2
    assert results.read_json(s3_uri, "tiny", "sweep.json")["runs"][-1]["counts"]["ok"] == 1
    sweep_uri = s3_uri.replace("/results?", "/results/tiny?")
    assert results.load(sweep_uri)[0]["trial_id"].tolist() == trials["trial_id"].tolist()
    r = report.report(sweep_uri)
    fs, base = results.filesystem(s3_uri)
    listed = {i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{base}/tiny/report"))}
    assert set(r["files"]) <= listed and "index.html" in listed
    # Nothing but the final files is left in the bucket (temporary names were moved into place).
    keys = [i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{base}/tiny", recursive=True))]
    assert not [k for k in keys if k.startswith(".")]


def test_a_lease_on_s3_refuses_a_second_driver_and_a_stale_one_is_taken_over(s3_uri):
    import time

    from rnnsweep import lease

    results.write_json(s3_uri, "tiny", "lease.json", {"host": "elsewhere", "pid": 4242, "token": "x",
                                                      "heartbeat": time.time()})
    with pytest.raises(SystemExit) as e:
        main(SWEEP, ["--results", s3_uri, "--address", "local"])
    assert "another driver runs sweep 'tiny' on these results: elsewhere pid 4242" in str(e.value)
    assert results.done(s3_uri, "tiny") == {}
    results.write_json(s3_uri, "tiny", "lease.json", {"host": "elsewhere", "pid": 4242, "token": "x",
                                                      "heartbeat": time.time() - lease.STALE_SECONDS - 1})
    assert main(SWEEP, ["--results", s3_uri, "--address", "local"]).counts["ok"] == 2
    assert results.read_json(s3_uri, "tiny", "lease.json") is None  # released


@pytest.mark.slow
def test_driver_killed_mid_sweep_on_s3_resumes_with_nothing_lost(s3_uri, tmp_path):
    """SIGKILL of the driver while trials run and some have landed on s3://, then the same command:
    only the missing trials run, one row each, no temporary object visible, and the tables read
    back as a local run of the same trials does."""
    import os

    from helpers import kill_driver_mid_sweep

    env = {**os.environ, "TINY_UNITS": "4,8,12"}  # 6 trials
    cmd = [sys.executable, str(ROOT / "tests" / "tiny_sweep.py"), "--address", "local", "--cpus-per-trial", "1"]
    p = subprocess.Popen(cmd + ["--results", s3_uri], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    deadline = time.time() + 300
    def finished():
        return {k: v for k, v in results.done(s3_uri, "tiny").items() if v != "running"}

    while p.poll() is None and time.time() < deadline and len(finished()) < 2:
        time.sleep(0.3)
    kill_driver_mid_sweep(p)
    before = finished()
    assert 2 <= len(before) < 6
    again = subprocess.run(cmd + ["--results", s3_uri], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and f"{len(before)} already in" in again.stdout, again.stdout[-2000:]
    trials, epochs = results.load(s3_uri, "tiny")
    assert len(trials) == 6 and trials["trial_id"].is_unique and (trials["status"] == "ok").all()
    fs, base = results.filesystem(s3_uri)
    keys = [i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{base}/tiny", recursive=True))]
    assert not [k for k in keys if k.startswith(".")]  # no stray temporary object
    local = subprocess.run(cmd + ["--results", str(tmp_path / "local")], env=env, capture_output=True, text=True,
                           timeout=600)
    assert local.returncode == 0, local.stdout[-2000:]
    lt, le = results.load(str(tmp_path / "local"), "tiny")
    cols = ["trial_id", "config_id", "name", "status", "arch", "units", "epochs_run", "train_samples", "test_samples"]
    assert trials.sort_values("trial_id")[cols].reset_index(drop=True).equals(
        lt.sort_values("trial_id")[cols].reset_index(drop=True))
    assert len(epochs) == len(le) and list(trials.columns) == list(lt.columns)


@pytest.mark.slow
def test_a_killed_worker_resumes_from_its_backup_on_s3(s3_uri):
    """The BackupAndRestore state mirrored to s3:// after every epoch: a retry on a fresh worker
    goes on from there, and the backup is gone from the bucket when the trial lands."""
    import json
    import os

    from helpers import running_trials

    from rnnsweep.sweep import expand

    epochs_n = 8
    env = {**os.environ, "TINY_EPOCHS": str(epochs_n)}
    cmd = [sys.executable, str(ROOT / "tests" / "tiny_sweep.py"), "--results", s3_uri, "--address", "local",
           "--cpus-per-trial", "1", "--only", "GRU-*"]
    gru = next(t for t in expand({**SWEEP, "training": {**SWEEP["training"], "epochs": epochs_n}})
               if t.name == "GRU-4-bs64")
    fs, base = results.filesystem(s3_uri)
    meta = f"{base}/tiny/backup/{gru.trial_id}/training_metadata.json"

    def backed_up() -> int:
        try:
            with fs.open_input_stream(meta) as f:
                return json.loads(f.read()).get("epoch", 0)
        except (FileNotFoundError, OSError, ValueError):
            return 0

    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, worker = time.time() + 300, None
    while time.time() < deadline and p.poll() is None and worker is None:
        if backed_up() >= 3:
            worker = running_trials([p.pid], {"GRU-4-bs64"}).get("GRU-4-bs64")
        time.sleep(0.2)
    assert worker is not None, "the trial never reached epoch 3"
    worker.suspend()
    k = backed_up()
    worker.kill()
    text = p.communicate(timeout=600)[0]
    assert p.returncode == 0, text[-3000:]
    trials, epochs = results.load(s3_uri, "tiny")
    assert trials["resumed_from_epoch"].tolist() == [k] and trials["status"].tolist() == ["ok"]
    assert epochs["epoch"].tolist() == list(range(1, epochs_n + 1))
    assert fs.get_file_info(f"{base}/tiny/backup/{gru.trial_id}").type == pafs.FileType.NotFound


@pytest.mark.slow
def test_a_faulty_store_is_retried_or_stops_in_one_line_and_the_same_command_resumes_to_the_same_rows(s3_uri):
    """Storage faults (tests/s3_faults.py, in front of moto): 500s, 503 SlowDown and uploads cut off midway
    are retried; a store that fails every request stops the run in one line with nothing half-written; the
    same command then lands the same rows as a run on a healthy store."""
    from s3_faults import faulty

    clean = s3_uri.replace("/results?", "/clean?")
    main(SWEEP, ["--results", clean, "--address", "local"])
    want = results.load(clean, "tiny")[0].set_index("trial_id")[["name", "test_loss", "test_accuracy", "epochs_run"]]
    with faulty(s3_uri, rate=1.0, seed=3) as (uri, faults, counts):
        with pytest.raises(SystemExit) as e:
            main(SWEEP, ["--results", uri, "--address", "local"])
        assert str(e.value).startswith("error: ") and "\n" not in str(e.value) and "Traceback" not in str(e.value)
        assert "run the same command again" in str(e.value) or "cannot write results there" in str(e.value)
        assert results.done(s3_uri, "tiny") == {}
        faults["rate"] = 0.15  # a flaky store: about one request in seven fails, and is retried
        s = main(SWEEP, ["--results", uri, "--address", "local"])
    assert s.counts["ok"] == 2 and counts["500"] + counts["503"] > 0 and counts["dropped"] > 0, counts
    got = results.load(s3_uri, "tiny")[0].set_index("trial_id")[want.columns]
    assert got.sort_index().equals(want.sort_index())
    fs, base = results.filesystem(s3_uri)
    keys = [i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{base}/tiny", recursive=True))]
    assert not [k for k in keys if k.startswith(".")]  # nothing half-written left
