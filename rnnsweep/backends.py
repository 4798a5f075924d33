"""Which Keras backend a trial runs on (``training.backend``): ``tensorflow`` (the default), ``jax``, or
``auto``, per model the one measured faster on this kind of device.

Keras's backend is fixed per process (read from ``$KERAS_BACKEND`` when Keras is first imported), so
each backend gets its own Ray workers: a task's ``runtime_env`` sets the variable, and Ray starts and
reuses workers per runtime environment (Ray docs, "Environment Dependencies": workers are not shared
between different runtime_envs). A TensorFlow trial and a JAX trial never share a process.

``auto`` decides from what this sweep's results already hold: for the same model on the same data at
the same batch size (``cost.timing_key``), each backend's median seconds per training sample per
epoch (the first, compiling, epoch left out), on the same kind of device (CPU or GPU). With both
measured, the faster wins; with one or none, a rule decides (``RULE_UNITS``: JAX for small recurrent
layers, TensorFlow for wide ones and with recurrent dropout; the measurements behind it are in
BENCHMARKS.md). ``--dry-run --calibrate`` measures both. The choice and why are the trial's
``backend_choice``.
"""
from __future__ import annotations

import os
from dataclasses import replace

from . import cost
from .cache import cache_dir
from .config import Trial

BACKENDS = ("tensorflow", "jax")
RULE_UNITS = 64  # without measurements: JAX up to this many recurrent units, TensorFlow above


def shape_key(sections: dict) -> str:
    """The model, its data and batch size, whatever its backend setting (``sections``: ``cost.timing_key``'s)."""
    return cost.timing_key({**sections, "training": {**sections.get("training", {}), "backend": "tensorflow"}})


def device_kind(device: str | None) -> str:
    return "GPU" if str(device or "").startswith("GPU") else "CPU"


def measured(trials) -> dict:
    """``{(shape key, backend, device kind): seconds per training sample per epoch}`` from a trials table."""
    if trials is None or trials.empty or "keras_backend" not in trials:
        return {}
    return cost.rates(trials, key=lambda sections, row: (shape_key(sections), row.get("keras_backend") or "tensorflow",
                                                         device_kind(row.get("device"))))


CALIBRATION = "calibration.json"  # in the sweep's folder: --dry-run --calibrate's timings of both backends

_SHORT_RUN = """
import json, sys
from rnnsweep import cost, text
from rnnsweep.config import Trial
from rnnsweep.trial import run_trial
t = Trial.of(json.load(sys.stdin))
p = text.prepare(t.dataset)
r = run_trial(cost.short_run(t, len(p.x_test)), p, cpus=1)
if r["status"] != "ok":
    sys.exit(f"{t.name}: {r['error']}")
print(json.dumps({"rate": cost.rate_of_run(r, len(p.x_test), len(p.x_train)), "device": r["device"]}))
"""


