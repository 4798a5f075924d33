"""Machines that die under a running sweep: a worker process killed mid-trial, a node lost. Real
Ray, real processes, real files; nothing lost, nothing twice."""
import os
import subprocess
import sys
import threading
import time

import pytest
from helpers import ROOT, running_trials, training, wait_for
from tiny_sweep import SWEEP

from rnnsweep import results
from rnnsweep.driver import main
from rnnsweep.sweep import grid

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("retries,status", [(2, "ok"), (0, "failed")])
def test_worker_killed_mid_trial_is_retried_once_or_recorded_failed(tmp_path, retries, status):
    out = str(tmp_path / "res")
    env = {**os.environ, "TINY_EPOCHS": "60"}
    cmd = [sys.executable, str(ROOT / "tests" / "tiny_sweep.py"), "--results", out, "--address", "local",
           "--cpus-per-trial", "1", "--max-retries", str(retries)]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, victim = time.time() + 240, None
    while victim is None and time.time() < deadline and p.poll() is None:
        victim = running_trials([p.pid]).get("GRU-4-bs64")
        time.sleep(0.2)
    assert victim is not None, "the GRU trial never started"
    wait_for(lambda: training(out, "tiny", "GRU-4-bs64"), what="the GRU trial's first epoch")  # killed mid-training
    killed = victim.pid
    victim.kill()
    text = p.communicate(timeout=600)[0]
    assert p.returncode == 0, text[-3000:]  # the sweep goes on
    trials, epochs = results.load(out, "tiny")
    assert len(trials) == 2 and trials["trial_id"].is_unique  # lands exactly once
    gru, lstm = (trials[trials["arch"] == a].iloc[0] for a in ("GRU", "LSTM"))
    assert lstm["status"] == "ok" and gru["status"] == status
    if status == "ok":  # a fresh worker ran it again, to the end
        assert gru["pid"] != killed and gru["epochs_run"] == 60
        assert (epochs["trial_id"] == gru["trial_id"]).sum() == 60
    else:
        assert "\n" not in gru["error"] and ("Worker" in gru["error"] or "died" in gru["error"]), gru["error"]


def test_node_lost_mid_trial_is_rescheduled_on_another_node(tmp_path):
    import ray
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    keep, lose = cluster.add_node(num_cpus=1), cluster.add_node(num_cpus=1)
    raylet = lose.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
    lost = {}

    def remove_a_node_while_it_trains():
        deadline = time.time() + 300
        while time.time() < deadline:
            running = running_trials([raylet], {f"{a}-{u}-bs64" for a in ("GRU", "LSTM") for u in (2, 3)})
            if running and any(training(str(tmp_path), "tiny", name) for name in running):  # mid-training
                lost["trials"] = set(running)
                cluster.remove_node(lose)
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=remove_a_node_while_it_trains, daemon=True)
    watcher.start()
    spec = {**SWEEP, "model": {**SWEEP["model"], "units": grid(2, 3)},
            "training": {**SWEEP["training"], "epochs": 40}}
    try:
        s = main(spec, ["--results", str(tmp_path), "--address", cluster.address, "--cpus-per-trial", "1"])
    finally:
        watcher.join(timeout=10)
        ray.shutdown()
        cluster.shutdown()
    assert lost.get("trials"), "no trial ran on the node that was removed"
    trials, _ = results.load(str(tmp_path), "tiny")
    assert len(trials) == 4 and trials["trial_id"].is_unique and (trials["status"] == "ok").all()
    moved = trials[trials["name"].isin(lost["trials"])]
    assert len(moved) == len(lost["trials"]) and (moved["node_id"] == keep.node_id).all()
    assert s.counts == {"ok": 4, "diverged": 0, "failed": 0}
