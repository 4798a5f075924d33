"""Sweep specs: a study written as data, expanded into trials (``config.Trial``).

A sweep is a dict with a ``name`` and three sections, ``dataset``, ``model`` and ``training``
(every key is declared in ``settings``); any value may be ``grid(a, b, ...)``. Expanding gives one
trial per point of the product, each with a stable content-hash ``trial_id``, a ``config_id``
that ignores the random seed (repeats share it), and a readable name unique in the sweep.
Everything is checked before anything runs (``spec.validate``; the spec's language is ``spec``).
"""
from __future__ import annotations

import difflib
import fnmatch
import functools
import itertools
import json
import random
from collections import Counter
from dataclasses import replace

from . import settings
from .config import TYPES, Trial, ids
from .settings import SECTIONS
# The spec language, re-exported: sweep files and tests write ``from rnnsweep.sweep import grid``.
from .spec import (BEST_OF, ENSEMBLE, KEEP, REFIT, SAMPLING, STUDY_KEYS, TOP_KEYS, Grid, Sample, SweepError, _unknown,  # noqa: F401
                   check_value, choice, grid, loguniform, over, uniform, validate)

# ----------------------------------------------------------------------------- ids and names


def _label(key, v):
    return f"{key}{v}" if not isinstance(v, bool) else (key if v else f"no_{key}")


SHOWN = {("model", "arch"), ("model", "units"), ("training", "batch_size"), ("model", "bidirectional")}


@functools.lru_cache(maxsize=None)
def _named(varied: frozenset) -> list:
    """The varied settings a name shows after ``GRU-32-bs64``, in the order settings declares them."""
    return [(s, k) for s in SECTIONS for k in SECTIONS[s] if (s, k) in varied - SHOWN]


def model_label(t: Trial) -> str:
    """``GRU-32-bs64`` (``BiLSTM-...`` when bidirectional): how every trial's name starts."""
    m = t.model
    return f"{'Bi' if m.bidirectional else ''}{m.arch}-{m.units}-bs{t.training.batch_size}"


def _name(t: Trial, varied) -> str:
    """``GRU-32-bs64`` plus each other varied setting, in the order settings declares them (not the
    spec's, so the same sweep written in another key order names its trials the same)."""
    parts = [model_label(t)]
    parts += [_label(k, getattr(getattr(t, s), k)) for s, k in _named(frozenset(varied))]
    return "-".join(parts)


def _collisions(names: list[str]) -> list[list[int]]:
    """The positions of the names that are not unique, one group per name."""
    by_name: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        by_name.setdefault(n, []).append(i)
    return [g for g in by_name.values() if len(g) > 1]


def _unique_names(trials: list[Trial]) -> list[Trial]:
    """The trials, named so that none of one sweep shares its name: those that do get their study's name
    appended when they come from different studies (``GRU-10-bs32-small_emb``), else the settings that
    tell them apart (``SimpleRNN-16-bs128-dropout0.2``), then, if still equal, an id prefix."""
    names = [t.name for t in trials]
    for group in _collisions(names):
        if len({trials[i].study for i in group}) == len(group):
            for i in group:
                names[i] = f"{names[i]}-{trials[i].study.split(',')[0]}"
    for group in _collisions(names):
        body = [trials[i].sections() for i in group]
        differ = [(s, k) for s in SECTIONS for k in body[0][s] if len({json.dumps(b[s][k]) for b in body}) > 1]
        for i, b in zip(group, body):
            names[i] = "-".join([names[i]] + [_label(k, b[s][k]) for s, k in differ])
    count = Counter(names)
    names = [f"{n}-{t.trial_id[:6]}" if count[n] > 1 else n for n, t in zip(names, trials)]
    return [t if t.name == n else replace(t, name=n) for t, n in zip(trials, names)]

# ----------------------------------------------------------------------------- expansion


