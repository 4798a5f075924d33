"""A chaos run, after Ray's own chaos release tests: a sweep runs on a local multi-node Ray cluster while a
killer kills trial workers and whole worker nodes (their raylets) at random times, and the driver itself
once (SIGKILL, then the same command again); then every trial's rows are checked against the same sweep
run undisturbed, bit for bit (BENCHMARKS.md, "Chaos").

    RNNSWEEP_DATA=tests/fixtures python -m bench.chaos                          # 56 trials, 12 kills
    RNNSWEEP_DATA=tests/fixtures python -m bench.chaos --seed 7 --kills 20 --interval 4 --seeds 1-8

The sweep (``SWEEP``): small GRU/LSTM models with dropout on the fixture reviews, on TensorFlow and on
JAX (its seed repeats fused in pairs). The cluster: a head that runs no trial (the driver, its queue and
the datasets live there, as on a real cluster) and two worker nodes of 2 CPUs; a killed node is
replaced by a fresh one. Every kill is chosen from the seeded generator and printed. Rows go to
bench/results/chaos.csv; ``tests/test_chaos.py`` runs a short version in CI.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
FIXTURES = ROOT / "tests" / "fixtures"
# Compared bit for bit: everything a trial computes (not when, where or how long).
TRIAL_COLUMNS = ("status", "test_loss", "test_accuracy", "test_auc", "best_val_accuracy", "best_val_epoch",
                 "best_val_loss", "final_val_accuracy", "final_val_loss", "final_accuracy", "final_loss", "epochs_run",
                 "keras_backend")
EPOCH_COLUMNS = ("loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc", "learning_rate")

SWEEP_FILE = '''
import sys
from rnnsweep.driver import main
from rnnsweep.sweep import grid

SWEEP = dict(
    name="chaos",
    dataset=dict(source="imdb_reviews", path={path!r}, clean="seed000", num_words=500, maxlen=30,
                 padding="post", embedding="glove", glove_dim=50),
    model=dict(arch=grid("GRU", "LSTM"), units=grid(4, 8), dropout=0.2),
    training=dict(batch_size=32, epochs={epochs}, limit_train=320, validation_split=0.25, early_stopping=3,
                  lr_schedule="plateau", seed=grid(*{seeds})),
    studies=dict(tf=dict(), jax=dict(training=dict(backend="jax"))),
)

if __name__ == "__main__":
    main(SWEEP)
'''


def write_sweep(folder: Path, seeds: list[int], epochs: int) -> Path:
    path = folder / "chaos_sweep.py"
    path.write_text(SWEEP_FILE.format(path=str(FIXTURES / "imdb_400.csv.gz"), epochs=epochs, seeds=tuple(seeds)))
    return path


def driver(sweep: Path, results: Path, address: str, log) -> subprocess.Popen:
    """The user's command, as a process of its own (so it can be SIGKILLed)."""
    cmd = [sys.executable, str(sweep), "--results", str(results), "--address", address, "--cpus-per-trial", "1",
           "--fuse", "2", "--max-retries", "20"]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # Ray's auth as the cluster's


def trial_workers(cluster=None) -> list:
    """The Ray worker processes of ``cluster`` (all on this machine when None) running a trial now (Ray titles
    them ``ray::<task name>``; they are its raylets' children)."""
    import psutil
    from ray._private import ray_constants

    if cluster is None:
        procs = psutil.process_iter()
    else:
        procs = []
        for node in [cluster.head_node, *cluster.worker_nodes]:
            for raylet in node.all_processes.get(ray_constants.PROCESS_TYPE_RAYLET, []):
                try:
                    procs += psutil.Process(raylet.process.pid).children(recursive=True)
                except psutil.NoSuchProcess:
                    pass
    found = []
    for p in procs:
        try:
            p.info = {"cmdline": p.cmdline()}
        except psutil.Error:
            continue
        title = (p.info["cmdline"] or [""])[0]
        if title.startswith("ray::") and "-bs32" in title:
            found.append(p)
    return found


