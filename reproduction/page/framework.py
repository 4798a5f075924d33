"""The seeds' framework: what tf.keras 2 semantics changes against Keras 3's (paired by seed), and whether
a gap to a seed's number is explained — rnnsweep against the seed's own code on tf.keras 2 and as a
plain Keras script, on the same arrays.
"""
from __future__ import annotations

import math

import pandas as pd

from .common import (RESULTS, ROWS, acc, cell, ci95, load, load_peer, paired, pct, peer_runs, pick, study_of, versions,
                    welch)


def semantics_effect() -> list[str]:
    """What tf.keras 2 semantics changes, per model, paired by seed: only rows of one code version
    per side are compared, and the line says when the two sides come from different versions."""
    lines = ["| seed | model | seed's test acc | Keras 3, by seed | tf.keras 2, by seed | tf.keras 2 − Keras 3, paired "
             "[95 % CI] | code versions |", "|---|---|---:|---|---|---|---|"]
    for seed, _, setting, sweep, where, value, budget, _, _ in ROWS:
        if seed not in ("001", "002", "004"):
            continue
        t, by = load(sweep), versions(sweep)
        sides = []
        for sem in ("keras3", "tf_keras2"):
            rows_v, version, _ = by.get((study_of(sweep, where), sem), (t.iloc[:0], "—", 0))
            rows = pick(rows_v, where, budget, sem) if len(rows_v) else rows_v
            sides.append((rows[rows["status"] == "ok"].sort_values("seed"), version))
        (k3, v3), (k2, v2) = sides
        if k2.empty:
            continue
        d, lo, hi, n = paired(k2, k3)
        diff = "—" if n == 0 else f"{pct(d)}" + ("" if math.isnan(lo) else f" [{pct(lo)}, {pct(hi)}]") + f" (n = {n})"

        def by_seed(r):
            return ", ".join(f"{int(s)}: {pct(a)}" for s, a in zip(r["seed"], r["test_accuracy"])) or "—"
        lines.append(f"| {seed} | {setting} | {pct(value)} | {by_seed(k3)} | {by_seed(k2)} | {diff} | "
                     f"{v3} / {v2}{'' if v3 == v2 else ' (different versions: the pairing compares code too)'} |")
    if len(lines) == 2:
        return ["Not run yet: `--set model.semantics=tf_keras2` on seed 001's, 002's and 004's sweeps."]
    return lines


