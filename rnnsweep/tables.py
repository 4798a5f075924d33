"""Reading a sweep, part 1: the numbers. Summary per configuration (seed repeats pooled with a
95 % Student-t interval), the failed trials, and the same rows as Markdown or HTML cells."""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from . import cost
from .results import CONFIG_COLUMNS

METRICS = ["test_accuracy", "test_auc", "test_loss", "best_val_accuracy", "best_val_epoch", "epochs_run", "minutes"]
NOT_STUDIED = {"seed", "path"}  # columns that vary without being a studied setting

# ----------------------------------------------------------------------------- statistics


def ci95(values) -> tuple[float, float, float, float, int]:
    """(mean, std, low, high, n) of the finite values; Student-t 95 % interval, NaN when n < 2."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    n = len(v)
    if n == 0:
        return (math.nan,) * 4 + (0,)
    mean = float(v.mean())
    if n < 2:
        return mean, math.nan, math.nan, math.nan, n
    from scipy import stats

    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half, n


def prepare_trials(trials: pd.DataFrame) -> pd.DataFrame:
    t = trials.copy()
    t["minutes"] = t["seconds"] / 60
    t["fit_minutes"] = t["fit_seconds"] / 60
    t["config_name"] = t["name"].str.replace(r"-seed-?\d+", "", regex=True)
    running = t["status"] == "running"  # written by a trial still training (its epochs so far)
    t.loc[running, "config_name"] = t.loc[running, "config_name"] + " (running)"
    return t


def varying(trials: pd.DataFrame) -> list[str]:
    """Config columns that take more than one value in this sweep (the studied settings)."""
    keys = [k for _, k in CONFIG_COLUMNS if k not in NOT_STUDIED and k in trials]
    return [k for k in keys if trials[k].astype(str).nunique() > 1]


def summary(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (seed repeats pooled): metrics, or n/mean/std/CI with repeats,
    ranked by mean test accuracy. Diverged and failed trials stay in, with their status."""
    t = prepare_trials(trials)
    keys = varying(t)
    repeats = has_repeats(t)
    rows = []
    for cid, g in t.groupby("config_id", sort=False):
        ok = g[g["status"] == "ok"]
        statuses = g["status"].value_counts()
        row = {"config": g["config_name"].iloc[0], "config_id": cid, "study": g["study"].iloc[0],
               **{k: g[k].iloc[0] for k in keys},
               "status": ", ".join(f"{s} {c}" if len(g) > 1 else s for s, c in statuses.items()),
               "n": len(g), "n_ok": len(ok)}
        for m in METRICS:
            mean, std, lo, hi, _ = ci95(ok[m] if m.startswith("test_") else g[m])
            row[m] = mean
            if repeats:
                row.update({f"{m}_std": std, f"{m}_ci_low": lo, f"{m}_ci_high": hi})
        row["trainable_params"] = g["trainable_params"].iloc[0]
        row["non_trainable_params"] = g["non_trainable_params"].iloc[0]
        row["errors"] = "; ".join(sorted({str(e) for e in g["error"].dropna()}))[:300] or None
        rows.append(row)
    s = pd.DataFrame(rows)
    if s["study"].isna().all():
        s = s.drop(columns="study")
    s = s.sort_values("test_accuracy", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    s.insert(0, "rank", s["test_accuracy"].rank(ascending=False, method="min").astype("Int64"))
    return s


def _fmt(x, digits=3):
    if x is None or x is pd.NA or (isinstance(x, (float, np.floating)) and math.isnan(x)):
        return "—"
    if isinstance(x, (float, np.floating)) and digits <= 1 and float(x).is_integer():
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, (int, np.integer)) else str(x)


def _cell(row, m, digits=3):
    if f"{m}_std" in row and row.get("n_ok", 0) > 1 and not math.isnan(row[f"{m}_std"]):
        return (f"{_fmt(row[m], digits)} ± {_fmt(row[f'{m}_std'], digits)} "
                f"[{_fmt(row[f'{m}_ci_low'], digits)}, {_fmt(row[f'{m}_ci_high'], digits)}]")
    return _fmt(row[m], digits)


