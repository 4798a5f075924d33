"""Seed 001 on Keras's JAX backend (issue 28; ``reproduction/run_jax.sh``, seed repeats fused): each point
on TensorFlow and on JAX side by side — Welch's interval, not paired: the two backends draw different
random streams from the same seed — and seed 001's conclusions re-tested on JAX with seeds 1-20,
paired by seed, beside what seeds 1-6 said.
"""
from __future__ import annotations

from common import LABEL, ROWS, Study, acc, cell, claims, pct, versions, welch

SEED001 = [(setting, where) for seed, _, setting, _, where, *_ in ROWS if seed == "001"]
SIX = list(range(1, 7))


def _points(backend: str, sem: str, where: dict, seeds=None):
    rows, _, _ = versions("imdb_grid", backend).get((where["study"], sem), (None, "—", 0))
    if rows is None or not len(rows):
        return rows
    study = Study("imdb_grid", where["study"], backend)
    got = study(sem, **{k: v for k, v in where.items() if k != "study"})
    return got[got["seed"].isin(seeds)] if seeds else got


def side_by_side() -> list[str]:
    jax_versions = {v for (_, _), (_, v, _) in versions("imdb_grid", "jax").items() if v != "—"}
    if not jax_versions:
        return ["Not run yet: `PIN=<commit> SEEDS=1-6 bash reproduction/run_jax.sh` (then `SEEDS=1-20`)."]
    lines = [f"JAX rows from {', '.join(sorted(jax_versions))}; TensorFlow's as in the table above. Seeds 1-6 on both "
             "sides (JAX's seeds 7-20 are used below).", "",
             "| point | semantics | TensorFlow | JAX | JAX − TensorFlow (Welch 95 % CI) | differ? |",
             "|---|---|---|---|---|---|"]
    differ = []
    for setting, where in SEED001:
        for sem in ("keras3", "tf_keras2"):
            tf, jx = _points("tensorflow", sem, where, SIX), _points("jax", sem, where, SIX)
            if tf is None or jx is None or not len(tf) or not len(jx):
                continue
            d, lo, hi = welch(acc(jx), acc(tf))
            apart = lo > 0 or hi < 0
            differ += [f"{setting} ({LABEL[sem]})"] if apart else []
            lines.append(f"| {setting} | {LABEL[sem]} | {cell(acc(tf))[0]} ({len(acc(tf))}) | "
                         f"{cell(acc(jx))[0]} ({len(acc(jx))}) | {pct(d)} [{pct(lo)}, {pct(hi)}] | "
                         f"{'**yes**' if apart else 'no'} |")
    return lines + ["", f"Points whose interval excludes 0: {', '.join(differ) if differ else 'none'}."]


def at_twenty() -> list[str]:
    seq, hid, arch = (Study("imdb_grid", s, "jax") for s in ("sequence_length", "hidden_size", "architecture"))
    if not seq.semantics():
        return ["Not run yet."]
    items = [(seq, [("Seed 001: longer sequences help (200 vs 30 tokens)", dict(maxlen=200), dict(maxlen=30),
                     "maxlen 200", "maxlen 30")]),
             (hid, [("Seed 001: 10 hidden units beats 5", dict(units=10), dict(units=5), "10 units", "5 units"),
                    ("Seed 001: 20 units overfits (worse than 10)", dict(units=10), dict(units=20), "10 units",
                     "20 units")]),
             (arch, [(f"Seed 001: SimpleRNN beats {rival} (5 units, maxlen 30)", dict(arch="SimpleRNN"),
                      dict(arch=rival), "SimpleRNN", rival) for rival in ("LSTM", "GRU")])]
    out = []
    for study, claim_list in items:
        out += [line.replace("- **", "- **JAX, all seeds: ", 1) for line in claims(study, claim_list)]
        six = _Six(study)
        out += [line.replace("- **", "- **JAX, seeds 1-6: ", 1) for line in claims(six, claim_list)]
    return out


class _Six:
    """A JAX ``Study`` cut to seeds 1-6: what the n = 6 studies would have said."""

    def __init__(self, study: Study):
        self.study = study

    def semantics(self):
        return self.study.semantics()

    def __call__(self, sem: str, **where):
        rows = self.study(sem, **where)
        return rows[rows["seed"].isin(SIX)]
