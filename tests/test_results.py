"""Reading results at scale: ``pyarrow.dataset`` over the per-trial files, and compaction."""
import os
import shutil

import pyarrow.parquet as pq
import pytest
from helpers import ROOT

from rnnsweep import lease, results
from rnnsweep.driver import main

REAL = ROOT / "reproduction" / "results" / "names_gender"  # real trial and epoch rows, one file per trial


@pytest.fixture
def sweep(tmp_path):
    """A copy of a real sweep's result files, under the name ``names_gender``."""
    shutil.copytree(REAL / "trials", tmp_path / "names_gender" / "trials")
    shutil.copytree(REAL / "epochs", tmp_path / "names_gender" / "epochs")
    return str(tmp_path)


def _sorted(df, *keys):
    return df.sort_values(list(keys)).reset_index(drop=True)


def test_compaction_keeps_every_row_in_one_file_per_table(sweep):
    before_t, before_e = results.load(sweep, "names_gender")
    assert len(before_t) == results.table_files(sweep, "names_gender") > 30
    n = results.compact(sweep, "names_gender")
    assert n == len(before_t) and results.table_files(sweep, "names_gender") == 1
    assert results.table_files(sweep, "names_gender", "epochs") == 1
    after_t, after_e = results.load(sweep, "names_gender")
    assert _sorted(after_t, "trial_id").equals(_sorted(before_t, "trial_id"))
    assert _sorted(after_e, "trial_id", "epoch").equals(_sorted(before_e, "trial_id", "epoch"))
    assert results.done(sweep, "names_gender") == dict(zip(before_t["trial_id"], before_t["status"]))
    # Nothing new: nothing to do.
    assert results.compact(sweep, "names_gender") == 0 and results.table_files(sweep, "names_gender") == 1


def test_a_trial_written_after_compaction_wins_and_running_trials_keep_their_files(sweep):
    trials_dir = os.path.join(sweep, "names_gender", "trials")
    files = sorted(os.listdir(trials_dir))
    running, rerun = files[0], files[1]
    t = pq.read_table(os.path.join(trials_dir, running))
    pq.write_table(t.set_column(t.schema.get_field_index("status"), "status", [["running"]]),
                   os.path.join(trials_dir, running))
    results.compact(sweep, "names_gender")
    assert running in os.listdir(trials_dir)
    assert len(os.listdir(trials_dir)) == 2  # the compacted file and the running trial's own
    # A rerun of a compacted trial writes its own file again: its row replaces the compacted one.
    row = pq.read_table(os.path.join(REAL / "trials", rerun))
    pq.write_table(row.set_column(row.schema.get_field_index("error"), "error", [["rerun"]]),
                   os.path.join(trials_dir, rerun))
    trials, _ = results.load(sweep, "names_gender")
    assert trials["trial_id"].is_unique and len(trials) == len(files)
    assert trials.set_index("trial_id").loc[rerun[:-len(".parquet")], "error"] == "rerun"
    assert results.done(sweep, "names_gender")[running[:-len(".parquet")]] == "running"
    # Compacted in turn (incrementally: a second compacted file), the newer row still wins.
    assert results.compact(sweep, "names_gender") == 1
    assert results.table_files(sweep, "names_gender") == 3 and results.table_files(sweep, "names_gender",
                                                                                      compacted=False) == 1
    trials, epochs = results.load(sweep, "names_gender")
    assert trials["trial_id"].is_unique and len(trials) == len(files)
    assert trials.set_index("trial_id").loc[rerun[:-len(".parquet")], "error"] == "rerun"
    assert len(epochs) == len(epochs.drop_duplicates(["trial_id", "epoch"]))


def test_compact_from_the_command_line_waits_for_a_running_driver(sweep):
    spec = {"name": "names_gender", "model": {"arch": "GRU"}}
    held = lease.take(sweep, "names_gender")
    with pytest.raises(SystemExit) as e:
        main(spec, ["--results", sweep, "--compact"])
    assert "another driver runs sweep 'names_gender'" in str(e.value) and "\n" not in str(e.value)
    assert results.table_files(sweep, "names_gender") > 1  # nothing rewritten
    lease.release(sweep, "names_gender", held)
    assert main(spec, ["--results", sweep, "--compact"]).compacted > 30
    assert results.table_files(sweep, "names_gender") == 1


def test_only_the_columns_asked_for_are_read(sweep):
    t = results.read_table(sweep, "names_gender", "trials", columns=["trial_id", "status"])
    assert t.column_names == ["trial_id", "status"] and t.num_rows > 30
    results.compact(sweep, "names_gender")
    t = results.read_table(sweep, "names_gender", "epochs", columns=["epoch"])
    assert t.column_names == ["epoch"] and t.num_rows > 100