def study_trials(ok: pd.DataFrame, x: str) -> pd.DataFrame:
    """The trials of the studies that vary ``x`` (a sweep with ``studies``), else all of them:
    a sequence-length curve must not mix in the hidden-size study's points."""
    if ok["study"].isna().all():
        return ok
    labels = ok["study"].fillna("").str.split(",")
    studies = {s for ls in labels for s in ls if s}
    keep = {s for s in studies if ok[labels.map(lambda ls, s=s: s in ls)][x].nunique() > 1}
    return ok[labels.map(lambda ls: bool(keep & set(ls)))]


def has_repeats(ok) -> bool:
    """Does any configuration appear with more than one seed?"""
    return ok.groupby("config_id")["trial_id"].count().max() > 1


# ----------------------------------------------------------------------------- rows for Markdown and HTML

HEADER = ["rank", "config", "status", "n", "test acc", "test AUC", "test loss", "best val acc (epoch)", "epochs",
          "minutes", "params (trainable / frozen)"]
RIGHT = {"rank", "n", "epochs", "minutes"}


def summary_cells(s: pd.DataFrame) -> list[list[str]]:
    """The summary table as text cells, one list per configuration: what both the Markdown and the
    HTML page show (counts as integers, a missing value as an empty cell)."""
    return [[_fmt(r["rank"], 0), r["config"], r["status"], _fmt(r["n"], 0), _cell(r, "test_accuracy"),
             _cell(r, "test_auc"), _cell(r, "test_loss"),
             f"{_cell(r, 'best_val_accuracy')} ({_fmt(r['best_val_epoch'], 1)})".replace("— (—)", "—"),
             _fmt(r["epochs_run"], 1), _fmt(r["minutes"], 2),
             f"{_fmt(r['trainable_params'], 0)} / {_fmt(r['non_trainable_params'], 0)}"]
            for _, r in s.iterrows()]


def failures(trials: pd.DataFrame) -> list[dict]:
    """The diverged and failed trials, by name: name, trial_id, status, error."""
    bad = trials[trials["status"].isin(["diverged", "failed"])].sort_values("name")
    return [{"name": r["name"], "trial_id": r["trial_id"], "status": r["status"], "error": r["error"] or "no message"}
            for _, r in bad.iterrows()]


def summary_markdown(s: pd.DataFrame, trials: pd.DataFrame, sweep: str, compute: str = "", searched=()) -> str:
    lines = [f"# {sweep}: summary", "", f"{len(trials)} trials, {len(s)} configurations; ranked by mean test accuracy."
             + (" Cells with repeats: mean ± std [95 % CI, Student t]." if "test_accuracy_std" in s else ""), "",
             "| " + " | ".join(HEADER) + " |", "|" + "|".join("---:" if h in RIGHT else "---" for h in HEADER) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in summary_cells(s)]
    lines += ["", compute] if compute else []
    if searched:
        lines += ["", "## Searches", "", "Searched trials are chosen on validation: they have no test accuracy; "
                  "the winner's seed repeats are a study of their own.", ""] + searched
    lines += ["", "## Diverged and failed trials", ""]
    bad = [f"- `{f['name']}` ({f['trial_id']}): **{f['status']}** — {f['error']}" for f in failures(trials)]
    lines += bad or ["None."]
    return "\n".join(lines) + "\n"


def compute_line(trials: pd.DataFrame, gpu_price: float | None = None, cpu_price: float | None = None) -> str:
    """The sweep's compute in one sentence: CPU- and GPU-hours its trials recorded, and, given
    prices per hour, what they cost."""
    c = cost.compute(trials)
    if not c["trials_counted"]:
        return "Compute: not recorded (these trials were run before rnnsweep recorded CPU- and GPU-seconds)."
    line = (f"Compute: {c['cpu_hours']:.2f} CPU-hours and {c['gpu_hours']:.2f} GPU-hours over "
            f"{c['trials_counted']} trials")
    if c["estimated"]:
        line += (f" ({c['estimated']} resumed from a backup by a version that did not record what their earlier "
                 "attempts spent: estimated at their last attempt's rate per epoch)")
    costs = [(c["gpu_hours"] * gpu_price, f"{gpu_price:g} per GPU-hour") if gpu_price is not None else None,
             (c["cpu_hours"] * cpu_price, f"{cpu_price:g} per CPU-hour") if cpu_price is not None else None]
    costs = [x for x in costs if x]
    if costs:
        line += f"; cost {sum(x for x, _ in costs):.2f} at " + " and ".join(p for _, p in costs)
    return line + "."


