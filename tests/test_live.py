"""A running sweep you can watch, and a long trial that survives its worker: epochs on the bar as
they happen, epoch rows in the results while the trial runs (the report draws it, marked running),
and a worker killed at epoch k whose retry goes on from epoch k + 1."""
import json
import os
import subprocess
import sys
import time

from conftest import ROOT
from test_failures import _running_trials

from rnnsweep import report, results
from rnnsweep.sweep import expand

sys.path.insert(0, str(ROOT / "tests"))
from tiny_sweep import SWEEP  # noqa: E402

EPOCHS = 8


def test_live_epochs_report_while_running_and_resume_after_a_killed_worker(tmp_path):
    out = tmp_path / "res"
    env = {**os.environ, "TINY_EPOCHS": str(EPOCHS)}
    cmd = [sys.executable, str(ROOT / "tests" / "tiny_sweep.py"), "--results", str(out), "--address", "local",
           "--cpus-per-trial", "1", "--only", "GRU-*"]
    gru = next(t for t in expand({**SWEEP, "training": {**SWEEP["training"], "epochs": EPOCHS}})
               if t["name"] == "GRU-4-bs64")
    meta = out / "tiny" / "backup" / gru["trial_id"] / "training_metadata.json"
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, worker = time.time() + 300, None
    while time.time() < deadline and p.poll() is None:  # until epoch 3 is backed up
        if meta.exists() and json.loads(meta.read_text()).get("epoch", 0) >= 3:
            worker = _running_trials([p.pid], {"GRU-4-bs64"}).get("GRU-4-bs64")
            break
        time.sleep(0.1)
    assert worker is not None, "the trial never reached epoch 3"
    worker.suspend()  # freeze it: what the results hold now is exactly what a dead worker leaves
    try:
        k = json.loads(meta.read_text())["epoch"]
        trials, epochs = results.load(str(out / "tiny"))
        assert trials["status"].tolist() == ["running"]  # visible while it trains, not counted as done
        assert epochs["epoch"].tolist()[:k] == list(range(1, k + 1))
        r = report.report(str(out / "tiny"), out=str(tmp_path / "report"))
        assert "val_accuracy_all.png" in r["files"] and r["summary"]["config"].str.endswith("(running)").all()
    finally:
        worker.kill()  # the worker dies at epoch k; Ray retries the trial
    text = p.communicate(timeout=600)[0]
    assert p.returncode == 0, text[-3000:]
    trials, epochs = results.load(str(out / "tiny"))
    row = trials.iloc[0]
    assert len(trials) == 1 and row["status"] == "ok" and row["trial_id"] == gru["trial_id"]
    assert row["resumed_from_epoch"] == k and row["epochs_run"] == EPOCHS  # went on from epoch k + 1
    assert epochs["epoch"].tolist() == list(range(1, EPOCHS + 1))  # every epoch exactly once
    assert not (out / "tiny" / "backup" / gru["trial_id"]).exists()  # the backup went when it landed
    assert "epoch/s" in text or "s/epoch" in text  # the bar counts epochs
    assert "Could not find cuda drivers" not in text and "oneDNN custom operations" not in text
