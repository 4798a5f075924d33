"""What runs where, decided once: the trials a run starts become ``Task``s — one trial or a fused group of seed
repeats, the backend it runs on (``auto`` resolved, with why), the resources it holds and its workers'
environment. The run (``onray``), ``--dry-run`` and a search's draws all go through one ``Planner``, so the
dry run shows what will run, and a drawn or pruned trial's ``auto`` is resolved like a listed one's.

An explicit ``training.backend`` always wins over ``$KERAS_BACKEND``: every task's workers are started with
``KERAS_BACKEND`` set to the task's backend (TensorFlow for the default setting, whatever the driver's
environment exports), so a row's ``keras_backend`` is what its id promises; ``check_row`` refuses one that
is not.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

from . import backends, fused
from .config import Trial


@dataclass(frozen=True, slots=True)
class Task:
    """One Ray task of a run."""
    members: tuple          # the trials it trains (``Trial``): one, or a fused group's
    backend: str            # tensorflow | jax
    cpus: float
    gpus: float
    runtime_env: dict

    @property
    def fused(self) -> bool:
        return len(self.members) > 1

    @property
    def name(self) -> str:
        first = self.members[0].name
        return f"{first} ×{len(self.members)} fused" if self.fused else first

    @property
    def payload(self):
        """What the task body takes: the trial, or the list of a fused group's."""
        return list(self.members) if self.fused else self.members[0]


class Planner:
    """Turns trials into ``Task``s for one run: ``gpus`` per task, ``slots`` the cluster runs at once, the
    sweep's trials table and calibration (the timings ``auto`` decides from)."""

    def __init__(self, cpus: float, gpus: float, fuse: int | None = None, fuse_also: tuple = (), slots: int = 1,
                 trials=None, calibration: dict | None = None):
        self.cpus, self.gpus, self.fuse, self.fuse_also, self.slots = cpus, gpus, fuse, fuse_also, slots
        self._trials, self._calibration, self._rates = trials, calibration, None
        self._envs: dict = {}  # one runtime_env per backend, shared by its tasks (100,000 tasks: 40 MB less)

    def resolve(self, t: Trial) -> Trial:
        """The trial with its ``backend_choice`` when its setting is ``auto`` (kept when it has one)."""
        if t.training.backend != "auto" or t.backend_choice:
            return t
        if self._rates is None:
            trials = self._trials() if callable(self._trials) else self._trials
            self._rates = backends.with_calibration(backends.measured(trials), self._calibration)
        b, why = backends.choose(t, self._rates, "GPU" if self.gpus else "CPU")
        return replace(t, backend_choice={"backend": b, "why": why})

    def tasks(self, todo: list[Trial]) -> list[Task]:
        """The listed trials, resolved, gathered into fused groups where ``--fuse`` (or GPUs) asks, as tasks."""
        todo = [self.resolve(t) for t in todo]
        if self.fuse and self.fuse > 1:
            left = [t for t in todo if t.backend != "jax" and not t.prune]
            repeats = len(left) - len({t.config_id for t in left})
            if repeats:
                print(f"--fuse {self.fuse}: fusing needs JAX; {len(left)} trials run on TensorFlow, one by one "
                      "(--set training.backend=jax fuses their seed repeats)", flush=True)
        return [self.task(g) for g in fused.groups(todo, self.fuse, self.slots, self.gpus, self.fuse_also)]

    def task(self, trial_or_group) -> Task:
        """One trial (a search's draw) or a fused group as its task."""
        members = tuple(self.resolve(t) for t in (trial_or_group if isinstance(trial_or_group, list)
                                                   else [trial_or_group]))
        backend = members[0].backend
        env = self._envs.setdefault(backend, backends.runtime_env(members[0]))
        return Task(members, backend, self.cpus, self.gpus, env)


def check_row(trial: Trial, result: dict) -> dict:
    """A finished trial's result as it may be written: one that ran on another backend than its setting
    promised (for ``auto``: its ``backend_choice``) is refused, status ``failed``, naming both."""
    ran, promised = result.get("keras_backend"), trial.backend
    if ran and ran != promised and result.get("status") in ("ok", "diverged", "pruned"):
        result = {**result, "status": "failed",
                  "error": f"ran on {ran} but its training.backend promises {promised} (its id is a {promised} "
                           f"trial's): refused; is KERAS_BACKEND={os.environ.get('KERAS_BACKEND')} leaking into its "
                           "workers?"}
    return result
