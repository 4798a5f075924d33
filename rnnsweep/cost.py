"""What a sweep costs: its projected time before it runs, and its compute and price after.

Before (``--dry-run``): a trial's time is projected from earlier trials that trained the same
model on the same data at the same batch size — their seconds per training sample per epoch,
their first epoch's extra (tracing) and their fixed part (imports, build, evaluation) — scaled to
this trial's samples and epochs. ``calibrate`` gets that rate for a model no earlier trial has,
from a short run of it here. The sweep's wall time on the cluster is the trials laid longest-first
onto its slots (concurrent trials), as Ray's queue runs them.

After (the report): the CPU-seconds and GPU-seconds each trial recorded, summed, and priced.
"""
from __future__ import annotations

import heapq
import math
import statistics

from . import settings
from .config import Trial, stable_hash

# Of training: with the dataset and the model, what an epoch's time per sample depends on.
TIMING_KEYS = ("batch_size", "backend")


def timing_key(sections: dict) -> str:
    """Same data, same model, same batch size → same seconds per sample per epoch. ``sections``: a trial's
    (``Trial.sections``) or a row's (``_sections``). Values are compared as text (a Parquet column gives 5 as
    int64 and 50 as "50" where the config has ints)."""
    def norm(v):
        v = v.item() if hasattr(v, "item") else v
        if isinstance(v, str):  # a mixed column ("auto" or 50) holds numbers as text
            try:
                v = float(v)
            except ValueError:
                return v
        return repr(float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)

    return stable_hash({section: {k: norm(sections.get(section, {}).get(k, setting.default))
                                  for k, setting in body.items() if section != "training" or k in TIMING_KEYS}
                        for section, body in settings.SECTIONS.items()})


def _sections(row: dict) -> dict:
    """A trials-table row (config flattened into columns) back into config sections."""
    return {section: {k: row[k] for k in body if row.get(k) is not None}
            for section, body in settings.SECTIONS.items()}


# What ``rates`` reads of a row besides its settings.
TIMES = ("epochs_run", "resumed_from_epoch", "first_epoch_seconds", "fit_seconds", "outside_epochs_seconds",
         "dataset_rows", "limit_train", "train_samples", "val_samples", "fused_members", "seconds")


def _records(table, columns=None) -> list[dict]:
    """The table's rows as dicts (only ``columns`` when given), NaN read as None."""
    if columns is not None:
        table = table[[c for c in columns if c in table.columns]]
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in table.to_dict("records")]


def _timing_keys(ok) -> list:
    """Each row's timing key, worked out once per distinct set of the settings it depends on (100,000 rows of
    seed repeats are a few configurations: hashing each took a minute)."""
    cols = [c for s, body in settings.SECTIONS.items() for c in body
            if c in ok.columns and (s != "training" or c in TIMING_KEYS)]
    known: dict = {}
    out = []
    for values in ok[cols].itertuples(index=False, name=None):
        sig = tuple(map(repr, values))
        if sig not in known:
            row = {c: (None if isinstance(v, float) and math.isnan(v) else v) for c, v in zip(cols, values)}
            known[sig] = timing_key(_sections(row))
        out.append(known[sig])
    return out


def rates(trials, key=None) -> dict:
    """``{timing key: rate}`` from a trials table's finished trials: median seconds per training
    sample per epoch (the first epoch left out where it is recorded apart), first-epoch extra,
    fixed seconds (imports, build, evaluation), training rows of the dataset. ``key(sections, row)``:
    what to group by instead (``backends.measured`` adds the backend that ran and the device)."""
    if trials is None or trials.empty:
        return {}
    ok = trials[(trials["status"] == "ok") & trials["train_samples"].gt(0) & trials["fit_seconds"].gt(0)]
    found: dict = {}
    rows = _records(ok, None if key else TIMES)  # ``key`` may read any column of a row
    keys = [key(_sections(r), r) for r in rows] if key else _timing_keys(ok)
    for k, row in zip(keys, rows):
        ran = row["epochs_run"] - (row.get("resumed_from_epoch") or 0)
        if row.get("first_epoch_seconds") is not None and ran > 1:
            epochs = row["fit_seconds"] - row["outside_epochs_seconds"]
            per_epoch = (epochs - row["first_epoch_seconds"]) / (ran - 1)
            first_extra = max(0.0, row["first_epoch_seconds"] - per_epoch)
        else:  # rows written before the first epoch was recorded apart: fit's average epoch
            epochs, per_epoch, first_extra = row["fit_seconds"], row["fit_seconds"] / max(1, ran), 0.0
        rows = row.get("dataset_rows") or (None if row.get("limit_train")
                                           else row["train_samples"] + row["val_samples"])
        share = row.get("fused_members") or 1  # a fused member's times are its group's: its part is 1/k
        found.setdefault(k, []).append(dict(
            per_sample=per_epoch / row["train_samples"] / share, first_extra=first_extra / share,
            fixed=max(0.0, row["seconds"] - epochs) / share, dataset_rows=rows))
    return {k: {f: _median([v[f] for v in vs]) for f in vs[0]} for k, vs in found.items()}


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median_high(xs) if xs else None


