"""Seed 000's 18-model grid at its 100 epochs (one seed a model, as the seed ran it): test accuracy per
model and batch size, each LSTM-relu blow-up as it came, the seed's three conclusions tested on what
has landed, and the report's own figures of it.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .common import FIGURES, RUN, Study, ci95, outcome, pct, tables

GRID_ARCHS, GRID_UNITS, GRID_BATCHES = ("GRU", "LSTM"), (32, 64, 128), (32, 64, 128)
GRID_FIGURES = ("heatmap_test_accuracy.png", "val_accuracy_all.png", "best_batch_size_per_width.png",
                "overfitting_widest_gru.png")
CHANCE_LOSS = math.log(2)  # binary cross-entropy of a model that guesses


class Grid:
    """The grid's landed rows (one code version, 100 epochs) and their epochs."""

    def __init__(self):
        g = Study("imdb_grid", "grid")
        rows = g("keras3")
        self.rows = rows[rows["epochs"] == 100] if len(rows) else rows
        self.version = g.by_version.get(("grid", "keras3"), (None, "—", 0))[1]
        self.epochs = tables("imdb_grid")[1] if len(self.rows) else pd.DataFrame()
        self.ok = self.rows[self.rows["status"] == "ok"] if len(self.rows) else self.rows

    def one(self, arch, units, bs):
        r = self.rows
        r = r[(r["arch"] == arch) & (r["units"] == units) & (r["batch_size"] == bs)] if len(r) else r
        return None if r.empty else r.sort_values("finished_at").iloc[-1]

    def losses(self, r) -> pd.DataFrame:
        e = self.epochs[self.epochs["trial_id"] == r["trial_id"]].sort_values("epoch") if len(self.epochs) else \
            pd.DataFrame(columns=["epoch", "loss"])
        return e.assign(loss=e["loss"].replace([np.inf, -np.inf], np.nan))

    def blew_up(self, r):
        """(the epoch the training loss first passed twice a reference, the largest epoch loss, its epoch)
        or None. The reference is the first epoch's loss or chance level's (ln 2), whichever is lower, so
        a loss that went up inside epoch 1 counts too (LSTM-64-bs64's first epoch ended at 6.17)."""
        e = self.losses(r)
        if not len(e):
            return None
        over = e["loss"] > 2 * min(e["loss"].iloc[0], CHANCE_LOSS)
        if not over.any():
            return None
        peak = e.loc[e["loss"].idxmax()]
        return int(e["epoch"][over].iloc[0]), float(peak["loss"]), int(peak["epoch"])


def said(up) -> str:
    first, peak, at = up
    return f"in epoch {first}, largest epoch loss {peak:,.4g} in epoch {at}"


def shown_cell(g: Grid, r) -> str:
    if r is None:
        return "not run yet"
    up = g.blew_up(r)
    if r["status"] == "ok":
        return pct(r["test_accuracy"]) + (f" (loss blew up {said(up)})" if up else "")
    peak = g.losses(r)["loss"].max()
    worst = "" if math.isnan(peak) else f", largest epoch loss {peak:,.4g}"
    return f"**{r['status']}**: {r.get('error') or ''}{worst}"


def grid_table(g: Grid) -> list[str]:
    seeds = ", ".join(map(str, sorted(set(g.rows["seed"].dropna().astype(int))))) or "—"
    out = [f"`{RUN.format(sweep='imdb_grid', args='--study grid')}` (code version {g.version}; GloVe 6B 50d, note b; "
           f"seed {seeds}). {len(g.rows)} of the 18 models have landed. Test accuracy in %; a model whose loss went "
           "non-finite says so (the driver stops it there: status `diverged`).", "",
           "| model | batch 32 | batch 64 | batch 128 | train − val accuracy at the end (batch 32 / 64 / 128) |",
           "|---|---|---|---|---|"]
    for arch in GRID_ARCHS:
        for units in GRID_UNITS:
            cells = [g.one(arch, units, bs) for bs in GRID_BATCHES]
            gap = " / ".join("—" if r is None or r["status"] != "ok" else
                             f"{100 * (r['final_accuracy'] - r['final_val_accuracy']):+.1f}" for r in cells)
            out.append(f"| {arch}-{units} | " + " | ".join(shown_cell(g, r) for r in cells) + f" | {gap} |")
    return out + [""]


def blowups(g: Grid) -> str:
    ups = [(f"{a}-{u}-bs{bs}", r, g.blew_up(r)) for a in GRID_ARCHS for u in GRID_UNITS for bs in GRID_BATCHES
           if (r := g.one(a, u, bs)) is not None]
    ups = [(n, r, up) for n, r, up in ups if up or r["status"] == "diverged"]
    return ("- **Blow-ups** (the training loss of an epoch past twice chance level's, 2 ln 2 = 1.39, or twice its "
            "first epoch's where that was lower; or non-finite; the seed saw LSTM-relu's go to 578,666 and NaN): "
            + ("; ".join(f"{n}: " + (f"past that line {said(up)}" if up else "")
                         + (f" then non-finite ({r.get('error')})" if r["status"] == "diverged" else "")
                         + (f", test accuracy {pct(r['test_accuracy'])}" if r["status"] == "ok" else "")
                         for n, r, up in ups) if ups else "none so far") + f" (of {len(g.rows)} landed).")


