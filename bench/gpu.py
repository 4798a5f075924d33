"""The GPU path, measured on a lent GPU machine (JAX and PyTorch there, no TensorFlow, no Ray, no
network): seed 000's trials through rnnsweep's own ``run_trial`` on Keras's torch (cuDNN) or JAX
backend.

    # here: seed 000's prepared arrays (~21 MB) and the wheels Keras needs there, into .gpu/
    RNNSWEEP_DATA=../shared/data python -m bench.gpu export
    # there (the device tool: carry .gpu): ~8 min on one H100
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl && \\
      PYTHONPATH=/tmp/site:. python3 -m bench.gpu run --backend torch --out $OUT
    # here, on CPU, to check the script itself
    KERAS_BACKEND=jax python -m bench.gpu run --backend jax --quick --out /tmp/gpu

Measures (1) seed 000's GRU-128/bs128 epoch time with relu (its own: no cuDNN) and tanh (cuDNN on
the torch backend); (2) trials per hour on one GPU at 1, 2, 4 and 8 trials at a time, each capped
to its share of the GPU's memory; (2b) on JAX, seed 000's relu GRU-32 with k = 1, 3, 9 seeds fused into
one program (``rnnsweep.fused``): member-epochs per second and peak GPU memory; (3) the projected time of
seed 000's whole 18 × 100-epoch study on one GPU: each model calibrated with rnnsweep's own
``cost.calibrate``, projected with ``cost.project``, laid onto the best number of slots with ``cost.makespan``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, seed_trial, table

DIR = ROOT / ".gpu"


def export():
    """Seed 000's prepared dataset and Keras's missing wheels (namex, optree) into .gpu/."""
    from rnnsweep import cache, text

    DIR.mkdir(exist_ok=True)
    p = text.prepare(seed_trial("imdb_grid", "GRU-128-bs128")["dataset"])
    fp = p.meta["fingerprint"]
    (DIR / f"{fp}.npz").write_bytes((cache.cache_dir() / f"{fp}.npz").read_bytes())
    (DIR / "dataset.json").write_text(json.dumps({"imdb_grid": fp}))
    import keras

    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux_2_17_x86_64",
                    "--platform", "manylinux2014_x86_64", "-d", str(DIR / "whl"), f"keras=={keras.__version__}",
                    "namex", "optree"], check=True)
    print(f"wrote {DIR}: {', '.join(sorted(f.name for f in DIR.rglob('*') if f.is_file()))}")


def _prepared():
    os.environ["RNNSWEEP_CACHE"] = str(DIR)
    from rnnsweep import cache

    return cache.load(json.loads((DIR / "dataset.json").read_text())["imdb_grid"])


def _cap_memory(fraction: float):
    """This process's share of the GPU, before the backend starts (set by the parent for JAX)."""
    if os.environ.get("KERAS_BACKEND") == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_per_process_memory_fraction(fraction)


