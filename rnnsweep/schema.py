"""The rows of the results' two tables: their columns, declared once (``TRIAL_FIELDS``, ``EPOCH_SCHEMA``),
and how one ``trial.run_trial`` result becomes a trial row and its epoch rows (``results`` stores them).
"""
from __future__ import annotations

import json
import math

import pyarrow as pa

from . import settings

_ARROW = {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}
# Config fields flattened into columns by their bare key (settings keeps keys unique across sections),
# typed by each setting's declared type.
CONFIG_COLUMNS = [(section, key) for section, key, _ in settings.columns()]

_f, _i, _s = pa.float64(), pa.int64(), pa.string()
TRIAL_FIELDS = [("sweep", _s), ("study", _s), ("trial_id", _s), ("config_id", _s), ("name", _s),
                ("search_number", _i)] + \
    [(k, _ARROW[setting.column_type]) for _, k, setting in settings.columns()] + [
    ("status", _s), ("error", _s), ("test_loss", _f), ("test_accuracy", _f), ("test_auc", _f),
    ("best_val_accuracy", _f), ("best_val_epoch", _i), ("best_val_loss", _f),
    ("final_val_accuracy", _f), ("final_val_loss", _f), ("final_accuracy", _f), ("final_loss", _f),
    ("epochs_run", _i), ("resumed_from_epoch", _i), ("fit_seconds", _f), ("evaluate_seconds", _f), ("seconds", _f),
    ("seconds_per_epoch", _f), ("first_epoch_seconds", _f), ("outside_epochs_seconds", _f), ("import_seconds", _f),
    ("build_seconds", _f), ("wait_seconds", _f), ("cpu_seconds", _f), ("earlier_cpu_seconds", _f), ("gpu_seconds", _f),
    ("earlier_gpu_seconds", _f),
    ("gpus", _f), ("trial_in_worker", _i), ("dataset_rows", _i), ("cudnn", _s), ("samples_per_second", _f),
    ("train_samples", _i), ("val_samples", _i),
    ("test_samples", _i), ("trainable_params", _i), ("non_trainable_params", _i),
    ("glove_dim_used", _i), ("glove_coverage", _f), ("vocab_size", _i), ("dataset_fingerprint", _s),
    ("dataset_zero_copy", pa.bool_()), ("host", _s), ("pid", _i), ("node_id", _s), ("device", _s), ("tf_version", _s),
    ("keras_version", _s), ("keras_backend", _s), ("backend_choice", _s), ("ray_version", _s), ("code_version", _s),
    ("budget", _s), ("fused_group", _s), ("fused_members", _i),
    ("model_uri", _s), ("model_bytes", _i), ("ensemble_members", _s),
    ("started_at", pa.timestamp("s", tz="UTC")), ("finished_at", pa.timestamp("s", tz="UTC"))]
TRIAL_SCHEMA = pa.schema(TRIAL_FIELDS)
EPOCH_SCHEMA = pa.schema([("sweep", _s), ("trial_id", _s), ("config_id", _s), ("name", _s), ("epoch", _i),
                          ("loss", _f), ("accuracy", _f), ("auc", _f), ("val_loss", _f),
                          ("val_accuracy", _f), ("val_auc", _f), ("seconds", _f), ("learning_rate", _f),
                          ("cpu_seconds", _f)])


def _cell(value, typ):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if pa.types.is_string(typ) and not isinstance(value, str):
        return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    if pa.types.is_timestamp(typ):
        return int(value)
    return value


def trial_row(result: dict, budget: dict | None = None) -> dict:
    """Flatten a ``trial.run_trial`` result into one row of the trials table."""
    cfg = _plain_config(result["config"])
    hist = result.get("history") or []
    vals = [(h["val_accuracy"], h["epoch"], h["val_loss"]) for h in hist if h.get("val_accuracy") is not None]
    # An ensemble has no epochs: its validation scores are its own (``kept.ensemble``).
    best = max(vals, key=lambda v: v[0]) if vals else (result.get("best_val_accuracy"), None,
                                                        result.get("best_val_loss"))
    last = hist[-1] if hist else {}
    secs = [h["seconds"] for h in hist if h.get("seconds") is not None]
    ds = result.get("dataset") or {}
    # One declaration, TRIAL_FIELDS: a column is a setting, else derived here, else the result's own key.
    row = {k: result.get(k) for k in TRIAL_SCHEMA.names}
    row.update({k: cfg.get(s, {}).get(k) for s, k in CONFIG_COLUMNS})
    here = (result.get("epochs_run") or 0) - (result.get("resumed_from_epoch") or 0)  # epochs this attempt ran
    ran = [h.get("seconds") or 0.0 for h in hist[len(hist) - here:]] if here > 0 and result.get("fit_seconds") else []
    row.update(sweep=cfg.get("sweep"), study=cfg.get("study"), search_number=cfg.get("search_number"),
               best_val_accuracy=best[0], best_val_epoch=best[1], best_val_loss=best[2],
               final_val_accuracy=last.get("val_accuracy", best[0]), final_val_loss=last.get("val_loss", best[2]),
               final_accuracy=last.get("accuracy"), final_loss=last.get("loss"),
               seconds_per_epoch=sum(secs) / len(secs) if secs else None,
               # The first epoch run here includes tracing; what fit spends outside its epochs is
               # input-pipeline setup, backups and live writes.
               first_epoch_seconds=ran[0] if ran else None,
               outside_epochs_seconds=result["fit_seconds"] - sum(ran) if ran else None,
               glove_dim_used=(ds.get("config") or {}).get("glove_dim") if ds.get("glove_coverage") is not None
               else None, glove_coverage=ds.get("glove_coverage"), vocab_size=ds.get("vocab_size"),
               dataset_fingerprint=ds.get("fingerprint"),
               budget=" ".join(f"{k}={v}" for k, v in sorted((budget or {}).items())) or None)
    return {name: _cell(row.get(name), typ) for name, typ in TRIAL_FIELDS}


def _plain_config(cfg) -> dict:
    """A result's config as its row reads it: the plain form (the driver keeps a ``Trial`` there, ``onray.slim``)."""
    return cfg.as_dict() if hasattr(cfg, "as_dict") else cfg


def epoch_rows(result: dict) -> list[dict]:
    cfg = _plain_config(result["config"])
    ids = dict(sweep=cfg.get("sweep"), trial_id=result["trial_id"], config_id=result.get("config_id"),
               name=result.get("name"))
    return [{f.name: _cell({**ids, **h}.get(f.name), f.type) for f in EPOCH_SCHEMA} for h in result["history"]]