def expand(spec: dict, overrides: dict | None = None, checked: bool = False) -> list[Trial]:
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
    trials: dict[str, Trial] = {}
    shown: dict[str, list] = {}
    for study, body in studies.items():
        if BEST_OF in body:
            continue  # waits for the study it names to end (search.resolve_best fills it in)
        merged = _merged(spec, body)
        if searched(merged):
            continue  # its trials are drawn as the sweep runs (searches(), search.py)
        prune = ({**search_settings(merged["search"], _merged(merged, overrides or {})), "study": study}
                 if merged.get("search") is not None else None)  # a grid or samples= study that prunes
        for t, varied in _expand_grid(merged, overrides):
            if t.trial_id in trials:  # shared by studies: named by what any of them varies
                first = trials[t.trial_id]
                trials[t.trial_id] = replace(first, study=f"{first.study},{study}")
                shown[t.trial_id] += varied
            else:
                trials[t.trial_id] = replace(t, study=study, prune=prune) if study or prune else t
                shown[t.trial_id] = varied
    return _unique_names([replace(t, name=_name(t, shown[t.trial_id])) for t in trials.values()])


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


def search_settings(search: dict, spec: dict | None = None) -> dict:
    """``search=dict(...)`` with every default filled in (``settings.SEARCH``, ``settings.PRUNER``), its metric
    one that the (merged) study's trials report."""
    out = {k: s.default for k, s in settings.SEARCH.items()} | search
    if out["metric"].endswith("auc") and (spec or {}).get("training", {}).get("auc", True) is False:
        raise SweepError(f"sweep {spec.get('name')!r}: search.metric: {out['metric']!r} is not reported with "
                         "training.auc=False")
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
        search = search_settings(merged["search"], _merged(merged, overrides or {}))
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


def _expand_grid(spec: dict, overrides: dict | None) -> list[tuple[Trial, list]]:
    """(trial, the settings it varies) for every sampled point × grid point of one study."""
    gridded = [(s, k) for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Grid)]
    sampled = [(s, k) for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Sample)]
    fixed = {s: {k: v for k, v in spec.get(s, {}).items() if not isinstance(v, (Grid, Sample))} for s in SECTIONS}
    varied = {s for s, _ in sampled + gridded}
    # A section no point varies is one value the study's trials share (frozen: nothing can change it under
    # them): 100,000 trials that vary only their seed hold one dataset and one model section, not 100,000.
    given = {s: {**fixed[s], **(overrides or {}).get(s, {})} for s in SECTIONS if s not in varied}
    shared = {s: TYPES[s].of(values) for s, values in given.items()}
    trials = []
    for drawn in draws(spec, sampled):
        for point in itertools.product(*(spec[s][k].values for s, k in gridded)):
            body = {s: dict(fixed[s]) for s in SECTIONS if s not in shared}
            for (s, k), v in zip(sampled + gridded, drawn + point):
                body[s][k] = v
            for s, values in (overrides or {}).items():
                if s not in shared:
                    body[s].update(values)
            sections = {s: shared[s] if s in shared else TYPES[s].of(body[s]) for s in SECTIONS}
            tid, cid = ids({**given, **body})  # the values given: an id hashes only those that are not defaults
            t = Trial(**sections, sweep=spec["name"], trial_id=tid, config_id=cid).checked(f"sweep {spec['name']!r}: ")
            trials.append((t, sampled + gridded))
    return trials


def studies_of(trials: list[Trial]) -> list[str]:
    """The study names of a sweep's trials, in order of appearance."""
    return list(dict.fromkeys(s for t in trials for s in t.studies))


def select_studies(trials: list[Trial], names: str | None, searched=()) -> list[Trial]:
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
    return [t for t in trials if set(wanted) & set(t.studies)]


def select(trials: list[Trial], pattern: str | None) -> list[Trial]:
    """Trials whose name or id matches any comma-separated glob in ``pattern``."""
    if not pattern:
        return trials
    pats = [p.strip() for p in pattern.split(",") if p.strip()]
    return [t for t in trials if any(fnmatch.fnmatch(t.name, p) or t.trial_id.startswith(p) for p in pats)]