class Killer:
    """Kills at seeded random times: a trial's worker (SIGKILL), or a worker node's raylet (the node is then
    replaced by a fresh one), and the driver once, half-way."""

    def __init__(self, cluster, seed: int, kills: int, interval: float, kill_driver, finished, results: Path):
        self.cluster, self.rng, self.kills, self.interval = cluster, random.Random(seed), kills, interval
        self.kill_driver, self.finished, self.log, self.results = kill_driver, finished, [], results

    def backed_up(self) -> set:
        """The names of the trials that have a finished epoch's backup now."""
        import json

        from rnnsweep.backup import backup_epoch

        folder = self.results / "chaos" / "backup"
        try:
            meta = json.loads((self.results / "chaos" / "sweep.json").read_text())
            ids = {t for t in os.listdir(folder) if (backup_epoch(str(folder / t)) or 0) >= 1}
        except (OSError, ValueError):
            return set()
        return {t["name"] for t in meta.get("trials", []) if t["trial_id"] in ids}

    def run(self):
        """In the main thread (Ray's ``Cluster.add_node`` sets signal handlers): until the kills are done or
        the sweep has ended."""
        from ray._private import ray_constants

        driver_at = self.kills // 2
        while len(self.log) < self.kills:
            wake = time.time() + self.rng.uniform(0.5 * self.interval, 1.5 * self.interval)
            while time.time() < wake and not self.finished():
                time.sleep(0.1)
            if self.finished():
                return
            t = time.strftime("%H:%M:%S")
            if len(self.log) == driver_at and self.kill_driver():
                self.log.append(("driver", t))
                print(f"chaos {t}: SIGKILL the driver", flush=True)
                continue
            if self.rng.random() < 0.7:
                # A trial with a backup, waited for a while: its retry resumes (the case that must be exact).
                until, backed, workers = time.time() + 4 * self.interval, [], []
                while not backed and time.time() < until and not self.finished():
                    workers, names = trial_workers(self.cluster), self.backed_up()
                    backed = [w for w in workers if w.info["cmdline"][0][5:].split(" ")[0] in names]
                    time.sleep(0.1)
                if not (backed or workers):
                    continue
                victim = self.rng.choice(sorted(backed or workers, key=lambda p: p.pid))
                name = victim.info["cmdline"][0]
                try:
                    victim.send_signal(signal.SIGKILL)
                except Exception:  # noqa: BLE001 - it ended meanwhile
                    continue
                self.log.append(("worker", t))
                print(f"chaos {t}: SIGKILL worker {victim.pid} ({name}{', backed up' if backed else ''})", flush=True)
            else:
                nodes = [n for n in self.cluster.worker_nodes]
                node = self.rng.choice(nodes)
                raylet = node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
                self.cluster.remove_node(node, allow_graceful=False)
                self.cluster.add_node(num_cpus=2)
                self.log.append(("node", t))
                print(f"chaos {t}: killed a worker node (raylet {raylet}), added a fresh one", flush=True)


def rows(results: Path):
    """(trial rows by trial id, epoch rows by (trial id, epoch)) of the chaos sweep, read back."""
    from rnnsweep import results as res

    trials, epochs = res.load(str(results / "chaos"))
    return trials, epochs


def compare(undisturbed: Path, chaotic: Path) -> dict:
    """Every check of the run: each trial once and ok, each epoch once, nothing half-written or left behind,
    and every trial's rows equal to the undisturbed run's."""
    a_t, a_e = rows(undisturbed)
    b_t, b_e = rows(chaotic)
    out = {"trials": len(b_t), "expected": len(a_t), "trials_unique": bool(b_t["trial_id"].is_unique),
           "all_ok": bool((b_t["status"] == "ok").all()),
           "epochs_unique": not b_e.duplicated(["trial_id", "epoch"]).any()}
    left = [p for p in (chaotic / "chaos").rglob("*") if p.name.startswith(".") or "backup" in p.parts]
    out["left_behind"] = len([p for p in left if p.is_file()])
    a_t, b_t = a_t.set_index("trial_id"), b_t.set_index("trial_id")
    mismatched = []
    for tid in a_t.index:
        if tid not in b_t.index or any(_differ(a_t.at[tid, c], b_t.at[tid, c]) for c in TRIAL_COLUMNS):
            mismatched.append(tid)
            continue
        ea = a_e[a_e["trial_id"] == tid].sort_values("epoch")
        eb = b_e[b_e["trial_id"] == tid].sort_values("epoch")
        if len(ea) != len(eb) or any(_differ(x, y) for c in EPOCH_COLUMNS for x, y in zip(ea[c], eb[c])):
            mismatched.append(tid)
    out["mismatches"] = len(mismatched)
    out["mismatched"] = [a_t.at[t, "name"] for t in mismatched][:10]
    out["resumed"] = int((b_t["resumed_from_epoch"].fillna(0) > 0).sum())
    return out