def gru_vs_lstm(g: Grid) -> str:
    """GRU against LSTM, paired by (units, batch size): the same seed and shapes of everything but the cell."""
    pairs = []
    for units in GRID_UNITS:
        for bs in GRID_BATCHES:
            a, b = g.one("GRU", units, bs), g.one("LSTM", units, bs)
            if a is not None and b is not None:
                pairs.append((a["test_accuracy"] if a["status"] == "ok" else 0.5,
                              b["test_accuracy"] if b["status"] == "ok" else 0.5))
    if len(pairs) < 2:
        return (f"- **Seed 000: GRU beats LSTM with relu**: not decided yet — {len(pairs)} of 9 (width, batch) "
                "pairs have both models.")
    mean, _, lo, hi, n = ci95([x - y for x, y in pairs])
    ahead = sum(x > y for x, y in pairs)  # one seed a cell: the sign test needs no spread estimate
    sign_p = stats.binomtest(ahead, n, 0.5, alternative="greater").pvalue
    return (f"- **Seed 000: GRU beats LSTM with relu**: {outcome(lo, hi)} — GRU − LSTM = {pct(mean)} points, 95 % CI "
            f"[{pct(lo)}, {pct(hi)}] (paired by width and batch size, n = {n} pairs; a diverged model counts "
            f"as 50 %, chance); GRU ahead in {ahead} of the {n} pairs, which a fair coin gives at least as "
            f"often with probability {sign_p:.2g} (one-sided sign test).")


def best_batches(g: Grid) -> list[str]:
    out = []
    for arch in GRID_ARCHS:
        for units in GRID_UNITS:
            have = g.ok[(g.ok["arch"] == arch) & (g.ok["units"] == units)] if len(g.ok) else g.ok
            if len(have) == len(GRID_BATCHES):
                b = have.sort_values("test_accuracy", ascending=False)
                out.append(f"- {arch}-{units}: best batch size {int(b['batch_size'].iloc[0])} "
                           f"({', '.join(f'{int(x)}: {pct(a)}' for x, a in zip(b['batch_size'], b['test_accuracy']))}; "
                           "one seed each, so a gap under ~2 points is within seed-to-seed spread).")
    return out


def widest_overfits(g: Grid) -> str:
    """GRU-128's train − validation gap at the end against GRU-32's, paired by batch size (one seed a
    model: the interval is over batch sizes, not seeds)."""
    ok = g.ok
    wide, narrow = (ok[(ok["arch"] == "GRU") & (ok["units"] == u)] if len(ok) else ok for u in (128, 32))
    if not len(wide) or not len(narrow):
        return "- **Seed 000: the widest GRU overfits**: not decided yet — GRU-128 or GRU-32 has not run."
    gap = {u: (r["final_accuracy"] - r["final_val_accuracy"]).groupby(r["batch_size"]).mean()
           for u, r in ((128, wide), (32, narrow))}
    both = gap[128].index.intersection(gap[32].index)
    mean, _, lo, hi, n = ci95((gap[128][both] - gap[32][both]).to_numpy())
    by_bs = ", ".join(f"batch {int(b)}: {100 * gap[128][b]:+.1f} against {100 * gap[32][b]:+.1f}" for b in both)
    drop = (wide["best_val_accuracy"] - wide["final_val_accuracy"]).mean()
    head = (f"- **Seed 000: the widest GRU overfits**: at the end GRU-128's training accuracy is above its validation "
            f"accuracy by more than GRU-32's ({by_bs} points); GRU-128's validation accuracy ends {100 * drop:.1f} "
            f"points under its best epoch. GRU-128 − GRU-32 = {pct(mean)} points")
    if n < 2 or math.isnan(lo):
        return head + " from one batch size: one seed's observation."
    return head + (f", 95 % CI [{pct(lo)}, {pct(hi)}] over the {n} batch sizes (one seed a model: the spread is "
                   "over batch sizes, not seeds): " + ("it does, beyond that spread." if lo > 0 else
                                                        "one seed's observation, within that spread."))


def grid_000() -> list[str]:
    g = Grid()
    return (grid_table(g) + [blowups(g), gru_vs_lstm(g)] + best_batches(g) + [widest_overfits(g)]
            + grid_figures(g.rows, g.epochs))


def grid_figures(rows: pd.DataFrame, epochs: pd.DataFrame) -> list[str]:
    """The report's own figures (``rnnsweep.figures``, what ``rnnsweep-report`` draws) of the landed
    grid rows above, one code version, saved as reproduction/figures/imdb_grid_*.png."""
    from rnnsweep.figures import Figures, draw_figures

    FIGURES.mkdir(exist_ok=True)
    for old in FIGURES.glob("imdb_grid_*.png"):  # a figure no longer drawn does not linger
        old.unlink()
    if rows.empty:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        figs = Figures(tmp)
        draw_figures(rows.drop(columns=["version"]), epochs[epochs["trial_id"].isin(rows["trial_id"])], figs)
        lines = ["", f"The report's figures of these {len(rows)} models (`rnnsweep-report`'s own, drawn by "
                 "`python -m reproduction.page` from the rows above):", ""]
        for name, caption in figs.written:
            if name in GRID_FIGURES:
                Path(tmp, name).rename(FIGURES / f"imdb_grid_{name}")
                lines += [f"![{name[:-4]}](reproduction/figures/imdb_grid_{name})", "", f"*{caption}*", ""]
    return lines
