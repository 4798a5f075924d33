"""Reading a sweep: summary tables, figures and one self-contained HTML page.

    python -m rnnsweep.report results/                 # every sweep under a results root
    python -m rnnsweep.report results/imdb_grid        # one sweep (local path or s3://...)
    rnnsweep-report s3://bucket/prefix/imdb_grid --out report/

Writes ``<results>/<sweep>/report/`` (or ``--out``): ``summary.csv``, ``summary.md``, PNG figures
and ``index.html``. Works on a sweep that is still running: it draws what is there, and skips
(with a note) what is not yet there.
"""
from __future__ import annotations

import argparse
import base64
import html
import math
import os
import posixpath
import sys
import tempfile

import numpy as np
import pandas as pd

from . import results

LINESTYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
ARCH_COLORS = {"GRU": "#1f77b4", "LSTM": "#ff7f0e", "SimpleRNN": "#2ca02c", "bag": "#7f7f7f"}
METRICS = ["test_accuracy", "test_auc", "test_loss", "best_val_accuracy", "best_val_epoch", "epochs_run", "minutes"]
REQUIRED = ("trial_id", "config_id", "name", "status", "arch", "units", "batch_size", "test_accuracy")
NOT_STUDIED = {"seed", "path"}  # columns that vary without being a studied setting


class ReportError(ValueError):
    """The results cannot be reported on; the message names what is missing."""

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
    return t


def varying(trials: pd.DataFrame) -> list[str]:
    """Config columns that take more than one value in this sweep (the studied settings)."""
    keys = [k for _, k in results.CONFIG_COLUMNS if k not in NOT_STUDIED and k in trials]
    return [k for k in keys if trials[k].astype(str).nunique() > 1]


def summary(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (seed repeats pooled): metrics, or n/mean/std/CI with repeats,
    ranked by mean test accuracy. Diverged and failed trials stay in, with their status."""
    t = prepare_trials(trials)
    keys = varying(t)
    repeats = _has_repeats(t)
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


def summary_markdown(s: pd.DataFrame, trials: pd.DataFrame, sweep: str) -> str:
    repeats = "test_accuracy_std" in s
    lines = [f"# {sweep}: summary", "",
             f"{len(trials)} trials, {len(s)} configurations; ranked by mean test accuracy."
             + (" Cells with repeats: mean ± std [95 % CI, Student t]." if repeats else ""), "",
             "| rank | config | status | n | test acc | test AUC | test loss | best val acc (epoch) | epochs | "
             "minutes | params (trainable / frozen) |",
             "|---:|---|---|---:|---|---|---|---|---:|---:|---|"]
    for _, r in s.iterrows():
        lines.append(f"| {_fmt(r['rank'])} | {r['config']} | {r['status']} | {r['n']} | {_cell(r, 'test_accuracy')} | "
                     f"{_cell(r, 'test_auc')} | {_cell(r, 'test_loss')} | {_cell(r, 'best_val_accuracy')} "
                     f"({_fmt(r['best_val_epoch'], 1)}) | {_fmt(r['epochs_run'], 1)} | {_fmt(r['minutes'], 2)} | "
                     f"{_fmt(r['trainable_params'])} / {_fmt(r['non_trainable_params'])} |")
    bad = trials[trials["status"] != "ok"]
    lines += ["", "## Diverged and failed trials", ""]
    if bad.empty:
        lines.append("None.")
    for _, r in bad.sort_values("name").iterrows():
        lines.append(f"- `{r['name']}` ({r['trial_id']}): **{r['status']}** — {r['error'] or 'no message'}")
    return "\n".join(lines) + "\n"

# ----------------------------------------------------------------------------- figures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10,
                         "axes.titlesize": 11, "legend.fontsize": 8})
    return plt


def _color(arch, shade=1.0):
    """The architecture's colour, lighter for smaller ``shade`` (0..1): one hue per arch."""
    import matplotlib.colors as mc

    rgb = np.array(mc.to_rgb(ARCH_COLORS.get(arch, "#9467bd")))
    return tuple(1 - (1 - rgb) * (0.35 + 0.65 * shade))


def _epoch_axis(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _legend_outside(ax, **kw):
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False, **kw)


class Figures:
    """Collects the PNGs written (and what was skipped, with why) for index.html."""

    def __init__(self, out: str):
        self.out, self.written, self.notes = out, [], []

    def save(self, fig, name: str, caption: str):
        path = os.path.join(self.out, name)
        fig.savefig(path, bbox_inches="tight")
        _plt().close(fig)
        self.written.append((name, caption))

    def skip(self, what: str, why: str):
        self.notes.append(f"{what}: skipped — {why}.")


def _epoch_frame(trials, epochs):
    cols = ["trial_id", "config_id", "config_name", "arch", "units", "batch_size", "status"]
    e = epochs.drop(columns=["name", "config_id"], errors="ignore").merge(trials[cols], on="trial_id")
    # Seed repeats: the mean curve of the configuration.
    return (e.groupby(["config_id", "config_name", "arch", "units", "batch_size", "epoch"], as_index=False)
            [["loss", "accuracy", "val_loss", "val_accuracy"]].mean())


def fig_val_accuracy_all(e, figs):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 5))
    units = sorted(e["units"].unique())
    styles = dict(zip(sorted(e["batch_size"].unique()), LINESTYLES * 4))
    for (name, arch, u, bs), g in e.groupby(["config_name", "arch", "units", "batch_size"]):
        shade = (units.index(u) + 1) / len(units)
        ax.plot(g["epoch"], g["val_accuracy"], styles[bs], color=_color(arch, shade), marker="o", ms=3, label=name)
    ax.set(title="Validation accuracy per epoch, every model", xlabel="epoch", ylabel="validation accuracy")
    _epoch_axis(ax)
    _legend_outside(ax, ncol=1 if e["config_name"].nunique() <= 20 else 2)
    figs.save(fig, "val_accuracy_all.png", "Validation accuracy per epoch for every model (colour: architecture, "
              "darker = wider; line style: batch size).")


