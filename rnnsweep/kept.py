"""Part of stage 6 (results): the trained models a sweep keeps, and the text pipelines that feed them.

    <results>/<sweep>/models/<trial_id>.keras        Keras's own file: the weights the trial was tested with
    <results>/<sweep>/pipelines/<fingerprint>.json   one per prepared dataset: raw text → its sequences

A trial row's ``model_uri`` is the model's path inside the sweep's folder (``models/<trial_id>.keras``), so
a results folder copied from ``s3://`` to a laptop still finds its models; ``model_bytes`` its size. Which
models a study keeps is its ``keep_models`` (``policies``); the driver's ``Keeper`` drops the models that
are no longer among the kept as trials land. ``load_model`` / ``predict`` read them back; ``ensemble``
averages several kept models' probabilities.
"""
from __future__ import annotations

import json
import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass, replace

import pyarrow.fs as pafs

from . import results, worker
from .search import config_of
from .spec import BEST_OF, ENSEMBLE, KEEP, check_keep
from .config import Trial, stable_hash
from .sweep import searches
from .trial import _finite, failed, new_result, split_validation

MODELS, PIPELINES = "models", "pipelines"


class ModelError(LookupError):
    """A kept model cannot be had; the message names the trial or file and what to do."""

# ----------------------------------------------------------------------------- which models a study keeps


def policies(spec: dict, keep: str | int | None = None) -> dict:
    """{study: "best" | "all" | "none" | k} for every study of ``spec`` (as written: ``best_of`` studies not
    yet filled in). ``keep``: ``--keep-models``, for the whole run. A ``best_of`` study keeps every repeat of
    its winner; a study whose k best an ensemble averages keeps at least those k."""
    studies = spec.get("studies") or {None: {}}
    out = {s: keep if keep is not None else body.get(KEEP, "all" if BEST_OF in body else "best")
           for s, body in studies.items()}
    for body in studies.values():
        k = body.get(ENSEMBLE)
        if isinstance(k, int) and BEST_OF in body:
            have = out[body[BEST_OF]]
            out[body[BEST_OF]] = "all" if have == "all" else max(k, have if isinstance(have, int) else 1)
    return out


def wants(config: Trial, keep: dict) -> bool:
    """Does any study of this trial keep models at all (so its worker writes one)?"""
    studies = config.studies or [None]
    return any(keep.get(s, "best") != "none" for s in studies)


def parse_keep(value: str):
    """``--keep-models``: best, all, none or k."""
    return check_keep(int(value) if value.isdigit() else value, "--keep-models")


def study_metrics(spec: dict) -> dict:
    """{searched study: its search settings}: the metric ``score`` ranks its trials by (the spec validated)."""
    return {p["study"]: p["search"] for p in searches(spec, checked=True)}


def score(row: dict, plan: dict | None = None):
    """A finished trial's value to its study: its search's metric when it has one (validation), else its
    best validation accuracy, else its test accuracy. Bigger is better (losses negated)."""
    metric = (plan or {}).get("metric", "val_accuracy")
    if metric == "val_loss":
        return -row["best_val_loss"] if row.get("best_val_loss") is not None else None
    for k in ("best_val_accuracy", "test_accuracy"):
        if row.get(k) is not None:
            return row[k]
    return None


class Keeper:
    """The driver's view of the kept models: each landed trial's model is kept while any of its studies keeps
    it (its best k, all, none); one that falls out is deleted and its row's ``model_uri`` cleared."""

    def __init__(self, uri: str, sweep: str, keep: dict, metrics: dict | None = None):
        self.uri, self.sweep, self.keep, self.metrics = uri, sweep, keep, metrics or {}
        self.held: dict = {}  # trial_id → (its studies, its score) of every trial whose model is kept now
        table = results.read_table(uri, sweep, "trials", columns=["trial_id", "study", "model_uri", "best_val_accuracy",
                                                                  "best_val_loss", "test_accuracy"])
        for row in table.filter(table["model_uri"].is_valid()).to_pylist() if table.num_rows else []:
            self.held[row["trial_id"]] = (self._studies(row), score(row, self.metrics.get(row.get("study"))))

    @staticmethod
    def _studies(row) -> list:
        return (row.get("study") or "").split(",") if row.get("study") else [None]

    def landed(self, row: dict) -> list[str]:
        """Take a trial row just written; returns the trials whose models were dropped because of it."""
        if not row.get("model_uri"):
            return []
        studies = self._studies(row)
        self.held[row["trial_id"]] = (studies, score(row, self.metrics.get(studies[0])))
        dropped = [tid for tid in self.held if not self._kept(tid)]
        for tid in dropped:
            drop_model(self.uri, self.sweep, tid)
            del self.held[tid]
        return dropped

    def _kept(self, tid: str) -> bool:
        studies, _ = self.held[tid]
        for s in studies:
            policy = self.keep.get(s, "best")
            if policy == "all":
                return True
            if policy == "none":
                continue
            k = 1 if policy == "best" else policy
            mine = sorted(((v if v is not None else float("-inf"), t) for t, (ss, v) in self.held.items() if s in ss),
                          key=lambda vt: (-vt[0], vt[1]))
            if tid in [t for _, t in mine[:k]]:
                return True
        return False