def train_samples(trial: Trial, dataset_rows: int | None) -> int | None:
    """How many samples this trial trains on: Keras's cut of its (limited) training rows."""
    t = trial.training
    n = min(t.limit_train, dataset_rows or t.limit_train) if t.limit_train else dataset_rows
    return None if n is None else int(math.floor(n * (1 - t.validation_split)))


def project(trial: Trial, rate: dict | None) -> float | None:
    """Projected seconds of one trial, or None when nothing says how fast its model trains."""
    if not rate:
        return None
    n = train_samples(trial, rate.get("dataset_rows"))
    if n is None:
        return None
    return rate["fixed"] + rate["first_extra"] + trial.training.epochs * n * rate["per_sample"]


def makespan(seconds: list[float], slots: int) -> float:
    """Wall time of these trials run ``slots`` at a time, longest first (each next one on the slot
    that frees first)."""
    free = [0.0] * max(1, slots)
    for s in sorted(seconds, reverse=True):
        heapq.heapreplace(free, free[0] + s)
    return max(free)


def short_run(trial: Trial, test_rows: int, samples: int = 1024, epochs: int = 3) -> Trial:
    """The trial cut to a calibration run: ``samples`` rows, ``epochs`` epochs."""
    return trial.changed(training={"epochs": epochs, "limit_train": samples, "limit_test": min(samples, test_rows)})


def rate_of_run(r: dict, test_rows: int, dataset_rows: int) -> dict:
    """The rate of a model from a finished short run of it (``short_run``; ``dryrun.calibrate_model``
    runs it): what ``--dry-run --calibrate`` does for a model no earlier trial has timed."""
    secs = [h["seconds"] for h in r["history"]]
    per_epoch = sum(secs[1:]) / max(1, len(secs) - 1)
    # Evaluation on the full test set scales with it: counted per test sample, as part of "fixed".
    evaluate = r["evaluate_seconds"] / r["test_samples"] * test_rows
    return dict(per_sample=per_epoch / r["train_samples"], first_extra=max(0.0, secs[0] - per_epoch),
                fixed=r["seconds"] - r["fit_seconds"] - r["evaluate_seconds"] + evaluate, dataset_rows=dataset_rows)


def spent(trials):
    """Each trial row's CPU- and GPU-seconds over all its attempts: a trial resumed from an epoch backup
    records this attempt's seconds and, apart, what the attempts before spent on the epochs it kept. Rows
    from before that was recorded (no ``earlier_*``) get it estimated at this attempt's rate per epoch,
    and ``estimated`` says so. Columns ``cpu_seconds``, ``gpu_seconds``, ``estimated``."""
    import pandas as pd

    def col(name):
        return pd.to_numeric(trials[name], errors="coerce") if name in trials else pd.Series(float("nan"), trials.index)

    resumed = col("resumed_from_epoch").fillna(0)
    here = (col("epochs_run") - resumed).clip(lower=1)
    out = pd.DataFrame(index=trials.index)
    out["estimated"] = (resumed > 0) & col("earlier_cpu_seconds").isna() & col("cpu_seconds").notna()
    for k in ("cpu_seconds", "gpu_seconds"):
        guess = col(k) * resumed / here  # the earlier epochs at this attempt's rate
        out[k] = col(k) + col(f"earlier_{k}").fillna(guess.where(resumed > 0, 0.0))
    return out


def compute(trials) -> dict:
    """The sweep's compute, summed over its trial rows (all attempts, ``spent``): CPU-hours and GPU-hours
    (None when its rows predate these columns), and how many resumed trials' earlier attempts are estimated."""
    s = spent(trials)
    out = {}
    for k in ("cpu_seconds", "gpu_seconds"):
        col = s[k].dropna()
        out[k.replace("seconds", "hours")] = float(col.sum()) / 3600 if len(col) else None
    out["trials_counted"] = int(s["cpu_seconds"].notna().sum())
    out["estimated"] = int(s["estimated"].sum())
    return out
