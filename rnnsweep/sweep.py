"""Sweep specs: a study written as data, expanded into trial configs.

A sweep is a dict with a ``name`` and three sections, ``dataset``, ``model`` and ``training``;
any value may be ``grid(a, b, ...)``. Expanding gives one config per point of the product,
each with a stable content-hash ``trial_id`` (same config → same id, whatever the key order),
a ``config_id`` that ignores the random seed (repeats share it), and a readable name.
Everything is checked before anything runs.
"""
from __future__ import annotations

import difflib
import hashlib
import itertools
import json
from dataclasses import dataclass

from .models import MODEL_CHOICES, MODEL_DEFAULTS
from .text import DATASET_CHOICES, DATASET_DEFAULTS
from .trial import TRAINING_DEFAULTS

SECTIONS = {"dataset": (DATASET_DEFAULTS, DATASET_CHOICES),
            "model": (MODEL_DEFAULTS, MODEL_CHOICES),
            "training": (TRAINING_DEFAULTS, {})}
TOP_KEYS = ("name", "description", "dataset", "model", "training", "studies")


class SweepError(ValueError):
    """A sweep spec is invalid; the message names the key."""


@dataclass(frozen=True)
class Grid:
    values: tuple


def grid(*values) -> Grid:
    """The choices a sweep value ranges over: ``units=grid(32, 64, 128)``."""
    if not values:
        raise SweepError("grid() needs at least one value")
    return Grid(tuple(values))


# ----------------------------------------------------------------------------- validation

def _pos_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _opt(check):
    return lambda v: v is None or check(v)


def _fraction(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1


_CHECKS = {
    "positive integer": ("units", "layers", "embedding_dim", "maxlen", "batch_size", "epochs"),
    "positive integer or None": ("num_words", "limit_train", "limit_test", "early_stopping"),
    "fraction in [0, 1)": ("dropout", "recurrent_dropout", "embedding_dropout", "output_dropout",
                           "validation_split", "test_size"),
    "true or false": ("bidirectional", "mask_zero", "char_level", "lower"),
    "true, false or None": ("embedding_trainable",),
    "integer": ("seed", "split_seed"),
    "positive number": ("learning_rate", "init_stddev"),
    "string": ("activation", "dense_activation", "early_stopping_monitor"),
    "string or None": ("oov_token", "path"),
    "positive integer, 'same' or None": ("dense_units",),
}
_TESTS = {
    "positive integer": _pos_int,
    "positive integer or None": _opt(_pos_int),
    "fraction in [0, 1)": _fraction,
    "true or false": lambda v: isinstance(v, bool),
    "true, false or None": lambda v: v is None or isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "positive number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
    "string": lambda v: isinstance(v, str) and v != "",
    "string or None": _opt(lambda v: isinstance(v, str)),
    "positive integer, 'same' or None": lambda v: v is None or v == "same" or _pos_int(v),
}
KEY_CHECK = {key: kind for kind, keys in _CHECKS.items() for key in keys}


def _unknown(where, key, valid):
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (valid: {', '.join(sorted(valid))})"
    return SweepError(f"{where}{key}: unknown key{hint}")


def check_value(section, key, value, where=""):
    _, choices = SECTIONS[section]
    values = value.values if isinstance(value, Grid) else (value,)
    for v in values:
        if key in choices and v not in choices[key]:
            raise SweepError(f"{where}{section}.{key}: {v!r} is not one of {', '.join(map(repr, choices[key]))}")
        kind = KEY_CHECK.get(key)
        if kind and not _TESTS[kind](v):
            raise SweepError(f"{where}{section}.{key}: {v!r} is not a {kind}")


def validate(spec: dict) -> dict:
    """Raise ``SweepError`` (naming the key, suggesting the closest valid one) or return spec."""
    if not isinstance(spec, dict):
        raise SweepError(f"a sweep is a dict, got {type(spec).__name__}")
    where = f"sweep {spec.get('name', '?')!r}: "
    for key in spec:
        if key not in TOP_KEYS:
            raise _unknown(where, key, TOP_KEYS)
    if not isinstance(spec.get("name"), str) or not spec["name"].replace("_", "").replace("-", "").isalnum():
        raise SweepError(f"{where}name: needs a name of letters, digits, '-' and '_'")
    _validate_sections(spec, where)
    studies = spec.get("studies", {})
    if not isinstance(studies, dict):
        raise SweepError(f"{where}studies: must be a dict of study name → sections, got {type(studies).__name__}")
    for study, body in studies.items():
        if not isinstance(body, dict):
            raise SweepError(f"{where}studies.{study}: must be a dict of sections")
        for key in body:
            if key not in SECTIONS:
                raise _unknown(f"{where}studies.{study}.", key, SECTIONS)
        _validate_sections(body, f"{where}studies.{study}: ")
    return spec


def _validate_sections(spec, where):
    for section, (defaults, _) in SECTIONS.items():
        body = spec.get(section, {})
        if not isinstance(body, dict):
            raise SweepError(f"{where}{section}: must be a dict, got {type(body).__name__}")
        for key, value in body.items():
            if key not in defaults:
                raise _unknown(f"{where}{section}.", key, defaults)
            check_value(section, key, value, where)

# ----------------------------------------------------------------------------- expansion


def stable_hash(obj, n=12) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def _name(cfg, gridded):
    m, t = cfg["model"], cfg["training"]
    parts = [f"{m['arch']}-{m['units']}-bs{t['batch_size']}"]
    shown = {("model", "arch"), ("model", "units"), ("training", "batch_size")}
    for section, key in gridded:
        if (section, key) not in shown:
            v = cfg[section][key]
            parts.append(f"{key}{v}" if not isinstance(v, bool) else (key if v else f"no_{key}"))
    return "-".join(parts)


def expand(spec: dict, overrides: dict | None = None) -> list[dict]:
    """Trial configs of a sweep. ``overrides``: ``{"training": {"epochs": 2}}`` and the like —
    budget changes that enter the configs (and so the ids) of every trial.

    With ``studies`` (``{"sequence_length": {"dataset": {"maxlen": grid(...)}}, ...}``) each study
    is the base spec with its sections laid over it; the sweep is the union of the studies, and a
    trial two studies share (the base point) runs once and is labelled with both."""
    validate(spec)
    for section, body in (overrides or {}).items():
        for key, value in body.items():
            check_value(section, key, value, "override ")
    if not spec.get("studies"):
        return _expand_grid(spec, overrides)
    trials = {}
    for study, body in spec["studies"].items():
        merged = {**spec, **{s: {**spec.get(s, {}), **body.get(s, {})} for s in SECTIONS}}
        for t in _expand_grid(merged, overrides):
            if t["trial_id"] in trials:
                trials[t["trial_id"]]["study"] += f",{study}"
            else:
                trials[t["trial_id"]] = {**t, "study": study}
    return list(trials.values())


def _expand_grid(spec: dict, overrides: dict | None) -> list[dict]:
    gridded = [(s, k) for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Grid)]
    choices = [spec[s][k].values for s, k in gridded]
    trials = []
    for point in itertools.product(*choices):
        cfg = {s: {**defaults, **{k: v for k, v in spec.get(s, {}).items() if not isinstance(v, Grid)}}
               for s, (defaults, _) in SECTIONS.items()}
        for (s, k), v in zip(gridded, point):
            cfg[s][k] = v
        for s, body in (overrides or {}).items():
            cfg[s].update(body)
        name = _name(cfg, gridded)
        body = {s: cfg[s] for s in SECTIONS}
        no_seed = {**body, "training": {k: v for k, v in cfg["training"].items() if k != "seed"}}
        trials.append({"sweep": spec["name"], "trial_id": stable_hash(body), "config_id": stable_hash(no_seed),
                       "name": name, **body})
    names = [t["name"] for t in trials]
    for t in trials:  # a grid over a key the name leaves out: keep names unique
        if names.count(t["name"]) > 1:
            t["name"] = f"{t['name']}-{t['trial_id'][:6]}"
    return trials


def select(trials: list[dict], pattern: str | None) -> list[dict]:
    """Trials whose name or id matches any comma-separated glob in ``pattern``."""
    import fnmatch

    if not pattern:
        return trials
    pats = [p.strip() for p in pattern.split(",") if p.strip()]
    return [t for t in trials if any(fnmatch.fnmatch(t["name"], p) or t["trial_id"].startswith(p) for p in pats)]
