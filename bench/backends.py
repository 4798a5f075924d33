"""Benchmark 9 — Keras backends and fused seed repeats (issue 28), alternated, each run a fresh process.

``--part study``: seed 001's sequence-length study (6 maxlens × 6 seeds) as a user runs it, at a budget
(``--epochs``, ``--limit-train``: the same for every way), wall seconds from the process's start to its end:

    tf        python sweeps/imdb_grid.py --study sequence_length --seeds 1-6 --epochs E --limit-train N
    jax       ... --set training.backend=jax --fuse 1        (one trial per task, on JAX workers)
    jax_acc   ... the same with --set training.auc=False     (accuracy only, as seed 001 reports: no AUC to compile)
    fused     ... --set training.backend=jax --fuse 6        (each maxlen's 6 seeds as one fused task)
    auto      ... --set training.backend=auto                (a fresh results folder: the rule decides)
    tune      Ray Tune (reuse_actors=True) running the seed's own code (reproduction/experiments/seed_keras.py) on TF
    tune_jax  the same Tune run with KERAS_BACKEND=jax (and JAX's compilation cache on, as rnnsweep has it)

Every run starts with an empty JAX compilation cache and an empty results folder.

``--part study-table`` prints every recorded round at a budget (rounds run as separate commands, e.g.
``--rounds 1 --first-round 2`` in a later session), from ``bench/results/backends_study.csv``:

    python -m bench.backends --part study-table --epochs 10 --limit-train 25000

``--part epochs``: seconds per epoch of each seed's model family on TensorFlow and on JAX, through
``run_trial`` (3 epochs on 5,120 reviews; the median of epochs 2-3, the first one compiles).

    RNNSWEEP_DATA=../shared/data python -m bench.backends --part study --rounds 2
    RNNSWEEP_DATA=../shared/data python -m bench.backends --part epochs --rounds 2

``--part rows``: seed 001's studies at full budget from the reproduction's committed rows (TensorFlow
and JAX fused, seeds 1-6): trial-hours, CPU-hours, and where a fused group's time went.

    python -m bench.backends --part rows

``--part fuse``: fused against one by one on JAX (4 seeds of SimpleRNN(5) at maxlen 200 and 30 on one
2-CPU slot), alternated: wall, and training seconds per member-epoch.

    RNNSWEEP_DATA=../shared/data python -m bench.backends --part fuse --rounds 2 --epochs 3 --limit-train 10000
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, in_fresh_process, machine, median, record, seed_trial, table

STUDY_WAYS = ("tf", "jax", "jax_acc", "fused", "auto", "tune", "tune_jax")
MAXLENS = (30, 50, 80, 100, 150, 200)
SEEDS = range(1, 7)
MODELS = [  # (sweep, trial name, extra settings): seed 000's grid, seed 001, seed 002's BiLSTM, seed 004 ×2
    ("imdb_grid", "GRU-32-bs64", {}), ("imdb_grid", "GRU-128-bs64", {}), ("imdb_grid", "LSTM-32-bs64", {}),
    ("imdb_grid", "SimpleRNN-5-bs64-maxlen30-seed1", {}), ("imdb_grid", "SimpleRNN-5-bs64-maxlen200-seed1", {}),
    ("imdb_grid", "LSTM-5-bs64-seed1", {}), ("imdb_grid", "GRU-5-bs64-seed1", {}),
    ("names_gender", "BiLSTM-32-bs128-seed1", {}), ("imdb_stacked", "LSTM-32-bs512", {}),
    ("imdb_stacked", "LSTM-32-bs512", {"semantics": "tf_keras2"})]


def study(way: str, epochs: int, limit: int) -> dict:
    """One fresh process running the study ``way``: its wall seconds, and what ran (trials, the backend
    they ran on, the code version)."""
    from rnnsweep import results
    from rnnsweep.version import code_version

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as out:
        # JAX's compilation cache, empty at the start of every run (a first run, as a new user's): rnnsweep
        # turns it on for JAX trials; the Tune run on JAX gets the same, configured at its best.
        env.update(JAX_COMPILATION_CACHE_DIR=os.path.join(out, "jax"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
        if way.startswith("tune"):
            cmd = [sys.executable, "-m", "bench.backends", "--one-tune", str(epochs), str(limit)]
            env["KERAS_BACKEND"] = "jax" if way == "tune_jax" else "tensorflow"
        else:
            extra = {"tf": [], "jax": ["--set", "training.backend=jax", "--fuse", "1"],
                     "jax_acc": ["--set", "training.backend=jax", "--set", "training.auc=False", "--fuse", "1"],
                     "fused": ["--set", "training.backend=jax", "--fuse", "6"],
                     "auto": ["--set", "training.backend=auto"]}[way]
            cmd = [sys.executable, "sweeps/imdb_grid.py", "--study", "sequence_length", "--seeds", "1-6", "--epochs",
                   str(epochs), "--limit-train", str(limit), "--address", "local", "--results", out, *extra]
        t0 = time.time()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.time() - t0
        if p.returncode or ("'ok': 36" not in p.stdout and not way.startswith("tune")):
            raise SystemExit(f"{way} failed:\n{p.stdout[-2000:]}{p.stderr[-3000:]}")
        if way.startswith("tune"):  # the seed's code from this checkout, on the backend each trial reported
            ran = json.loads(p.stdout.strip().splitlines()[-1])
            ran["code_version"] = code_version()
        else:
            rows = results.read_table(out, "imdb_grid", "trials").to_pandas()
            ran = dict(trials=int((rows["status"] == "ok").sum()), backend=",".join(sorted(set(rows["keras_backend"]))),
                       code_version=",".join(sorted(set(rows["code_version"]))))
    if ran["trials"] != 36:
        raise SystemExit(f"{way}: {ran['trials']} of 36 trials ran")
    return {"wall_seconds": wall, **ran}


def tune(epochs: int, limit: int) -> dict:
    """The study through Ray Tune at its best (reuse_actors), each trial the seed's own code."""
    import ray
    from ray import tune as rt

    def trainable(config):
        import keras

        sys.path.insert(0, str(ROOT))  # in the Tune actor's process
        from reproduction.experiments.seed_keras import seed001

        r = seed001("keras3", config["maxlen"], config["seed"], epochs=epochs, limit=limit)
        keras.backend.clear_session()
        return {"test_accuracy": r["test_accuracy"], "keras_backend": keras.backend.backend()}

    ray.init(address="local", include_dashboard=False, log_to_driver=False, configure_logging=False)
    with tempfile.TemporaryDirectory() as storage:
        res = rt.Tuner(rt.with_resources(trainable, {"cpu": 1}),
                       param_space={"maxlen": rt.grid_search(list(MAXLENS)), "seed": rt.grid_search(list(SEEDS))},
                       tune_config=rt.TuneConfig(reuse_actors=True),
                       run_config=rt.RunConfig(storage_path=storage, verbose=0)).fit()
    assert not res.errors, res.errors
    return {"trials": len(res), "backend": ",".join(sorted({r.metrics["keras_backend"] for r in res}))}