SLOTS = {"adam": 2, "rmsprop": 1, "sgd": 0}  # optimizer variables per trainable weight, saved with the model
OVERHEAD = 30_000  # bytes of a .keras file besides its weights (config, metadata, zip): measured, BENCHMARKS.md


def model_bytes(trainable: int, non_trainable: int, optimizer: str = "adam") -> int:
    """A kept model's file size, from its parameter counts: float32 weights (a frozen GloVe matrix is most of
    them), the optimizer's slots for the trainable ones, and the file's own overhead."""
    return 4 * (non_trainable + trainable * (1 + SLOTS.get(optimizer, 2))) + OVERHEAD


def projection(listed: list[dict], keep: dict, earlier) -> str | None:
    """``--dry-run``'s line on the models the listed trials keep: how many, and their bytes where an earlier
    trial of the same config says its parameter counts (or its file's size)."""
    by_study: dict = {}
    for t in listed:
        for s in t.studies or [None]:
            by_study.setdefault(s, []).append(t)
    count, nbytes, unknown = 0, 0, 0
    known = {}
    if earlier is not None and len(earlier) and "trainable_params" in earlier:
        cols = [c for c in ("config_id", "trainable_params", "non_trainable_params", "model_bytes", "optimizer")
                if c in earlier]  # the last row of each config is the one kept (as a loop over all rows kept it)
        rows = earlier.dropna(subset=["trainable_params"])[cols].drop_duplicates("config_id", keep="last")
        for r in rows.to_dict("records"):
            size = r.get("model_bytes")
            known[r["config_id"]] = int(size) if size == size and size is not None else model_bytes(
                int(r["trainable_params"]), int(r["non_trainable_params"] or 0), r.get("optimizer") or "adam")
    for s, trials in by_study.items():
        policy = keep.get(s, "best")
        n = len(trials) if policy == "all" else 0 if policy == "none" else min(len(trials), 1 if policy == "best"
                                                                                 else policy)
        count += n
        sizes = [known[t.config_id] for t in trials if t.config_id in known]
        if sizes:
            nbytes += n * max(sizes)  # the largest of the study's known sizes: its best is any of them
        else:
            unknown += n
    if not count:
        return None
    line = f"models kept: {count}"
    if count > unknown:
        line += f", about {nbytes / 1e6:,.1f} MB" + (f" for {count - unknown} of them" if unknown else "")
    if unknown:
        line += f" ({unknown} of unknown size: no earlier trial of their configs)"
    return line + " (keep_models, --keep-models)"

# ----------------------------------------------------------------------------- writing and dropping


def _path(uri: str, sweep: str, *parts) -> tuple:
    fs, base = results.filesystem(uri)
    return fs, posixpath.join(base, sweep, *parts)


def save_model(model, uri: str, sweep: str, trial_id: str) -> dict:
    """Write the trained model as ``models/<trial_id>.keras`` (local or remote), atomically: a worker
    killed while it writes leaves the whole file or none. Returns the row's ``model_uri`` and ``model_bytes``."""
    rel = posixpath.join(MODELS, f"{trial_id}.keras")
    fs, path = _path(uri, sweep, rel)
    tmp = tempfile.mkdtemp(prefix="rnnsweep-model-")
    try:
        local = os.path.join(tmp, "model.keras")
        model.save(local)
        size = os.path.getsize(local)
        with open(local, "rb") as src:
            results.atomic_write(fs, path, lambda out: shutil.copyfileobj(src, out, 8 << 20))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"model_uri": rel, "model_bytes": size}


def drop_model(uri: str, sweep: str, trial_id: str):
    """Delete a trial's kept model and clear its row's ``model_uri`` (the row is rewritten, nothing else changes)."""
    fs, path = _path(uri, sweep, MODELS, f"{trial_id}.keras")
    results.update_trial(uri, sweep, trial_id, model_uri=None, model_bytes=None)
    try:
        fs.delete_file(path)
    except (FileNotFoundError, OSError):
        pass


def write_pipeline(uri: str, sweep: str, pipeline: dict | None):
    """A prepared dataset's text pipeline, once per sweep (named by the dataset's fingerprint, which the
    trial rows carry as ``dataset_fingerprint``)."""
    if not pipeline:
        return
    fs, path = _path(uri, sweep, PIPELINES, f"{pipeline['fingerprint']}.json")
    if fs.get_file_info(path).type != pafs.FileType.File:
        blob = json.dumps(pipeline).encode()
        results.atomic_write(fs, path, lambda out: out.write(blob))


def read_pipeline(uri: str, sweep: str, fingerprint: str) -> dict:
    fs, path = _path(uri, sweep, PIPELINES, f"{fingerprint}.json")
    try:
        with fs.open_input_stream(path) as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise ModelError(f"{uri.rstrip('/')}/{sweep}/{PIPELINES}/{fingerprint}.json: no text pipeline for this "
                         "trial's dataset (the sweep ran before pipelines were saved): run the sweep again to "
                         "write it") from None

# ----------------------------------------------------------------------------- reading back


def find(sweep_dir: str, trial: str) -> tuple[str, str, dict]:
    """(results root, sweep, the trial's row) for a trial named by its name or (a prefix of) its id."""
    uri, sweep = results.locate(sweep_dir)
    rows = results.read_table(uri, sweep, "trials").to_pylist()
    hits = [r for r in rows if r["name"] == trial] or [r for r in rows if r["trial_id"].startswith(trial)]
    if len(hits) != 1:
        names = ", ".join(r["name"] for r in rows if r.get("model_uri"))[:300]
        raise ModelError(f"{sweep_dir}: {'no trial' if not hits else f'{len(hits)} trials'} named {trial!r} "
                         f"(by name or id prefix); trials with kept models: {names or 'none'}")
    return uri, sweep, hits[0]


def _local_copy(uri: str, sweep: str, rel: str, name: str) -> tuple[str, str | None]:
    """(a local path of the model file, a temp folder to remove afterwards or None)."""
    fs, path = _path(uri, sweep, rel)
    if isinstance(fs, pafs.LocalFileSystem):
        if not os.path.exists(path):
            raise ModelError(f"{path}: the model file of {name} is missing: run its study again to retrain it")
        return path, None
    tmp = tempfile.mkdtemp(prefix="rnnsweep-model-")
    local = os.path.join(tmp, "model.keras")
    try:
        with fs.open_input_stream(path) as src, open(local, "wb") as out:
            shutil.copyfileobj(src, out, 8 << 20)
    except FileNotFoundError:
        shutil.rmtree(tmp)
        raise ModelError(f"{uri.rstrip('/')}/{sweep}/{rel}: the model file of {name} is missing: run its study "
                         "again to retrain it") from None
    return local, tmp


def load_model(sweep_dir: str, trial: str):
    """The compiled Keras model ``trial`` (its name or id) of the sweep in ``sweep_dir`` kept: the weights its
    test numbers came from. Loads on whichever Keras backend this process runs."""
    return load_row(*find(sweep_dir, trial))


def load_row(uri: str, sweep: str, row: dict):
    """``load_model`` for a trial row already read."""
    if not row.get("model_uri"):
        raise ModelError(f"{row['name']}: no model kept (status {row['status']}; its study's keep_models kept "
                         "others): run it again with --keep-models all, or pick a trial with one")
    from .models import custom_objects  # Keras (TensorFlow: seconds to import): only when a model is loaded
    from .quiet import keras

    path, tmp = _local_copy(uri, sweep, row["model_uri"], row["name"])
    try:
        return keras().saving.load_model(path, custom_objects=custom_objects())
    except Exception as e:  # noqa: BLE001 - cut short, or not a Keras file
        raise ModelError(f"{path}: the model file of {row['name']} cannot be read ({type(e).__name__}); "
                         "delete it and run its study again to retrain it") from None
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def pipeline_of(sweep_dir: str, row: dict) -> dict:
    uri, sweep = results.locate(sweep_dir)
    return read_pipeline(uri, sweep, row["dataset_fingerprint"])

# ----------------------------------------------------------------------------- ensembles of kept models


@dataclass(frozen=True)
class Ensemble:
    """An ensemble's task: ``trial`` is what its row records (its first member's settings, no seed of its own,
    evaluated on the test split; its id a hash of its members'), ``members`` its members' trial ids."""
    trial: Trial
    members: tuple
    member_names: tuple


def ensemble_jobs(spec: dict, trials: list[Trial], uri: str, plans: dict | None = None) -> list[Ensemble]:
    """The ensembles ``spec``'s studies ask for (``ensemble=`` beside ``best_of=``), among the listed
    ``trials`` (``best_of`` studies filled in), each an ``Ensemble``.
    "repeats": the study's own trials; k: the k best finished trials of the study it names, by that study's
    metric (validation: the test split plays no part in the choice). Its id is a hash of its members'."""
    jobs = []
    rows = None
    for study, body in (spec.get("studies") or {}).items():
        if ENSEMBLE not in body:
            continue
        mine = [t for t in trials if study in t.studies]
        if not mine:
            continue  # waits for the study it reruns (best_of), or --study left it out
        if body[ENSEMBLE] == "repeats":
            members = sorted(mine, key=lambda t: t.training.seed)
        else:
            if rows is None:
                rows = results.read_table(uri, spec["name"], "trials").to_pylist()
            source = body[BEST_OF]
            ok = [r for r in rows if source in (r.get("study") or "").split(",") and r["status"] == "ok"
                  and score(r, (plans or {}).get(source)) is not None]
            ok.sort(key=lambda r: (-score(r, (plans or {}).get(source)), r["trial_id"]))
            members = [Trial.of({"sweep": spec["name"], "trial_id": r["trial_id"], "config_id": r["config_id"],
                                 "name": r["name"], **config_of(r)}) for r in ok[:body[ENSEMBLE]]]
            if len(members) < body[ENSEMBLE]:
                continue
        ids = sorted(t.trial_id for t in members)
        first = members[0]
        tid = stable_hash({"ensemble": ids})
        # The repeats of one model are named by it; the k best of a study (several models) by the study.
        name = (f"{first.name.replace(f'-seed{first.training.seed}', '')}-ensemble{len(members)}"
                if body[ENSEMBLE] == "repeats" else f"{study}-ensemble{len(members)}")
        # No seed of its own (built as is, not checked: a trial's seed is never None), and evaluated once on
        # the test split, whatever its members did.
        training = replace(first.training, seed=None, evaluate_test=True)
        jobs.append(Ensemble(Trial(first.dataset, first.model, training, sweep=first.sweep, trial_id=tid,
                                   config_id=tid, study=study, name=name), tuple(ids),
                             tuple(t.name for t in members)))
    return jobs


def ensemble(job: Ensemble, prepared, uri: str, sweep: str, cpus=None) -> dict:
    """The average of the members' kept models' probabilities, scored on the validation split the members
    held out (when they did) and on the test split, with Keras's own metrics: one result, like a trial's."""
    import time

    import numpy as np

    cpu0 = time.process_time()
    result = new_result(job.trial, prepared)
    result.update(history=[], ensemble_members=json.dumps(list(job.members)), seed=None)
    try:
        worker.ready_keras(job.trial, result, cpus)
        import keras

        t = job.trial.training
        n = t.limit_train or len(prepared.x_train)
        _, val = split_validation(prepared.x_train[:n], prepared.y_train[:n], t.validation_split)
        n_test = min(len(prepared.x_test), t.limit_test or len(prepared.x_test))
        test = (prepared.x_test[:n_test], prepared.y_test[:n_test])
        rows = {r["trial_id"]: r for r in results.read_table(uri, sweep, "trials").to_pylist()
                if r["trial_id"] in job.members}
        probs = {"val": [], "test": []}
        for tid in job.members:
            row = rows.get(tid)
            if row is None or row["status"] != "ok" or not row.get("model_uri"):
                raise ModelError(f"member {row['name'] if row else tid} has no kept model")
            model = load_row(uri, sweep, row)
            for split, xy in (("val", val), ("test", test)):
                if xy is not None:
                    probs[split].append(np.asarray(model.predict(xy[0], batch_size=max(256, t.batch_size),
                                                                 verbose=0), dtype="float64").reshape(-1))
            del model
            keras.backend.clear_session()
        for split, xy in (("val", val), ("test", test)):
            if xy is None:
                continue
            p, y = np.mean(probs[split], axis=0), np.asarray(xy[1], dtype="float64").reshape(-1)
            scores = {}
            for name, metric in (("loss", keras.metrics.BinaryCrossentropy()),
                                 ("accuracy", keras.metrics.BinaryAccuracy()), ("auc", keras.metrics.AUC())):
                metric.update_state(y[:, None], p[:, None])
                scores[name] = _finite(metric.result())
            if split == "val":
                result.update(best_val_accuracy=scores["accuracy"], best_val_loss=scores["loss"],
                              val_samples=len(y))
            else:
                result.update({f"test_{k}": v for k, v in scores.items()}, test_samples=len(y))
        result["train_samples"] = n - (len(val[0]) if val is not None else 0)
    except Exception as e:  # recorded, never raised, like a trial's
        failed(result, e)
    result["seconds"] = time.time() - result["started_at"]
    result["finished_at"] = time.time()
    result["cpu_seconds"] = time.process_time() - cpu0
    return result
