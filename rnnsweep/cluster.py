"""The sweep on Ray, step by step: prepare each dataset once, connect (checking the cluster can run
a trial at all), record the run, submit one task per trial, collect results as they arrive.

Ray's "simple parallel model selection" pattern: ``ray.remote`` tasks and a ``ray.wait`` loop.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Callable

from . import lease, results, search, text
from .progress import Progress
from .sweep import stable_hash

GPUS_ENV = "RNNSWEEP_GPUS_PER_TRIAL"


@dataclass(frozen=True)
class Options:
    """What running a sweep on Ray needs from the command line (``driver.parse_args``), no more."""
    results: str = "results"            # results root: a path or a URI (s3://bucket/prefix)
    cpus_per_trial: float = 1
    gpus_per_trial: float | None = None  # None: $RNNSWEEP_GPUS_PER_TRIAL, else 1 on a cluster with GPUs
    gpu_memory_mb: int | None = None
    max_retries: int = 2
    tensorboard: bool = False
    address: str | None = None

    @classmethod
    def of(cls, args) -> Options:
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})
COMPACT_AT = 500  # per-trial files in a table from which a finished run compacts them (results.compact)

def prepare_dataset(trial: dict):
    """The trial's dataset, or a one-line exit naming the missing/bad file (nothing has run yet)."""
    from .data import DataFormatError, DataNotFound

    try:
        return text.prepare(trial["dataset"])
    except (DataNotFound, DataFormatError) as e:
        sys.exit(f"error: dataset of {trial['name']}: {e}")


def dataset_key(trial: dict) -> str:
    return stable_hash(trial["dataset"])


def code_version() -> str:
    """Which code made a row: ``rnnsweep 0.1.0 (f18d1a9)``, with ``+dirty`` when the package or the
    sweeps have uncommitted changes (trials are deterministic within a version, not across them)."""
    from importlib.metadata import version

    here = os.path.dirname(os.path.abspath(__file__))

    def git(*a):
        return subprocess.run(["git", *a], capture_output=True, text=True, timeout=5, cwd=here).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = sha and git("status", "--porcelain", "--", here, os.path.join(here, "..", "sweeps"))
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    try:
        v = version("rnnsweep")
    except Exception:  # noqa: BLE001 - run from a checkout on sys.path, not installed
        v = "?"
    return f"rnnsweep {v}" + (f" ({sha}{'+dirty' if dirty else ''})" if sha else "")

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


