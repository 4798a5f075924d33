"""The language a sweep is written in, and its checks: ``grid``/``choice``/``uniform``/``loguniform``
values, ``over`` for a study that changes a known configuration, and ``validate``, which names the
first bad key (suggesting the closest valid one) before anything runs. ``sweep`` expands a valid spec.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from . import settings
from .settings import SECTIONS

TOP_KEYS = ("name", "description", "dataset", "model", "training", "studies", "samples", "sample_seed", "search")
SAMPLING = ("samples", "sample_seed", "search")
# A study may take its settings from the best finished trial of another (``best_of="search"``): the
# winner's seed repeats, on the test split. Filled in by ``search.resolve_best`` once that study ends.
BEST_OF = "best_of"
# With ``best_of``, ``refit=True`` trains the winner's repeats on all the training rows (no validation
# split, no early stopping) for the epoch count its best trial was scored at: the usual last step of a
# search, once validation has chosen the settings and the epoch.
REFIT = "refit"
# Which trained models a study keeps (``kept``): "best" (its best trial by its own metric; every repeat of a
# best_of study), "all", "none", or the best k. Never part of a trial's id: keeping a model changes nothing
# it computes.
KEEP = "keep_models"
KEEP_VALUES = ("best", "all", "none")
# With ``best_of``: the average of several trained models' probabilities, evaluated once on the test split
# (``kept.ensemble``): "repeats" (this study's own trials, the winner's seeds) or k (the k best trials of the
# study it names, chosen on validation).
ENSEMBLE = "ensemble"
STUDY_KEYS = (BEST_OF, REFIT, KEEP, ENSEMBLE)


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
            if key not in SECTIONS and key not in SAMPLING and key not in STUDY_KEYS:
                raise _unknown(f"{where}studies.{study}.", key, tuple(SECTIONS) + SAMPLING + STUDY_KEYS)
        if REFIT in body and (BEST_OF not in body or not isinstance(body[REFIT], bool)):
            raise SweepError(f"{where}studies.{study}.{REFIT}: True or False, in a study with best_of= (got "
                             f"{body[REFIT]!r}{'' if BEST_OF in body else ' without best_of'})")
        _validate_sections(body, f"{where}studies.{study}: ")
        if KEEP in body:
            check_keep(body[KEEP], f"{where}studies.{study}.{KEEP}")
        if ENSEMBLE in body:
            _check_ensemble(body, f"{where}studies.{study}.{ENSEMBLE}")
        if BEST_OF in body:
            _validate_best_of(studies, study, body, f"{where}studies.{study}.{BEST_OF}")
            continue  # its settings are the best trial's, laid under its own: checked when filled in
        sampling = {k: body[k] if k in body else spec[k] for k in SAMPLING if k in body or k in spec}
        if body.get("search") is not None and spec.get("search") is not None:  # key by key, like the sections
            sampling["search"] = {**spec["search"], **body["search"]}
        _validate_sampling({**over(spec, **body), **sampling}, f"{where}studies.{study}: ")
    return spec


def check_keep(value, where: str):
    """``keep_models``: "best", "all", "none" or a positive k (the best k)."""
    if value in KEEP_VALUES or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise SweepError(f"{where}: {value!r}: one of {', '.join(map(repr, KEEP_VALUES))} or a positive number k "
                     "(the best k)")


def _check_ensemble(body: dict, where: str):
    value = body[ENSEMBLE]
    if BEST_OF not in body:
        raise SweepError(f"{where}: an ensemble averages a finished study's models: give best_of= too")
    if value != "repeats" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 2):
        raise SweepError(f"{where}: {value!r}: 'repeats' (this study's own trials) or k >= 2 (the k best trials "
                         f"of study {body[BEST_OF]!r})")


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
