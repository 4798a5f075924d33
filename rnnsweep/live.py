"""What a running trial writes beside the results as it goes: its epochs so far, with a trial row marked
``running`` (a report drawn during the sweep shows them; a retry reads them back). Its backup is
``backup``'s."""
from __future__ import annotations

from .results import read_trial_file, write_trial


def write_epochs(uri: str, sweep: str, result: dict, budget: dict | None = None):
    """A running trial's epochs so far, and its trial row with status ``running``: a report drawn
    during the sweep shows its curves; a rerun treats it as not done. Its final rows replace both."""
    write_trial(uri, sweep, {**result, "status": "running"}, budget)


def read_epochs(uri: str, sweep: str, trial_id: str) -> list[dict]:
    """The epoch rows already written for one trial (by an earlier attempt), oldest first."""
    table = read_trial_file(uri, sweep, "epochs", trial_id)
    rows = table.to_pylist() if table is not None else []
    ids = ("sweep", "trial_id", "config_id", "name")
    return sorted(({k: v for k, v in r.items() if k not in ids} for r in rows), key=lambda r: r["epoch"])
