"""Benchmark 8 — a newcomer's first run: ``python sweeps/imdb_grid.py --quick --study grid`` on a machine
without the full data (``$RNNSWEEP_DATA`` an empty folder, so it runs on the sample shipped with
rnnsweep), each round a fresh process and a fresh results folder, timed from its start (Python,
imports, Ray) to its last result. Targets: the whole quick grid ≤ 3 min; its GRU-32 models average
≥ 0.65 test accuracy. With ``--smoke`` rounds alternate with the ``--smoke`` grid (the plumbing check).

    python -m bench.quick [--rounds 3] [--smoke]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, machine, median, record, table


def one(flag: str) -> dict:
    from rnnsweep import results

    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "RNNSWEEP_DATA": empty, "RNNSWEEP_OFFLINE": "1",
               "RNNSWEEP_CACHE": os.path.join(out, "cache")}  # the first run of a new user: nothing cached
        t0 = time.time()
        p = subprocess.run([sys.executable, "sweeps/imdb_grid.py", flag, "--study", "grid", "--results", out,
                            "--address", "local"], cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.time() - t0
        if p.returncode or "'ok': 18" not in p.stdout:
            raise SystemExit(p.stdout[-2000:] + p.stderr[-2000:])
        t = results.load(out, "imdb_grid")[0]
    gru32 = t[(t["arch"] == "GRU") & (t["units"] == 32)]["test_accuracy"]
    return {"way": flag.strip("-"), "wall_seconds": round(wall, 1), "gru32_mean": round(float(gru32.mean()), 4),
            "gru32": " ".join(f"{a:.3f}" for a in gru32), "all_mean": round(float(t["test_accuracy"].mean()), 4),
            "sample": bool(t["sample"].all())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="alternate with the --smoke grid")
    args = ap.parse_args()
    ways = ["--quick"] + (["--smoke"] if args.smoke else [])
    rows = {w: [] for w in ways}
    for rnd in range(args.rounds):
        for way in ways[rnd % len(ways):] + ways[:rnd % len(ways)]:
            r = one(way)
            rows[way].append(r)
            record("quick", {"round": rnd + 1, **r})
            print(f"round {rnd + 1} {way:<8} {r['wall_seconds']:6.1f} s  GRU-32 {r['gru32']} (mean {r['gru32_mean']})",
                  flush=True)
    print(f"\n{machine()}; seed 000's 18-trial grid on the packaged sample, wall seconds of a fresh process\n")
    print(table(["way", "median s", "min", "max", "GRU-32 mean test acc (median)", "all 18 (median)"],
                [[w, median([r["wall_seconds"] for r in rs]), min(r["wall_seconds"] for r in rs),
                  max(r["wall_seconds"] for r in rs), median([r["gru32_mean"] for r in rs]),
                  median([r["all_mean"] for r in rs])] for w, rs in rows.items()]))


if __name__ == "__main__":
    main()