def remote_trial(config: dict, prepared, cpus: float, gpus: float, gpu_memory_mb: int | None, live: dict):
    """Body of the Ray task. ``prepared`` arrives resolved from the object store (Ray fetches a
    task's arguments before it starts it; a ``ray.get`` in here would hand the task's CPUs to the
    next trial while it waits): its arrays are read-only views of the shared memory, not copies.
    ``live``: where each finished epoch goes as it happens — the results (``uri``, ``sweep``,
    ``budget``), the driver's progress ``queue``, and when the driver submitted (``submitted_at``)."""
    import ray

    from . import live as store
    from .trial import run_trial

    began = time.time()

    if gpus and gpus < 1 and not gpu_memory_mb:
        gpu_memory_mb = _gpu_memory_mb(gpus)
    uri, sweep, tid = live["uri"], live["sweep"], config["trial_id"]
    backup, mirrored = store.backup_folder(uri, sweep, tid)
    # An earlier attempt died: its backup holds the weights of its last finished epoch, the results
    # its epoch rows. Without a backup the trial starts again from epoch 1.
    earlier = store.read_epochs(uri, sweep, tid) if os.path.isdir(backup) and os.listdir(backup) else []
    rows: list[dict] = []
    ids = {k: config.get(k) for k in ("trial_id", "config_id", "name")}

    def on_epoch(row):
        rows.append(row)
        history = [r for r in earlier if r["epoch"] < rows[0]["epoch"]] + rows
        try:  # what the driver and a report see while it runs: never a reason for the trial to fail
            store.write_epochs(uri, sweep, {**ids, "config": config, "history": history, "epochs_run": len(history),
                                            "host": socket.gethostname(), "pid": os.getpid()}, live["budget"])
            # Sent, not awaited: a ray.get in a task (Queue.put_nowait does one) lends the task's
            # CPUs to the next trial while it waits, and two trials then share one trial's CPUs.
            live["queue"].actor.put_nowait.remote((tid, config["name"], row["epoch"], row.get("val_accuracy")))
        except Exception as e:  # noqa: BLE001 - e.g. the driver's node is gone, or a store hiccup
            print(f"rnnsweep: epoch {row['epoch']} of {config['name']} not reported ({type(e).__name__})")
        if live.get("search") is None or not config.get("prune"):
            return False
        try:  # the search's verdict, awaited: the driver runs no more trials than slots while it searches
            return ray.get(live["search"].report.remote(config, row["epoch"], row.get(config["prune"]["metric"])))
        except Exception as e:  # noqa: BLE001 - no verdict: the trial goes on
            print(f"rnnsweep: epoch {row['epoch']} of {config['name']} not reported to the search ({type(e).__name__})")
            return False

    r = run_trial(config, prepared, cpus=max(1, int(cpus)), gpu_memory_mb=gpu_memory_mb, on_epoch=on_epoch,
                  backup_dir=backup, earlier=earlier,
                  on_backup=(lambda: store.push_backup(backup, uri, sweep, tid)) if mirrored else None,
                  tensorboard_dir=results.local_folder(uri, sweep, "tensorboard", config["name"])
                  if live.get("tensorboard") else None, gpus=gpus)
    # Before the trial's own work: waiting for a slot, a worker (its start, when fresh) and the
    # dataset's fetch from the object store (a node's first trial of it copies it there).
    r.update(wait_seconds=began - live["submitted_at"] if live.get("submitted_at") else None, gpus=gpus)
    if mirrored:
        store.drop_backup(uri, sweep, tid)
    x = prepared.x_train
    r["dataset_zero_copy"] = bool(not x.flags.writeable and not x.flags.owndata)
    r["ray_version"] = ray.__version__
    r["code_version"] = live.get("code_version")
    r["gpu_ids"] = [str(g) for g in ray.get_gpu_ids()]
    r["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    r["node_id"] = ray.get_runtime_context().get_node_id()
    return r

# ----------------------------------------------------------------------------- the sweep on Ray, step by step


def prepare_datasets(todo: list[dict]) -> dict:
    """Each distinct dataset config prepared once (from the on-disk cache when it can be), before
    Ray starts: a missing or bad data file stops the sweep here, with nothing started."""
    datasets = {}
    for t in todo:
        key = dataset_key(t)
        if key not in datasets:
            t0 = time.time()
            datasets[key] = p = prepare_dataset(t)
            print(f"dataset {key}: {len(p.x_train)} train / {len(p.x_test)} test rows "
                  f"prepared in {time.time() - t0:.1f} s{' (cached)' if p.meta.get('cached') else ''}", flush=True)
    return datasets


ADDRESS_FILE = "/tmp/ray/ray_current_cluster"  # where `ray start` leaves the address of the cluster it started


def _answers(address: str, timeout=3.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def ray_address(opts) -> str:
    """The cluster to join: ``--address``, ``$RAY_ADDRESS``, the one `ray start` left on this node
    (the head after `ray up`), else "local". A cluster that does not answer is a one-line exit
    within seconds, not Ray's minutes of retries."""
    address = opts.address or os.environ.get("RAY_ADDRESS")
    if address in (None, "auto"):
        if not os.path.exists(ADDRESS_FILE):
            return "local" if address is None else "auto"
        with open(ADDRESS_FILE) as fh:
            address, source = fh.read().strip(), f" (from {ADDRESS_FILE}, left by `ray start`)"
    else:
        source = ""
    if address != "local" and "://" not in address and not _answers(address):
        sys.exit(f"error: the Ray cluster at {address}{source} does not answer; "
                 "`--address local` starts a fresh local Ray")
    return address


def connect(opts) -> bool:
    """Join the running cluster when there is one, else start a local Ray. Returns whether this
    process started Ray (and so shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = ray_address(opts)
    ray.init(address=address, log_to_driver=False, configure_logging=False,
             **({"include_dashboard": False} if address == "local" else {}))
    return True


def largest_node(resources_of_nodes: list[dict]) -> dict:
    """The most CPUs and GPUs any one node has, or can have: the live nodes, and the node types of
    the autoscaler's config on a head started by `ray up` (nodes it may add later)."""
    nodes = list(resources_of_nodes)
    config = os.path.expanduser("~/ray_bootstrap_config.yaml")
    if os.path.exists(config):
        import yaml

        with open(config) as fh:
            types = (yaml.safe_load(fh) or {}).get("available_node_types", {})
        nodes += [t.get("resources", {}) for t in types.values()]
    return {k: max((n.get(k, 0) for n in nodes), default=0) for k in ("CPU", "GPU")}


def check_fits(opts, gpus: float, biggest: dict):
    """A trial that no node can hold would wait forever: say so and stop, before anything runs."""
    for what, want, have in (("cpus", opts.cpus_per_trial, biggest["CPU"]), ("gpus", gpus, biggest["GPU"])):
        if want and want > have:
            sys.exit(f"error: --{what}-per-trial {want:g}: no node of this cluster has that many "
                     f"{what[:-1].upper()}s (the largest has {have:g}); lower it, or add bigger nodes")


def record_run(meta, spec, trials, todo, opts, b, gpus) -> dict:
    """Append this run to ``sweep.json``'s ``meta`` (spec, expanded trials, code version, resources)
    and write it; returns this run's entry, to be written again with the counts at the end."""
    import ray

    run = {"started_at": time.time(), "host": socket.gethostname(), "cluster_resources": ray.cluster_resources(),
           "budget": b, "todo": [t["trial_id"] for t in todo], "gpus_per_trial": gpus,
           "cpus_per_trial": opts.cpus_per_trial, "code_version": code_version()}
    meta.update(spec=_jsonable(spec), trials=trials, code_version=run["code_version"])
    meta.setdefault("runs", []).append(run)
    results.write_json(opts.results, spec["name"], "sweep.json", meta)
    return run


@dataclass
class InFlight:
    """The trials submitted and not yet collected (``pending``: object ref → trial), and those still
    ``waiting`` for a slot: a sweep of 10,000 trials keeps a bounded ``window`` of tasks in Ray, so the
    driver's memory and each ``ray.wait`` stay small; ``top_up`` submits more as trials finish."""
    waiting: deque
    launch: Callable
    window: int
    pending: dict = field(default_factory=dict)

    def top_up(self):
        while self.waiting and len(self.pending) < self.window:
            t = self.waiting.popleft()
            if t is not None:  # a search whose space has nothing new left
                self.pending[self.launch(t)] = t
        return self


WINDOW = 256  # trials in flight at least: enough for an autoscaler to see the demand of a big cluster


def slots(opts, gpus: float, resources: dict) -> int:
    """How many trials the cluster runs at once."""
    n = resources.get("GPU", 0) // gpus if gpus else resources.get("CPU", 1) // (opts.cpus_per_trial or 1)
    return max(1, int(n))


def window(opts, gpus: float, resources: dict) -> int:
    """Twice the trials the cluster runs at once (the next ones queued where a slot frees), at least
    ``WINDOW``."""
    return max(WINDOW, 2 * slots(opts, gpus, resources))


def submit(todo, refs, opts, gpus, live, body=None, size=None) -> InFlight:
    """One Ray task per trial, retried by Ray when its worker or node dies, at most ``size`` at a
    time (all of them when None); returns the ``InFlight`` trials.

    On CPUs a worker is kept for the next trial (TensorFlow's ~10 s import paid once per worker;
    ``trial`` clears Keras's state between trials). With GPUs every trial gets a fresh worker
    (``max_calls=1``): TF never gives GPU memory back while its process lives. ``body``: the task's
    function (``remote_trial``; the benchmarks put a sleep there)."""
    import ray

    task = ray.remote(max_calls=1 if gpus else 0, max_retries=opts.max_retries)(body or remote_trial)
    live = {**live, "submitted_at": time.time()}

    def launch(t):
        if dataset_key(t) not in refs:  # a searched study that draws dataset settings
            refs[dataset_key(t)] = ray.put(prepare_dataset(t))
        return task.options(num_cpus=opts.cpus_per_trial, num_gpus=gpus, name=t["name"]).remote(
            t, refs[dataset_key(t)], opts.cpus_per_trial, gpus, opts.gpu_memory_mb, live)

    waiting = todo if hasattr(todo, "popleft") else deque(todo)  # a search.Feed draws as slots free
    return InFlight(waiting, launch, size or len(todo) or 1).top_up()


def collect(flight: InFlight, opts, name: str, b: dict, progress: Progress,
            heartbeat=lambda: None, searcher=None) -> tuple[list, dict]:
    """Ray's ``ray.wait`` loop: write each result the moment it arrives; a task that died with
    its retries spent is written as ``failed``; a finished trial's slot goes to the next waiting
    one. Each second: the trials' epochs onto the bar, and ``heartbeat``."""
    import ray

    finished = []
    written = 0  # trials' own files since the last compaction
    with progress.bar:
        while flight.pending:
            heartbeat()
            ready, _ = ray.wait(list(flight.pending), num_returns=1, timeout=1.0)
            progress.poll()
            if ready:  # and whatever else is done by now, in one call
                ready, _ = ray.wait(list(flight.pending), num_returns=len(flight.pending), timeout=0)
            for ref in ready:
                t = flight.pending.pop(ref)
                try:
                    r = ray.get(ref)
                except Exception as e:  # the task itself died (retries exhausted), not an error inside it
                    r = {"trial_id": t["trial_id"], "config_id": t["config_id"], "name": t["name"], "config": t,
                         "status": "failed", "error": _task_error(e), "history": [], "finished_at": time.time(),
                         "code_version": code_version()}
                results.write_trial(opts.results, name, r, b)
                if searcher is not None and t.get("prune"):  # before the next draw (actor calls keep their order)
                    searcher.tell.remote(t, r["status"], r.get("history") or [])
                finished.append(r)
                progress.finished(t, r)
                written += 1
            if written >= COMPACT_AT:  # a long sweep's resume scan stays a few files (we hold the lease)
                results.compact(opts.results, name)
                written = 0
            flight.top_up()
    return finished, progress.counts


def run_ray(spec, trials, todo, opts: Options, b, meta, plans=()) -> dict:
    """Run ``todo`` (and the draws of the searched studies ``plans``, ``sweep.searches``) on Ray."""
    import ray

    datasets = prepare_datasets(todo + [search.trial_of(p, 0, {f"{s}.{k}": v.args[0] for s, k, v in p["sampled"]})
                                        for p in plans])
    owns_ray = connect(opts)
    try:
        return _run(spec, trials, todo, opts, b, meta, datasets, plans)
    finally:
        if owns_ray:
            ray.shutdown()


def start_search(uri: str, name: str, trials: list[dict], todo: list[dict], plans) -> tuple:
    """The ``search.Searcher`` of this run, told what the results already hold; returns it, the
    ``search.Feed`` of trials to launch (running trials of searched studies resumed first) and the
    epochs the draws still to come will run."""
    import ray

    pruned = {t["prune"]["study"]: {k: v for k, v in t["prune"].items() if k != "study"}
              for t in trials if t.get("prune")}
    max_epochs = {p["study"]: p["fixed"]["training"]["epochs"] for p in plans}
    for t in trials:
        if t.get("prune"):
            study = t["prune"]["study"]
            max_epochs[study] = max(max_epochs.get(study, 1), t["training"]["epochs"])
    searcher = search.actor(list(plans), pruned, max_epochs)
    listed, left, extra = [], {}, 0
    listed_ids = {t["trial_id"] for t in todo}
    for study, plan in [(s, None) for s in pruned] + [(p["study"], p) for p in plans]:
        # A pruned grid's trials are listed; its finished ones tell the pruner what its rungs hold.
        rows = search.study_rows(uri, name, study, plan, leave_out=listed_ids if plan is None else ())
        ended = [r for r in rows if r["status"] != "running"]
        ray.get(searcher.replay.remote(study, ended))
        if plan is None:
            continue
        for r in rows:
            if r["status"] == "running" and r["number"] is not None:  # the driver died while it trained
                t = search.trial_of(plan, r["number"], r["params"])
                searcher.resume.remote(study, t, r["history"])
                listed.append(t)
        left[study] = max(0, plan["search"]["trials"] - len(rows))
        extra += left[study] * plan["fixed"]["training"]["epochs"]
    return searcher, search.Feed(listed + list(todo), searcher, left), extra


def _run(spec, trials, todo, opts: Options, b, meta, datasets, plans=()) -> dict:
    import ray

    uri, name = opts.results, spec["name"]
    where = f"{uri.partition('?')[0].rstrip('/')}/{name}"
    resources = ray.cluster_resources()
    gpus = gpus_wanted(opts, resources)
    check_fits(opts, gpus, largest_node(n["Resources"] for n in ray.nodes() if n["Alive"]))
    held = {"lease": lease.take(uri, name)}  # one driver per sweep and results location
    try:
        run = record_run(meta, spec, trials, todo, opts, b, gpus)
        refs = {key: ray.put(p) for key, p in datasets.items()}  # one copy per dataset, shared by its trials
        datasets.clear()  # the object store holds them now
        from ray.util.queue import Queue

        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # On the driver's own node: a lost worker node must not take the progress queue with it.
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        queue = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
        searcher, feed, extra = None, todo, 0
        if plans or any(t.get("prune") for t in todo):
            searcher, feed, extra = start_search(uri, name, trials, todo, plans)
        flight = submit(feed, refs, opts, gpus, {"uri": uri, "sweep": name, "budget": b, "search": searcher,
                                                  "queue": queue, "tensorboard": opts.tensorboard,
                                                  "code_version": run["code_version"]},
                        # While a search decides, no trial waits in Ray: a trial awaiting its verdict
                        # would lend its CPUs to a waiting one. A draw waits for a free slot anyway.
                        size=slots(opts, gpus, resources) if searcher else window(opts, gpus, resources))

        def heartbeat():
            held["lease"] = lease.renew(uri, name, held["lease"])

        try:
            finished, counts = collect(flight, opts, name, b, Progress(todo, queue, extra), heartbeat, searcher)
        except KeyboardInterrupt:
            for ref in flight.pending:
                ray.cancel(ref, force=True)
            saved = len(todo) - len(flight.pending) - len(flight.waiting)
            print(f"\ninterrupted: {saved} trials saved in {where}; {len(flight.pending)} cancelled"
                  + (f", {len(flight.waiting)} not started" if flight.waiting else "")
                  + ". Run the same command again to resume.", flush=True)
            raise SystemExit(130) from None
        run.update(finished_at=time.time(), counts=counts)
        results.write_json(uri, name, "sweep.json", meta)
        if results.table_files(uri, name, compacted=False) >= COMPACT_AT:  # under our lease
            results.compact(uri, name)
    finally:
        lease.release(uri, name, held["lease"])
    print(f"done in {(time.time() - run['started_at']) / 60:.1f} min: {counts}; results in {where}", flush=True)
    return {"results": finished, "datasets_put": len(refs), "counts": counts}


def _task_error(e: Exception) -> str:
    """One line for a task that died: the underlying exception, not Ray's wrapper banner."""
    cause = getattr(e, "cause", None) or e
    lines = [ln for ln in str(cause).splitlines() if ln.strip()]
    return f"{type(cause).__name__}: {lines[-1] if lines else ''}"[:500]


def gpus_wanted(opts, resources) -> float:
    if opts.gpus_per_trial is not None:
        return opts.gpus_per_trial
    return float(os.environ.get(GPUS_ENV) or (1 if resources.get("GPU", 0) else 0))


def _jsonable(obj):
    from .sweep import Grid

    if isinstance(obj, Grid):
        return {"grid": [_jsonable(v) for v in obj.values]}
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj
