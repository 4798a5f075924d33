"""The sweep driver: ``python sweeps/<study>.py [options]`` (or ``ray submit cluster.yaml ...``).

Expands the sweep, skips trials already in the results, prepares each distinct dataset once and
puts it in the Ray object store once, runs one Ray task per trial (a fresh worker each:
``max_calls=1``), and writes each result as it arrives (``ray.wait``). ``--trial NAME`` runs one
trial in this process without Ray, for debugging.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

from . import results, text
from .sweep import Grid, SweepError, expand, select, non_default, select_studies, stable_hash, studies_of

SMOKE = {"epochs": 2, "limit_train": 512, "limit_test": 512}
GPUS_ENV = "RNNSWEEP_GPUS_PER_TRIAL"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Run a sweep: one Ray task per trial, results as Parquet.")
    p.add_argument("--results", default="results", help="results root: a path or a URI (s3://bucket/prefix)")
    p.add_argument("--gpus-per-trial", type=float, default=None,
                   help=f"GPUs per trial; a fraction packs trials per GPU (default: ${GPUS_ENV}, "
                        "else 1 when the cluster has GPUs, else 0)")
    p.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs per trial (TF threads follow)")
    p.add_argument("--gpu-memory-mb", type=int, default=None,
                   help="TF memory limit per trial with a fractional GPU (default: fraction × card memory)")
    p.add_argument("--only", default=None, help="comma-separated globs of trial names or id prefixes")
    p.add_argument("--study", default=None, help="comma-separated study names: run only their trials")
    p.add_argument("--seeds", default=None,
                   help="random seeds of every configuration, e.g. 1-10 or 1,2,3 (replaces the sweep's own)")
    p.add_argument("--epochs", type=int, default=None, help="override training.epochs (recorded)")
    p.add_argument("--limit-train", type=int, default=None, help="train on the first N samples (recorded)")
    p.add_argument("--smoke", action="store_true",
                   help=f"tiny budget so a whole grid runs in minutes on a laptop: {SMOKE}")
    p.add_argument("--dry-run", action="store_true", help="list the trials and what is done; run nothing")
    p.add_argument("--rerun-failed", action="store_true", help="run failed trials again")
    p.add_argument("--trial", default=None, help="run this one trial here, without Ray, and print it")
    p.add_argument("--address", default=None,
                   help="Ray address (default: the running cluster if any, else a local one; 'local' forces local)")
    p.add_argument("--max-retries", type=int, default=2, help="Ray retries when a worker or node dies")
    return p.parse_args(argv)


def budget(args) -> dict:
    b = dict(SMOKE) if args.smoke else {}
    if args.epochs:
        b["epochs"] = args.epochs
    if args.limit_train:
        b["limit_train"] = args.limit_train
    return b


def with_seeds(spec: dict, seeds: str | None) -> dict:
    """The spec with ``training.seed`` set to ``grid(*seeds)`` in its base and every study: "1-10"
    or "1,2,3". Trials of seeds it already had keep their ids (and results)."""
    if not seeds:
        return spec
    values = []
    for part in seeds.split(","):
        lo, _, hi = part.partition("-")
        if not (lo.strip().isdigit() and (not hi or hi.strip().isdigit())):
            raise SweepError(f"--seeds {seeds!r}: expected integers like 1-10 or 1,2,3")
        values += range(int(lo), int(hi or lo) + 1)

    def seeded(body):
        return {**body, "training": {**body.get("training", {}), "seed": Grid(tuple(values))}}

    return {**seeded(spec), **({"studies": {k: seeded(v) for k, v in spec["studies"].items()}}
                               if spec.get("studies") else {})}


def dry_run(trials: list[dict], have: dict):
    """Each trial and whether it is done, under the study it belongs to, with its settings."""
    for study in studies_of(trials) or [None]:
        group = [t for t in trials if study is None or study in (t.get("study") or "").split(",")]
        if study:
            print(f"study {study}: {len(group)} trials")
        for t in group:
            shared = f"  (also {t['study'].replace(study + ',', '').replace(',' + study, '')})" \
                if study and "," in t["study"] else ""
            print(f"  {t['trial_id']}  {t['name']:<34} {have.get(t['trial_id'], 'todo'):<8} {describe(t)}{shared}")


def describe(t: dict) -> str:
    """The settings of a trial that differ from the defaults, as ``section.key=value``."""
    return " ".join(f"{k}={v}" for section in non_default({s: t[s] for s in ("dataset", "model", "training")}).values()
                    for k, v in section.items())


def _fmt(x, spec=".3f"):
    return "—" if x is None else format(x, spec)


def trial_line(r: dict) -> str:
    h = r.get("history") or []
    val = max((e["val_accuracy"] for e in h if e.get("val_accuracy") is not None), default=None)
    line = (f"{r['name']:<34} {r['status']:<8} val_acc {_fmt(val)}  test_acc {_fmt(r.get('test_accuracy'))}  "
            f"test_auc {_fmt(r.get('test_auc'))}  {r.get('seconds', 0) / 60:.1f} min")
    return line + (f"  ({r['error']})" if r.get("error") else "")


def dataset_key(trial: dict) -> str:
    return stable_hash(trial["dataset"])


def code_version() -> str:
    from importlib.metadata import version

    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"rnnsweep {version('rnnsweep')}" + (f" ({sha})" if sha else "")

# ----------------------------------------------------------------------------- the Ray task


def _gpu_memory_mb(fraction: float) -> int | None:
    """Fraction × the memory of the GPU Ray gave this task (nvidia-smi, before TF starts)."""
    import ray

    ids = ray.get_gpu_ids()
    if not ids:
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits",
                          "-i", str(ids[0])], capture_output=True, text=True, timeout=30)
    return int(float(out.stdout.split()[0]) * fraction)


def remote_trial(config: dict, prepared, cpus: float, gpus: float, gpu_memory_mb: int | None):
    """Body of the Ray task. ``prepared`` arrives resolved from the object store: its arrays are
    read-only views of the shared memory, not copies."""
    import ray

    from .trial import run_trial

    if gpus and gpus < 1 and not gpu_memory_mb:
        gpu_memory_mb = _gpu_memory_mb(gpus)
    r = run_trial(config, prepared, cpus=max(1, int(cpus)), gpu_memory_mb=gpu_memory_mb)
    x = prepared.x_train
    r["dataset_zero_copy"] = bool(not x.flags.writeable and not x.flags.owndata)
    r["ray_version"] = ray.__version__
    r["gpu_ids"] = [str(g) for g in ray.get_gpu_ids()]
    r["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    r["node_id"] = ray.get_runtime_context().get_node_id()
    return r

# ----------------------------------------------------------------------------- main


def _prepare(trial: dict):
    """The trial's dataset, or a one-line exit naming the missing/bad file (nothing has run yet)."""
    from .data import DataFormatError, DataNotFound

    try:
        return text.prepare(trial["dataset"])
    except (DataNotFound, DataFormatError) as e:
        sys.exit(f"error: dataset of {trial['name']}: {e}")


def run_local(trial: dict):
    """One trial in this process, no Ray: for debugging a configuration."""
    print(f"preparing dataset for {trial['name']} ...", flush=True)
    prepared = _prepare(trial)
    print(f"  {len(prepared.x_train)} train / {len(prepared.x_test)} test rows, vocab {prepared.vocab_size}"
          + (f", GloVe {prepared.meta['config']['glove_dim']}d coverage {prepared.meta['glove_coverage']:.1%}"
             if prepared.embedding is not None else ""), flush=True)
    from .trial import run_trial

    r = run_trial(trial, prepared, cpus=os.cpu_count(), verbose=2)
    for e in r["history"]:
        print(f"  epoch {e['epoch']}: {e['seconds']:.1f} s  loss {_fmt(e['loss'], '.4f')}  "
              f"acc {_fmt(e['accuracy'])}  val_acc {_fmt(e['val_accuracy'])}  val_auc {_fmt(e['val_auc'])}")
    print(trial_line(r))
    if r["status"] == "failed":
        print(r.get("traceback", ""), file=sys.stderr)
    return r


def main(spec: dict, argv=None) -> dict:
    """Entry point of every sweep script. Returns a summary dict (used by tests)."""
    args = parse_args(argv)
    b = budget(args)
    try:
        trials = select_studies(expand(with_seeds(spec, args.seeds), {"training": b} if b else None), args.study)
    except SweepError as e:
        sys.exit(f"error: {e}")
    name = spec["name"]
    if args.trial:
        chosen = select(trials, args.trial)
        if len(chosen) != 1:
            sys.exit(f"error: --trial {args.trial!r} matches {len(chosen)} trials of {name}; "
                     f"names: {', '.join(t['name'] for t in trials[:6])}, ...")
        return {"results": [run_local(chosen[0])]}

    chosen = select(trials, args.only)
    if not chosen:
        sys.exit(f"error: --only {args.only!r} matches none of the {len(trials)} trials of {name}")
    try:
        have = results.done(args.results, name)
        # Read now, before anything starts: an unreadable sweep.json stops here, never overwritten.
        meta = results.read_json(args.results, name, "sweep.json") or {}
        skip = {"ok", "diverged"} | (set() if args.rerun_failed else {"failed"})
        todo = [t for t in chosen if have.get(t["trial_id"]) not in skip]
        where = f"{args.results.rstrip('/')}/{name}"
        print(f"{name}: {len(chosen)} trials, {len(chosen) - len(todo)} already in {where}, {len(todo)} to run"
              + (f"  (budget: {b})" if b else ""), flush=True)
        if args.dry_run:
            dry_run(chosen, have)
            return {"todo": todo, "done": have}
        if not todo:
            print("nothing to do: every trial is already done (use --rerun-failed to retry failed ones)")
            return {"todo": [], "results": []}
        results.check_writable(args.results, name)
        return run_ray(spec, trials, todo, args, b, where, meta)
    except results.ResultsError as e:
        sys.exit(f"error: {e}")

