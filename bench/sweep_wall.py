"""Benchmark 3 — a whole sweep's wall time: seed 000's 18-trial grid at the ``--smoke`` budget
(2 epochs, 512 training and 512 test reviews), three ways, alternated, each a fresh process timed
from its start (Python, imports, Ray) to its last result:

- driver:     ``python sweeps/imdb_grid.py --study grid --smoke --address local`` (rnnsweep)
- sequential: the same 18 trials one after another in one process, the notebook's loop, with
              rnnsweep's own ``run_trial``
- tune:       the same 18 trials through Ray Tune (``tune.Tuner`` + ``grid_search`` +
              ``with_parameters``), each calling rnnsweep's ``run_trial``, configured at its best:
              ``reuse_actors=True`` (TensorFlow imported once per actor, as the driver keeps its
              workers); needs ``pip install -e ".[bench]"``
- tune_fresh: the same with Tune's default ``reuse_actors=False`` (a fresh actor per trial)
- before:     with ``--before DIR``, the driver of another checkout (an older revision) on the same trials

    RNNSWEEP_DATA=../shared/data python -m bench.sweep_wall            # ~15 min on 2 cores
    git worktree add /tmp/before da53c66 && python -m bench.sweep_wall --before /tmp/before
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, machine, median, record, table

WAYS = ("driver", "sequential", "tune")
OPTIONAL = ("tune_fresh", "before")
BEFORE = os.environ.get("RNNSWEEP_BENCH_BEFORE")  # a checkout whose driver is the "before" way


def _trials():
    from bench.common import seed_trial  # noqa: F401 - puts sweeps/ on the path
    from imdb_grid import SWEEP

    from rnnsweep.driver import SMOKE
    from rnnsweep.sweep import expand, select_studies

    return select_studies(expand(SWEEP, {"training": SMOKE}), "grid")


def sequential():
    from rnnsweep import text
    from rnnsweep.trial import run_trial

    trials = _trials()
    prepared = text.prepare(trials[0].dataset)  # one dataset, as in the notebook
    for t in trials:
        assert run_trial(t, prepared)["status"] == "ok"
    return len(trials)


def tune(reuse_actors=True):
    import ray
    from ray import tune as rt

    from rnnsweep import text
    from rnnsweep.trial import run_trial

    trials = _trials()
    prepared = text.prepare(trials[0].dataset)

    def trainable(config, prepared=None):
        r = run_trial(config["trial"], prepared, cpus=1)
        return {"test_accuracy": r["test_accuracy"] or 0.0, "ok": r["status"] == "ok"}

    ray.init(address="local", include_dashboard=False, log_to_driver=False, configure_logging=False)
    with tempfile.TemporaryDirectory() as storage:
        grid = rt.Tuner(rt.with_resources(rt.with_parameters(trainable, prepared=prepared), {"cpu": 1}),
                        param_space={"trial": rt.grid_search(trials)},
                        tune_config=rt.TuneConfig(reuse_actors=reuse_actors),
                        run_config=rt.RunConfig(storage_path=storage, verbose=0))
        res = grid.fit()
    assert all(r.metrics.get("ok") for r in res), [r.error for r in res if r.error]
    return len(res)


def tune_fresh():
    return tune(reuse_actors=False)


def driver(root=ROOT):
    env = {**os.environ, "PYTHONPATH": str(root)}
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run([sys.executable, "sweeps/imdb_grid.py", "--study", "grid", "--smoke", "--address", "local",
                            "--results", out], cwd=root, capture_output=True, text=True, env=env)
        if p.returncode or "'ok': 18" not in p.stdout:
            raise SystemExit(p.stdout[-2000:] + p.stderr[-2000:])
    return 18


def before():
    return driver(BEFORE)


def timed(way: str) -> float:
    """Wall seconds of one fresh process doing the whole sweep ``way``."""
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "bench.sweep_wall", "--one", way], cwd=ROOT, capture_output=True,
                       text=True)
    if p.returncode:
        raise SystemExit(f"{way} failed:\n{p.stdout[-2000:]}{p.stderr[-3000:]}")
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ways", default=",".join(WAYS))
    ap.add_argument("--before", default=None, help="a checkout of an older revision: its driver is timed too")
    ap.add_argument("--one", choices=WAYS + OPTIONAL, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.before:
        os.environ["RNNSWEEP_BENCH_BEFORE"] = os.path.abspath(args.before)
        args.ways += ",before"
    if args.one:
        print(json.dumps({"trials": globals()[args.one]()}))
        return
    ways = args.ways.split(",")
    walls = {w: [] for w in ways}
    for rnd in range(args.rounds):
        for way in ways[rnd % len(ways):] + ways[:rnd % len(ways)]:  # rotate the order every round
            walls[way].append(timed(way))
            record("sweep_wall", {"round": rnd + 1, "way": way, "wall_seconds": walls[way][-1]})
            print(f"round {rnd + 1} {way:<10} {walls[way][-1]:6.1f} s", flush=True)
    base = median(walls["sequential"]) if "sequential" in walls else None
    rows = [[w, median(walls[w]), min(walls[w]), max(walls[w]), median(walls[w]) / base if base else "",
             median(walls["driver"]) / median(walls[w]) if "driver" in walls else ""] for w in ways]
    print(f"\n{machine()}; seed 000's 18-trial grid at --smoke, wall seconds of a fresh process\n")
    print(table(["way", "median s", "min", "max", "÷ sequential", "driver ÷ this"], rows))


if __name__ == "__main__":
    main()
