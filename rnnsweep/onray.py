"""A run of a sweep on Ray, top to bottom (``execute``): prepare each dataset once, connect (checking
the cluster can hold a trial at all), take the sweep's lease, record the run, submit one task per
trial (``task.remote_trial``), collect results as they arrive, each written the moment it does.

Ray's "simple parallel model selection" pattern: ``ray.remote`` tasks and a ``ray.wait`` loop.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from . import backends, kept, lease, results, search
from .config import Trial
from .plan import Planner, Task, check_row
from .progress import Progress
from .run import GPUS_ENV, Options, Outcome, Run
from .schema import trial_row
from .sweep import Grid
from .task import TaskContext, remote_ensemble, remote_group, remote_trial
from .text import dataset_key, prepare_dataset
from .version import code_version

COMPACT_AT = 500  # per-trial files in a table from which a finished run compacts them (results.compact)
TRIM_EVERY = 5.0  # seconds between the driver's returns of freed memory to the system (results.memory_trimmer)
WINDOW = 256  # trials in flight at least: enough for an autoscaler to see the demand of a big cluster
ADDRESS_FILE = "/tmp/ray/ray_current_cluster"  # where `ray start` leaves the address of the cluster it started


def execute(run: Run) -> Outcome:
    """Run ``run.todo`` and the draws of ``run.searches`` on Ray; every result written as it lands."""
    import ray

    datasets = prepare_datasets(run.todo + [search.trial_of(p, 0, {f"{s}.{k}": v.args[0] for s, k, v in p["sampled"]})
                                            for p in run.searches] + [j.trial for j in run.ensembles])
    owns_ray = connect(run.options)
    try:
        return _execute(run, datasets)
    finally:
        if owns_ray:
            ray.shutdown()


def _execute(run: Run, datasets: dict) -> Outcome:
    import ray
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    opts, uri, name = run.options, run.options.results, run.name
    resources = ray.cluster_resources()
    gpus = gpus_wanted(opts, resources)
    check_fits(opts, gpus, largest_node(n["Resources"] for n in ray.nodes() if n["Alive"]))
    held = {"lease": lease.take(uri, name)}  # one driver per sweep and results location
    try:
        record = record_run(run, gpus)
        refs = {key: put_dataset(p, uri, name) for key, p in datasets.items()}  # one copy per dataset, shared
        datasets.clear()  # the object store holds them now
        # On the driver's own node: a lost worker node must not take the progress queue with it.
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        queue = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
        # One decision of what runs where, for the listed trials and a search's draws alike (plan.Planner).
        planner = Planner(opts.cpus_per_trial, gpus, opts.fuse, opts.fuse_also, slots(opts, gpus, resources),
                          trials=lambda: _trials_table(run),
                          calibration=results.read_json(uri, name, backends.CALIBRATION))
        searcher, feed, extra = None, None, 0
        if run.searches or any(t.prune for t in run.todo):
            # While a search decides, no trial waits in Ray: a trial awaiting its verdict would lend its
            # CPUs to a waiting one. A draw waits for a free slot anyway; its backend is planned as it launches.
            searcher, feed, extra = start_search(run)
        ctx = TaskContext(uri, name, run.budget, queue, searcher, opts.tensorboard, record["code_version"],
                          keep=run.keep, train=run.train)
        flight = submit(feed if feed is not None else planner.tasks(run.todo), refs, opts, gpus, ctx,
                        size=slots(opts, gpus, resources) if searcher else window(opts, gpus, resources),
                        planner=planner)

        def heartbeat():
            held["lease"] = lease.renew(uri, name, held["lease"])

        keeper = kept.Keeper(uri, name, run.keep, kept.study_metrics(run.spec))
        try:
            finished, counts = collect(flight, opts, name, run.budget, Progress(run.todo, queue, extra), heartbeat,
                                       searcher, keeper)
            finished += run_ensembles(run, refs, gpus, ctx, counts)
        except KeyboardInterrupt:
            interrupted(run, flight)
        record.update(finished_at=time.time(), counts=counts)
        results.write_json(uri, name, "sweep.json", run.meta)
        if results.table_files(uri, name, compacted=False) >= COMPACT_AT:  # under our lease
            results.compact(uri, name)
    finally:
        lease.release(uri, name, held["lease"])
    print(f"done in {(time.time() - record['started_at']) / 60:.1f} min: {counts}; results in {run.where}", flush=True)
    return Outcome(results=finished, todo=run.todo, counts=counts, datasets_put=len(refs))


def put_dataset(p, uri: str, sweep: str):
    """A prepared dataset into the object store, its text pipeline saved with the sweep instead (the workers
    need the arrays; ``predict`` the pipeline)."""
    import ray

    kept.write_pipeline(uri, sweep, p.pipeline)
    p.pipeline = None
    return ray.put(p)


def run_ensembles(run: Run, refs: dict, gpus: float, ctx: TaskContext, counts: dict) -> list[dict]:
    """Each ensemble whose members have all landed with their models: one task, its row written like a
    trial's. One whose members are not all there waits, said in one line."""
    import ray

    if not run.ensembles:
        return []
    have = results.read_table(run.options.results, run.name, "trials").to_pylist()
    done, models = {r["trial_id"]: r["status"] for r in have}, {r["trial_id"] for r in have if r.get("model_uri")}
    out = []
    for job in run.ensembles:
        t = job.trial
        if done.get(t.trial_id) == "ok":
            continue
        missing = [n for tid, n in zip(job.members, job.member_names) if tid not in models]
        if missing:
            print(f"ensemble {t.name}: waits for the kept models of {', '.join(missing)}", flush=True)
            continue
        key = dataset_key(t.dataset)
        if key not in refs:
            refs[key] = put_dataset(prepare_dataset(t.dataset, t.name), run.options.results, run.name)
        task = ray.remote(max_retries=run.options.max_retries)(remote_ensemble).options(
            num_cpus=run.options.cpus_per_trial, num_gpus=gpus, name=t.name, runtime_env=backends.runtime_env(t))
        r = ray.get(task.remote(job, refs[key], run.options.cpus_per_trial, ctx))
        results.write_trial(run.options.results, run.name, r, run.budget)
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        print(f"ensemble {t.name} of {len(job.members)}: {r['status']}"
              + (f", test accuracy {r['test_accuracy']:.4f}" if r.get("test_accuracy") is not None else
                 f" ({r.get('error')})"), flush=True)
        out.append(r)
    return out


