"""Sweep specs: a study written as data, expanded into trial configs.

A sweep is a dict with a ``name`` and three sections, ``dataset``, ``model`` and ``training``
(every key is declared in ``settings``); any value may be ``grid(a, b, ...)``. Expanding gives one
config per point of the product, each with a stable content-hash ``trial_id``, a ``config_id``
that ignores the random seed (repeats share it), and a readable name unique in the sweep.
Everything is checked before anything runs (``spec.validate``; the spec's language is ``spec``).
"""
from __future__ import annotations

import difflib
import fnmatch
import functools
import hashlib
import itertools
import json
import random
from collections import Counter

from . import settings
from .settings import SECTIONS
# The spec language, re-exported: sweep files and tests write ``from rnnsweep.sweep import grid``.
from .spec import (BEST_OF, ENSEMBLE, KEEP, REFIT, SAMPLING, STUDY_KEYS, TOP_KEYS, Grid, Sample, SweepError, _unknown,  # noqa: F401
                   check_value, choice, grid, loguniform, over, uniform, validate)

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


def _seedless(changed: dict) -> dict:
    """``non_default``'s settings without the random seed (a section left empty goes, as there)."""
    training = {k: v for k, v in changed.get("training", {}).items() if k != "seed"}
    return {s: v for s, v in changed.items() if s != "training"} | ({"training": training} if training else {})


def config_id(body: dict) -> str:
    """Like ``trial_id`` but blind to the random seed: seed repeats share it."""
    return stable_hash(_seedless(non_default(body)))


def ids(body: dict) -> tuple[str, str]:
    """``(trial_id(body), config_id(body))``, the settings compared with their defaults once."""
    changed = non_default(body)
    return stable_hash(changed), stable_hash(_seedless(changed))


def _label(key, v):
    return f"{key}{v}" if not isinstance(v, bool) else (key if v else f"no_{key}")


SHOWN = {("model", "arch"), ("model", "units"), ("training", "batch_size"), ("model", "bidirectional")}


@functools.lru_cache(maxsize=None)
def _named(varied: frozenset) -> list:
    """The varied settings a name shows after ``GRU-32-bs64``, in the order settings declares them."""
    return [(s, k) for s in SECTIONS for k in SECTIONS[s] if (s, k) in varied - SHOWN]


def model_label(cfg: dict) -> str:
    """``GRU-32-bs64`` (``BiLSTM-...`` when bidirectional): how every trial's name starts."""
    m = cfg["model"]
    return f"{'Bi' if m['bidirectional'] else ''}{m['arch']}-{m['units']}-bs{cfg['training']['batch_size']}"


def _name(cfg, varied):
    """``GRU-32-bs64`` plus each other varied setting, in the order settings declares them (not the
    spec's, so the same sweep written in another key order names its trials the same)."""
    parts = [model_label(cfg)]
    parts += [_label(k, cfg[s][k]) for s, k in _named(frozenset(varied))]
    return "-".join(parts)


def _collisions(trials):
    by_name: dict[str, list[dict]] = {}
    for t in trials:
        by_name.setdefault(t["name"], []).append(t)
    return [g for g in by_name.values() if len(g) > 1]


def _unique_names(trials: list[dict]):
    """Trials of one sweep that share a name get their study's name appended when they come from
    different studies (``GRU-10-bs32-small_emb``), else the settings that tell them apart
    (``SimpleRNN-16-bs128-dropout0.2``), then, if still equal, an id prefix."""
    for group in _collisions(trials):
        if len({t.get("study") for t in group}) == len(group):
            for t in group:
                t["name"] = f"{t['name']}-{t['study'].split(',')[0]}"
    for group in _collisions(trials):
        differ = [(s, k) for s in SECTIONS for k in group[0][s]
                  if len({json.dumps(t[s][k]) for t in group}) > 1]
        for t in group:
            t["name"] = "-".join([t["name"]] + [_label(k, t[s][k]) for s, k in differ])
    names = Counter(t["name"] for t in trials)
    for t in trials:
        if names[t["name"]] > 1:
            t["name"] = f"{t['name']}-{t['trial_id'][:6]}"