def one(what: str, arg: str, quick: bool) -> dict:
    from rnnsweep.trial import run_trial

    rows = 512 if quick else None
    if what == "activation":  # seed 000's GRU-128/bs128, 3 epochs, relu or tanh
        budget = {"epochs": 2, "limit_train": rows} if quick else {"epochs": 3}
        t = seed_trial("imdb_grid", "GRU-128-bs128", **budget)
        t = t.changed(model={"activation": arg})
        r = run_trial(t, _prepared())
        secs = [h["seconds"] for h in r["history"]]
        return {"status": r["status"], "error": r["error"], "device": r["device"], "cudnn": r["cudnn"],
                "first_epoch": secs[0], "epoch": sorted(secs[1:])[len(secs[1:]) // 2],
                "train_samples": r["train_samples"]}
    if what == "packed":  # one of k trials sharing the GPU
        _cap_memory(float(arg))
        t = seed_trial("imdb_grid", "GRU-32-bs128", epochs=2, limit_train=rows or 16_000)
        r = run_trial(t, _prepared())
        return {"status": r["status"], "error": r["error"], "seconds": r["seconds"]}
    if what == "fused":  # JAX: k seeds of seed 000's relu GRU-32 as one fused program (rnnsweep.fused)
        import jax

        from rnnsweep.fused import train_group

        k = int(arg)
        t = seed_trial("imdb_grid", "GRU-32-bs128", epochs=2, limit_train=rows or 16_000)
        t = t.changed(training={"backend": "jax"})
        rs = train_group([t.changed(training={"seed": s}) for s in range(1, k + 1)], _prepared())
        second = rs[0]["history"][-1]["seconds"]  # epoch 2: compiled
        stats = jax.devices()[0].memory_stats() or {}
        return {"k": k, "status": sorted({r["status"] for r in rs}), "epoch_seconds": second,
                "member_epochs_per_second": k / second, "peak_gpu_bytes": stats.get("peak_bytes_in_use")}
    if what == "calibrate":  # every model of seed 000's grid, calibrated in this one process
        from imdb_grid import SWEEP

        from rnnsweep import cost
        from rnnsweep.sweep import expand, select_studies
        from rnnsweep.trial import run_trial

        p = _prepared()
        trials = select_studies(expand(SWEEP), "grid")[: 2 if quick else None]
        out = {}
        for t in trials:
            # dryrun.calibrate_model's three steps, without the driver's imports (no Ray or pyarrow there)
            r = run_trial(cost.short_run(t, len(p.x_test), 256 if quick else 4096, 2 if quick else 3), p)
            rate = cost.rate_of_run(r, len(p.x_test), len(p.x_train))
            out[t.name] = {"projected": cost.project(t, rate), **rate}
            print(t.name, out[t.name], file=sys.stderr, flush=True)
        return out
    raise SystemExit(f"unknown measurement {what}")


def _spawn(what, arg, args, env=None):
    return subprocess.Popen([sys.executable, "-m", "bench.gpu", "one", what, arg] + (["--quick"] if args.quick else []),
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _result(p) -> dict:
    out = p.communicate()[0]
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        raise SystemExit(f"a measurement failed (exit {p.returncode}):\n{out[-2000:]}")
    return json.loads(lines[-1])


def run(args):
    os.environ["KERAS_BACKEND"] = args.backend
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"backend": args.backend}
    # (1) relu vs tanh, alternated
    acts = {a: [] for a in ("relu", "tanh")}
    for a in ("relu", "tanh", "tanh", "relu")[: 2 if args.quick else 4]:
        acts[a].append(_result(_spawn("activation", a, args)))
        print("activation", a, acts[a][-1], flush=True)
    report["activation"] = acts
    # (2) k trials at a time on one GPU
    packing = {}
    for k in (1, 2) if args.quick else (1, 2, 4, 8):
        share = 0.9 / k
        t0 = time.time()
        procs = [_spawn("packed", str(share), args, {"XLA_PYTHON_CLIENT_MEM_FRACTION": f"{share:.3f}",
                                                     "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}) for _ in range(k)]
        rs = [_result(p) for p in procs]
        wall = time.time() - t0
        packing[k] = {"wall": wall, "trials_per_hour": k * 3600 / wall, "ok": all(r["status"] == "ok" for r in rs)}
        print("packed", k, packing[k], flush=True)
    report["packing"] = packing
    if args.backend == "jax":  # (2b) seed repeats fused into one program, k = 1, 3, 9
        report["fused"] = {k: _result(_spawn("fused", str(k), args)) for k in ((1, 3) if args.quick else (1, 3, 9))}
        print("fused", report["fused"], flush=True)
    # (3) seed 000's study, projected
    cal = _result(_spawn("calibrate", "-", args))
    from rnnsweep import cost

    best = max(packing, key=lambda k: packing[k]["trials_per_hour"])
    slowdown = packing[1]["wall"] / packing[best]["wall"] * best  # how much slower each of `best` sharing trials runs
    secs = [c["projected"] for c in cal.values()]
    report["study"] = {"trials": len(secs), "sequential_hours": sum(secs) / 3600, "best_per_gpu": best,
                       "packed_hours": cost.makespan([s * slowdown for s in secs], best) / 3600, "per_trial": cal}
    (out / f"gpu_{args.backend}.json").write_text(json.dumps(report, indent=1, default=str))
    med = {a: sorted(r["epoch"] for r in v)[len(v) // 2] for a, v in acts.items()}
    print(table(["measure", "value"], [
        ["device", acts["relu"][0]["device"]],
        ["GRU-128/bs128 epoch, relu (cuDNN: " + acts["relu"][0]["cudnn"] + ")", med["relu"]],
        ["GRU-128/bs128 epoch, tanh (cuDNN: " + acts["tanh"][0]["cudnn"] + ")", med["tanh"]],
        *[[f"trials per hour, {k} per GPU", v["trials_per_hour"]] for k, v in packing.items()],
        ["seed 000 study (18 × 100 epochs), one at a time, hours", report["study"]["sequential_hours"]],
        [f"seed 000 study, {best} per GPU, hours", report["study"]["packed_hours"]]]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("export", "run", "one"))
    ap.add_argument("what", nargs="?")
    ap.add_argument("arg", nargs="?")
    ap.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "torch"), choices=("torch", "jax"))
    ap.add_argument("--out", default="bench/results/gpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks the script on a CPU")
    args = ap.parse_args()
    if args.mode == "export":
        export()
    elif args.mode == "run":
        run(args)
    else:
        print(json.dumps(one(args.what, args.arg, args.quick), default=str))


if __name__ == "__main__":
    main()
