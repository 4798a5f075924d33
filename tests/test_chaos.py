"""The chaos run, short (``bench.chaos`` is the long one): a sweep on a local multi-node Ray cluster while
trial workers, a worker node (its raylet) and the driver itself are killed at seeded random times; then
every trial once, every epoch once, nothing left behind, and every trial's rows equal to the same sweep
run undisturbed, bit for bit."""
import pytest

from bench.chaos import run


@pytest.mark.slow
def test_a_sweep_under_kills_lands_the_rows_of_an_undisturbed_run(tmp_path):
    r = run(seed=5, kills=5, interval=3.0, seeds=[1], epochs=8, work=tmp_path)
    assert r["kills"] >= 3 and r["driver_kills"] == 1, r
    assert r["trials"] == r["expected"] == 8 and r["trials_unique"] and r["all_ok"], r
    assert r["epochs_unique"] and r["left_behind"] == 0 and r["final_rc"] == 0, r
    assert r["mismatches"] == 0, r["mismatched"]
