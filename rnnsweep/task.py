"""The Ray task: one trial in a worker, each finished epoch reported as it happens (to the results,
the driver's progress queue and, when the study prunes, the search), resumed from its epoch backup
when an earlier attempt died.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from . import backup, kept, live, results
from .config import Trial
from .fused import train_group
from .trial import run_trial


@dataclass(frozen=True)
class TaskContext:
    """What every task of one run shares (pickled into each): where its epochs go as they happen."""
    uri: str                        # the results root
    sweep: str
    budget: dict
    queue: Any = None               # the driver's progress queue (ray.util.queue.Queue)
    searcher: Any = None            # the search's actor (search.Searcher), when a study searches or prunes
    tensorboard: bool = False
    code_version: str | None = None
    submitted_at: float | None = None  # when the driver submitted the run's first tasks
    keep: dict | None = None        # {study: keep_models} (kept.policies): whose trained models are written
    train: Any = None               # what trains a trial here: trial.run_trial, unless a benchmark's sleeping
                                    # trial stands in (bench.overhead: the machinery around trials, alone)


def _gpu_memory_mb(fraction: float) -> int | None:
    """Fraction × the memory of the GPU Ray gave this task (nvidia-smi, before TF starts)."""
    import ray

    ids = ray.get_gpu_ids()
    if not ids:
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits",
                          "-i", str(ids[0])], capture_output=True, text=True, timeout=30)
    return int(float(out.stdout.split()[0]) * fraction)


def epoch_reporter(config: Trial, ctx: TaskContext, earlier: list[dict]):
    """``run_trial``'s ``on_epoch``: write the trial's epochs so far (status ``running``), tell the
    driver's bar, and return the search's verdict (stop now?) when the trial's study prunes."""
    import ray

    rows: list[dict] = []
    ids = {"trial_id": config.trial_id, "config_id": config.config_id, "name": config.name, "config": config.as_dict()}

    def on_epoch(row) -> bool:
        rows.append(row)
        history = [r for r in earlier if r["epoch"] < rows[0]["epoch"]] + rows
        try:  # what the driver and a report see while it runs: never a reason for the trial to fail
            live.write_epochs(ctx.uri, ctx.sweep, {**ids, "history": history,
                                                   "epochs_run": len(history), "host": socket.gethostname(),
                                                   "pid": os.getpid()}, ctx.budget)
            # Sent, not awaited: a ray.get in a task (Queue.put_nowait does one) lends the task's
            # CPUs to the next trial while it waits, and two trials then share one trial's CPUs.
            ctx.queue.actor.put_nowait.remote((config.trial_id, config.name, row["epoch"],
                                               row.get("val_accuracy")))
        except Exception as e:  # noqa: BLE001 - e.g. the driver's node is gone, or a store hiccup
            print(f"rnnsweep: epoch {row['epoch']} of {config.name} not reported ({type(e).__name__})")
        if ctx.searcher is None or not config.prune:
            return False
        try:  # the search's verdict, awaited: the driver runs no more trials than slots while it searches
            metric = config.prune["metric"]
            return ray.get(ctx.searcher.report.remote(config, row["epoch"], row.get(metric)))
        except Exception as e:  # noqa: BLE001 - no verdict: the trial goes on
            print(f"rnnsweep: epoch {row['epoch']} of {config.name} not reported to the search ({type(e).__name__})")
            return False

    return on_epoch


def _jax_gpu_share(gpus: float):
    """On a fraction of a GPU, JAX (when the trial runs on it) takes that fraction, not the 75 % it
    preallocates by default; set before JAX starts in this worker (a GPU task's worker is fresh)."""
    if gpus and gpus < 1:
        os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 * gpus:.3f}")


def _attempt(config: Trial, ctx: TaskContext) -> dict:
    """Where a trial's epochs are backed up and what an earlier attempt of it left: ``run_trial``'s
    ``backup_dir``, ``earlier``, ``on_epoch`` and ``on_backup``. Without a backup the trial starts again."""
    tid = config.trial_id
    folder, mirrored = backup.backup_folder(ctx.uri, ctx.sweep, tid)
    earlier = live.read_epochs(ctx.uri, ctx.sweep, tid) if os.path.isdir(folder) and os.listdir(folder) else []
    return dict(backup_dir=folder, earlier=earlier, on_epoch=epoch_reporter(config, ctx, earlier),
                on_backup=(lambda: backup.push_backup(folder, ctx.uri, ctx.sweep, tid)) if mirrored else None,
                mirrored=mirrored)