def summary_html(s: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if c == '—' else c)}</td>" for c in row) + "</tr>"
                   for row in summary_cells(s))
    return f"<table class='summary'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def failures_html(trials: pd.DataFrame) -> str:
    items = [f"<li><code>{html.escape(f['name'])}</code> ({f['trial_id']}): <b>{f['status']}</b> — "
             f"{html.escape(str(f['error']))}</li>" for f in failures(trials)]
    return "<ul>" + "".join(items) + "</ul>" if items else "<p>None.</p>"


# ----------------------------------------------------------------------------- searched studies


def searched_studies(trials: pd.DataFrame) -> list[str]:
    """The studies whose trials a search drew (their rows carry a ``search_number``)."""
    if "search_number" not in trials:
        return []
    return list(dict.fromkeys(trials.loc[trials["search_number"].notna(), "study"].dropna()))


def search_metric(meta: dict, study: str) -> tuple[str, str]:
    """(metric, direction) a searched study optimised, from the spec in ``sweep.json``."""
    spec = (meta or {}).get("spec") or {}
    search = {**(spec.get("search") or {}), **(((spec.get("studies") or {}).get(study) or {}).get("search") or {})}
    return search.get("metric", "val_accuracy"), search.get("direction", "maximize")


def search_progress(trials: pd.DataFrame, epochs: pd.DataFrame, study: str, metric: str, direction: str):
    """One row per drawn trial of ``study``, in draw order: its status, epochs run, value (its best
    epoch's ``metric``), the best value so far, and the CPU-hours spent so far."""
    t = trials[(trials["study"] == study) & trials["search_number"].notna()].sort_values("search_number")
    e = epochs[epochs["trial_id"].isin(t["trial_id"])]
    best = e.groupby("trial_id")[metric].max() if direction == "maximize" else e.groupby("trial_id")[metric].min()
    out = t[["search_number", "name", "trial_id", "status", "epochs_run"]].copy()
    out[["cpu_seconds", "cpu_estimated"]] = cost.spent(t)[["cpu_seconds", "estimated"]]
    out["value"] = out["trial_id"].map(best)
    done = out["value"].where(out["status"] == "ok")  # pruned trials never win: they did not finish
    out["best_so_far"] = (done.cummax() if direction == "maximize" else done.cummin()).ffill()
    out["cpu_hours"] = out["cpu_seconds"].fillna(0).cumsum() / 3600
    return out.reset_index(drop=True)


def search_lines(trials, epochs, meta) -> list[str]:
    """The Markdown of each searched study: trials by status, the best trial, the compute."""
    lines = []
    for study in searched_studies(trials):
        metric, direction = search_metric(meta, study)
        p = search_progress(trials, epochs, study, metric, direction)
        counts = ", ".join(f"{n} {s}" for s, n in p["status"].value_counts().items())
        ok = p[p["status"] == "ok"].dropna(subset=["value"])
        best = ok.loc[ok["value"].idxmax() if direction == "maximize" else ok["value"].idxmin()] if len(ok) else None
        lines += [f"- **{study}**: {len(p)} trials drawn ({counts}), {int(p['epochs_run'].fillna(0).sum())} epochs, "
                  f"{p['cpu_hours'].iloc[-1]:.2f} CPU-hours; "
                  + (f"best {metric} {best['value']:.4f}: `{best['name']}` ({best['trial_id']})" if best is not None
                     else "no trial finished yet")]
    return lines