def one_epochs(backend: str, sweep: str, name: str, semantics: str | None) -> dict:
    """In a fresh process on ``backend``: the model's seconds per epoch (epochs 2-3)."""
    from rnnsweep import text
    from rnnsweep.trial import run_trial

    t = seed_trial(sweep, name, epochs=3, limit_train=5120, limit_test=512)
    if semantics:
        t = t.changed(model={"semantics": semantics})
    r = run_trial(t, text.prepare(t.dataset), cpus=1)
    assert r["status"] == "ok" and r["keras_backend"] == backend, (r["status"], r.get("error"), r["keras_backend"])
    return {"per_epoch": median([h["seconds"] for h in r["history"][1:]]), "first": r["history"][0]["seconds"]}


def epochs_part(rounds: int):
    rows = []
    for sweep, name, extra in MODELS:
        label = f"{sweep} {name}" + (f" {extra['semantics']}" if extra else "")
        got = {"tensorflow": [], "jax": []}
        for rnd in range(rounds):
            for b in (("tensorflow", "jax") if rnd % 2 == 0 else ("jax", "tensorflow")):
                os.environ["KERAS_BACKEND"] = b
                r = in_fresh_process("backends", "epochs", b, sweep, name, extra.get("semantics", ""))
                got[b].append(r["per_epoch"])
                record("backends_epochs", {"round": rnd + 1, "model": label, "backend": b, **r})
                print(f"{label:<50} {b:<10} {r['per_epoch']:6.2f} s/epoch", flush=True)
        tf, jx = median(got["tensorflow"]), median(got["jax"])
        rows.append([label, tf, jx, tf / jx, "jax" if jx < tf else "tensorflow"])
    os.environ.pop("KERAS_BACKEND", None)
    print(f"\n{machine()}; seconds per epoch (3 epochs on 5,120 reviews, epochs 2-3), medians of {rounds} rounds\n")
    print(table(["model", "TensorFlow s", "JAX s", "TF ÷ JAX", "faster"], rows))


