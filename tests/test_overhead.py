"""rnnsweep's own cost per trial (``bench.overhead``, BENCHMARKS.md 12), short: 500 trials that only sleep
1 s on 16 logical CPUs, through the real driver, a real local Ray and real Parquet rows. The bound is
generous (3× the minimum; the full benchmark measures 1.0x at 10,000): it catches a driver that stops
keeping up, not noise."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_500_sleeping_trials_land_whole_within_3x_the_minimum():
    trials, slots, seconds = 500, 16, 1.0
    p = subprocess.run([sys.executable, "-m", "bench.overhead", "--one", "rnnsweep", "--trials", str(trials),
                        "--slots", str(slots), "--seconds", str(seconds), "--settle", "5"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert p.returncode == 0 and lines, p.stderr[-3000:]
    r = json.loads(lines[-1])
    # Every trial landed once, ok, with its epoch row; each row names the code that made it.
    assert r["ok"] == r["trials_counted"] == trials and r["epoch_rows"] == trials, r
    assert r["code_version"].startswith("rnnsweep "), r
    minimum = trials * seconds / slots
    assert r["wall"] < 3 * minimum, f"{r['wall']:.1f} s for {trials} trials of {seconds} s on {slots} slots"
