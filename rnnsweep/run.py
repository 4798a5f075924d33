"""What one run of a sweep is, and what it returns: the values the command line (``driver``) hands
to the Ray run (``onray.execute``) and gets back, so that neither passes a dozen loose arguments.

    Run      what to run (the trials, the searched studies), where (``Options``), the budget
    Outcome  what any run returns: the trials it finished, or what a dry run found, or a compaction
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable

from . import results


GPUS_ENV = "RNNSWEEP_GPUS_PER_TRIAL"


@dataclass(frozen=True)
class Options:
    """Where and how the trials run: what the Ray run needs from the command line, no more."""
    results: str = "results"            # results root: a path or a URI (s3://bucket/prefix)
    cpus_per_trial: float = 1
    gpus_per_trial: float | None = None  # None: $RNNSWEEP_GPUS_PER_TRIAL, else 1 on a cluster with GPUs
    gpu_memory_mb: int | None = None
    max_retries: int = 2
    fuse: int | None = None             # seed repeats on JAX per fused task (fused.groups); None: fused.FUSE_MAX
    fuse_also: tuple = ()               # settings fused members may differ in besides the seed (fused.ALSO)
    tensorboard: bool = False
    address: str | None = None

    @classmethod
    def of(cls, args) -> Options:
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


@dataclass
class Run:
    """One run of a sweep, as the command line decided it."""
    spec: dict                 # the sweep file's spec, as written (recorded in sweep.json)
    trials: list[dict]         # every listed trial of the chosen studies (``sweep.expand``)
    todo: list[dict]           # the listed trials this run starts
    searches: list[dict]       # searched studies that draw their trials as it runs (``sweep.searches``)
    search_rows: dict          # study → its rows already in the results (``search.study_rows``), read once
    budget: dict               # --smoke / --epochs / --limit-train: part of the trial ids, recorded
    meta: dict                 # sweep.json as it was before the run (read first: never overwritten unread)
    options: Options
    keep: dict = field(default_factory=dict)       # {study: keep_models} (kept.policies)
    ensembles: list = field(default_factory=list)  # ensembles still to score (kept.ensemble_jobs), after the trials
    train: Callable | None = None  # trains each trial in its task (trial.run_trial when None; benchmarks: a sleep)

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def where(self) -> str:
        return results.shown(self.options.results, self.name)


@dataclass
class Outcome:
    """What ``driver.main`` returns, whichever way it ran."""
    results: list[dict] = field(default_factory=list)  # the trials this run finished (``trial.run_trial``'s)
    todo: list[dict] = field(default_factory=list)     # the listed trials it had to run
    done: dict = field(default_factory=dict)           # {trial_id: status} already in the results
    counts: dict = field(default_factory=dict)         # finished trials by status
    draws: dict = field(default_factory=dict)          # --dry-run: each searched study's next draws
    datasets_put: int = 0                              # datasets put in Ray's object store
    compacted: int | None = None                       # --compact: trials compacted
