"""Seed 001's SimpleRNN(2) at maxlen 200, the one point where rnnsweep and the seed's code on tf.keras 2
differed (issue 26): per seed, both sides' test accuracy, the recurrent kernel each drew, and the seed's
code trained from rnnsweep's initial weights (``reproduction/experiments/simplernn2.py``).
"""
from __future__ import annotations

import pandas as pd
from scipy import stats

from .common import RESULTS, Study, ci95, load_peer, pct, peer_runs

RUN = "python -m reproduction.experiments.simplernn2"


def _csv(name: str) -> pd.DataFrame:
    f = RESULTS / name
    return pd.read_csv(f) if f.exists() else pd.DataFrame()


def kernels(init: pd.DataFrame) -> pd.DataFrame:
    """Per side and seed: the recurrent kernel's determinant and largest real eigenvalue."""
    k = init[init["tensor"] == "rnn_recurrent_kernel"]
    side = k["side"].str.startswith("rnnsweep").map({True: "ours", False: "theirs"})
    return k.assign(side=side).pivot(index="seed", columns="side", values=["determinant", "max_real_eigenvalue"])


def shape(det: float, lam: float) -> str:
    return "reflection (λ = 1)" if det < 0 else f"rotation (λ = {lam:.2f})"


def rnn2() -> list[str]:
    init, swap = _csv("simplernn2_init.csv"), _csv("simplernn2_swap.csv")
    ours = Study("imdb_grid", "hidden_size")("tf_keras2", units=2)
    ours = ours[ours["status"] == "ok"].set_index("seed")["test_accuracy"] if len(ours) else pd.Series(dtype=float)
    theirs = peer_runs(load_peer(), "001", {"study": "hidden_size", "units": 2}).set_index("seed")["test_accuracy"]
    if init.empty or swap.empty or ours.empty or theirs.empty:
        return [f"Not run yet: `{RUN} init` and `{RUN} swap` (both sides' seeds 1-6 must have run)."]
    k = kernels(init)
    swapped = swap.set_index("seed")["test_accuracy"]
    seeds = sorted(set(ours.index) & set(theirs.index) & set(swapped.index) & set(k.index))  # paired comparisons
    shown = sorted(set(k.index) & (set(ours.index) | set(theirs.index) | set(swapped.index)))
    lines = [f"`{RUN} init`, `{RUN} swap` (code version {', '.join(sorted(swap['code_version'].unique()))}); "
             "test accuracy in %, and the recurrent kernel each side drew from the seed (a 2×2 orthogonal "
             "matrix: a rotation or a reflection; λ its largest real eigenvalue, the share of the state one "
             "step keeps in place: a post-padded review is followed by up to 180 steps of zeros).", "",
             "| seed | rnnsweep, tf.keras 2 semantics | its recurrent kernel | seed's code on tf.keras 2 | "
             "its recurrent kernel | seed's code from rnnsweep's initial weights |", "|---:|---|---|---|---|---|"]
    for s in shown:
        mine, peer = (shape(k.loc[s, ("determinant", side)], k.loc[s, ("max_real_eigenvalue", side)])
                      for side in ("ours", "theirs"))
        lines.append(f"| {s} | {pct(ours.get(s))} | {mine} | {pct(theirs.get(s))} | {peer} | {pct(swapped.get(s))} |")
    return lines + [""] + findings(init, k, ours, theirs, swapped, seeds)


SHARED_NAMES = {"embedding": "embedding", "rnn_kernel": "input kernel of the SimpleRNN"}


def findings(init, k, ours, theirs, swapped, seeds) -> list[str]:
    same = ci95((swapped[seeds] - ours[seeds]).to_numpy())
    by_tensor = init.pivot_table(index=["seed", "tensor"], columns=init["side"].str.startswith("rnnsweep"),
                                 values="std")
    differs = {t for (_, t), row in by_tensor.iterrows() if abs(row[True] - row[False]) > 1e-9}
    shared = [name for t, name in SHARED_NAMES.items() if t not in differs]
    lam = pd.concat([k[("max_real_eigenvalue", "ours")].reindex(ours.index),
                     k[("max_real_eigenvalue", "theirs")].reindex(theirs.index)])
    acc = pd.concat([ours, theirs])
    learned = {side: f"{int((a > 0.6).sum())} of {len(a)}" for side, a in (("ours", ours), ("theirs", theirs))}
    rho = stats.spearmanr(lam.to_numpy(), acc.to_numpy()).statistic
    n = len(k)
    near = {side: int((k[("max_real_eigenvalue", side)] > 0.9).sum()) for side in ("ours", "theirs")}
    fisher = stats.fisher_exact([[near["ours"], n - near["ours"]], [near["theirs"], n - near["theirs"]]]).pvalue
    lands = same[2] <= 0 <= same[3] and same[3] - same[2] <= 0.10
    from_ours = paired_line(swapped[seeds] - ours[seeds], "the seed's code from rnnsweep's initial weights − rnnsweep")
    from_own = paired_line(theirs[seeds] - swapped[seeds],
                           "the seed's code from its own − from rnnsweep's initial weights")
    other = " and the ".join(sorted(d.replace("rnn_", "").replace("_", " ") for d in differs))
    out = [f"- **From the same start**: {from_ours}; from its own start: {from_own}.",
           f"- **What the two starts share**: from one seed both sides draw the same "
           f"{' and the same '.join(shared) or 'nothing'} (equal per seed); the {other} come from "
           "other random streams of the same distributions. The training step is the same (`python -m pytest "
           "tests/test_semantics.py -k seed001s`: the same weights and batches give the same weights after five "
           "steps).",
           f"- **Why it matters here**: over both sides' own runs (n = {len(acc)}; above 60 %: rnnsweep "
           f"{learned['ours']}, the seed's code {learned['theirs']}), test accuracy ranks with the "
           f"recurrent kernel's λ (Spearman ρ = {rho:.2f}). Of the {n} seeds drawn, λ > 0.9 for {near['ours']} of "
           f"rnnsweep's kernels and {near['theirs']} of the seed's code's (Fisher's exact test p = {fisher:.2g}; "
           "both build Haar-orthogonal matrices by the same QR recipe, from different streams)."]
    if lands and fisher > 0.05:
        out.append("- **Verdict**: neither side is wrong: the gap is seed spread, in the one draw the two sides do "
                   "not share. Trained from rnnsweep's initial weights, the seed's code lands where rnnsweep lands "
                   f"({pct(same[0])} points on average, [{pct(same[2])}, {pct(same[3])}]; what still differs seed by "
                   "seed is the batch order each framework shuffles); how often a side draws a kernel that learns is "
                   "chance at these seeds. The notebook's own 63.8 % is one more draw of that spread.")
    else:
        out.append("- **Verdict**: not settled by these runs: " + ("from the same start the two still differ"
                   if not lands else "one side draws learning kernels more often than chance allows") + ".")
    return out


def paired_line(d: pd.Series, label: str) -> str:
    mean, _, lo, hi, n = ci95(d.to_numpy())
    return (f"{label} = {pct(mean)} points, 95 % CI [{pct(lo)}, {pct(hi)}] (paired by seed, n = {n}; by seed "
            + ", ".join(f"{s}: {100 * v:+.1f}" for s, v in d.items()) + ")")