# ----------------------------------------------------------------------------- expansion


def expand(spec: dict, overrides: dict | None = None, checked: bool = False) -> list[dict]:
    """Trial configs of a sweep. ``overrides``: ``{"training": {"epochs": 2}}`` and the like —
    budget changes that enter the configs (and so the ids) of every trial.

    With ``studies`` (``{"sequence_length": {"dataset": {"maxlen": grid(...)}}, ...}``) each study
    is the base spec with its sections laid over it; the sweep is the union of the studies, and a
    trial two studies share (the base point) runs once and is labelled with both. ``checked``: the
    caller has validated ``spec`` already (the driver does, once per run)."""
    if not checked:
        validate(spec)
    for section, body in (overrides or {}).items():
        for key, value in body.items():
            if key not in SECTIONS[section]:
                raise _unknown(f"override {section}.", key, SECTIONS[section])
            check_value(section, key, value, "override ")
    studies = spec.get("studies") or {None: {}}
    trials: dict[str, dict] = {}
    shown: dict[str, list] = {}
    for study, body in studies.items():
        if BEST_OF in body:
            continue  # waits for the study it names to end (search.resolve_best fills it in)
        merged = _merged(spec, body)
        if searched(merged):
            continue  # its trials are drawn as the sweep runs (searches(), search.py)
        for t, varied in _expand_grid(merged, overrides):
            if merged.get("search") is not None:  # a grid or samples= study that prunes
                t["prune"] = {**search_settings(merged["search"]), "study": study}
            if t["trial_id"] in trials:  # shared by studies: named by what any of them varies
                trials[t["trial_id"]]["study"] += f",{study}"
                shown[t["trial_id"]] += varied
            else:
                trials[t["trial_id"]] = {**t, "study": study} if study else t
                shown[t["trial_id"]] = varied
    out = list(trials.values())
    for t in out:
        t["name"] = _name(t, shown[t["trial_id"]])
    _unique_names(out)
    return out


def _merged(spec: dict, body: dict) -> dict:
    """A study's spec: the sweep's sections (and sampling, search) with the study's laid over them."""
    merged = {**spec, **{k: body[k] for k in SAMPLING if k in body},
              **{s: {**spec.get(s, {}), **body.get(s, {})} for s in SECTIONS}}
    if spec.get("search") is not None and body.get("search") is not None:
        merged["search"] = {**spec["search"], **body["search"]}
    return merged


def searched(spec: dict) -> bool:
    """Whether Optuna's sampler draws this (merged) study's points: sampled values, ``search=``, no ``samples=``."""
    return (spec.get("search") is not None and spec.get("samples") is None
            and any(isinstance(v, Sample) for s in SECTIONS for v in spec.get(s, {}).values()))


def search_settings(search: dict) -> dict:
    """``search=dict(...)`` with every default filled in (``settings.SEARCH``, ``settings.PRUNER``)."""
    out = {k: s.default for k, s in settings.SEARCH.items()} | search
    if out["pruner"] is not None:
        out["pruner"] = {k: s.default for k, s in settings.PRUNER.items()} | out["pruner"]
    return out


