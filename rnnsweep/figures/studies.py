"""Reading a sweep, part 3: one figure per study, with 95 % CI error bars over seeds — test accuracy
against the setting a study varies (sequence length, hidden size), an architecture study's accuracy
and training time, and the configurations of a sweep of named models side by side."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import settings
from ..tables import ci95, has_repeats, prepare_trials, search_metric, search_progress, searched_studies, varying
from . import LINESTYLES, MARKERS, Figures, arch_color, legend_outside, pyplot

NUMERIC = {"maxlen": "sequence length (tokens)", "units": "hidden units", "embedding_dim": "embedding width"}


def per_study(t: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """(study, its trials) for each study of the sweep (a shared trial in each), or [(None, all)]."""
    if t["study"].isna().all():
        return [(None, t)]
    labels = t["study"].fillna("").str.split(",")
    names = list(dict.fromkeys(s for ls in labels for s in ls if s))
    return [(s, t[labels.map(lambda ls, s=s: s in ls)]) for s in names]


def _errorbars(stats):
    """Mean and (lower, upper) error of ci95 rows, clipped to [0, 1] (a 2-seed interval overshoots)."""
    mean = np.array([s[0] for s in stats])
    lo, hi = np.clip([s[2] for s in stats], 0, 1), np.clip([s[3] for s in stats], 0, 1)
    return mean, np.where(np.isnan(lo), 0, [mean - lo, hi - mean])


def fig_study(ok, x, keys, figs, label, fname=None):
    """Test accuracy vs one studied setting: a line per architecture (and per other varied
    setting), mean over seed repeats with 95 % CI error bars when there are repeats."""
    plt = pyplot()
    others = [k for k in keys if k not in (x, "arch")]
    fig, ax = plt.subplots(figsize=(8, 5))
    groups = list(ok.groupby(["arch"] + others, dropna=False))
    for n, (key, g) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        xs = np.array(sorted(g[x].unique()), dtype=float)
        mean, err = _errorbars([ci95(g[g[x] == v]["test_accuracy"]) for v in sorted(g[x].unique())])
        name = " ".join([key[0]] + [f"{k}={v}" for k, v in zip(others, key[1:])])
        within = [m for m, (k, _) in enumerate(groups) if (k if isinstance(k, tuple) else (k,))[0] == key[0]]
        k = within.index(n)
        ax.errorbar(xs, mean, yerr=err, marker=MARKERS[k % len(MARKERS)], ls=LINESTYLES[k % 4], capsize=3, ms=4,
                    color=arch_color(key[0], 1 - 0.5 * k / max(1, len(within))), label=name)
    ax.set(title=f"Test accuracy vs {label}" + (" (error bars: 95 % CI over seeds)" if has_repeats(ok) else ""),
           xlabel=label, ylabel="test accuracy")
    if ok[x].max() / max(ok[x].min(), 1) >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ok[x].unique()), [str(v) for v in sorted(ok[x].unique())])
    legend_outside(ax)
    figs.save(fig, f"{fname or 'accuracy_vs_' + x}.png", f"Study view: test accuracy against {label}.")


def fig_time_per_arch(ok, figs):
    plt = pyplot()
    archs = sorted(ok["arch"].unique())
    stats = [ci95(ok[ok["arch"] == a]["seconds_per_epoch"]) for a in archs]
    fig, ax = plt.subplots(figsize=(1.5 + 1.4 * len(archs), 4.5))
    means = [s[0] for s in stats]
    err = [[0 if math.isnan(s[2]) else s[0] - s[2] for s in stats],
           [0 if math.isnan(s[3]) else s[3] - s[0] for s in stats]]
    ax.bar(archs, means, yerr=err, capsize=4, color=[arch_color(a) for a in archs])
    for i, s in enumerate(stats):
        top = s[0] if math.isnan(s[3]) else s[3]  # above the error bar
        ax.annotate(f"{s[0]:.1f} s\n(n={s[4]})", (i, top), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 3), textcoords="offset points")
    ax.set(title="Training time per epoch by architecture (95 % CI over trials)", xlabel="architecture",
           ylabel="seconds per epoch")
    figs.save(fig, "time_per_arch.png", "Mean seconds per training epoch for each architecture, over all its trials.")




def fig_architecture(ok, figs, study):
    """An architecture study: test accuracy and seconds per epoch of each architecture, side by side."""
    plt = pyplot()
    # settings' order, then any architecture it does not know yet (never silently left out)
    known = settings.MODEL["arch"].choices
    archs = [a for a in known if a in set(ok["arch"])] + sorted(set(ok["arch"].dropna()) - set(known))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, (col, label) in zip(axes, (("test_accuracy", "test accuracy"), ("fit_seconds", "training time (s)"))):
        stats = [ci95(ok[ok["arch"] == a][col]) for a in archs]
        mean = np.array([s[0] for s in stats])
        lo = np.array([s[2] for s in stats])
        err = np.where(np.isnan(lo), 0, [mean - lo, np.array([s[3] for s in stats]) - mean])
        ax.bar(archs, mean, yerr=err, capsize=4, color=[arch_color(a) for a in archs])
        for i, s in enumerate(stats):
            ax.annotate(f"{s[0]:.3f}" if col == "test_accuracy" else f"{s[0]:.1f} s", (i, s[0]), ha="center",
                        va="bottom", fontsize=8, xytext=(12, 2), textcoords="offset points")
        ax.set(ylabel=label, title=f"{label.split(' (')[0].capitalize()} (n={stats[0][4]} per bar, 95 % CI)")
        if col == "test_accuracy":
            ax.set_ylim(max(0, np.nanmin(mean) - 0.15), min(1, np.nanmax(mean) + 0.1))
    fig.suptitle(f"Study {study}: architectures compared")
    fig.tight_layout()
    figs.save(fig, f"study_{study}.png", f"Study {study}: test accuracy and training time of each architecture "
              "(mean over seeds, 95 % CI).")


def fig_configs(ok, figs, name, title):
    """Named configurations side by side: test accuracy, mean ± 95 % CI over seeds."""
    plt = pyplot()
    rows = [(cfg, g["arch"].iloc[0], ci95(g["test_accuracy"])) for cfg, g in ok.groupby("config_name", sort=False)]
    rows.sort(key=lambda r: -r[2][0])
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4.8))
    mean, err = _errorbars([r[2] for r in rows])
    ax.bar(range(len(rows)), mean, yerr=err, capsize=4, color=[arch_color(r[1]) for r in rows])
    for i, r in enumerate(rows):
        ax.annotate(f"{r[2][0]:.3f}\n(n={r[2][4]})", (i, r[2][0]), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 12), textcoords="offset points")
    ax.set_xticks(range(len(rows)), [r[0] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylim(max(0, np.nanmin(mean) - 0.15), min(1.05, np.nanmax(mean) + 0.1))
    ax.set(title=title, ylabel="test accuracy")
    figs.save(fig, name, f"{title}: mean test accuracy over seeds, 95 % CI error bars.")


def draw_study_views(trials: pd.DataFrame, figs: Figures):
    t = prepare_trials(trials)
    ok = t[(t["status"] == "ok") & t["test_accuracy"].notna()].reset_index(drop=True)
    if ok.empty:
        return
    studies = per_study(ok)
    for x, label in NUMERIC.items():
        varies = [(s, sub) for s, sub in studies if sub[x].nunique() > 1]
        for s, sub in varies:
            fig_study(sub, x, varying(sub), figs, label, f"accuracy_vs_{x}" + (f"_{s}" if len(varies) > 1 else ""))
        if not varies and x != "embedding_dim":
            figs.skip(f"Test accuracy vs {label}", f"the sweep has one value of {x}")
    timed = False
    for s, sub in studies:
        if s is not None and varying(sub) == ["arch"]:
            fig_architecture(sub, figs, s)
        elif "arch" in varying(sub) and not timed:  # seed 000's grid: time per epoch of each architecture
            fig_time_per_arch(sub, figs)
            timed = True
    singles = ok[ok["study"].isin([s for s, sub in studies if s is not None and sub["config_id"].nunique() == 1])]
    if singles["config_id"].nunique() > 1:
        fig_configs(singles, figs, "models_test_accuracy.png", "The models compared")
    elif 1 < ok["config_id"].nunique() <= 12 and studies[0][0] is not None:
        fig_configs(ok, figs, "models_test_accuracy.png", "The configurations compared")


def search_title(study) -> str:
    """"Search" for a study named search (or none), not "Search search"; else "Search <study>"."""
    return "Search" if study in (None, "search") else f"Search {study}"


def fig_search(p: pd.DataFrame, figs: Figures, study: str, metric: str):
    """A searched study: best-so-far against trials and against CPU-hours, and each trial's epochs
    until it stopped (pruned ones marked)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    pruned = p["status"] == "pruned"
    for ax, x, label in ((axes[0], p["search_number"], "trial (in the order drawn)"),
                         (axes[1], p["cpu_hours"], "CPU-hours spent")):
        ax.scatter(x[~pruned], p["value"][~pruned], s=18, color="#1f77b4", label="finished")
        ax.scatter(x[pruned], p["value"][pruned], s=22, marker="x", color="#999999", label="pruned (its best epoch)")
        ax.step(x, p["best_so_far"], where="post", color="#d62728", label="best so far")
        ax.set(xlabel=label, ylabel=metric)
    axes[0].legend(loc="lower right")
    for ax in (axes[0], axes[2]):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_title(f"Best {metric} so far, by trial")
    axes[1].set_title(f"Best {metric} so far, by compute")
    axes[2].bar(p["search_number"], p["epochs_run"], color=np.where(pruned, "#bbbbbb", "#1f77b4"))
    axes[2].set(title="Epochs each trial ran (grey: pruned)", xlabel="trial (in the order drawn)", ylabel="epochs")
    fig.suptitle(search_title(study))
    fig.tight_layout()
    figs.save(fig, f"search_{study}.png", f"{search_title(study)}: best {metric} so far against trials and CPU-hours, "
              "and the epochs each trial ran before it finished or was pruned.")


def importances(t: pd.DataFrame, p: pd.DataFrame, direction: str) -> dict:
    """Optuna's parameter importances (fANOVA) of the settings a search varied, from its finished trials."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done = p[(p["status"] == "ok") & p["value"].notna()].merge(t, on="trial_id", suffixes=("", "_t"))
    keys = [k for k in varying(t) if k != "evaluate_test"]
    if len(done) < 3 or not keys:
        return {}
    dists = {}
    for k in keys:
        v = t[k].dropna()
        numeric = pd.api.types.is_float_dtype(v) and v.nunique() > 6
        dists[k] = (FloatDistribution(float(v.min()), float(v.max()), log=v.min() > 0 and v.max() / v.min() > 50)
                    if numeric else CategoricalDistribution(sorted(v.unique().tolist())))
    study = optuna.create_study(direction=direction)
    for _, r in done.iterrows():
        params = {k: (float(r[k]) if isinstance(dists[k], FloatDistribution) else
                      dists[k].choices[[str(c) for c in dists[k].choices].index(str(r[k]))]) for k in keys}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=float(r["value"])))
    return optuna.importance.get_param_importances(study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))


def fig_importances(imp: dict, figs: Figures, study: str, metric: str):
    plt = pyplot()
    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(names)))
    ax.barh(names, [imp[n] for n in names], color="#1f77b4")
    ax.set(title=f"{search_title(study)}: what mattered for {metric} (fANOVA importance)", xlabel="importance")
    figs.save(fig, f"search_{study}_importance.png", f"{search_title(study)}: Optuna's fANOVA importance of each "
              f"setting it varied, for {metric} (finished trials).")


def draw_search_views(trials: pd.DataFrame, epochs: pd.DataFrame, figs: Figures, meta: dict):
    for study in searched_studies(trials):
        metric, direction = search_metric(meta, study)
        p = search_progress(trials, epochs, study, metric, direction)
        fig_search(p, figs, study, metric)
        t = trials[(trials["study"] == study) & trials["search_number"].notna()]
        imp = importances(t, p, direction)
        if imp:
            fig_importances(imp, figs, study, metric)
        else:
            figs.skip(f"Parameter importances of {study}", "fewer than 3 finished trials")