def study_part(rounds: int, epochs: int, limit: int, ways: list[str], first: int = 0):
    walls = {w: [] for w in ways}
    for rnd in range(first, first + rounds):
        for way in ways[rnd % len(ways):] + ways[:rnd % len(ways)]:  # rotate the order every round
            r = study(way, epochs, limit)
            walls[way].append(r["wall_seconds"])
            record("backends_study", {"round": rnd + 1, "way": way, "epochs": epochs, "limit_train": limit, **r})
            print(f"round {rnd + 1} {way:<9} {walls[way][-1]:7.1f} s  ({r['trials']} trials on {r['backend']}, "
                  f"{r['code_version']})", flush=True)
    tf = median(walls.get("tf", [])) if "tf" in walls else None
    rows = [[w, median(walls[w]), min(walls[w]), max(walls[w]), median(walls[w]) / tf if tf else ""] for w in ways]
    print(f"\n{machine()}; seed 001's sequence-length study (36 trials, {epochs} epochs, {limit} reviews)\n")
    print(table(["way", "median s", "min", "max", "÷ tf"], rows))


def study_table(epochs: int, limit: int):
    """Every recorded round of the study at this budget (``backends_study.csv``, rounds of several sessions
    together): medians per way, and each against TensorFlow (a), Tune on TensorFlow (e) and Tune on JAX (f)."""
    import pandas as pd

    from bench.common import OUT

    r = pd.read_csv(OUT / "backends_study.csv")
    r = r[(r["epochs"] == epochs) & (r["limit_train"] == limit)]
    if r.empty:
        raise SystemExit(f"no study rounds at --epochs {epochs} --limit-train {limit} in backends_study.csv")
    # One table per code version: rounds of other code are other measurements (unrecorded before issue 38).
    r = r.assign(code_version=r["code_version"].fillna("not recorded") if "code_version" in r else "not recorded")
    for version, v in r.groupby("code_version", sort=False):
        med = v.groupby("way")["wall_seconds"].median()
        rows = [[w, ", ".join(f"{x:.0f}" for x in v[v["way"] == w].sort_values("round")["wall_seconds"]), med[w],
                 *(med[w] / med[b] if b in med else "" for b in ("tf", "tune", "tune_jax"))]
                for w in STUDY_WAYS if w in med]
        print(f"seed 001's sequence-length study (36 trials, {epochs} epochs, {limit} reviews), code {version}: "
              "wall seconds by round\n")
        print(table(["way", "rounds, s", "median s", "÷ tf", "÷ tune", "÷ tune_jax"], rows) + "\n")


FUSE_MODELS = (("SimpleRNN-5-bs64-maxlen200", "sequence_length"), ("SimpleRNN-5-bs64-maxlen30", "sequence_length"))