def _trials_table(run: Run):
    """The sweep's trials table: read when an ``auto`` trial first needs its timings (``plan.Planner``)."""
    return results.read_table(run.options.results, run.name, "trials").to_pandas()


def interrupted(run: Run, flight: InFlight):
    """Ctrl-C: cancel the running trials, keep everything written, say how to resume."""
    import ray

    for ref in flight.pending:
        ray.cancel(ref, force=True)
    def count(tasks):  # a fused group counts its members
        return sum(len(t.members) if isinstance(t, Task) else 1 for t in tasks)
    cancelled, waiting = count(flight.pending.values()), count(t for t in flight.waiting if t is not None)
    saved = len(run.todo) - cancelled - waiting
    print(f"\ninterrupted: {saved} trials saved in {run.where}; {cancelled} cancelled"
          + (f", {waiting} not started" if waiting else "")
          + ". Run the same command again to resume.", flush=True)
    raise SystemExit(130) from None

# ----------------------------------------------------------------------------- before anything runs


def prepare_datasets(todo: list[Trial]) -> dict:
    """Each distinct dataset config prepared once (from the on-disk cache when it can be), before
    Ray starts: a missing or bad data file stops the sweep here, with nothing started."""
    datasets, seen = {}, set()
    for t in todo:
        if id(t.dataset) in seen:  # a section many trials share: hashed once
            continue
        seen.add(id(t.dataset))
        key = dataset_key(t.dataset)
        if key not in datasets:
            t0 = time.time()
            datasets[key] = p = prepare_dataset(t.dataset, t.name)
            print(f"dataset {key}: {len(p.x_train)} train / {len(p.x_test)} test rows "
                  f"prepared in {time.time() - t0:.1f} s{' (cached)' if p.meta.get('cached') else ''}", flush=True)
    return datasets