def tf2_sides(peer: pd.DataFrame, seed: str, sweep: str, where: dict, budget) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rnnsweep's ok trials with tf.keras 2 semantics, of one code version; the seed's code's runs on
    tf.keras 2) for one row of the table, each sorted by seed; rnnsweep's side is read only when the
    peer has runs there."""
    theirs = peer_runs(peer, seed, where).sort_values("seed")
    none = pd.DataFrame(columns=["seed", "test_accuracy"])
    if theirs.empty:
        return none, theirs
    rows_v, _, _ = versions(sweep).get((study_of(sweep, where), "tf_keras2"), (None,) * 3)
    ours = pick(rows_v, where, budget, "tf_keras2") if rows_v is not None and len(rows_v) else None
    return (ours[ours["status"] == "ok"].sort_values("seed") if ours is not None else none), theirs


def peer_agreement() -> list[str]:
    """Is a gap explained? rnnsweep with tf.keras 2 semantics against the seed's own code on tf.keras 2
    (the same arrays), and both against the seed's number. Unpaired (Welch): one seed does not give
    the two implementations the same initial weights, dropout masks or batch order."""
    lines = ["| seed | model | seed's test acc | seed's code on tf.keras 2: mean [95 % CI] (n); by seed | rnnsweep, "
             "tf.keras 2 semantics: mean [95 % CI] (n); by seed | rnnsweep − seed's code, Welch 95 % CI | "
             "within ±1.5 of the seed's number (seed's code / rnnsweep) |", "|---|---|---:|---|---|---|---|"]
    peer, verdicts = load_peer(), []
    for seed, _, setting, sweep, where, value, budget, _, _ in ROWS:
        ours, theirs = tf2_sides(peer, seed, sweep, where, budget)
        if theirs.empty:
            continue

        def side(r):
            mean, _, lo, hi, n = ci95(r["test_accuracy"])
            head = "not run yet" if n == 0 else pct(mean) + ("" if n < 2 else f" [{pct(lo)}, {pct(hi)}]") + f" ({n})"
            return head + ("; " + ", ".join(f"{int(s)}: {pct(a)}" for s, a in zip(r["seed"], r["test_accuracy"]))
                           if n else "")
        d, lo, hi = welch(ours["test_accuracy"], theirs["test_accuracy"])
        diff = "—" if math.isnan(d) else pct(d) + ("" if math.isnan(lo) else f" [{pct(lo)}, {pct(hi)}]")
        near = [("—" if r.empty else "yes" if abs(r["test_accuracy"].mean() - value) <= 0.015 else "**no**")
                for r in (theirs, ours)]
        lines.append(f"| {seed} | {setting} | {pct(value)} | {side(theirs)} | {side(ours)} | {diff} | "
                     f"{near[0]} / {near[1]} |")
        if not math.isnan(lo):
            # An interval that holds 0 but spans more than ±3 points says too few seeds, not agreement.
            verdict = ("differs from" if not lo <= 0 <= hi else "agrees with" if hi - lo <= 0.06 else
                       "cannot be told apart, at these seeds, from")
            low, high = theirs["test_accuracy"].min(), theirs["test_accuracy"].max()
            verdicts.append(f"seed {seed}, {setting}: rnnsweep {verdict} the seed's code "
                            f"({pct(d)} points, [{pct(lo)}, {pct(hi)}]); the seed's number is "
                            f"{'within' if near[0] == 'yes' else 'outside'} ±1.5 of the seed's code's mean and "
                            f"{'within' if near[1] == 'yes' else 'outside'} ±1.5 of rnnsweep's, and "
                            f"{'inside' if low <= value <= high else 'outside'} the range of the seed's code's own "
                            f"runs ({pct(low)}–{pct(high)})")
    if len(lines) == 2:
        return ["Not run yet: `python -m reproduction.experiments.seed_keras --framework tf_keras2` "
                "(reproduction/run_pinned.sh, steps "
                "p004 and p001)."]
    return lines + ["", "Where both sides have two seeds or more: " + (
                        "; ".join(verdicts) + "." if verdicts else "none yet."),
                    "", "What the two still differ in, and what they do not: with the same weights and the same "
                    "batches, seed 004's three models under tf.keras 2 semantics take the same training steps as "
                    "tf_keras 2's (gradients, the sparse embedding update with tokens repeated in a batch, RMSprop: "
                    "equal to float32 round-off after four steps, where Keras 3's semantics moves the weights "
                    "elsewhere by more than a tenth of a step; `python -m pytest tests/test_semantics.py -k "
                    "step_for_step`), and rnnsweep draws its dropout masks fresh at every timestep and per "
                    "gate (`-k per_timestep`, `-k per_gate`), as tf_keras 2 does inside `fit` (`-k tf_keras2_itself`; "
                    "with recurrent dropout its LSTM and GRU switch to implementation 1: four and three masks). "
                    "What a seed cannot make equal between the two is the random streams: the initial weights, the "
                    "dropout masks and the batch order each framework draws from the same seed. A difference "
                    "between the two columns is therefore seed-to-seed spread unless "
                    "its interval excludes 0, and more seeds on both sides narrow it. Each of the seed's code's runs "
                    "starts in a fresh process, as each rnnsweep trial starts from a fresh Keras session: tf_keras 2 "
                    "runs one after another in one process do not give what the same run gives alone (see "
                    "`seed_keras.py`)."]


def seed004_target() -> list[str]:
    """Issue 15's test of seed 004: does rnnsweep with tf.keras 2 semantics land within ±1.5 points of
    each of the seed's three numbers (mean over its seeds)? Where it does not, what the measurements
    say of the rest of the gap: the seed's own code on tf.keras 2 (same arrays) against both."""
    peer, lines, misses, fewest = load_peer(), [], [], 99
    for seed, _, setting, sweep, where, value, budget, _, _ in ROWS:
        if seed != "004":
            continue
        ours, theirs = tf2_sides(peer, seed, sweep, where, budget)
        if ours.empty or theirs.empty:
            continue
        theirs = theirs["test_accuracy"].to_numpy()
        by_seed = ", ".join(f"{int(k)}: {pct(a)}" for k, a in zip(ours["seed"], ours["test_accuracy"]))
        ours = ours["test_accuracy"].to_numpy()
        fewest = min(fewest, len(ours), len(theirs))
        gap = ours.mean() - value
        near = abs(gap) <= 0.015
        misses += [] if near else [setting]
        d, lo, hi = welch(ours, theirs)
        lines.append(
            f"- {setting}: the seed {pct(value)}; rnnsweep with tf.keras 2 semantics {pct(ours.mean())} "
            f"(by seed: {by_seed}), {pct(gap)} points from it: "
            f"**{'within' if near else 'outside'} ±1.5**. The seed's code on tf.keras 2, same arrays: "
            f"{pct(theirs.mean())} (runs {pct(theirs.min())}–{pct(theirs.max())}, a spread of "
            f"{pct(theirs.max() - theirs.min())} points over {len(theirs)} seeds); the seed's number lies "
            f"{'inside' if theirs.min() <= value <= theirs.max() else 'outside'} that range, rnnsweep's mean "
            f"{'inside' if theirs.min() <= ours.mean() <= theirs.max() else 'outside'} it; rnnsweep − the seed's "
            f"code {pct(d)} [{pct(lo)}, {pct(hi)}] (Welch).")
    if not lines:
        return []
    head = ["**Seed 004 against the seed's numbers, ±1.5 points (rnnsweep's mean over its seeds):**", ""]
    if not misses:
        return head + lines
    return head + lines + ["", (
        f"Where it misses ({', '.join(misses)}), what else differs, as measured: nothing in the training "
        "step — with the same weights and batches the two take the same steps (above, `-k step_for_step`). What "
        "differs is the random streams (initial weights, dropout masks, batch order) each framework draws from "
        "one seed, and the seed's own code on its own framework, on the same arrays, spreads its three runs over "
        "more points than rnnsweep's mean lies from the seed's number: the seed's single run is one draw of that "
        "spread. rnnsweep's three runs sit higher and closer together than the seed's code's; whether that is a "
        "systematic difference or three seeds' luck, the Welch interval (which holds 0) cannot tell: more seeds on "
        "both sides would (`python sweeps/imdb_stacked.py --results reproduction/results --seeds 1-6 --set "
        "model.semantics=tf_keras2`; `python -m reproduction.experiments.seed_keras --framework tf_keras2 "
        "--notebook 004 --seeds 4 5 6`)." + (f" Each side has {fewest} seeds so far." if fewest < 6 else ""))]


def plain_keras() -> list[str]:
    """rnnsweep's trials beside the seed's code run as a plain Keras script on the same arrays."""
    f = RESULTS / "plain_keras.csv"
    if not f.exists():
        return ["Not run yet: `python -m reproduction.experiments.seed_keras --maxlen 30 80 --seeds 1 2 3`."]
    peer = pd.read_csv(f)
    g = load("imdb_grid")
    lines = ["| seed 001, SimpleRNN(5) | plain Keras script: mean [95 % CI] (n) | "
             "rnnsweep, same seeds: mean [95 % CI] (n) | "
             "rnnsweep − plain Keras, 95 % CI | seed's value |", "|---|---|---|---|---:|"]
    agree = []
    seeds_value = {30: "56.7 / 68.7", 50: "52.7", 80: "56.4", 100: "53.6", 150: "63.8", 200: "66.3"}
    for maxlen, p in peer.groupby("maxlen"):
        same = pick(g, {"study": "sequence_length", "maxlen": maxlen})
        ours = acc(same[same["seed"].isin(p["seed"])])  # the same seeds as the peer's runs
        d, lo, hi = welch(ours, p["test_accuracy"])
        lines.append(f"| maxlen {maxlen} | {cell(p['test_accuracy'])[0]} ({len(p)}) | {cell(ours)[0]} ({len(ours)}) | "
                     f"{pct(d)} [{pct(lo)}, {pct(hi)}] | {seeds_value.get(maxlen, '—')} |")
        agree.append(not (lo > 0 or hi < 0))
    if agree and all(agree):
        lines += ["", "The seed's code, run as a plain Keras script on the same arrays, agrees with rnnsweep within the"
                  " "
                  "error bars (at maxlen 30 it gives the very same accuracy, seed for seed): where rnnsweep misses a "
                  "seed 001 number, the gap does not come from rnnsweep. It comes from the seed's own run-to-run "
                  "spread (note e: the same configuration printed 56.7 and 68.7), and possibly from today's "
                  "Keras/TensorFlow against the notebook's and from the rebuilt encoding (note a)."]
    return lines