def fuse_one(model: str, study: str, k: int, fuse: bool, epochs: int, limit: int) -> dict:
    """One fresh run of ``k`` seeds of ``model`` on JAX on one 2-CPU slot: as one fused task, or one
    after another (``--fuse 1``). Wall seconds, and training seconds per member-epoch after the first
    epoch (a fused group's epoch ÷ k), from the rows."""
    from rnnsweep import results

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as out:
        env.update(JAX_COMPILATION_CACHE_DIR=os.path.join(out, "jax"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
        cmd = [sys.executable, "sweeps/imdb_grid.py", "--study", study, "--only", f"{model}-seed*", "--seeds",
               f"1-{k}", "--epochs", str(epochs), "--limit-train", str(limit), "--address", "local",
               "--cpus-per-trial", "2", "--results", out, "--set", "training.backend=jax",
               "--fuse", str(k if fuse else 1)]
        t0 = time.time()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.time() - t0
        if p.returncode or f"'ok': {k}" not in p.stdout:
            raise SystemExit(f"{model} fuse={fuse} failed:\n{p.stdout[-2000:]}{p.stderr[-3000:]}")
        t = results.load(os.path.join(out, "imdb_grid"))[0]
    later = (t["fit_seconds"] - t["first_epoch_seconds"] - t["outside_epochs_seconds"]) / (t["epochs_run"] - 1)
    per_member = later / (t["fused_members"].fillna(1) if "fused_members" in t else 1)
    return {"wall_seconds": wall, "member_epoch_seconds": float(per_member.median())}


def fuse_part(rounds: int, epochs: int, limit: int, k: int = 4):
    """Fused against one-by-one on JAX, alternated, each model and way a fresh process per round."""
    got: dict = {}
    for rnd in range(rounds):
        for model, study in FUSE_MODELS:
            for fuse in ((True, False) if rnd % 2 == 0 else (False, True)):
                r = fuse_one(model, study, k, fuse, epochs, limit)
                got.setdefault((model, fuse), []).append(r)
                record("backends_fuse", {"round": rnd + 1, "model": model, "way": "fused" if fuse else "one by one",
                                         "k": k, "epochs": epochs, "limit_train": limit, **r})
                print(f"round {rnd + 1} {model} {'fused' if fuse else 'one by one':<10} {r}", flush=True)
    rows = []
    for model, _ in FUSE_MODELS:
        f, a = (got[(model, x)] for x in (True, False))
        fw, aw = median([r["wall_seconds"] for r in f]), median([r["wall_seconds"] for r in a])
        fe, ae = median([r["member_epoch_seconds"] for r in f]), median([r["member_epoch_seconds"] for r in a])
        rows.append([model, aw, fw, aw / fw, ae, fe, ae / fe])
    print(f"\n{machine()}; {k} seeds on one 2-CPU slot, {epochs} epochs on {limit} reviews; medians of {rounds}\n")
    print(table(["model", "one by one, wall s", "fused, wall s", "gain", "one by one, s per member-epoch",
                 "fused, s per member-epoch", "gain"], rows))


def rows_part():
    """Seed 001's three studies at full budget (10 epochs, 20,000 reviews trained) from the reproduction's
    committed rows: TensorFlow (reproduction/run_pinned.sh) against JAX fused (reproduction/run_jax.sh),
    seeds 1-6. Not an alternated run: each side ran in its own sessions beside other work, so wall spans
    are indicative; the CPU-seconds each trial recorded are the firmer figure. Then where a fused
    group's time goes."""
    import pandas as pd

    from rnnsweep import results

    t = results.load(str(ROOT / "reproduction" / "results" / "imdb_grid"))[0]
    t = t[(t["status"] == "ok") & (t["study"] != "grid") & t["seed"].between(1, 6)].drop_duplicates("trial_id")
    out = []
    for (backend, sem), g in t.groupby(["keras_backend", "semantics"]):
        k = g["fused_members"].fillna(1) if "fused_members" in g else pd.Series(1, index=g.index)
        out.append([f"{backend}, {sem}", len(g), (g["seconds"] / k).sum() / 3600, g["cpu_seconds"].sum() / 3600,
                    (g["finished_at"].max() - g["started_at"].min()).total_seconds() / 3600])
    print(f"seed 001's studies, seeds 1-6, full budget, from the committed rows ({machine()})\n")
    print(table(["backend, semantics", "trials", "trial-hours (fused: the group's ÷ k)", "CPU-hours",
                 "first start → last end, h"], out))
    j = t[(t["keras_backend"] == "jax") & t["fused_group"].notna()].drop_duplicates("fused_group")
    per_epoch = (j["fit_seconds"] - j["first_epoch_seconds"] - j["outside_epochs_seconds"]) / (j["epochs_run"] - 1)
    parts = {"training epochs (each at the later epochs' pace)": (per_epoch * j["epochs_run"]).sum(),
             "the first epoch's extra (compiling)": (j["first_epoch_seconds"] - per_epoch).sum(),
             "evaluation on the 25,000 test reviews": j["evaluate_seconds"].sum(),
             "the rest (imports, build, backups, rows)": (j["seconds"] - j["fit_seconds"] - j["evaluate_seconds"]
                                                          + j["outside_epochs_seconds"]).sum()}
    total = j["seconds"].sum()
    print(f"\nwhere the {len(j)} fused JAX groups' {total:.0f} s went\n")
    print(table(["part", "s", "share"], [[k, v, f"{100 * v / total:.1f} %"] for k, v in parts.items()]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("study", "study-table", "epochs", "rows", "fuse"), default="study")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit-train", type=int, default=5000)
    ap.add_argument("--ways", default=",".join(STUDY_WAYS))
    ap.add_argument("--first-round", type=int, default=1, help="number the rounds from here (a later session's)")
    ap.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--one-tune", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_tune:
        print(json.dumps(tune(*args.one_tune)))
    elif args.one:
        print(json.dumps(one_epochs(args.one[1], args.one[2], args.one[3], args.one[4] if len(args.one) > 4 else "")))
    elif args.part == "fuse":
        fuse_part(args.rounds, args.epochs, args.limit_train)
    elif args.part == "rows":
        rows_part()
    elif args.part == "study-table":
        study_table(args.epochs, args.limit_train)
    elif args.part == "epochs":
        epochs_part(args.rounds)
    else:
        study_part(args.rounds, args.epochs, args.limit_train, args.ways.split(","), args.first_round - 1)


if __name__ == "__main__":
    main()