def searches(spec: dict, overrides: dict | None = None, checked: bool = False) -> list[dict]:
    """The searched studies of a sweep, each as what its sampler needs: ``study``, ``fixed`` (every
    section's values that are not drawn, the defaults and ``overrides`` filled in), ``sampled``
    (``[(section, key, Sample)]``) and ``search`` (its settings, defaults filled in). A seed
    grid (``--seeds``) gives the search its first seed: seed repeats are the winner's study.
    ``checked``: as ``expand``'s."""
    if not checked:
        validate(spec)
    out = []
    for study, body in (spec.get("studies") or {None: {}}).items():
        merged = _merged(spec, body)
        if BEST_OF in body or not searched(merged):
            continue
        fixed = {s: {**settings.defaults(s)} for s in SECTIONS}
        sampled = []
        for s in SECTIONS:
            for k, v in merged.get(s, {}).items():
                if isinstance(v, Sample):
                    sampled.append((s, k, v))
                elif isinstance(v, Grid):
                    if (s, k) != ("training", "seed"):
                        raise SweepError(f"sweep {spec['name']!r}: studies.{study}: {s}.{k}: a searched study "
                                         "draws its points: write choice(...) instead of grid(...)")
                    fixed[s][k] = v.values[0]
                else:
                    fixed[s][k] = v
        search = search_settings(merged["search"])
        if "early_stopping_monitor" not in merged.get("training", {}):
            # Restore the epoch the search scores: a trial ranked on its best val_accuracy epoch but
            # restored to its best val_loss epoch is tested on weights the search never saw.
            fixed["training"]["early_stopping_monitor"] = search["metric"]
        for s, values in (overrides or {}).items():
            fixed[s].update(values)
        fixed["training"]["evaluate_test"] = False  # chosen on validation; the test split is the winner's
        out.append({"sweep": spec["name"], "study": study, "fixed": fixed, "sampled": sampled,
                    "search": search})
    return out


def draws(spec: dict, sampled: list) -> list[tuple]:
    """``samples`` points of the sampled settings, drawn in order from ``Random(sample_seed)``: the
    first N points of a larger ``samples`` are the same N, so growing it adds trials and keeps the
    old ones. Points are distinct (redrawn on a repeat, as Keras Tuner does) while the space allows."""
    if not sampled:
        return [()]
    rng = random.Random(spec.get("sample_seed", 0))
    points: dict[tuple, None] = {}  # in order of drawing; a dict finds a repeat at once
    for _ in range(100 * spec["samples"]):
        if len(points) == spec["samples"]:
            break
        points.setdefault(tuple(spec[s][k].draw(rng) for s, k in sampled))
    return list(points)


def _expand_grid(spec: dict, overrides: dict | None) -> list[tuple[dict, list]]:
    """(trial, the settings it varies) for every sampled point × grid point of one study."""
    gridded = [(s, k) for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Grid)]
    sampled = [(s, k) for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Sample)]
    fixed = {s: {**settings.defaults(s), **{k: v for k, v in spec.get(s, {}).items()
                                             if not isinstance(v, (Grid, Sample))}} for s in SECTIONS}
    varied = {s for s, _ in sampled + gridded}
    # A section no point varies is one dict the study's trials share (nothing changes a trial's section in
    # place): 100,000 trials that vary only their seed hold one dataset and one model section, not 100,000.
    shared = {s: {**fixed[s], **(overrides or {}).get(s, {})} for s in SECTIONS if s not in varied}
    trials = []
    for drawn in draws(spec, sampled):
        for point in itertools.product(*(spec[s][k].values for s, k in gridded)):
            body = {s: shared[s] if s in shared else dict(values) for s, values in fixed.items()}
            for (s, k), v in zip(sampled + gridded, drawn + point):
                body[s][k] = v
            for s, values in (overrides or {}).items():
                if s not in shared:
                    body[s].update(values)
            tid, cid = ids(body)
            trials.append(({"sweep": spec["name"], "trial_id": tid, "config_id": cid, **body}, sampled + gridded))
    return trials


def studies_of(trials: list[dict]) -> list[str]:
    """The study names of a sweep's trials, in order of appearance."""
    return list(dict.fromkeys(s for t in trials for s in (t.get("study") or "").split(",") if s))


def select_studies(trials: list[dict], names: str | None, searched=()) -> list[dict]:
    """Trials of any of the comma-separated ``names`` (a shared trial belongs to each of its studies);
    ``searched``: the names of studies whose trials a search draws (known names, no listed trials)."""
    if not names:
        return trials
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = studies_of(trials) + list(searched)
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
