"""A trial as one typed value: ``Trial``, whose three sections are frozen dataclasses made from ``settings``'s
declarations (``Dataset``, ``Model``, ``Training``), every default filled in and every value checked when it is
built (``Trial.of``, ``Section.of``). Downstream stages read fields (``trial.training.epochs``); nothing fills
defaults again. The ids live here too: a trial's id is the hash of the settings that differ from their defaults.

Frozen on purpose: a section no point of a study varies is one object all its trials share (100,000 trials
that vary only their seed hold one dataset and one model section), and nothing can change it under them.
``as_dict`` gives the plain form a trial has in ``sweep.json``, in a result's ``config`` and across a
process boundary (``backends.calibrate``); ``Trial.of`` reads it back.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, make_dataclass, replace

from .settings import SECTIONS
from .spec import SweepError, _unknown

# ----------------------------------------------------------------------------- ids


def stable_hash(obj, n=12) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def non_default(body: dict) -> dict:
    """The values of each section (plain dicts) that differ from its defaults: what an id hashes, so that a
    setting added later (whose default keeps today's behaviour) leaves every existing id as it is."""
    out = {}
    for section, values in body.items():
        declared = SECTIONS[section]
        changed = {k: v for k, v in values.items()
                   if k not in declared or not (v == declared[k].default and type(v) is type(declared[k].default))}
        if changed:
            out[section] = changed
    return out


def _seedless(changed: dict) -> dict:
    """``non_default``'s settings without the random seed (a section left empty goes, as there)."""
    training = {k: v for k, v in changed.get("training", {}).items() if k != "seed"}
    return {s: v for s, v in changed.items() if s != "training"} | ({"training": training} if training else {})


def trial_id(body: dict) -> str:
    """Content hash of a trial's sections: same config → same id, whatever the key order, and
    writing a default explicitly changes nothing."""
    return stable_hash(non_default(body))


def config_id(body: dict) -> str:
    """Like ``trial_id`` but blind to the random seed: seed repeats share it."""
    return stable_hash(_seedless(non_default(body)))


def ids(body: dict) -> tuple[str, str]:
    """``(trial_id(body), config_id(body))``, the settings compared with their defaults once."""
    changed = non_default(body)
    return stable_hash(changed), stable_hash(_seedless(changed))

# ----------------------------------------------------------------------------- sections


def _plain(v):
    """A NumPy scalar (a value read back from a results table) as the Python value it holds: ids hash JSON."""
    return v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes, dict)) else v


def _section(section: str):
    declared = SECTIONS[section]

    def of(cls, values=None, where: str = ""):
        """The section with ``values`` (a dict, or the section itself) over its defaults, each value that
        differs from its default checked: a one-line ``SweepError`` names ``section.key``."""
        if isinstance(values, cls):
            return values
        given = {}
        for k, v in (values or {}).items():
            if k not in declared:
                raise _unknown(f"{where}{section}.", k, declared)
            v = _plain(v)
            s = declared[k]
            if not (v == s.default and type(v) is type(s.default)) and (why := s.problem(v)):
                raise SweepError(f"{where}{section}.{k}: {why}")
            given[k] = v
        return cls(**given)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in declared}

    def changed(self, **values):
        """This section with ``values`` laid over it, checked."""
        return type(self).of({**self.as_dict(), **values})

    cls = make_dataclass(
        section.title(),
        [(k, s.type | None if s.none else s.type, field(default=s.default)) for k, s in declared.items()],
        namespace={"of": classmethod(of), "as_dict": as_dict, "changed": changed, "SECTION": section,
                   "__doc__": f"The ``{section}`` settings of a trial (``settings.{section.upper()}``)."},
        frozen=True, slots=True)
    cls.__module__ = __name__  # pickled by reference (Ray sends trials to its workers); before 3.12 it says "types"
    return cls


Dataset, Model, Training = (_section(s) for s in SECTIONS)
TYPES = {"dataset": Dataset, "model": Model, "training": Training}

# ----------------------------------------------------------------------------- the trial


@dataclass(frozen=True, slots=True)
class Trial:
    """One trial of a sweep: its settings, its ids (from its settings alone) and how the run knows it."""
    dataset: Dataset
    model: Model
    training: Training
    sweep: str | None = None
    trial_id: str = ""              # the hash of its non-default settings (``ids``)
    config_id: str = ""             # the same, blind to the seed: its repeats share it
    name: str | None = None         # readable, unique in its sweep (``sweep.expand``)
    study: str | None = None        # the studies it belongs to, comma-separated ("" or None: the sweep's base)
    prune: dict | None = None       # its study's search settings, when a pruner may stop it
    search_number: int | None = None  # a searched study's draw number
    backend_choice: dict | None = None  # {backend, why}: how ``training.backend='auto'`` was resolved

    @classmethod
    def of(cls, value, where: str = "") -> Trial:
        """A trial from its plain form (``as_dict``'s, or a test's partial ``{"model": {...}}``): defaults filled
        in, values checked, ids computed when it has none."""
        if isinstance(value, Trial):
            return value
        extra = {f.name for f in fields(cls)} - set(SECTIONS)
        for k in value:
            if k not in SECTIONS and k not in extra:
                raise _unknown(where, k, [*SECTIONS, *extra])
        t = cls(**{s: TYPES[s].of(value.get(s), where) for s in SECTIONS},
                **{k: value[k] for k in extra if value.get(k) is not None})
        return (t if t.trial_id else t.identified()).checked(where)

    def checked(self, where: str = "") -> Trial:
        """The trial, once its settings are checked against each other (each alone was, by its section)."""
        watched = self.training.early_stopping_monitor
        if not self.training.auc and self.training.early_stopping and watched.endswith("auc"):
            raise SweepError(f"{where}training.early_stopping_monitor: {watched!r} is not reported with "
                             "training.auc=False")
        return self

    def sections(self) -> dict:
        """``{"dataset": {...}, "model": {...}, "training": {...}}``: its settings, every one, as plain dicts."""
        return {s: getattr(self, s).as_dict() for s in SECTIONS}

    def identified(self) -> Trial:
        """The trial with the ids its settings give."""
        tid, cid = ids(self.sections())
        return replace(self, trial_id=tid, config_id=cid)

    def changed(self, **sections) -> Trial:
        """The trial with some settings changed (``training={"epochs": 2}``) and the ids they give."""
        new = {s: getattr(self, s).changed(**values) for s, values in sections.items()}
        return replace(self, **new).identified()

    def as_dict(self) -> dict:
        """Its plain (JSON) form: what ``sweep.json``, a result's ``config`` and ``Trial.of`` hold."""
        out = {"sweep": self.sweep, "trial_id": self.trial_id, "config_id": self.config_id, **self.sections()}
        for k in ("prune", "study", "name", "search_number", "backend_choice"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out

    @property
    def studies(self) -> list[str]:
        return [s for s in (self.study or "").split(",") if s]

    @property
    def backend(self) -> str:
        """The backend it runs on: its setting, ``auto`` as resolved (``backend_choice``; TensorFlow until it
        is). The default setting is TensorFlow whatever ``$KERAS_BACKEND`` says: the trial id promises it."""
        b = self.training.backend
        if b == "auto":
            return (self.backend_choice or {}).get("backend", "tensorflow")
        return b


def plain(obj):
    """``json``'s ``default=`` for what holds trials: each as its plain form, made only while it is written."""
    if isinstance(obj, Trial) or hasattr(obj, "SECTION"):
        return obj.as_dict()
    return str(obj)
