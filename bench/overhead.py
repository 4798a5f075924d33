"""Benchmark 12 — rnnsweep's own cost per trial, measured as Ray Tune measures its own ("Scalability and
Overhead Benchmarks for Ray Tune"): N trials that only sleep and report their epochs on S logical CPUs
(Ray counts the CPUs it is told of; a sleeping trial uses none), each figure wall ÷ the minimum
(N × seconds ÷ S). Every run is a fresh process that starts its Ray first (outside the clock); the ways
alternate round by round:

    rnnsweep  the sweep driver (``driver.main``): expansion, the lease, scheduling, progress, each epoch's
              live rows, trial rows, compaction; each trial's body only sleeps (``sleep_trial``)
    tune      Ray Tune's own release-test harness (``ray.tune.utils.release_test_util.timed_tune_run``),
              as its published benchmark runs it: reuse_actors, TUNE_GLOBAL_CHECKPOINT_S=100

    python -m bench.overhead --trials 1000 10000                      # bookkeeping: 1 s trials, 16 CPUs
    python -m bench.overhead --trials 96 --seconds 20 --epochs 100    # result throughput: 5 epochs/s each
    python -m bench.overhead --trials 1000 --nodes 4 --slots 32       # many nodes (ray.cluster_utils.Cluster)
    python -m bench.overhead --trials 100000 --seconds 0 --ways rnnsweep   # the driver's memory over 100,000

Each way prints one line: its name and its ratio (``1.04x``). Rows land in bench/results/overhead.csv, and
the driver's resident memory every 5 s in overhead_rss.csv.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

from bench.common import ROOT, machine, median, record, table

WAYS = ("rnnsweep", "tune")
SETTLE = 20.0  # seconds between Ray's start and the clock's (start_ray)
# The trials' settings: any valid trial does (its body never trains); the packaged sample keeps the
# dataset's preparation, which the driver does once, under a second.
SPEC = dict(dataset=dict(source="imdb_reviews", sample=True, maxlen=30, num_words=2000),
            model=dict(arch="SimpleRNN", units=5))


def sleep_trial(config, prepared, seconds: float = 1.0, on_epoch=None, **_) -> dict:
    """Stands in for ``trial.run_trial`` (benchmarks only): sleeps ``seconds`` in as many epochs as the trial
    has, each reported as a real epoch is (``on_epoch``: live rows, the driver's bar), and returns a result
    shaped as a trained trial's, whose numbers follow from its seed."""
    from rnnsweep import trial

    cpu0 = time.process_time()
    result = trial.new_result(config, prepared)
    result.update(keras_backend=config.backend, import_seconds=0.0, build_seconds=0.0)
    epochs = config.training.epochs
    t0 = time.perf_counter()
    for e in range(1, epochs + 1):
        t = time.perf_counter()
        time.sleep(seconds / epochs)
        score = 0.5 + (config.training.seed * 7919 % 1000) / 1e4 + e / 1e3
        row = {"epoch": e, "seconds": time.perf_counter() - t, "cpu_seconds": 0.0, "loss": 1 - score,
               "accuracy": score, "auc": score, "val_loss": 1 - score, "val_accuracy": score, "val_auc": score,
               "learning_rate": 1e-3}
        result["history"].append(row)
        if on_epoch:
            on_epoch(row)
    result.update(fit_seconds=time.perf_counter() - t0, epochs_run=epochs, train_samples=0, val_samples=0,
                  resumed_from_epoch=0, evaluate_seconds=0.0, test_loss=0.5, test_accuracy=score, test_auc=score)
    return trial.finish(result, cpu0, 0.0)


def start_ray(slots: int, nodes: int, settle: float = SETTLE):
    """A local Ray of ``slots`` logical CPUs: one node, or a head without CPUs and ``nodes`` worker nodes;
    then ``settle`` seconds for the workers Ray starts ahead of any task (one per CPU), as a cluster that was
    up before its driver came has them: on 2 cores their start takes seconds, and either way would pay it."""
    import ray

    c = None
    if nodes <= 1:
        ray.init(num_cpus=slots, include_dashboard=False, log_to_driver=False, configure_logging=False)
    else:
        from ray.cluster_utils import Cluster

        c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
        for _ in range(nodes):
            c.add_node(num_cpus=slots // nodes)
        ray.init(address=c.address, log_to_driver=False, configure_logging=False)
        c.wait_for_nodes()
    time.sleep(settle)
    return c


def run_rnnsweep(trials: int, seconds: float, epochs: int, out: str) -> dict:
    """The sweep of ``trials`` sleeping trials through ``driver.main``; its wall and what landed."""
    from rnnsweep import results
    from rnnsweep.driver import main
    from rnnsweep.sweep import grid

    spec = {"name": "overhead", **SPEC, "training": dict(epochs=epochs, seed=grid(*range(1, trials + 1)))}
    samples, stop = [], threading.Event()

    def sample():  # the driver's resident memory every 5 s, as it runs
        while not stop.wait(5.0):
            samples.append((int(time.time()), rss_kb()))

    threading.Thread(target=sample, daemon=True).start()
    t0, began = time.perf_counter(), time.time()
    outcome = main(spec, ["--results", out], train=functools.partial(sleep_trial, seconds=seconds))
    wall, ended = time.perf_counter() - t0, time.time()
    stop.set()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the driver's, before the rows are read
    rows, epoch_rows = results.load(out, "overhead")
    # Where the wall goes besides the trials: before the first one starts, after the last one ends.
    return dict(wall=wall, ok=int((rows["status"] == "ok").sum()), trials_counted=outcome.counts.get("ok", 0),
                epoch_rows=len(epoch_rows), code_version=rows["code_version"].iloc[0], driver_peak_rss_mb=peak,
                before_first=min(r["started_at"] for r in outcome.results) - began,
                after_last=ended - max(r["finished_at"] for r in outcome.results), rss=samples)


def rss_kb() -> int | None:
    """This process's resident memory now (Linux's /proc), in KB."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(ln.split()[1]) for ln in fh if ln.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return None


def run_tune(trials: int, seconds: float, epochs: int, out: str) -> dict:
    """Ray Tune's release test, as published (``timed_tune_run``), on the same trials."""
    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = "100"  # as its bookkeeping benchmark sets it
    os.environ["TEST_OUTPUT_JSON"] = os.path.join(out, "tune.json")
    from ray.tune.utils.release_test_util import timed_tune_run

    timed_tune_run(name="overhead", num_samples=trials, results_per_second=epochs / seconds,
                   trial_length_s=seconds, max_runtime=10 ** 6, storage_path=out)
    with open(os.environ["TEST_OUTPUT_JSON"]) as fh:
        r = json.load(fh)
    import ray

    return dict(wall=r["time_taken"], ok=r["trial_states"].get("TERMINATED", 0), ray_version=ray.__version__)


def one(way: str, trials: int, slots: int, seconds: float, epochs: int, nodes: int, settle: float = SETTLE) -> dict:
    """One way in this (fresh) process: Ray started first, then the clock."""
    cluster = start_ray(slots, nodes, settle)
    try:
        with tempfile.TemporaryDirectory() as out:
            return (run_rnnsweep if way == "rnnsweep" else run_tune)(trials, seconds, epochs, out)
    finally:
        import ray

        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()


def in_fresh_process(way: str, trials: int, slots: int, seconds: float, epochs: int, nodes: int) -> dict:
    flags = dict(trials=trials, slots=slots, seconds=seconds, epochs=epochs, nodes=nodes)
    p = subprocess.run([sys.executable, "-m", "bench.overhead", "--one", way, *(a for k, v in flags.items()
                                                                                for a in (f"--{k}", str(v)))],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        raise SystemExit(f"{way} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--slots", type=int, default=16, help="logical CPUs (one trial each)")
    ap.add_argument("--seconds", type=float, default=1.0, help="each trial's length")
    ap.add_argument("--epochs", type=int, default=1, help="epochs each trial reports over its length")
    ap.add_argument("--nodes", type=int, default=1, help="worker nodes sharing the slots (ray.cluster_utils)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--settle", type=float, default=SETTLE, help="seconds between Ray's start and the clock's")
    ap.add_argument("--ways", default=",".join(WAYS))
    ap.add_argument("--one", choices=WAYS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.trials[0], args.slots, args.seconds, args.epochs, args.nodes, args.settle)))
        return
    ways = [w.strip() for w in args.ways.split(",")]
    for n in args.trials:
        minimum = n * args.seconds / args.slots
        ratios = {w: [] for w in ways}
        for rnd in range(args.rounds):
            for way in (ways if rnd % 2 == 0 else ways[::-1]):  # alternated
                r = in_fresh_process(way, n, args.slots, args.seconds, args.epochs, args.nodes)
                if r["ok"] != n:
                    raise SystemExit(f"{way}: {r['ok']} of {n} trials finished ok")
                ratio = r["wall"] / minimum if minimum else float("nan")  # --seconds 0: the memory case
                for unix_time, kb in r.get("rss") or []:
                    record("overhead_rss", {"unix_time": unix_time, "rss_kb": kb, "code_version": r["code_version"],
                                            "trials": n})
                ratios[way].append(ratio)
                record("overhead", {"round": rnd + 1, "way": way, "trials": n, "slots": args.slots,
                                    "seconds": args.seconds, "epochs": args.epochs, "nodes": args.nodes,
                                    "wall_seconds": r["wall"], "minimum_seconds": minimum, "ratio": ratio,
                                    "code_version": r.get("code_version"), "ray_version": r.get("ray_version"),
                                    "driver_peak_rss_mb": r.get("driver_peak_rss_mb")})
                peak = f", the driver's peak {r['driver_peak_rss_mb']:.0f} MB" if r.get("driver_peak_rss_mb") else ""
                print(f"{way:<9} {n} trials x {args.seconds:g} s, {args.epochs} epochs each, on {args.slots} slots"
                      f"{f' over {args.nodes} nodes' if args.nodes > 1 else ''}: {r['wall']:.1f} s, "
                      f"{ratio:.2f}x the minimum ({minimum:.1f} s){peak}", flush=True)
        print(f"\n{machine()}; wall ÷ minimum, median of {args.rounds} round(s)\n")
        print(table(["way", "trials", "ratio"], [[w, n, f"{median(v):.3f}x"] for w, v in ratios.items()]))


if __name__ == "__main__":
    sys.exit(main())
