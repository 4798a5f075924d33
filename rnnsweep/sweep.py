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
import math
import random
from dataclasses import dataclass

from . import settings
from .settings import SECTIONS

TOP_KEYS = ("name", "description", "dataset", "model", "training", "studies", "samples", "sample_seed", "search")
SAMPLING = ("samples", "sample_seed", "search")
# A study may take its settings from the best finished trial of another (``best_of="search"``): the
# winner's seed repeats, on the test split. Filled in by ``search.resolve_best`` once that study ends.
BEST_OF = "best_of"


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

@dataclass(frozen=True)
class Sample:
    kind: str      # choice | uniform | loguniform
    args: tuple

    def draw(self, rng):
        if self.kind == "choice":
            return rng.choice(self.args)
        lo, hi = self.args
        return rng.uniform(lo, hi) if self.kind == "uniform" else math.exp(rng.uniform(math.log(lo), math.log(hi)))


def choice(*values) -> Sample:
    """A value drawn from ``values`` for each of the sweep's ``samples``."""
    if not values:
        raise SweepError("choice() needs at least one value")
    return Sample("choice", tuple(values))


def uniform(low, high) -> Sample:
    """A number drawn uniformly from [low, high) for each of the sweep's ``samples``."""
    return Sample("uniform", (low, high))


def loguniform(low, high) -> Sample:
    """A positive number drawn uniformly in log scale from [low, high) (learning rates)."""
    return Sample("loguniform", (low, high))


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
    if isinstance(value, Sample) and value.kind != "choice":
        lo, hi = value.args
        name = f"{where}{section}.{key}: {value.kind}({lo}, {hi})"
        if setting.type is not float or setting.choices:
            raise SweepError(f"{name} draws numbers; use choice() for a {setting.kind()}")
        if not lo < hi or (value.kind == "loguniform" and not lo > 0):
            raise SweepError(f"{name} needs {'0 < ' if value.kind == 'loguniform' else ''}low < high")
    for v in value.values if isinstance(value, Grid) else value.args if isinstance(value, Sample) else (value,):
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
    if spec.get("studies"):  # the base is laid under each study: how its sampled values are drawn is checked there
        if not isinstance(spec.get("search", {}), dict):
            raise SweepError(f"{where}search: must be a dict like dict(sampler='tpe', trials=20)")
        _check_keys(spec.get("search") or {}, settings.SEARCH, f"{where}search.")
        _validate_sampling({k: v for k, v in spec.items() if k not in ("search", *SECTIONS)}, where)
    else:
        _validate_sampling(spec, where)
    studies = spec.get("studies", {})
    if not isinstance(studies, dict):
        raise SweepError(f"{where}studies: must be a dict of study name → sections, got {type(studies).__name__}")
    for study, body in studies.items():
        if not isinstance(body, dict):
            raise SweepError(f"{where}studies.{study}: must be a dict of sections")
        for key in body:
            if key not in SECTIONS and key not in SAMPLING and key != BEST_OF:
                raise _unknown(f"{where}studies.{study}.", key, tuple(SECTIONS) + SAMPLING + (BEST_OF,))
        _validate_sections(body, f"{where}studies.{study}: ")
        if BEST_OF in body:
            _validate_best_of(studies, study, body, f"{where}studies.{study}.{BEST_OF}")
            continue  # its settings are the best trial's, laid under its own: checked when filled in
        sampling = {k: body[k] if k in body else spec[k] for k in SAMPLING if k in body or k in spec}
        if body.get("search") is not None and spec.get("search") is not None:  # key by key, like the sections
            sampling["search"] = {**spec["search"], **body["search"]}
        _validate_sampling({**over(spec, **body), **sampling}, f"{where}studies.{study}: ")
    return spec


def _validate_best_of(studies: dict, study, body: dict, where: str):
    source = body[BEST_OF]
    if not isinstance(source, str) or source not in studies or source == study:
        others = [s for s in studies if s != study]
        close = difflib.get_close_matches(str(source), others, n=1)
        raise SweepError(f"{where}: {source!r} is not another study of this sweep"
                         + (f" (did you mean {close[0]!r}?)" if close else "") + f"; studies: {', '.join(others)}")
    if BEST_OF in studies[source]:
        raise SweepError(f"{where}: study {source!r} takes its own settings from another's best trial")
    both = [k for k in SAMPLING if k in body]
    if both:
        raise SweepError(f"{where}: a study that reruns the best trial lists its points; drop {both[0]}=")
    drawn = [f"{s}.{k}" for s in SECTIONS for k, v in body.get(s, {}).items() if isinstance(v, Sample)]
    if drawn:
        raise SweepError(f"{where}: {drawn[0]} is sampled: write one value or grid(...) (e.g. the seeds)")


def _validate_sampling(spec, where):
    sampled = [f"{s}.{k}" for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Sample)]
    if spec.get("search") is not None:
        _validate_search(spec, where, sampled)
        if sampled and spec.get("samples") is None:
            return  # Optuna's sampler draws the points (search.py)
    n, seed = spec.get("samples"), spec.get("sample_seed", 0)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise SweepError(f"{where}samples: {n!r} is not a positive integer")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise SweepError(f"{where}sample_seed: {seed!r} is not an integer")
    if sampled and n is None:
        raise SweepError(f"{where}{sampled[0]}: a sampled value needs samples=N in the sweep or its study")


