"""Sweep specs: a study written as data, expanded into trial configs.

A sweep is a dict with a ``name`` and three sections, ``dataset``, ``model`` and ``training``
(every key is declared in ``settings``); any value may be ``grid(a, b, ...)``. Expanding gives one
config per point of the product, each with a stable content-hash ``trial_id``, a ``config_id``
that ignores the random seed (repeats share it), and a readable name unique in the sweep.
Everything is checked before anything runs.
"""
from __future__ import annotations

import difflib
import fnmatch
import hashlib
import itertools
import json
from dataclasses import dataclass

from . import settings
from .settings import SECTIONS

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

def over(base: dict, **sections) -> dict:
    """``base``'s sections with ``sections`` laid over them, key by key: a study that is a known
    configuration with one setting changed, ``over(SEED001, dataset=dict(maxlen=grid(30, 50)))``."""
    return {s: {**base.get(s, {}), **sections.get(s, {})} for s in SECTIONS if s in base or s in sections}

# ----------------------------------------------------------------------------- validation


def _unknown(where, key, valid):
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (valid: {', '.join(sorted(valid))})"
    return SweepError(f"{where}{key}: unknown key{hint}")


def check_value(section, key, value, where=""):
    """Raise a one-line ``SweepError`` naming ``section.key`` unless every value is allowed."""
    setting = SECTIONS[section][key]
    for v in value.values if isinstance(value, Grid) else (value,):
        problem = setting.problem(v)
        if problem:
            raise SweepError(f"{where}{section}.{key}: {problem}")


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
    for section, declared in SECTIONS.items():
        body = spec.get(section, {})
        if not isinstance(body, dict):
            raise SweepError(f"{where}{section}: must be a dict, got {type(body).__name__}")
        for key, value in body.items():
            if key not in declared:
                raise _unknown(f"{where}{section}.", key, declared)
            check_value(section, key, value, where)

# ----------------------------------------------------------------------------- ids and names


def stable_hash(obj, n=12) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def non_default(body: dict) -> dict:
    """The values of each section that differ from its defaults: what an id hashes, so that a
    setting added later (whose default keeps today's behaviour) leaves every existing id as it is."""
    out = {}
    for section, values in body.items():
        declared = SECTIONS[section]
        changed = {k: v for k, v in values.items()
                   if k not in declared or not (v == declared[k].default and type(v) is type(declared[k].default))}
        if changed:
            out[section] = changed
    return out


def trial_id(body: dict) -> str:
    """Content hash of a trial's sections: same config → same id, whatever the key order, and
    writing a default explicitly changes nothing."""
    return stable_hash(non_default(body))


def config_id(body: dict) -> str:
    """Like ``trial_id`` but blind to the random seed: seed repeats share it."""
    return trial_id({**body, "training": {k: v for k, v in body["training"].items() if k != "seed"}})


def _label(key, v):
    return f"{key}{v}" if not isinstance(v, bool) else (key if v else f"no_{key}")


def _name(cfg, gridded):
    m, t = cfg["model"], cfg["training"]
    parts = [f"{m['arch']}-{m['units']}-bs{t['batch_size']}"]
    shown = {("model", "arch"), ("model", "units"), ("training", "batch_size")}
    parts += [_label(k, cfg[s][k]) for s, k in gridded if (s, k) not in shown]
    return "-".join(parts)


def _unique_names(trials: list[dict]):
    """Trials of one sweep (across all its studies) that share a name get the settings that tell
    them apart appended (``GRU-10-bs32-embedding_dim50``), then, if still equal, an id prefix."""
    by_name: dict[str, list[dict]] = {}
    for t in trials:
        by_name.setdefault(t["name"], []).append(t)
    for group in (g for g in by_name.values() if len(g) > 1):
        differ = [(s, k) for s in SECTIONS for k in group[0][s]
                  if len({json.dumps(t[s][k]) for t in group}) > 1]
        for t in group:
            t["name"] = "-".join([t["name"]] + [_label(k, t[s][k]) for s, k in differ])
    names = [t["name"] for t in trials]
    for t in trials:
        if names.count(t["name"]) > 1:
            t["name"] = f"{t['name']}-{t['trial_id'][:6]}"

# ----------------------------------------------------------------------------- expansion


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
    studies = spec.get("studies") or {None: {}}
    trials: dict[str, dict] = {}
    for study, body in studies.items():
        merged = {**spec, **{s: {**spec.get(s, {}), **body.get(s, {})} for s in SECTIONS}}
        for t in _expand_grid(merged, overrides):
            if t["trial_id"] in trials:
                trials[t["trial_id"]]["study"] += f",{study}"
            else:
                trials[t["trial_id"]] = {**t, "study": study} if study else t
    out = list(trials.values())
    _unique_names(out)
    return out


def _expand_grid(spec: dict, overrides: dict | None) -> list[dict]:
    gridded = [(s, k) for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Grid)]
    trials = []
    for point in itertools.product(*(spec[s][k].values for s, k in gridded)):
        body = {s: {**settings.defaults(s), **{k: v for k, v in spec.get(s, {}).items() if not isinstance(v, Grid)}}
                for s in SECTIONS}
        for (s, k), v in zip(gridded, point):
            body[s][k] = v
        for s, values in (overrides or {}).items():
            body[s].update(values)
        trials.append({"sweep": spec["name"], "trial_id": trial_id(body), "config_id": config_id(body),
                       "name": _name(body, gridded), **body})
    return trials


def studies_of(trials: list[dict]) -> list[str]:
    """The study names of a sweep's trials, in order of appearance."""
    return list(dict.fromkeys(s for t in trials for s in (t.get("study") or "").split(",") if s))


def select_studies(trials: list[dict], names: str | None) -> list[dict]:
    """Trials of any of the comma-separated ``names`` (a shared trial belongs to each of its studies)."""
    if not names:
        return trials
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = studies_of(trials)
    for n in wanted:
        if n not in known:
            close = difflib.get_close_matches(n, known, n=1)
            raise SweepError(f"--study {n!r}: no such study" + (f" (did you mean {close[0]!r}?)" if close else "")
                             + f"; studies: {', '.join(known) or 'none'}")
    return [t for t in trials if set(wanted) & set((t.get("study") or "").split(","))]


def select(trials: list[dict], pattern: str | None) -> list[dict]:
    """Trials whose name or id matches any comma-separated glob in ``pattern``."""
    if not pattern:
        return trials
    pats = [p.strip() for p in pattern.split(",") if p.strip()]
    return [t for t in trials if any(fnmatch.fnmatch(t["name"], p) or t["trial_id"].startswith(p) for p in pats)]
