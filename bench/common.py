"""Shared by the benchmarks: the seed trials they time, fresh-process runs, alternation, medians.

This machine's speed drifts ±30 % from minute to minute, so every benchmark runs the variants it
compares alternately (A B A B ...), each run in a fresh Python process, and quotes medians and the
ratio of medians. Results land in bench/results/<benchmark>.csv (one row per run) as they finish.
"""
from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "results"
sys.path[:0] = [str(ROOT), str(ROOT / "sweeps")]
os.environ.setdefault("RNNSWEEP_OFFLINE", "1")  # benchmarks never download: $RNNSWEEP_DATA has the data


def seed_trial(sweep: str, name: str, **training):
    """A trial of one of the seed sweeps (``imdb_grid``, ``imdb_stacked``), by name, with a budget."""
    import importlib

    from rnnsweep.sweep import expand, select

    spec = importlib.import_module(sweep).SWEEP
    chosen = select(expand(spec, {"training": training} if training else None), name)
    if len(chosen) != 1:
        raise SystemExit(f"{sweep}: {name!r} matches {len(chosen)} trials")
    return chosen[0]


def in_fresh_process(module: str, *args: str, timeout=1800) -> dict:
    """Run ``python -m bench.<module> --one <args>`` and return the JSON its last line prints."""
    p = subprocess.run([sys.executable, "-m", f"bench.{module}", "--one", *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        raise SystemExit(f"bench.{module} {' '.join(args)} failed:\n{p.stderr[-3000:]}")
    return json.loads(lines[-1])


def record(bench: str, row: dict):
    """Append one run's row to bench/results/<bench>.csv (a cut run keeps what it measured). A row with
    columns the file lacks rewrites it with them (earlier rows get them empty)."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{bench}.csv"
    rows, header = [], list(row)
    if path.exists():
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            rows, header = list(reader), list(reader.fieldnames or [])
        header += [k for k in row if k not in header]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows([*rows, row])


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table, as BENCHMARKS.md holds them."""
    def cell(v):
        return f"{v:,.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


def machine() -> str:
    import platform

    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
