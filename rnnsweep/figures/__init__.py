"""Reading a sweep, part 2: the figures (PNG, matplotlib's Agg backend). Each architecture keeps
one colour in every figure (GRU blue, LSTM orange, SimpleRNN green); seed repeats are drawn as
their mean, with 95 % CI error bars in the study views."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..tables import prepare_trials, study_trials, varying

LINESTYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
ARCH_COLORS = {"GRU": "#1f77b4", "LSTM": "#ff7f0e", "SimpleRNN": "#2ca02c", "bag": "#7f7f7f"}

def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10,
                         "axes.titlesize": 11, "legend.fontsize": 8})
    return plt


def arch_color(arch, shade=1.0):
    """The architecture's colour, lighter for smaller ``shade`` (0..1): one hue per arch."""
    import matplotlib.colors as mc

    rgb = np.array(mc.to_rgb(ARCH_COLORS.get(arch, "#9467bd")))
    return tuple(1 - (1 - rgb) * (0.35 + 0.65 * shade))


def _epoch_axis(ax):
    """Whole epochs on the x axis (a run of one or two epochs otherwise gets ticks like 0.945)."""
    from matplotlib.ticker import MaxNLocator

    xs = sorted({float(x) for line in ax.get_lines() for x in line.get_xdata()})
    if 0 < len(xs) <= 12:
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def legend_outside(ax, **kw):
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False, **kw)


@dataclass
class Figures:
    """The folder figures go to, the PNGs written there (name, caption) and what was skipped, with
    why: what index.html shows."""

    out: str
    written: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def save(self, fig, name: str, caption: str):
        path = os.path.join(self.out, name)
        fig.savefig(path, bbox_inches="tight")
        pyplot().close(fig)
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
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 5))
    units = sorted(e["units"].unique())
    styles = dict(zip(sorted(e["batch_size"].unique()), LINESTYLES * 4))
    for (name, arch, u, bs), g in e.groupby(["config_name", "arch", "units", "batch_size"]):
        shade = (units.index(u) + 1) / len(units)
        ax.plot(g["epoch"], g["val_accuracy"], styles[bs], color=arch_color(arch, shade), marker="o", ms=3, label=name)
    ax.set(title="Validation accuracy per epoch, every model", xlabel="epoch", ylabel="validation accuracy")
    _epoch_axis(ax)
    legend_outside(ax, ncol=1 if e["config_name"].nunique() <= 20 else 2)
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
    plt = pyplot()
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
                            color=arch_color(arch, (k + 1) / len(lines)), label=lab)
                ax.set(title=f"{arch}-{u}: {label.split(' (')[0]}", xlabel="epoch", ylabel=label)
                _epoch_axis(ax)
                if j == 1 and ax.lines:  # one legend per row, beside the right panel
                    legend_outside(ax)
        fig.suptitle(f"Width {u} units: validation curves by batch size", y=1.0)
        fig.tight_layout()
        figs.save(fig, f"width_{u}_val_curves.png", f"Width {u}: validation loss and accuracy per epoch for each "
                  "batch size.")


def fig_overfitting(e, figs):
    plt = pyplot()
    arch = "GRU" if (e["arch"] == "GRU").any() else sorted(e["arch"].unique())[0]
    widest = e[e["arch"] == arch]["units"].max()
    sub = e[(e["arch"] == arch) & (e["units"] == widest)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    lines = _lines(sub)
    for k, (g, lab) in enumerate(lines):
        c = arch_color(arch, (k + 1) / len(lines))
        ax.plot(g["epoch"], g["loss"], "-", marker="o", ms=3, color=c, label=f"{lab}: training")
        ax.plot(g["epoch"], g["val_loss"], "--", marker="s", ms=3, color=c, label=f"{lab}: validation")
    ax.set(title=f"Overfitting check, widest {arch} ({arch}-{widest}): training vs validation loss",
           xlabel="epoch", ylabel="loss (binary cross-entropy)")
    _epoch_axis(ax)
    legend_outside(ax)
    figs.save(fig, "overfitting_widest_gru.png", f"Training (solid) vs validation (dashed) loss of the widest {arch}: "
              "a widening gap is overfitting.")


def fig_best_batch_size(ok, figs):
    plt = pyplot()
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
            ax.bar(x, y, width * 0.9, color=arch_color(arch), label=arch if j == 0 else None)
            ax.annotate(f"bs {r['batch_size'].iloc[0]}", (x, y), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(units)), [f"{u} units" for u in units])
    lo = best["test_accuracy"].min()
    ax.set_ylim(max(0, lo - 0.05), min(1.0, best["test_accuracy"].max() + 0.05))
    ax.set(title="Best batch size for each width (label: the batch size)", xlabel="recurrent units",
           ylabel="test accuracy of the best batch size")
    legend_outside(ax)
    figs.save(fig, "best_batch_size_per_width.png", "For each width and architecture, the test accuracy of its best "
              "batch size.")


def fig_heatmaps(ok, figs, others):
    plt = pyplot()
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
        ax.scatter(g[xcol], g["test_accuracy"], color=arch_color(arch), label=arch, s=28, edgecolor="white", lw=0.5)


def fig_accuracy_vs_time(ok, figs):
    plt = pyplot()
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
    legend_outside(ax)
    figs.save(fig, "accuracy_vs_minutes.png", "One point per trial; the circled points are the Pareto front: no other "
              "trial is both faster and more accurate.")


def fig_accuracy_vs_params(ok, figs):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    _scatter_by_arch(ax, ok, "trainable_params")
    ax.set_xscale("log")
    ax.set(title="Test accuracy vs trainable parameters", xlabel="trainable parameters (log scale)",
           ylabel="test accuracy")
    legend_outside(ax)
    figs.save(fig, "accuracy_vs_params.png", "Test accuracy against model size (frozen embedding not counted).")


GRID_SHAPE = ("arch", "units", "batch_size", "seed")


def draw_figures(trials: pd.DataFrame, epochs: pd.DataFrame, figs: Figures):
    """Seed 000's figures (curves per epoch, per width, batch size, heatmap) of the study that grids
    batch sizes (all trials when there are no studies), then accuracy against time and size."""
    t = prepare_trials(trials)
    t = study_trials(t, "batch_size") if study_trials(t, "batch_size")["batch_size"].nunique() > 1 else t
    ok = t[(t["status"] == "ok") & t["test_accuracy"].notna()].reset_index(drop=True)
    keys = varying(t)
    if epochs.empty:
        figs.skip("Per-epoch figures", "no epoch rows yet")
    else:
        e = _epoch_frame(t, epochs)
        fig_val_accuracy_all(e, figs)
        # Seed 000's shape: widths × batch sizes (× cells, seeds), nothing else varied. Elsewhere (a
        # search, a sequence-length study) "the widest model" and "curves by batch size" mean nothing.
        other = [k for k in keys if k not in GRID_SHAPE]
        why = f"drawn for seed 000's shape (widths × batch sizes); this sweep also varies {', '.join(other)}"
        if other or t["batch_size"].nunique() < 2:
            figs.skip("Validation curves per width", why if other else "the sweep has one batch size")
        else:
            fig_per_width(e, figs)
        if other or t["units"].nunique() < 2:
            figs.skip("Overfitting of the widest model", why if other else "the sweep has one width")
        else:
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