def _lines(e):
    """One curve per configuration, ordered by batch size, labelled by its batch size when that
    is all that tells them apart (else by the configuration's name)."""
    configs = e.drop_duplicates("config_name").sort_values(["batch_size", "config_name"])
    by_bs = configs["batch_size"].is_unique
    return [(e[e["config_name"] == name], f"batch {bs}" if by_bs else name)
            for name, bs in zip(configs["config_name"], configs["batch_size"])]


def fig_per_width(e, figs):
    plt = _plt()
    archs = sorted(e["arch"].unique())
    for u in sorted(e["units"].unique()):
        sub = e[e["units"] == u]
        fig, axes = plt.subplots(len(archs), 2, figsize=(10, 3.2 * len(archs)), squeeze=False)
        for i, arch in enumerate(archs):
            for j, (metric, label) in enumerate((("val_loss", "validation loss (binary cross-entropy)"),
                                                 ("val_accuracy", "validation accuracy"))):
                ax = axes[i][j]
                lines = _lines(sub[sub["arch"] == arch])
                for k, (g, lab) in enumerate(lines):
                    ax.plot(g["epoch"], g[metric], LINESTYLES[k % 4], marker=MARKERS[k % len(MARKERS)], ms=4,
                            color=_color(arch, (k + 1) / len(lines)), label=lab)
                ax.set(title=f"{arch}-{u}: {label.split(' (')[0]}", xlabel="epoch", ylabel=label)
                _epoch_axis(ax)
                if j == 1 and ax.lines:  # one legend per row, beside the right panel
                    _legend_outside(ax)
        fig.suptitle(f"Width {u} units: validation curves by batch size", y=1.0)
        fig.tight_layout()
        figs.save(fig, f"width_{u}_val_curves.png", f"Width {u}: validation loss and accuracy per epoch for each "
                  "batch size.")