# ----------------------------------------------------------------------------- the sweep on Ray, step by step


def prepare_datasets(todo: list[dict]) -> dict:
    """Each distinct dataset config prepared once (from the on-disk cache when it can be), before
    Ray starts: a missing or bad data file stops the sweep here, with nothing started."""
    datasets = {}
    for t in todo:
        key = dataset_key(t)
        if key not in datasets:
            t0 = time.time()
            datasets[key] = p = _prepare(t)
            print(f"dataset {key}: {len(p.x_train)} train / {len(p.x_test)} test rows "
                  f"prepared in {time.time() - t0:.1f} s{' (cached)' if p.meta.get('cached') else ''}", flush=True)
    return datasets


def connect(args) -> bool:
    """Join the running cluster when there is one (the head node after `ray up`), else start a
    local Ray. Returns whether this process started Ray (and so shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = args.address or os.environ.get("RAY_ADDRESS") or ("auto" if _cluster_running() else "local")
    ray.init(address=address, log_to_driver=False, configure_logging=False,
             **({"include_dashboard": False} if address == "local" else {}))
    return True


def record_run(meta, spec, trials, todo, args, b, gpus) -> dict:
    """Append this run to ``sweep.json``'s ``meta`` (spec, expanded trials, code version, resources)
    and write it; returns this run's entry, to be written again with the counts at the end."""
    import ray

    run = {"started_at": time.time(), "host": socket.gethostname(), "cluster_resources": ray.cluster_resources(),
           "budget": b, "todo": [t["trial_id"] for t in todo], "gpus_per_trial": gpus,
           "cpus_per_trial": args.cpus_per_trial}
    meta.update(spec=_jsonable(spec), trials=trials, code_version=code_version())
    meta.setdefault("runs", []).append(run)
    results.write_json(args.results, spec["name"], "sweep.json", meta)
    return run