def _answers(address: str, timeout=3.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def ray_address(opts: Options) -> str:
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


def connect(opts: Options) -> bool:
    """Join the running cluster when there is one, else start a local Ray. Returns whether this
    process started Ray (and so shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = ray_address(opts)
    ray.init(address=address, log_to_driver=False, configure_logging=False,
             **({"include_dashboard": False} if address == "local" else {}))
    return True


def capacity(opts: Options) -> tuple[int, str]:
    """How many trials the cluster a run would use runs at once, and which cluster that is (for
    ``--dry-run``; a local Ray is not started for it)."""
    import ray

    address = ray_address(opts)
    if address == "local":
        cpus = os.cpu_count() or 1
        return max(1, int(cpus // opts.cpus_per_trial)), f"local Ray here: {cpus} CPUs"
    ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        res = ray.cluster_resources()
    finally:
        ray.shutdown()
    gpus = gpus_wanted(opts, res)  # as the run would: --gpus-per-trial, $RNNSWEEP_GPUS_PER_TRIAL, else 1 on GPUs
    where = f"the cluster at {address}: {res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs"
    return slots(opts, gpus, res), where


def largest_node(resources_of_nodes) -> dict:
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


def check_fits(opts: Options, gpus: float, biggest: dict):
    """A trial that no node can hold would wait forever: say so and stop, before anything runs."""
    for what, want, have in (("cpus", opts.cpus_per_trial, biggest["CPU"]), ("gpus", gpus, biggest["GPU"])):
        if want and want > have:
            sys.exit(f"error: --{what}-per-trial {want:g}: no node of this cluster has that many "
                     f"{what[:-1].upper()}s (the largest has {have:g}); lower it, or add bigger nodes")


def gpus_wanted(opts: Options, resources: dict) -> float:
    if opts.gpus_per_trial is not None:
        return opts.gpus_per_trial
    return float(os.environ.get(GPUS_ENV) or (1 if resources.get("GPU", 0) else 0))


def slots(opts: Options, gpus: float, resources: dict) -> int:
    """How many trials the cluster runs at once."""
    n = resources.get("GPU", 0) // gpus if gpus else resources.get("CPU", 1) // (opts.cpus_per_trial or 1)
    return max(1, int(n))


def window(opts: Options, gpus: float, resources: dict) -> int:
    """Twice the trials the cluster runs at once (the next ones queued where a slot frees), at least
    ``WINDOW``."""
    return max(WINDOW, 2 * slots(opts, gpus, resources))


def record_run(run: Run, gpus: float) -> dict:
    """Append this run to ``sweep.json`` (spec, expanded trials, code version, resources) and write
    it; returns this run's entry, to be written again with the counts at the end."""
    import ray

    record = {"started_at": time.time(), "host": socket.gethostname(), "cluster_resources": ray.cluster_resources(),
              "budget": run.budget, "todo": [t.trial_id for t in run.todo], "gpus_per_trial": gpus,
              "cpus_per_trial": run.options.cpus_per_trial, "code_version": code_version()}
    run.meta.update(spec=_jsonable(run.spec), trials=run.trials, code_version=record["code_version"])
    run.meta.setdefault("runs", []).append(record)
    results.write_json(run.options.results, run.name, "sweep.json", run.meta)
    return record


def start_search(run: Run) -> tuple:
    """The ``search.Searcher`` of this run, told what the results already hold; returns it, the
    ``search.Feed`` of trials to launch (running trials of searched studies resumed first) and the
    epochs the draws still to come will run."""
    import ray

    pruned = {t.prune["study"]: {k: v for k, v in t.prune.items() if k != "study"} for t in run.trials if t.prune}
    max_epochs = {p["study"]: p["fixed"]["training"]["epochs"] for p in run.searches}
    for t in run.trials:
        if t.prune:
            study = t.prune["study"]
            max_epochs[study] = max(max_epochs.get(study, 1), t.training.epochs)
    searcher = search.actor(list(run.searches), pruned, max_epochs)
    listed_ids = {t.trial_id for t in run.todo}
    for study in pruned:  # a pruned grid's finished trials tell the pruner what its rungs hold
        rows = search.study_rows(run.options.results, run.name, study, leave_out=listed_ids)
        ray.get(searcher.replay.remote(study, [r for r in rows if r["status"] != "running"]))
    listed, left, extra = [], {}, 0
    for plan in run.searches:
        study, rows = plan["study"], run.search_rows[plan["study"]]
        ray.get(searcher.replay.remote(study, [r for r in rows if r["status"] != "running"]))
        for r in rows:
            if r["status"] == "running" and r["number"] is not None:  # the driver died while it trained
                t = search.trial_of(plan, r["number"], r["params"])
                searcher.resume.remote(study, t, r["history"])
                listed.append(t)
        left[study] = max(0, plan["search"]["trials"] - len(rows))
        extra += left[study] * plan["fixed"]["training"]["epochs"]
    return searcher, search.Feed(listed + list(run.todo), searcher, left), extra

# ----------------------------------------------------------------------------- submit and collect


@dataclass
class InFlight:
    """The tasks submitted and not yet collected (``pending``: object ref → ``plan.Task``), and those still
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
                ref, task = self.launch(t)
                self.pending[ref] = task
        return self


def submit(todo, refs: dict, opts: Options, gpus: float, ctx: TaskContext, body=None, size=None,
           planner: Planner | None = None) -> InFlight:
    """One Ray task per ``plan.Task`` (or per trial, planned as it launches: a search's draws), retried by
    Ray when its worker or node dies, at most ``size`` at a time (all of them when None); returns the
    ``InFlight`` tasks.

    On CPUs a worker is kept for the next trial (TensorFlow's ~10 s import paid once per worker;
    ``trial`` clears Keras's state between trials). With GPUs every trial gets a fresh worker
    (``max_calls=1``): TF never gives GPU memory back while its process lives. ``body``: the task's
    function (``task.remote_trial``; the benchmarks put a sleep there)."""
    import dataclasses

    import ray

    trial_fn, group_fn = (ray.remote(max_calls=1 if gpus else 0, max_retries=opts.max_retries)(f)
                          for f in (body or remote_trial, remote_group))
    ctx = dataclasses.replace(ctx, submitted_at=time.time())
    planner = planner or Planner(opts.cpus_per_trial, gpus, getattr(opts, "fuse", None))

    def launch(t):
        task = t if isinstance(t, Task) else planner.task(t)
        first = task.members[0]
        key = dataset_key(first.dataset)
        if key not in refs:  # a searched study that draws dataset settings
            refs[key] = put_dataset(prepare_dataset(first.dataset, first.name), ctx.uri, ctx.sweep)
        fn = group_fn if task.fused else trial_fn
        ref = fn.options(num_cpus=task.cpus, num_gpus=task.gpus, name=task.name, runtime_env=task.runtime_env).remote(
            task.payload, refs[key], opts.cpus_per_trial, gpus, opts.gpu_memory_mb, ctx)
        return ref, task

    waiting = todo if hasattr(todo, "popleft") else deque(todo)  # a search.Feed draws as slots free
    return InFlight(waiting, launch, size or len(todo) or 1).top_up()


def collect(flight: InFlight, opts: Options, name: str, budget: dict, progress: Progress,
            heartbeat=lambda: None, searcher=None, keeper=None) -> tuple[list, dict]:
    """Ray's ``ray.wait`` loop: write each result the moment it arrives; a task that died with
    its retries spent is written as ``failed``; a finished trial's slot goes to the next waiting
    one. Each second: the trials' epochs onto the bar, and ``heartbeat``."""
    import ray

    finished, datasets = [], {}
    written = 0  # trials' own files since the last compaction
    trim, trimmed = results.memory_trimmer(), time.monotonic()
    with progress.bar:
        while flight.pending:
            heartbeat()
            if time.monotonic() - trimmed > TRIM_EVERY:
                trim(0)
                trimmed = time.monotonic()
            ready, _ = ray.wait(list(flight.pending), num_returns=1, timeout=1.0)
            progress.poll()
            if ready:  # and whatever else is done by now, in one call
                ready, _ = ray.wait(list(flight.pending), num_returns=len(flight.pending), timeout=0)
            for ref in ready:
                task = flight.pending.pop(ref)
                ts = list(task.members)  # a fused group returns one result per member
                try:
                    rs = ray.get(ref)
                    rs = rs if task.fused else [rs]
                except Exception as e:  # the task itself died (retries exhausted), not an error inside it
                    rs = [{"trial_id": t.trial_id, "config_id": t.config_id, "name": t.name, "config": t.as_dict(),
                           "status": "failed", "error": _task_error(e), "history": [], "finished_at": time.time(),
                           "code_version": code_version()} for t in ts]
                for t, r in zip(ts, rs):
                    r = check_row(t, r)  # never a row under an id that promised another backend
                    results.write_trial(opts.results, name, r, budget)  # a store past its retries: driver.main
                    if keeper is not None and r.get("model_uri"):  # after its row: a dropped model's row is rewritten
                        keeper.landed(trial_row(r, budget))
                    if searcher is not None and t.prune:  # before the next draw (actor calls keep their order)
                        searcher.tell.remote(t, r["status"], r.get("history") or [])
                    finished.append(slim(r, t, datasets))
                    progress.finished(t, r)
                    written += 1
            if written >= COMPACT_AT:  # a long sweep's resume scan stays a few files (we hold the lease)
                results.compact(opts.results, name)
                trim(0)
                written = 0
            flight.top_up()
    return finished, progress.counts


def slim(result: dict, trial: Trial, datasets: dict) -> dict:
    """A written result as the driver keeps it: its config the ``Trial`` itself (its plain form is in the
    row) and its dataset's description the first equal one (``datasets``, by fingerprint), not copies of
    them (14.6 KB a result with them, 2.5 KB without: 1.2 GB of the driver's memory at 100,000 trials)."""
    if result.get("config") == trial.as_dict():
        result["config"] = trial
    ds = result.get("dataset")
    if isinstance(ds, dict):
        first = datasets.setdefault(ds.get("fingerprint"), ds)
        if first == ds:
            result["dataset"] = first
    return result


def _task_error(e: Exception) -> str:
    """One line for a task that died: the underlying exception, not Ray's wrapper banner."""
    cause = getattr(e, "cause", None) or e
    lines = [ln for ln in str(cause).splitlines() if ln.strip()]
    return f"{type(cause).__name__}: {lines[-1] if lines else ''}"[:500]


def _jsonable(obj):
    if isinstance(obj, Grid):
        return {"grid": [_jsonable(v) for v in obj.values]}
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj
