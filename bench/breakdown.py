"""Benchmark 2 — where a trial's time goes, through the driver on local Ray: waiting for a worker
(its start, when fresh), TensorFlow's import, the dataset's fetch from the object store, model
build and compile, the first epoch (tracing included), the other epochs, what ``fit`` spends outside
its epochs, evaluation, and writing the result. Three trials of each kind run one at a time (two
CPUs per trial on this 2-core machine) in the workers Ray keeps, so some show a kept worker. The
dataset's fetch is part of the wait (Ray resolves a task's arguments before it starts it); it is
timed apart, as a ``ray.get`` of the same object in a task.

    RNNSWEEP_DATA=../shared/data python -m bench.breakdown        # ~5 min on 2 cores

``--study LABEL``: seed 001's sequence-length study on JAX (36 trials, 2 epochs on 5,000 reviews, one CPU each),
each trial cut into phases from its row, medians and sums (``bench/results/breakdown_study.csv``):

    RNNSWEEP_DATA=../shared/data python -m bench.breakdown --study after    # ~2 min
"""
from __future__ import annotations

import tempfile
import time

from bench.common import machine, record, table

KINDS = {  # kind → (sweep module, trials, budget flags)
    "short: seed 001 SimpleRNN(5) maxlen 200, 10 epochs": (
        "imdb_grid", "SimpleRNN-5-bs64-maxlen200-seed*", []),
    "long: seed 000 GRU bs128, 3 epochs": ("imdb_grid", "GRU-*-bs128", ["--epochs", "3"]),
}
PHASES = ("wait_seconds", "import_seconds", "build_seconds", "first_epoch_seconds",
          "other_epochs_seconds", "outside_epochs_seconds", "evaluate_seconds", "write_seconds")


def _get(refs):
    import ray

    t0 = time.perf_counter()
    x = ray.get(refs[0]).x_train
    return time.perf_counter() - t0, not x.flags.writeable and not x.flags.owndata