def calibrate(trial: Trial) -> list[dict]:
    """``--calibrate`` for an ``auto`` trial: a short run of its model on each backend, each in a fresh
    process (the backend is fixed per process); entries for ``CALIBRATION``."""
    import json
    import subprocess
    import sys

    out = []
    for b in BACKENDS:
        t = trial.changed(training={"backend": b})
        p = subprocess.run([sys.executable, "-c", _SHORT_RUN], input=json.dumps(t.as_dict()), capture_output=True,
                           text=True,
                           env={**os.environ, "KERAS_BACKEND": b}, timeout=3600)
        if p.returncode:
            raise ValueError(f"calibration of {trial.name} on {b}: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
        got = json.loads(p.stdout.strip().splitlines()[-1])
        out.append(dict(shape=shape_key(trial.sections()), backend=b, device=device_kind(got["device"]), **got["rate"]))
    return out


def with_calibration(rates: dict, calibration: dict | None) -> dict:
    """``measured`` rates, with ``CALIBRATION``'s entries where no trial measured that model yet."""
    for e in (calibration or {}).get("rates", []):
        rates.setdefault((e["shape"], e["backend"], e["device"]), e)
    return rates


def choose(trial: Trial, rates: dict, device: str) -> tuple[str, str]:
    """(backend, why) for an ``auto`` trial on ``device`` ("CPU" or "GPU")."""
    key = shape_key(trial.sections())
    got = {b: rates[(key, b, device)]["per_sample"] for b in BACKENDS if rates.get((key, b, device))}
    if len(got) == 2:
        fast, slow = sorted(got, key=got.get)
        return fast, (f"measured on {device}: {fast} {got[fast] * 1000:.3g} s vs {slow} {got[slow] * 1000:.3g} s "
                      "per 1,000 samples per epoch")
    m = trial.model
    seen = f"; only {next(iter(got))} measured" if got else ""
    if m.recurrent_dropout:  # seed 004's stacked LSTM (recurrent_dropout 0.2): JAX 1.5x slower per epoch
        return "tensorflow", f"rule on {device} (recurrent_dropout {m.recurrent_dropout}){seen}"
    pick = "jax" if m.units <= RULE_UNITS else "tensorflow"
    return pick, f"rule on {device} ({m.units} units {'≤' if pick == 'jax' else '>'} {RULE_UNITS}){seen}"


def resolve(todo: list[Trial], trials, gpus: float, calibration: dict | None = None) -> list[Trial]:
    """Each ``auto`` trial with its ``backend_choice`` (backend, why); the others as they are."""
    if not any(t.training.backend == "auto" for t in todo):
        return todo
    rates, device = with_calibration(measured(trials), calibration), "GPU" if gpus else "CPU"
    out = []
    for t in todo:
        if t.training.backend == "auto":
            b, why = choose(t, rates, device)
            t = replace(t, backend_choice={"backend": b, "why": why})
        out.append(t)
    return out


def jax_cache() -> dict:
    """JAX's persistent compilation cache, on for JAX trials (unless ``$JAX_COMPILATION_CACHE_DIR`` says where):
    a study's seed repeats compile the same program (same shapes; the seed changes values, not code), so only
    the first trial of a model on a node pays XLA's compile (measured on seed 001's SimpleRNN(5) at maxlen
    200: the first epoch 3.1 s → 0.8 s in the next process). It caches compiled code only: numbers are
    unchanged."""
    where = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(cache_dir().parent / "jax")
    return {"JAX_COMPILATION_CACHE_DIR": where,
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                                                                         "0")}


def runtime_env(trial: Trial) -> dict:
    """The Ray ``runtime_env`` of the trial's task: ``KERAS_BACKEND`` set to its backend (an exported
    ``$KERAS_BACKEND`` never reaches its workers), and for JAX its compilation cache."""
    b = trial.backend
    return {"env_vars": {"KERAS_BACKEND": b, **(jax_cache() if b == "jax" else {})}}


def use(trial: Trial):
    """In the process about to run ``trial``: its backend set before Keras is imported, or a one-line
    error when Keras already runs another one here (its backend cannot change in a process). The default
    setting leaves the process as it is: a Ray task's workers have ``KERAS_BACKEND=tensorflow`` already
    (``runtime_env``), and a trial run in-process without Ray (``--trial``, the benchmarks on a GPU machine
    with Keras on torch or JAX and no TensorFlow) runs where the process's Keras does, writing no row."""
    import sys

    if trial.training.backend == "tensorflow":
        return
    b = trial.backend
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = b
        if b == "jax" and "jax" not in sys.modules:
            for k, v in jax_cache().items():
                os.environ.setdefault(k, v)
        return
    import keras

    if keras.backend.backend() != b:
        raise RuntimeError(f"training.backend={b!r} but Keras in this process runs on {keras.backend.backend()!r} "
                           "(fixed per process): run it through Ray, or start a process with KERAS_BACKEND=" + b)