def _keeper(config: Trial, ctx: TaskContext):
    """``run_trial``'s ``on_done`` when the trial's study keeps models: the model its test numbers came from,
    written to the results (``kept.save_model``); a failed write costs the model, never the trial's rows."""
    if ctx.keep is None or not kept.wants(config, ctx.keep):
        return None

    def on_done(model, result):
        try:
            result.update(kept.save_model(model, ctx.uri, ctx.sweep, config.trial_id))
        except Exception as e:  # noqa: BLE001 - e.g. the store is unreachable: the numbers still land
            print(f"rnnsweep: the model of {config.name} was not kept ({type(e).__name__}: {e})")

    return on_done


def _landed(r: dict, prepared, gpus: float, began: float, ctx: TaskContext, attempt: dict) -> dict:
    """What the task adds to a trial's result: its wait, where it ran, whether its data was shared."""
    import ray

    # Before the trial's own work: waiting for a slot, a worker (its start, when fresh) and the
    # dataset's fetch from the object store (a node's first trial of it copies it there).
    r.update(wait_seconds=began - ctx.submitted_at if ctx.submitted_at else None, gpus=gpus)
    if attempt["mirrored"]:
        backup.drop_backup(ctx.uri, ctx.sweep, r["trial_id"])
    x = prepared.x_train
    r["dataset_zero_copy"] = bool(not x.flags.writeable and not x.flags.owndata)
    r["ray_version"] = ray.__version__
    r["code_version"] = ctx.code_version
    r["gpu_ids"] = [str(g) for g in ray.get_gpu_ids()]
    r["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    r["node_id"] = ray.get_runtime_context().get_node_id()
    return r


def remote_trial(config: Trial, prepared, cpus: float, gpus: float, gpu_memory_mb: int | None, ctx: TaskContext):
    """Body of the Ray task. ``prepared`` arrives resolved from the object store (Ray fetches a
    task's arguments before it starts it; a ``ray.get`` in here would hand the task's CPUs to the
    next trial while it waits): its arrays are read-only views of the shared memory, not copies."""
    began = time.time()
    _jax_gpu_share(gpus)
    if gpus and gpus < 1 and not gpu_memory_mb:
        gpu_memory_mb = _gpu_memory_mb(gpus)
    # An earlier attempt died: its backup holds the weights of its last finished epoch, the results
    # its epoch rows.
    a = _attempt(config, ctx)
    r = (ctx.train or run_trial)(config, prepared, cpus=max(1, int(cpus)), gpu_memory_mb=gpu_memory_mb,
                  on_epoch=a["on_epoch"], backup_dir=a["backup_dir"], earlier=a["earlier"], on_backup=a["on_backup"],
                  tensorboard_dir=results.local_folder(ctx.uri, ctx.sweep, "tensorboard", config.name)
                  if ctx.tensorboard else None, gpus=gpus, on_done=_keeper(config, ctx))
    return _landed(r, prepared, gpus, began, ctx, a)


def remote_group(configs: list[Trial], prepared, cpus: float, gpus: float, gpu_memory_mb: int | None,
                 ctx: TaskContext):
    """Body of the Ray task of a fused group (``fused.train_group``): each member backed up, reported and
    resumed as its own trial; one result per member. On a GPU, JAX is told not to take 75 % of it."""
    began = time.time()
    _jax_gpu_share(gpus)
    a = [_attempt(c, ctx) for c in configs]
    keepers = [_keeper(c, ctx) for c in configs]
    rs = train_group(configs, prepared, cpus=max(1, int(cpus)), on_epochs=[x["on_epoch"] for x in a],
                     backup_dirs=[x["backup_dir"] for x in a], earliers=[x["earlier"] for x in a],
                     on_backups=[x["on_backup"] for x in a], gpus=gpus,
                     on_done=lambda i, model, r: keepers[i] and keepers[i](model, r))
    return [_landed(r, prepared, gpus, began, ctx, x) for r, x in zip(rs, a)]


def remote_ensemble(job: kept.Ensemble, prepared, cpus: float, ctx: TaskContext) -> dict:
    """Body of an ensemble's Ray task (``kept.ensemble``): its members' kept models, averaged."""
    import ray

    r = kept.ensemble(job, prepared, ctx.uri, ctx.sweep, cpus=max(1, int(cpus)))
    r.update(code_version=ctx.code_version, ray_version=ray.__version__,
             node_id=ray.get_runtime_context().get_node_id())
    return r
