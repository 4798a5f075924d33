"""The reproducibility canary: one cheap committed trial per reproduced seed, rerun in CI, which must
give the identical test accuracy. Trials are deterministic within a code version; a change that
alters the numbers (preprocessing, models, optimizers, a new TensorFlow) fails CI until the studies
it touches are rerun, so the committed results never silently stop being what the code computes.

    python -m reproduction.canary          # record: run the canaries into reproduction/results/canary
    python -m pytest tests/test_canary.py  # check: rerun them and compare (CI does, with the full data)

Each canary is a seed's own trial at the ``--smoke`` budget (2 epochs on 512 reviews, 512 test
reviews): the same data path, model and optimizer as the full trial, in seconds.
"""
import runpy
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "canary"

# (seed notebook, sweep, trial names, extra driver arguments). A searched study's trial is drawn, not
# listed: its canary is the study's first draw (``--search-trials 1``), checked on validation (a search
# never touches the test split).
CANARIES = [
    ("000", "imdb_grid", "GRU-32-bs64", []),
    ("001", "imdb_grid", "SimpleRNN-5-bs64-maxlen30-seed1", []),
    ("002", "names_gender", "SimpleRNN-16-bs128-seed1-simple_rnn_dropout", []),
    ("003", "amazon_food", "LSTM-100-bs1000-seed1", []),
    ("004", "imdb_stacked", "LSTM-32-bs512", []),
    ("004", "imdb_stacked", "LSTM-32-bs512", ["--set", "model.semantics=tf_keras2"]),
    ("beyond", "imdb_best", "search000-BiLSTM-128-bs64", ["--study", "search", "--search-trials", "1"]),
]
ARGS = ["--smoke", "--address", "local", "--cpus-per-trial", "2"]


def runs():
    """One driver run per (sweep, extra arguments): (sweep, names, argv)."""
    grouped: dict = {}
    for _, sweep, name, extra in CANARIES:
        grouped.setdefault((sweep, tuple(extra)), []).append(name)
    return [(sweep, names, [*([] if "--search-trials" in extra else ["--only", ",".join(names)]), *ARGS, *extra])
            for (sweep, extra), names in grouped.items()]


def run(sweep: str, argv: list[str], results: str) -> list[dict]:
    from rnnsweep.driver import main

    spec = runpy.run_path(str(HERE.parent / "sweeps" / f"{sweep}.py"))["SWEEP"]  # the sweep file, as written
    out = main(spec, argv + ["--results", results])
    return out.results


if __name__ == "__main__":
    for sweep, _names, argv in runs():
        run(sweep, argv, str(RESULTS))