def _check_keys(body, declared, where):
    for key, value in body.items():
        if key not in declared:
            raise _unknown(where, key, declared)
        problem = declared[key].problem(value)
        if problem:
            raise SweepError(f"{where}{key}: {problem}")


def _validate_search(spec, where, sampled):
    """``search=dict(...)``: its keys (``settings.SEARCH``, the pruner's ``settings.PRUNER``), and
    that it fits the study: the sampler needs sampled values and ``trials``; a grid only prunes."""
    search = spec["search"]
    if not isinstance(search, dict):
        raise SweepError(f"{where}search: must be a dict like dict(sampler='tpe', trials=20), "
                         f"got {type(search).__name__}")
    _check_keys(search, settings.SEARCH, f"{where}search.")
    if search.get("pruner") is not None:
        _check_keys(search["pruner"], settings.PRUNER, f"{where}search.pruner.")
    metric, direction = search.get("metric", "val_accuracy"), search.get("direction", "maximize")
    if (metric == "val_loss") != (direction == "minimize"):
        raise SweepError(f"{where}search.direction: {direction!r} with metric {metric!r} "
                         f"(want {'minimize' if metric == 'val_loss' else 'maximize'})")
    draws_here = bool(sampled) and spec.get("samples") is None
    if draws_here and not search.get("trials"):
        raise SweepError(f"{where}search.trials: the sampler draws {', '.join(sampled)}: say how many trials "
                         "(trials=N)")
    given = [k for k in ("sampler", "trials", "startup_trials", "seed") if k in search]
    if not draws_here and given:
        raise SweepError(f"{where}search.{given[0]}: this study has no values for a sampler to draw "
                         f"({'samples= draws them' if sampled else 'a grid lists them'}); only pruner= applies")
    if search.get("pruner") is None and not draws_here:
        raise SweepError(f"{where}search: on a grid or samples= study it only prunes: give pruner=dict(kind=...)")


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


def _name(cfg, varied):
    """``GRU-32-bs64`` plus each other varied setting, in the order settings declares them (not the
    spec's, so the same sweep written in another key order names its trials the same)."""
    m, t = cfg["model"], cfg["training"]
    parts = [f"{'Bi' if m['bidirectional'] else ''}{m['arch']}-{m['units']}-bs{t['batch_size']}"]
    shown = {("model", "arch"), ("model", "units"), ("training", "batch_size"), ("model", "bidirectional")}
    parts += [_label(k, cfg[s][k]) for s, k in ((s, k) for s in SECTIONS for k in SECTIONS[s])
              if (s, k) in set(varied) - shown]
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
    names = [t["name"] for t in trials]
    for t in trials:
        if names.count(t["name"]) > 1:
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
        for s, values in (overrides or {}).items():
            fixed[s].update(values)
        fixed["training"]["evaluate_test"] = False  # chosen on validation; the test split is the winner's
        out.append({"sweep": spec["name"], "study": study, "fixed": fixed, "sampled": sampled,
                    "search": search_settings(merged["search"])})
    return out


def draws(spec: dict, sampled: list) -> list[tuple]:
    """``samples`` points of the sampled settings, drawn in order from ``Random(sample_seed)``: the
    first N points of a larger ``samples`` are the same N, so growing it adds trials and keeps the
    old ones. Points are distinct (redrawn on a repeat, as Keras Tuner does) while the space allows."""
    if not sampled:
        return [()]
    rng = random.Random(spec.get("sample_seed", 0))
    points: list[tuple] = []
    for _ in range(100 * spec["samples"]):
        if len(points) == spec["samples"]:
            break
        p = tuple(spec[s][k].draw(rng) for s, k in sampled)
        if p not in points:
            points.append(p)
    return points


def _expand_grid(spec: dict, overrides: dict | None) -> list[tuple[dict, list]]:
    """(trial, the settings it varies) for every sampled point × grid point of one study."""
    gridded = [(s, k) for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Grid)]
    sampled = [(s, k) for s in SECTIONS for k, v in spec.get(s, {}).items() if isinstance(v, Sample)]
    fixed = {s: {**settings.defaults(s), **{k: v for k, v in spec.get(s, {}).items()
                                             if not isinstance(v, (Grid, Sample))}} for s in SECTIONS}
    trials = []
    for drawn in draws(spec, sampled):
        for point in itertools.product(*(spec[s][k].values for s, k in gridded)):
            body = {s: dict(values) for s, values in fixed.items()}
            for (s, k), v in zip(sampled + gridded, drawn + point):
                body[s][k] = v
            for s, values in (overrides or {}).items():
                body[s].update(values)
            trials.append(({"sweep": spec["name"], "trial_id": trial_id(body), "config_id": config_id(body),
                            **body}, sampled + gridded))
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
