"""The reproducibility canary (reproduction/canary.py): each committed canary trial, rerun, gives
the identical test accuracy. Needs the full data ($RNNSWEEP_DATA; CI sets it)."""
import pytest

from reproduction import canary
from rnnsweep import results
from rnnsweep.config import Trial


@pytest.mark.parametrize("sweep,names,argv", canary.runs(), ids=lambda v: v if isinstance(v, str) else None)
def test_canary_trials_give_the_committed_numbers(sweep, names, argv, full_data, tmp_path):
    committed = results.load(str(canary.RESULTS / sweep))[0]
    ran = {r["name"]: r for r in canary.run(sweep, argv, str(tmp_path))}
    assert sorted(ran) == sorted(names)
    for name, r in ran.items():
        row = committed[(committed["trial_id"] == r["trial_id"])]
        assert len(row) == 1, f"{name} ({r['trial_id']}): no committed canary row; python -m reproduction.canary"
        row = row.iloc[0]
        assert r["status"] == "ok", r.get("error")
        if Trial.of(r["config"]).search_number is not None:  # a search's draw: scored on validation, no test split
            ours = [(e["val_accuracy"], e["val_loss"]) for e in r["history"]]
            assert r["trial_id"] == row["trial_id"] and ours[-1][0] == row["final_val_accuracy"], (
                f"{name}: the search's first draw is not what {row['code_version']} committed")
            assert ours[-1][1] == pytest.approx(row["final_val_loss"], rel=1e-6)
            continue
        assert r["test_accuracy"] == row["test_accuracy"], (
            f"{name}: test accuracy {r['test_accuracy']!r} != {row['test_accuracy']!r} committed by "
            f"{row['code_version']} (TensorFlow {row['tf_version']}, here {r.get('tf_version')}): this change alters "
            "the numbers; rerun the studies it touches and the canary (python -m reproduction.canary)")
        assert r["test_loss"] == pytest.approx(row["test_loss"], rel=1e-6)
