"""Beyond the seeds: the best recurrent IMDB model a budgeted search finds (``sweeps/imdb_best.py``),
its cost curve, what mattered, and its winner's test accuracy over three seeds against the anchors.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from .common import FIGURES, RESULTS, ci95, pct, tables
from rnnsweep import results

ANCHORS = [("the best seed: seed 004's BiLSTM ×2 (its own single run)", 0.867),
           ("a plain randomly initialised LSTM (Dai & Le 2015)", 0.865),
           ("the best purely supervised LSTM (Johnson & Zhang 2016, oh-2LSTMp)", 0.9186)]
TARGET = 0.90


def space_keys(meta: dict, study: str) -> list[str]:
    """The setting keys a searched study drew (their value in the recorded spec is a sample)."""
    spec = meta.get("spec") or {}
    over = ((spec.get("studies") or {}).get(study) or {})
    keys = []
    for section in ("dataset", "model", "training"):
        merged = {**(spec.get(section) or {}), **(over.get(section) or {})}
        keys += [k for k, v in merged.items() if isinstance(v, str) and v.startswith("Sample(")]
    return keys


def shown(v) -> str:
    if isinstance(v, float) and not float(v).is_integer():
        return f"{v:.3g}"
    return "none" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def projection(p: pd.DataFrame, target_val: float) -> str:
    """Where the best-so-far curve of the finished trials heads: a least-squares line of the best
    validation accuracy so far against log10(CPU-hours), past the startup draws. A rough guide (a
    search's best-so-far curve flattens as it converges), said as such."""
    ok = p[(p["status"] == "ok")].dropna(subset=["best_so_far"])
    ok = ok[ok["cpu_hours"] > 0]
    if len(ok) < 5:
        return f"Too few finished trials ({len(ok)}) to project the curve."
    if ok["best_so_far"].max() >= target_val:
        return (f"The search's best already reaches the {pct(target_val)} % validation accuracy the target needs "
                "(90 % test plus the winner's gap between its scored validation epoch and test): what is missing is "
                "not more search.")
    x, y = np.log10(ok["cpu_hours"].to_numpy()), ok["best_so_far"].to_numpy()
    slope, icpt = np.polyfit(x, y, 1)
    now = p["cpu_hours"].max()  # the whole search's spend, pruned trials after the last finished one too
    per = f"{100 * slope:.2f} points of validation accuracy per tenfold CPU-hours"
    if slope <= 1e-4:
        return (f"The best-so-far curve is flat ({per}): more trials of this space do not project to "
                f"{pct(target_val)} % validation accuracy; a wider space (larger models, longer training) is needed.")
    need = 10 ** ((target_val - icpt) / slope)
    return (f"A least-squares line of the best validation accuracy so far against log10(CPU-hours) rises {per}; "
            f"it reaches the {pct(target_val)} % validation accuracy the target needs (90 % test plus the winner's "
            f"validation-test gap) at about {need:,.0f} CPU-hours of this machine's search, {need / now:,.0f}× the "
            f"{now:.1f} spent. A search's curve flattens as it converges, so this is a lower bound on the compute, "
            f"not a promise.")


RUN_BEST = "python sweeps/imdb_best.py --results reproduction/results"


# The searched studies of imdb_best, in the order they ran: (study, its winner studies, whether it stopped
# short of its planned trials for good). Issue 16's `search` stopped at 32 of 40; issue 26's `wide` runs
# across sessions and resumes.
SEARCHES = [("search", "WINNERS", True), ("wide", "WIDE_WINNERS", False)]


def beyond_the_seeds() -> list[str]:
    t, epochs = tables("imdb_best", backend=None)  # `search` ran on TensorFlow, `wide` on JAX: each apart by name
    t = t[t["status"] != "running"]  # evidence is what has landed (and is committed), never a live row
    meta = results.read_json(str(RESULTS), "imdb_best", "sweep.json") or {}
    lines = ["`sweeps/imdb_best.py`: a TPE search with successive halving (Optuna's `TPESampler` and "
             "`SuccessiveHalvingPruner`, asked and told by the driver) over bidirectional LSTM/GRU models with "
             "GloVe 6B 50d embeddings on IMDB's official 25k/25k split. Every trial is chosen on validation accuracy "
             "(the last 20 % of the training reviews); the test split is touched only by the winner's three seeds.", ""]
    for study, winner_list, stopped in SEARCHES:
        if study == "wide":
            lines += ["", "### The widened search (issue 26)", "",
                      "The first search's best-so-far curve was flat after its 16th trial, so `wide` widens the space "
                      "where the literature finds IMDB accuracy: maxlen up to 1200 (the first search stopped at 800), "
                      "vocabularies up to 80k words (it had 20k and 40k), two recurrent layers, and a smaller step "
                      "for the fine-tuned GloVe rows (`embedding_lr_scale`); on JAX. Max+mean pooling, in the first "
                      "search's space already, is one of its two poolings (max, max+mean). "
                      "Its trials restore the epoch they are ranked by. Its winner "
                      "(`wide_winner`, declared before the search ended) is refit on all 25k training reviews for "
                      "the epoch count the search scored, seeds 1-3.", ""]
        lines += searched_study(t, epochs, meta, study, globals()[winner_list], stopped)
    return lines + wide_gap(t, epochs) + kept_ensemble(t)


def wide_gap(t, epochs) -> list[str]:
    """Why the widened search's winner misses the target, from the rows: the search found no better
    validation accuracy, and the refit tests further below its scored validation than the first winner."""
    ok = t[t["status"] == "ok"]
    refit = ok[ok["study"] == "wide_winner"]
    tested = ok[ok["study"].isin(["winner", "winner_val_accuracy", "wide_winner"])]
    if len(refit) < 3:
        return []
    best = {s: ok[ok["study"] == s].sort_values("best_val_accuracy").iloc[-1] for s in ("search", "wide")}
    w = best["wide"]
    at = epochs[(epochs["trial_id"] == w["trial_id"]) & (epochs["epoch"] == w["best_val_epoch"])]
    means = tested.groupby("study")["test_accuracy"].mean()
    top = means.idxmax()
    first = tested[tested["study"] == "winner_val_accuracy"]  # the first search's winner, scored epoch kept
    first_gap = (first["best_val_accuracy"] - first["test_accuracy"]).mean()
    lines = ["**Why the widened search's winner misses the target**, from the rows:", "",
             f"- The wider space found no better validation accuracy: `wide`'s best {pct(w['best_val_accuracy'])} "
             f"against `search`'s {pct(best['search']['best_val_accuracy'])}. Of the widened settings its best trial "
             f"took the larger vocabulary only (num_words {int(w['num_words'])}, maxlen {int(w['maxlen'])}, "
             f"{int(w['layers'])} layer, {w['pooling']} pooling, embedding_lr_scale {shown(w['embedding_lr_scale'])}).",
             f"- The refit tests {100 * (w['best_val_accuracy'] - refit['test_accuracy'].mean()):.1f} points below "
             "the validation accuracy that chose it"
             + (f" (`winner_val_accuracy`, which kept its scored epoch's weights, tests "
                f"{100 * first_gap:.1f} below its own)" if len(first) else "")
             + f". The searched trial's {pct(w['best_val_accuracy'])} is one seed's best epoch, the maximum over "
             f"{int((t['study'] == 'wide').sum())} trials, so it is biased upward; the refit, trained on all 25k "
             f"reviews for the {int(w['best_val_epoch'])} epochs it scored with no validation split, ends at "
             f"{pct(refit['final_accuracy'].mean())} % training accuracy (the searched trial at that epoch: "
             f"{pct(float(at['accuracy'].iloc[0]))} %): about as fitted to its training reviews as the trial it "
             "copies, it generalises worse than that trial's validation promised.",
             f"- The best single model tested is `{top}` at {pct(means[top])} %: "
             f"{100 * (TARGET - means[top]):.1f} points "
             f"short of the target and {100 * (ANCHORS[-1][1] - means[top]):.1f} short of the anchor "
             f"({100 * ANCHORS[-1][1]:.2f} %).", ""]
    return lines


def searched_study(t, epochs, meta: dict, study: str, winner_list, stopped: bool) -> list[str]:
    if t.empty or "search_number" not in t or not (t["search_number"].notna() & (t["study"] == study)).any():
        return [f"No trial has landed yet: `{RUN_BEST} --study {study}` (here `STUDY={study} bash "
                "reproduction/run_search.sh`, which resumes it).", ""]
    from rnnsweep import tables as report_tables

    searched = t[t["search_number"].notna() & (t["study"] == study)]
    metric, direction = report_tables.search_metric(meta, study)
    p = report_tables.search_progress(t, epochs, study, metric, direction)
    planned = ((meta.get("spec") or {}).get("studies") or {}).get(study, {}).get("search", {}).get("trials", "?")
    cap_arg = f" --search-trials {len(p)}" if stopped and isinstance(planned, int) and len(p) < planned else ""
    lines = search_cost(searched, p, study, planned, stopped) + search_figures(searched, p, study, metric, direction)
    lines += gains(p, metric)
    ok = p[p["status"] == "ok"].dropna(subset=["value"])
    if ok.empty:
        return lines + ["", "No searched trial has finished yet.", ""]
    top = ok.loc[ok["value"].idxmax() if direction == "maximize" else ok["value"].idxmin()]
    best = t.set_index("trial_id").loc[top["trial_id"]]
    keys = space_keys(meta, study)
    config = ", ".join(f"{k}={shown(best[k])}" for k in keys)
    running = not stopped and isinstance(planned, int) and len(p) < planned
    lines += ["", f"**The best trial of `{study}`{' so far' if running else ''}**: `{best['name']}` "
              f"(trial {best.name}), best {metric} "
              f"{pct(top['value'])}: {config}.", ""]
    if running:
        return lines + [f"The search has drawn {len(p)} of its {planned} trials; its winner runs when it has ended "
                        f"(`STUDY={study} bash reproduction/run_search.sh` resumes it).", ""]
    return lines + winners(t, epochs, {k: best[k] for k in keys}, cap_arg, p, winner_list, float(top["value"]))


def search_cost(searched: pd.DataFrame, p: pd.DataFrame, study: str, planned, stopped: bool) -> list[str]:
    counts = ", ".join(f"{n} {s}" for s, n in p["status"].value_counts().items())
    vers = ", ".join(sorted(searched["version"].unique()))
    wall = (searched["finished_at"].max() - searched["started_at"].min()).total_seconds() / 3600
    capped = (f"; it stopped there, at this machine's budget of about 4 h (`--search-trials {len(p)}`, which the "
              "winner's run passes too)") if stopped and isinstance(planned, int) and len(p) < planned else ""
    guessed = p[p["cpu_estimated"]]
    # A trial resumed from its backup (the search ran across sessions) recorded only its last attempt's CPU
    # time at this version; its earlier epochs are counted at that attempt's rate (rnnsweep now records them).
    cpu = ("`cpu_seconds` of each trial" if guessed.empty else
           f"`cpu_seconds` of each trial; {', '.join(f'`{n}`' for n in guessed['name'])} resumed from a backup and "
           + ("recorded only its last attempt's, so its earlier epochs are counted at that attempt's"
              if len(guessed) == 1 else
              "each recorded only its last attempt's, so their earlier epochs are counted at that attempt's")
           + " CPU-seconds per epoch")
    span = (" of wall time" if not (searched["resumed_from_epoch"].fillna(0) > 0).any() else
            " from its first trial's start to its last one's end (it ran across sessions of this machine; the gaps "
            "between them count)")
    return [f"**The search** (`{RUN_BEST} --study {study}`, code version {vers}): {len(p)} of {planned} trials drawn "
            f"({counts}{capped}), {int(p['epochs_run'].fillna(0).sum())} epochs, {p['cpu_hours'].iloc[-1]:.2f} "
            f"CPU-hours and {wall:.1f} h{span} on this machine (2 cores, no GPU; {cpu}), two trials in flight. "
            "The budget "
            "bound is the spec's: trials × at most `epochs` each, of which successive halving runs a fraction. On a "
            "cluster the driver keeps one trial in flight per slot, so the same search takes about its CPU-hours "
            "divided by the slots (less on GPUs), and a larger budget (more trials, more epochs, wider models, whole "
            "reviews) is an edit of the spec, not of the code.", ""]


def search_figures(searched: pd.DataFrame, p: pd.DataFrame, study: str, metric: str, direction: str) -> list[str]:
    """The report's best-so-far curve and (when trials finished) Optuna's importances, as figures."""
    from rnnsweep.figures import Figures
    from rnnsweep.figures.studies import fig_importances, fig_search, importances

    FIGURES.mkdir(exist_ok=True)
    figs = Figures(str(FIGURES))
    fig_search(p, figs, study, metric)
    name = figs.written[0][0]
    (FIGURES / name).rename(FIGURES / f"imdb_best_{name}")
    lines = [f"![best so far](reproduction/figures/imdb_best_{name})", ""]
    imp = importances(searched, p, direction)
    if imp:
        fig_importances(imp, figs, study, metric)
        name = figs.written[-1][0]
        (FIGURES / name).rename(FIGURES / f"imdb_best_{name}")
        n_ok = int(((p["status"] == "ok") & p["value"].notna()).sum())
        top3 = ", ".join(f"{k} {v:.2f}" for k, v in list(imp.items())[:3])
        # fANOVA fits a forest to the finished trials: with fewer of them than settings varied it is a first look.
        few = (f" With {n_ok} finished trials for {len(imp)} settings this is a first look, not a finding."
               if n_ok < len(imp) else "")
        lines += [f"What mattered (Optuna's fANOVA importances over the {n_ok} trials that finished; pruned ones are "
                  f"not counted, so a setting every finished trial shares scores 0): {top3}.{few}", "",
                  f"![importances](reproduction/figures/imdb_best_{name})", ""]
    return lines


def gains(p: pd.DataFrame, metric: str) -> list[str]:
    """Each trial that set a new best, with the CPU-hours spent by then."""
    lines = [f"| trial | CPU-hours so far | new best {metric} | the trial | epochs | ended |",
             "|---:|---:|---:|---|---:|---|"]
    better = p[(p["status"] == "ok") & (p["value"] == p["best_so_far"])]
    for _, r in better.drop_duplicates("best_so_far").iterrows():
        lines.append(f"| {int(r['search_number'])} | {r['cpu_hours']:.2f} | {pct(r['value'])} | `{r['name']}` | "
                     f"{int(r['epochs_run'])} | {r['status']} |")
    return lines


# The winner's studies: `winner` keeps its search trial's early stopping (val_loss, restoring the best
# val_loss epoch); `winner_val_accuracy` restores the epoch the search scored (its best val_accuracy).
WINNERS = [("winner", "restores the best val_loss epoch, as the search's trials did"),
           ("winner_val_accuracy", "restores the best val_accuracy epoch, the one the search scored")]
WIDE_WINNERS = [("wide_winner", "refit on all 25k training reviews for the epochs the search scored")]


def winner_row(t, epochs, name, how, drawn: dict, cap_arg: str, notes: list, scored: float) -> tuple[str, tuple | None]:
    """One winner study's line of the table, and (name, mean, interval, n, scored gap) when it ran."""
    w = t[(t["study"] == name) & (t["status"] == "ok")]
    same = w[[all(row[k] == v or (pd.isna(row[k]) and pd.isna(v)) for k, v in drawn.items())
              for _, row in w.iterrows()]] if len(w) else w
    if len(same) < len(w):
        notes.append(f"({len(w) - len(same)} {name} rows have other settings than the search's best: left out.)")
    if same.empty:
        return f"| {name} ({how}) | not run yet: `{RUN_BEST} --study {name}{cap_arg}` | |", None
    same = same.sort_values("seed")
    mean, _, lo, hi, n = ci95(same["test_accuracy"])
    by_seed = ", ".join(f"{int(s)}: {pct(a)}" for s, a in zip(same["seed"], same["test_accuracy"]))
    interval = f"{pct(mean)} [{pct(lo)}, {pct(hi)}]" if n > 1 else f"{pct(mean)} (one seed)"
    head = (f"| **{name}** ({how}; `{RUN_BEST} --study {name}{cap_arg}`, code version "
            f"{', '.join(sorted(same['version'].unique()))}) | **{interval}** (n = {n}) | by seed: {by_seed}; ")
    if (same["validation_split"] == 0).all():  # refit: no validation split, the last epoch's weights
        gap = scored - mean  # the searched trial's scored validation accuracy against the refit's test
        return (head + f"{int(same['epochs_run'].iloc[0])} epochs on all training reviews; the search's scored "
                f"validation − test {100 * gap:+.1f} points |"), (name, mean, interval, n, gap)
    restored = []  # the validation accuracy of the weights each seed kept (Keras's restored epoch), by seed
    for _, r in same.iterrows():
        e = epochs[epochs["trial_id"] == r["trial_id"]]
        mon = r["early_stopping_monitor"]
        at = e.loc[e[mon].idxmin() if mon.endswith("loss") else e[mon].idxmax()]
        restored.append((int(at["epoch"]), float(at["val_accuracy"])))
    gap = float(np.mean([v for _, v in restored]) - mean)
    kept = ", ".join(f"epoch {ep} ({pct(v)})" for ep, v in restored)
    line = head + f"weights kept, by seed: {kept}; their validation − test {100 * gap:+.1f} points |"
    # The search ranks on a trial's best val_accuracy epoch: what the projection has to reach.
    return line, (name, mean, interval, n, float((same["best_val_accuracy"] - same["test_accuracy"]).mean()))


def winners(t, epochs, drawn: dict, cap_arg: str, p: pd.DataFrame, winner_list, scored: float) -> list[str]:
    lines, rows, done = [], [], []
    for name, how in winner_list:
        row, ran = winner_row(t, epochs, name, how, drawn, cap_arg, lines, scored)
        rows.append(row)
        done += [ran] if ran else []
    if not done:
        first = winner_list[0][0]
        return lines + [f"Its three seeds have not run yet: `{RUN_BEST} --study {first}{cap_arg}` (the study "
                        f"`{first}` takes the settings of the search's best trial, `best_of=`, with seeds 1-3).", ""]
    lines += ["| model | test accuracy, % | |", "|---|---|---|", *rows,
              *[f"| {label} | {pct(v)} | anchor |" for label, v in ANCHORS], ""]
    if len(done) > 1 and winner_list is WINNERS:
        lines += ["`winner` ran first. Its rows showed (on validation alone) that the weights it kept were not the "
                  "ones the search had scored: early stopping on val_loss restored an epoch two before the best "
                  "val_accuracy epoch that ranked the trial. `winner_val_accuracy` restores the scored epoch; it was "
                  "run after `winner`'s test numbers had been seen, and both are shown.", ""]
    for name, mean, interval, n, _ in done:
        met = n >= 3 and mean >= TARGET
        lines.append(f"- **Target ≥ {pct(TARGET)} % mean test accuracy over 3 seeds, `{name}`: "
                     f"{'met' if met else 'not met'}** ({interval}, n = {n}).")
    top = max(done, key=lambda d: d[1])
    anchor = ANCHORS[-1]
    which = "The best of them, " if len(done) > 1 else ""
    lines.append(f"- {which}`{top[0]}` at {pct(top[1])} % is {100 * (anchor[1] - top[1]):.1f} points short "
                 f"of {anchor[0].split('(')[0].strip()} ({100 * anchor[1]:.2f} %, "
                 f"{anchor[0].split('(')[1].rstrip(')')}).")
    name, mean, interval, n, scored_gap = done[-1]
    if not (n >= 3 and mean >= TARGET):
        lines += ["", projection(p, TARGET + scored_gap)]
    return lines


def kept_ensemble(t) -> list[str]:
    """Issue 37: the first search's winner trained again with its models kept (``winner_ensemble``, on JAX), its
    three seeds side by side with the average of their probabilities, and how that ensemble was chosen."""
    ok = t[(t["study"] == "winner_ensemble") & (t["status"] == "ok")]
    ens = ok[ok["ensemble_members"].notna()]
    singles = ok[ok["ensemble_members"].isna()].sort_values("seed")
    if ens.empty or singles.empty:
        return ["### The winner's models kept, and their ensemble (issue 37)", "",
                f"Not run yet: `{RUN_BEST} --study winner_ensemble --search-trials 32`.", ""]
    e = ens.iloc[0]
    members = set(json.loads(e["ensemble_members"]))
    assert members == set(singles["trial_id"]), "the ensemble's members are the study's own repeats"
    mean, _, lo, hi, n = ci95(singles["test_accuracy"])
    tf = t[(t["study"] == "winner_val_accuracy") & (t["status"] == "ok")]
    versions = ", ".join(sorted(ok["version"].unique()))
    lines = ["### The winner's models kept, and their ensemble (issue 37)", "",
             "`winner_ensemble` trains the first search's winner again with `winner_val_accuracy`'s settings (the "
             "search's best trial, seeds 1-3, restoring the best val_accuracy epoch), on JAX (new trial ids: the "
             "TensorFlow rows above stay as they are), keeping each seed's model (`keep_models`: a `best_of` study "
             "keeps every repeat). Its `ensemble=\"repeats\"` then averages the three kept models' predicted "
             "probabilities. **How the ensemble was chosen:** its members are the winner's three seed repeats, "
             "fixed when the study was declared; nothing was chosen on the test split, which the ensemble touched "
             "once, after its members had landed. Its validation accuracy is on the 5,000 reviews the members held "
             f"out. Code version {versions}; `{RUN_BEST} --study winner_ensemble --search-trials 32`.", "",
             "| model | validation accuracy, % | test accuracy, % | test AUC |", "|---|---|---|---|"]
    for _, r in singles.iterrows():
        lines.append(f"| seed {int(r['seed'])} (kept: {r['model_bytes'] / 1e6:.1f} MB) | {pct(r['best_val_accuracy'])} "
                     f"| {pct(r['test_accuracy'])} | {r['test_auc']:.4f} |")
    lines += [f"| the three seeds, mean [95 % CI] | {pct(singles['best_val_accuracy'].mean())} | "
              f"{pct(mean)} [{pct(lo)}, {pct(hi)}] (n = {n}) | {singles['test_auc'].mean():.4f} |",
              f"| **ensemble of the three** (`{e['name']}`) | {pct(e['best_val_accuracy'])} | "
              f"**{pct(e['test_accuracy'])}** | {e['test_auc']:.4f} |"]
    if len(tf):
        lines.append(f"| `winner_val_accuracy` (the same settings on TensorFlow, mean of {len(tf)}) | "
                     f"{pct(tf['best_val_accuracy'].mean())} | {pct(tf['test_accuracy'].mean())} | "
                     f"{tf['test_auc'].mean():.4f} |")
    lines += [*[f"| {label} | | {pct(v)} | anchor |" for label, v in ANCHORS], ""]
    met = e["test_accuracy"] >= TARGET
    best_single = singles["test_accuracy"].max()
    lines += [f"- **Target ≥ {pct(TARGET)} % test accuracy, the ensemble: {'met' if met else 'not met'}** "
              f"({pct(e['test_accuracy'])} %, {100 * (e['test_accuracy'] - mean):+.1f} points over its members' mean "
              f"and {100 * (e['test_accuracy'] - best_single):+.1f} over its best member). It is "
              f"{100 * (ANCHORS[-1][1] - e['test_accuracy']):.1f} points short of "
              f"{ANCHORS[-1][0].split('(')[0].strip()} ({100 * ANCHORS[-1][1]:.2f} %).",
              f"- Averaging gains {100 * (e['best_val_accuracy'] - singles['best_val_accuracy'].mean()):+.1f} points "
              f"on validation over its members' mean ({', '.join(pct(v) for v in singles['best_val_accuracy'])}) "
              f"and {100 * (e['test_accuracy'] - mean):+.1f} on test. Each member's validation number is its best "
              "epoch's, the epoch it kept: picked on that split, it is biased upward there, and the test split "
              "carries no such bias.", ""]
    return lines