def fetch(sweep: str) -> float:
    """Seconds a task takes to get the sweep's (first) prepared dataset from the object store."""
    import importlib

    import ray

    from rnnsweep import text
    from rnnsweep.sweep import expand

    prepared = text.prepare(expand(importlib.import_module(sweep).SWEEP)[-1].dataset)
    ray.init(address="local", include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ref = ray.put(prepared)
        seconds, zero_copy = ray.get(ray.remote(_get).remote([ref]))
        assert zero_copy
    finally:
        ray.shutdown()
    return seconds


STUDY = ["sweeps/imdb_grid.py", "--study", "sequence_length", "--seeds", "1-6", "--epochs", "2", "--limit-train",
         "5000", "--set", "training.backend=jax", "--fuse", "1", "--address", "local"]
STUDY_PHASES = ("start gap", "import / clear", "build", "first epoch", "other epochs", "fit outside epochs",
                "evaluate", "after evaluate")


def study_phases(trials) -> list[dict]:
    """Each trial of a run's rows cut into phases (seconds): the gap since the previous trial in its worker ended
    (since submission for a worker's first), Keras made ready (the import in a fresh worker; ``clear_session``
    after), build, the first epoch (XLA's compile when the cache misses), the other epochs, ``fit`` outside its
    epochs (callbacks: backups, live rows), evaluation, and what follows it (the kept model's write)."""
    out = []
    for _, w in trials.sort_values("wait_seconds").groupby("pid"):
        ended = 0.0
        for _, t in w.iterrows():
            epochs = t["fit_seconds"] - t["outside_epochs_seconds"]
            out.append({"trial": t["name"], "worker": "fresh" if t["trial_in_worker"] == 1 else "kept",
                        "start gap": t["wait_seconds"] - ended, "import / clear": t["import_seconds"],
                        "build": t["build_seconds"], "first epoch": t["first_epoch_seconds"],
                        "other epochs": epochs - t["first_epoch_seconds"],
                        "fit outside epochs": t["outside_epochs_seconds"], "evaluate": t["evaluate_seconds"],
                        "after evaluate": t["seconds"] - t["import_seconds"] - t["build_seconds"] - t["fit_seconds"]
                        - t["evaluate_seconds"], "total": t["seconds"] + t["wait_seconds"] - ended})
            ended = t["wait_seconds"] + t["seconds"]
    return out


def study_main(label: str, out: str | None):
    """Seed 001's sequence-length study on JAX (36 trials, 2 epochs on 5,000 reviews, one CPU each), run in a
    fresh process with an empty JAX cache (or read from ``out``): each phase's median per trial and its sum."""
    import os
    import subprocess
    import sys

    import pandas as pd

    from bench.common import ROOT
    from rnnsweep import results

    with tempfile.TemporaryDirectory() as tmp:
        if out is None:
            out = tmp
            env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": os.path.join(tmp, "jax"), "TF_CPP_MIN_LOG_LEVEL": "3"}
            p = subprocess.run([sys.executable, *STUDY, "--results", out], cwd=ROOT, env=env, capture_output=True,
                               text=True)
            if p.returncode or "'ok': 36" not in p.stdout:
                raise SystemExit(p.stdout[-2000:] + p.stderr[-3000:])
        trials = results.read_table(out, "imdb_grid", "trials").to_pandas()
    phases = pd.DataFrame(study_phases(trials))
    version = ",".join(sorted(set(trials["code_version"])))
    for r in phases.to_dict("records"):
        record("breakdown_study", {"label": label, "code_version": version, **r})
    rows = [[ph, phases[ph].median(), phases.loc[phases["worker"] == "kept", ph].median(), phases[ph].sum()]
            for ph in (*STUDY_PHASES, "total")]
    print(f"\n{machine()}; seed 001's sequence-length study on JAX ({len(phases)} trials, {version}): seconds\n")
    print(table(["phase", "median, all", "median, kept workers", "sum over trials"], rows))


def main():
    import argparse
    import importlib

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", metavar="LABEL", help="seed 001's study on JAX instead, cut into phases")
    ap.add_argument("--rows", help="with --study: read a finished run's results root instead of running it")
    args = ap.parse_args()
    if args.study:
        return study_main(args.study, args.rows)

    from rnnsweep import results
    from rnnsweep.driver import main as drive

    rows = []
    for kind, (sweep, names, flags) in KINDS.items():
        with tempfile.TemporaryDirectory() as out:
            spec = importlib.import_module(sweep).SWEEP
            drive(spec, ["--results", out, "--address", "local", "--cpus-per-trial", "2", "--only", names, *flags])
            trials, epochs = results.load(out, spec["name"])
            for _, t in trials.sort_values("trial_in_worker").iterrows():
                t0 = time.perf_counter()  # writing one result: its trial row and epoch rows, as the driver does
                results.write_trial(out, "rewrite", {"config": t.to_dict(), "trial_id": t["trial_id"],
                                                     "history": epochs[epochs["trial_id"] == t["trial_id"]]
                                                     .to_dict("records")})
                write = time.perf_counter() - t0
                ep = epochs[epochs["trial_id"] == t["trial_id"]]["seconds"].sum()
                phase = {"wait_seconds": t["wait_seconds"], "import_seconds": t["import_seconds"],
                         "build_seconds": t["build_seconds"],
                         "first_epoch_seconds": t["first_epoch_seconds"],
                         "other_epochs_seconds": ep - t["first_epoch_seconds"],
                         "outside_epochs_seconds": t["outside_epochs_seconds"],
                         "evaluate_seconds": t["evaluate_seconds"], "write_seconds": write}
                total = t["wait_seconds"] + t["seconds"] + write
                worker = "fresh worker" if t["trial_in_worker"] == 1 else "kept worker"
                record("breakdown", {"kind": kind, "trial": t["name"], "worker": worker, **phase, "total": total})
                rows.append([f"{kind} — {t['name']}, {worker}"] + [phase[p] for p in PHASES] + [total])
    for kind, (sweep, _, _) in KINDS.items():
        rows.append([f"{kind}: the dataset's fetch (in wait), timed apart"] + [""] * len(PHASES) + [fetch(sweep)])
    print(f"\n{machine()}; seconds per phase of each trial, through the driver on local Ray\n")
    print(table(["trial"] + [p.replace("_seconds", "") for p in PHASES] + ["total"], rows))


if __name__ == "__main__":
    main()