def fig_overfitting(e, figs):
    plt = _plt()
    arch = "GRU" if (e["arch"] == "GRU").any() else sorted(e["arch"].unique())[0]
    widest = e[e["arch"] == arch]["units"].max()
    sub = e[(e["arch"] == arch) & (e["units"] == widest)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    lines = _lines(sub)
    for k, (g, lab) in enumerate(lines):
        c = _color(arch, (k + 1) / len(lines))
        ax.plot(g["epoch"], g["loss"], "-", marker="o", ms=3, color=c, label=f"{lab}: training")
        ax.plot(g["epoch"], g["val_loss"], "--", marker="s", ms=3, color=c, label=f"{lab}: validation")
    ax.set(title=f"Overfitting check, widest {arch} ({arch}-{widest}): training vs validation loss",
           xlabel="epoch", ylabel="loss (binary cross-entropy)")
    _epoch_axis(ax)
    _legend_outside(ax)
    figs.save(fig, "overfitting_widest_gru.png", f"Training (solid) vs validation (dashed) loss of the widest {arch}: "
              "a widening gap is overfitting.")


def fig_best_batch_size(ok, figs):
    plt = _plt()
    best = (ok.groupby(["arch", "units", "batch_size"], as_index=False)["test_accuracy"].mean()
            .sort_values("test_accuracy", ascending=False).drop_duplicates(["arch", "units"]))
    archs, units = sorted(best["arch"].unique()), sorted(best["units"].unique())
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(units) * len(archs)), 4.5))
    width = 0.8 / len(archs)
    for i, arch in enumerate(archs):
        for j, u in enumerate(units):
            r = best[(best["arch"] == arch) & (best["units"] == u)]
            if r.empty:
                continue
            x, y = j + (i - (len(archs) - 1) / 2) * width, r["test_accuracy"].iloc[0]
            ax.bar(x, y, width * 0.9, color=_color(arch), label=arch if j == 0 else None)
            ax.annotate(f"bs {r['batch_size'].iloc[0]}", (x, y), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(units)), [f"{u} units" for u in units])
    lo = best["test_accuracy"].min()
    ax.set_ylim(max(0, lo - 0.05), min(1.0, best["test_accuracy"].max() + 0.05))
    ax.set(title="Best batch size for each width (label: the batch size)", xlabel="recurrent units",
           ylabel="test accuracy of the best batch size")
    _legend_outside(ax)
    figs.save(fig, "best_batch_size_per_width.png", "For each width and architecture, the test accuracy of its best "
              "batch size.")


def fig_heatmaps(ok, figs, others):
    plt = _plt()
    archs = sorted(ok["arch"].unique())
    grid = ok.groupby(["arch", "units", "batch_size"])["test_accuracy"].mean()
    units, bss = sorted(ok["units"].unique()), sorted(ok["batch_size"].unique())
    vmin, vmax = grid.min(), grid.max()
    fig, axes = plt.subplots(1, len(archs), figsize=(2 + 1.3 * len(bss) * len(archs), 1.6 + 0.7 * len(units)),
                             squeeze=False, layout="constrained")
    for ax, arch in zip(axes[0], archs):
        m = np.full((len(units), len(bss)), np.nan)
        for (a, u, b), v in grid.items():
            if a == arch:
                m[units.index(u), bss.index(b)] = v
        im = ax.imshow(m, cmap="viridis", vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1e-6, aspect="auto")
        for i in range(len(units)):
            for j in range(len(bss)):
                if not np.isnan(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.3f}", ha="center", va="center", fontsize=8,
                            color="white" if m[i, j] < (vmin + vmax) / 2 else "black")
        ax.set_xticks(range(len(bss)), bss)
        ax.set_yticks(range(len(units)), units)
        ax.grid(False)
        ax.set(title=arch, xlabel="batch size", ylabel="recurrent units" if ax is axes[0][0] else None)
    fig.colorbar(im, ax=axes[0].tolist(), label="test accuracy")
    fig.suptitle("Test accuracy by units × batch size" + (f" (mean over {', '.join(others)})" if others else ""))
    figs.save(fig, "heatmap_test_accuracy.png", "Test accuracy for each units × batch size cell, one panel per "
              "architecture.")


def pareto_front(x, y) -> np.ndarray:
    """Indices of points no other point beats on both lower x and higher y, sorted by x."""
    order = np.lexsort((-np.asarray(y), np.asarray(x)))
    front, best = [], -np.inf
    for i in order:
        if y[i] > best:
            front.append(i)
            best = y[i]
    return np.array(front, dtype=int)


def _scatter_by_arch(ax, ok, xcol):
    for arch, g in ok.groupby("arch"):
        ax.scatter(g[xcol], g["test_accuracy"], color=_color(arch), label=arch, s=28, edgecolor="white", lw=0.5)


def fig_accuracy_vs_time(ok, figs):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    _scatter_by_arch(ax, ok, "fit_minutes")
    x, y = ok["fit_minutes"].to_numpy(float), ok["test_accuracy"].to_numpy(float)
    f = pareto_front(x, y)
    ax.step(x[f], y[f], where="post", color="black", lw=1, alpha=0.7, label="Pareto front")
    ax.scatter(x[f], y[f], s=90, facecolor="none", edgecolor="black", lw=1)
    for i in f:
        ax.annotate(ok["name"].iloc[i], (x[i], y[i]), xytext=(4, -10), textcoords="offset points", fontsize=7)
    ax.set(title="Test accuracy vs training time (circled: Pareto front)", xlabel="training time (minutes)",
           ylabel="test accuracy")
    _legend_outside(ax)
    figs.save(fig, "accuracy_vs_minutes.png", "One point per trial; the circled points are the Pareto front: no other "
              "trial is both faster and more accurate.")


def fig_accuracy_vs_params(ok, figs):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    _scatter_by_arch(ax, ok, "trainable_params")
    ax.set_xscale("log")
    ax.set(title="Test accuracy vs trainable parameters", xlabel="trainable parameters (log scale)",
           ylabel="test accuracy")
    _legend_outside(ax)
    figs.save(fig, "accuracy_vs_params.png", "Test accuracy against model size (frozen embedding not counted).")


def fig_study(ok, x, keys, figs, label):
    """Test accuracy vs one studied setting: a line per architecture (and per other varied
    setting), mean over seed repeats with 95 % CI error bars when there are repeats."""
    plt = _plt()
    others = [k for k in keys if k not in (x, "arch")]
    fig, ax = plt.subplots(figsize=(8, 5))
    groups = list(ok.groupby(["arch"] + others, dropna=False))
    for n, (key, g) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        stats = [(v, *ci95(h["test_accuracy"])) for v, h in g.groupby(x)]
        xs = np.array([s[0] for s in stats], dtype=float)
        mean = np.array([s[1] for s in stats])
        # An accuracy lies in [0, 1]: so does the drawn interval (a 2-seed t-interval can overshoot).
        lo, hi = np.clip([s[3] for s in stats], 0, 1), np.clip([s[4] for s in stats], 0, 1)
        err = np.where(np.isnan(lo), 0, [mean - lo, hi - mean])
        name = " ".join([key[0]] + [f"{k}={v}" for k, v in zip(others, key[1:])])
        within = [m for m, (k, _) in enumerate(groups) if (k if isinstance(k, tuple) else (k,))[0] == key[0]]
        k = within.index(n)
        ax.errorbar(xs, mean, yerr=err, marker=MARKERS[k % len(MARKERS)], ls=LINESTYLES[k % 4], capsize=3, ms=4,
                    color=_color(key[0], 1 - 0.5 * k / max(1, len(within))), label=name)
    ax.set(title=f"Test accuracy vs {label}" + (" (error bars: 95 % CI over seeds)" if _has_repeats(ok) else ""),
           xlabel=label, ylabel="test accuracy")
    if ok[x].max() / max(ok[x].min(), 1) >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ok[x].unique()), [str(v) for v in sorted(ok[x].unique())])
    _legend_outside(ax)
    figs.save(fig, f"accuracy_vs_{x}.png", f"Study view: test accuracy against {label}.")


def study_trials(ok: pd.DataFrame, x: str) -> pd.DataFrame:
    """The trials of the studies that vary ``x`` (a sweep with ``studies``), else all of them:
    a sequence-length curve must not mix in the hidden-size study's points."""
    if ok["study"].isna().all():
        return ok
    labels = ok["study"].fillna("").str.split(",")
    studies = {s for ls in labels for s in ls if s}
    keep = {s for s in studies if ok[labels.map(lambda ls, s=s: s in ls)][x].nunique() > 1}
    return ok[labels.map(lambda ls: bool(keep & set(ls)))]


def _has_repeats(ok) -> bool:
    """Does any configuration appear with more than one seed?"""
    return ok.groupby("config_id")["trial_id"].count().max() > 1


def fig_time_per_arch(ok, figs):
    plt = _plt()
    archs = sorted(ok["arch"].unique())
    stats = [ci95(ok[ok["arch"] == a]["seconds_per_epoch"]) for a in archs]
    fig, ax = plt.subplots(figsize=(1.5 + 1.4 * len(archs), 4.5))
    means = [s[0] for s in stats]
    err = [[0 if math.isnan(s[2]) else s[0] - s[2] for s in stats],
           [0 if math.isnan(s[3]) else s[3] - s[0] for s in stats]]
    ax.bar(archs, means, yerr=err, capsize=4, color=[_color(a) for a in archs])
    for i, s in enumerate(stats):
        top = s[0] if math.isnan(s[3]) else s[3]  # above the error bar
        ax.annotate(f"{s[0]:.1f} s\n(n={s[4]})", (i, top), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 3), textcoords="offset points")
    ax.set(title="Training time per epoch by architecture (95 % CI over trials)", xlabel="architecture",
           ylabel="seconds per epoch")
    figs.save(fig, "time_per_arch.png", "Mean seconds per training epoch for each architecture, over all its trials.")


def draw_figures(trials: pd.DataFrame, epochs: pd.DataFrame, figs: Figures):
    t = prepare_trials(trials)
    ok = t[(t["status"] == "ok") & t["test_accuracy"].notna()].reset_index(drop=True)
    keys = varying(t)
    if epochs.empty:
        figs.skip("Per-epoch figures", "no epoch rows yet")
    else:
        e = _epoch_frame(t, epochs)
        fig_val_accuracy_all(e, figs)
        fig_per_width(e, figs)
        fig_overfitting(e, figs)
    if ok.empty:
        figs.skip("Test-accuracy figures", "no trial has finished with status ok yet")
        return
    if ok["batch_size"].nunique() > 1:
        fig_best_batch_size(ok, figs)
    else:
        figs.skip("Best batch size per width", "the sweep has one batch size")
    fig_heatmaps(ok, figs, [k for k in keys if k not in ("arch", "units", "batch_size")])
    fig_accuracy_vs_time(ok, figs)
    fig_accuracy_vs_params(ok, figs)
    for x, label in (("maxlen", "sequence length (tokens)"), ("units", "hidden units")):
        sub = study_trials(ok, x)
        if sub[x].nunique() > 1:
            fig_study(sub, x, varying(sub), figs, label)
        else:
            figs.skip(f"Test accuracy vs {label}", f"the sweep has one value of {x}")
    if ok["arch"].nunique() > 1:
        fig_time_per_arch(ok, figs)
    else:
        figs.skip("Training time per architecture", "the sweep has one architecture")

# ----------------------------------------------------------------------------- HTML and main


def index_html(sweep, s: pd.DataFrame, md: str, figs: Figures) -> str:
    cols = [c for c in ["rank", "config", "status", "n", "test_accuracy", "test_accuracy_ci_low",
                        "test_accuracy_ci_high", "test_auc", "test_loss", "best_val_accuracy", "best_val_epoch",
                        "epochs_run", "minutes", "trainable_params", "errors"] if c in s]
    table = s[cols].to_html(index=False, na_rep="—", float_format=lambda v: f"{v:.3f}", border=0, classes="summary")
    failures = md.split("## Diverged and failed trials", 1)[1].strip()
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(sweep)} — rnnsweep report"
             "</title><style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}"
             "table.summary{border-collapse:collapse;font-size:13px}table.summary td,table.summary th"
             "{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}figure{margin:2em 0}"
             "img{max-width:100%}figcaption{color:#555;font-size:13px}</style></head><body>",
             f"<h1>{html.escape(sweep)}</h1><h2>Summary</h2>", table, "<h2>Diverged and failed trials</h2><ul>"]
    parts += [f"<li>{html.escape(line.lstrip('- '))}</li>" for line in failures.splitlines() if line.strip()]
    parts.append("</ul><h2>Figures</h2>")
    for name, caption in figs.written:
        with open(os.path.join(figs.out, name), "rb") as fh:
            b64 = base64.b64encode(fh.read()).decode()
        parts.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{b64}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if figs.notes:
        parts.append("<h2>Not drawn</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in figs.notes) + "</ul>")
    return "\n".join(parts) + "</body></html>\n"


def report(path: str, sweep: str | None = None, out: str | None = None) -> dict:
    """Write the report of one sweep; returns {"out": dir, "files": [...], "notes": [...]}."""
    try:
        root, sweep = results.locate(path, sweep)
    except FileNotFoundError as e:
        raise ReportError(str(e)) from None
    trials, epochs = results.load(root, sweep, required_trial=REQUIRED)
    if trials.empty:
        raise ReportError(f"{root.rstrip('/')}/{sweep}/trials: no trial rows yet")
    upload = None
    if out is None:
        fs, base = results.filesystem(root)
        out = posixpath.join(base, sweep, "report")
        if not isinstance(fs, results.pafs.LocalFileSystem):  # s3://, gs://: render here, then upload
            upload, out = (fs, out), tempfile.mkdtemp(prefix="rnnsweep-report-")
    os.makedirs(out, exist_ok=True)
    s = summary(trials)
    s.to_csv(os.path.join(out, "summary.csv"), index=False)
    md = summary_markdown(s, trials, sweep)
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as fh:
        fh.write(md)
    figs = Figures(out)
    draw_figures(trials, epochs, figs)
    with open(os.path.join(out, "index.html"), "w", encoding="utf-8") as fh:
        fh.write(index_html(sweep, s, md, figs))
    files = ["summary.csv", "summary.md"] + [n for n, _ in figs.written] + ["index.html"]
    if upload:
        fs, dest = upload
        results.pafs.copy_files(out, dest, destination_filesystem=fs)
        out = f"{root.rstrip('/')}/{sweep}/report"
    return {"sweep": sweep, "out": out, "files": files, "notes": figs.notes, "summary": s}


def main(argv=None):
    p = argparse.ArgumentParser(prog="rnnsweep-report", description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="a results root, or one sweep's folder (local path or URI)")
    p.add_argument("--out", default=None, help="output folder (default <results>/<sweep>/report)")
    p.add_argument("--sweep", default=None, help="which sweep under a results root (default: all)")
    args = p.parse_args(argv)
    try:
        fs, base = results.filesystem(args.results)
        is_sweep = fs.get_file_info(posixpath.join(base, "trials")).type == results.pafs.FileType.Directory
        names = [args.sweep] if args.sweep or is_sweep else results.sweeps(args.results)
        if not names:
            raise ReportError(f"{args.results}: no <sweep>/trials table here")
        for name in names:
            out = args.out if len(names) == 1 else (args.out and os.path.join(args.out, name))
            r = report(args.results, None if is_sweep else name, out)
            print(f"{name or r['sweep']}: wrote {len(r['files'])} files to {r['out']}: {', '.join(r['files'])}")
            for note in r["notes"]:
                print(f"  note: {note}")
    except (ReportError, ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