def submit(todo, refs, args, gpus) -> dict:
    """One Ray task per trial, in a fresh worker each (``max_calls=1``), retried by Ray when its
    worker or node dies; ``{object ref: trial}``."""
    import ray

    task = ray.remote(max_calls=1, max_retries=args.max_retries)(remote_trial)
    return {task.options(num_cpus=args.cpus_per_trial, num_gpus=gpus, name=t["name"]).remote(
        t, refs[dataset_key(t)], args.cpus_per_trial, gpus, args.gpu_memory_mb): t for t in todo}


def collect(pending: dict, args, name: str, b: dict, capacity: int) -> tuple[list, dict]:
    """Ray's ``ray.wait`` loop: write each result the moment it arrives; a task that died with
    its retries spent is written as ``failed``."""
    import ray
    from tqdm import tqdm

    finished, counts = [], {"ok": 0, "diverged": 0, "failed": 0}
    with tqdm(total=len(pending), unit="trial", dynamic_ncols=True, file=sys.stdout) as bar:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            t = pending.pop(ready[0])
            try:
                r = ray.get(ready[0])
            except Exception as e:  # the task itself died (retries exhausted), not an error inside it
                r = {"trial_id": t["trial_id"], "config_id": t["config_id"], "name": t["name"], "config": t,
                     "status": "failed", "error": _task_error(e), "history": [], "finished_at": time.time()}
            results.write_trial(args.results, name, r, b)
            finished.append(r)
            counts[r["status"]] = counts.get(r["status"], 0) + 1
            bar.update(1)
            bar.set_postfix(running=min(len(pending), capacity), failed=counts["failed"], diverged=counts["diverged"])
            bar.write(trial_line(r))
    return finished, counts


def run_ray(spec, trials, todo, args, b, where, meta) -> dict:
    import ray

    datasets = prepare_datasets(todo)
    owns_ray = connect(args)
    resources = ray.cluster_resources()
    gpus = gpus_wanted(args, resources)
    # How many trials the cluster runs at once right now (an autoscaler may add nodes later).
    capacity = max(1, int(resources.get("GPU" if gpus else "CPU", 1) / (gpus or args.cpus_per_trial)))
    run = record_run(meta, spec, trials, todo, args, b, gpus)
    refs = {key: ray.put(p) for key, p in datasets.items()}  # one copy per dataset, shared by its trials
    datasets.clear()  # the object store holds them now
    pending = submit(todo, refs, args, gpus)
    try:
        finished, counts = collect(pending, args, spec["name"], b, capacity)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        print(f"\ninterrupted: {len(todo) - len(pending)} trials saved in {where}; {len(pending)} cancelled. "
              "Run the same command again to resume.", flush=True)
        raise SystemExit(130) from None
    run.update(finished_at=time.time(), counts=counts)
    results.write_json(args.results, spec["name"], "sweep.json", meta)
    print(f"done in {(time.time() - run['started_at']) / 60:.1f} min: {counts}; results in {where}", flush=True)
    if owns_ray:
        ray.shutdown()
    return {"results": finished, "datasets_put": len(refs), "counts": counts}


def _task_error(e: Exception) -> str:
    """One line for a task that died: the underlying exception, not Ray's wrapper banner."""
    cause = getattr(e, "cause", None) or e
    lines = [ln for ln in str(cause).splitlines() if ln.strip()]
    return f"{type(cause).__name__}: {lines[-1] if lines else ''}"[:500]


def gpus_wanted(args, resources) -> float:
    if args.gpus_per_trial is not None:
        return args.gpus_per_trial
    return float(os.environ.get(GPUS_ENV) or (1 if resources.get("GPU", 0) else 0))


def _cluster_running() -> bool:
    """True on a node where ``ray start`` / ``ray up`` left a running cluster."""
    return os.path.exists("/tmp/ray/ray_current_cluster")


def _jsonable(obj):
    from .sweep import Grid

    if isinstance(obj, Grid):
        return {"grid": [_jsonable(v) for v in obj.values]}
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj
