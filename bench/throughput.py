"""Benchmark 1 — per-trial throughput: rnnsweep's trial vs the plain Keras loop (bench/peer.py),
same model, same arrays, same budget; training samples per second over ``fit`` (validation
included, as the notebook's ``fit`` includes it), runs alternated, each in a fresh process.

    RNNSWEEP_DATA=../shared/data python -m bench.throughput            # ~12 min on 2 cores
    RNNSWEEP_DATA=../shared/data python -m bench.throughput --rounds 1 --cases seed001
"""
from __future__ import annotations

import argparse
import json

from bench.common import in_fresh_process, machine, median, record, seed_trial, table

# case → (sweep, trial name, budget): the seed's own configuration, a slice of its data.
CASES = {
    "seed000 GRU-128 bs128": ("imdb_grid", "GRU-128-bs128", dict(epochs=2, limit_train=10_000)),
    "seed000 LSTM-32 bs32": ("imdb_grid", "LSTM-32-bs32", dict(epochs=2, limit_train=10_000)),
    "seed001 SimpleRNN(5) maxlen 200": ("imdb_grid", "SimpleRNN-5-bs64-maxlen200-seed1",
                                        dict(epochs=2, limit_train=10_000)),
    "seed004 stacked LSTM": ("imdb_stacked", "LSTM-32-bs512", dict(epochs=2, limit_train=4096)),
}
VARIANTS = ("keras", "rnnsweep")


def one(variant: str, case: str) -> dict:
    from rnnsweep import text

    sweep, name, budget = CASES[case]
    trial = seed_trial(sweep, name, **budget)
    prepared = text.prepare(trial.dataset)
    if variant == "keras":
        from bench import peer

        return peer.fit(case, prepared, trial)
    from rnnsweep.trial import run_trial

    r = run_trial(trial, prepared)  # all cores, as the peer gets
    assert r["status"] == "ok", r["error"]
    return {k: r[k] for k in ("samples_per_second", "fit_seconds")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default="", help="substring of the case names to run")
    ap.add_argument("--one", nargs=2, metavar=("VARIANT", "CASE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    cases = [c for c in CASES if args.cases in c]
    runs = {(c, v): [] for c in cases for v in VARIANTS}
    for rnd in range(args.rounds):
        for case in cases:
            for variant in VARIANTS if rnd % 2 == 0 else VARIANTS[::-1]:  # A B, then B A
                r = in_fresh_process("throughput", variant, case)
                runs[case, variant].append(r["samples_per_second"])
                record("throughput", {"round": rnd + 1, "case": case, "variant": variant, **r})
                print(f"round {rnd + 1} {case:<32} {variant:<9} {r['samples_per_second']:8.0f} samples/s", flush=True)
    rows = [[c, median(runs[c, "keras"]), median(runs[c, "rnnsweep"]),
             median(runs[c, "rnnsweep"]) / median(runs[c, "keras"]), len(runs[c, "keras"])] for c in cases]
    print(f"\n{machine()}; training samples/s over fit, medians of alternated fresh-process runs\n")
    print(table(["case", "plain Keras", "rnnsweep trial", "ratio", "rounds"], rows))


if __name__ == "__main__":
    main()