def _differ(x, y) -> bool:
    import pandas as pd

    if pd.isna(x) and pd.isna(y):
        return False
    return x != y


def run(seed: int, kills: int, interval: float, seeds: list[int], epochs: int, work: Path, driver_kill=True) -> dict:
    """The undisturbed sweep, then the same sweep under the killer, on one local multi-node cluster."""
    import ray
    from ray.cluster_utils import Cluster

    work.mkdir(parents=True, exist_ok=True)
    sweep = write_sweep(work, seeds, epochs)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    log = open(work / "chaos.log", "a")
    try:
        t0 = time.time()
        calm = driver(sweep, work / "undisturbed", cluster.address, log)
        assert calm.wait() == 0, f"the undisturbed run failed: see {work / 'chaos.log'}"
        calm_wall = time.time() - t0

        t0 = time.time()
        state = {"driver": driver(sweep, work / "chaotic", cluster.address, log), "reruns": 0}

        def kill_driver():
            if not driver_kill or state["driver"].poll() is not None:
                return False
            state["driver"].send_signal(signal.SIGKILL)
            state["driver"].wait()
            state["driver"] = driver(sweep, work / "chaotic", cluster.address, log)  # the same command again
            state["reruns"] += 1
            return True

        def finished():
            code = state["driver"].poll()
            return code is not None and code != -signal.SIGKILL

        killer = Killer(cluster, seed, kills, interval, kill_driver, finished, work / "chaotic")
        killer.run()
        state["rc"] = state["driver"].wait()  # the driver of the moment ends by itself
        final = driver(sweep, work / "chaotic", cluster.address, log)  # the same command once more: nothing to do
        final_code = final.wait()
        chaos_wall = time.time() - t0
    finally:
        log.close()
        ray.shutdown()
        cluster.shutdown()
    got = compare(work / "undisturbed", work / "chaotic")
    kinds = [k for k, _ in killer.log]
    return {**got, "seed": seed, "kills": len(kinds), "worker_kills": kinds.count("worker"),
            "node_kills": kinds.count("node"), "driver_kills": kinds.count("driver"), "driver_rc": state["rc"],
            "final_rc": final_code,
            "undisturbed_s": round(calm_wall, 1), "chaos_s": round(chaos_wall, 1)}


def seeds_of(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1, help="the killer's generator: which kills, when (printed)")
    p.add_argument("--kills", type=int, default=12, help="kills in all (workers, nodes, the driver once)")
    p.add_argument("--interval", type=float, default=5.0, help="mean seconds between kills")
    p.add_argument("--seeds", default="1-7", help="trial seeds per model (8 models: 8 × this many trials)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--work", default="/tmp/rnnsweep-chaos")
    args = p.parse_args(argv)
    import shutil

    shutil.rmtree(args.work, ignore_errors=True)
    print(f"chaos: seed {args.seed}, {args.kills} kills every ~{args.interval:g} s", flush=True)
    r = run(args.seed, args.kills, args.interval, seeds_of(args.seeds), args.epochs, Path(args.work))
    for k, v in r.items():
        print(f"  {k}: {v}")
    OUT.mkdir(exist_ok=True)
    new = not (OUT / "chaos.csv").exists()
    with open(OUT / "chaos.csv", "a", newline="") as fh:
        from rnnsweep.version import code_version

        row = {**{k: v for k, v in r.items() if k != "mismatched"}, "code_version": code_version()}
        w = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
    return r


if __name__ == "__main__":
    main()
