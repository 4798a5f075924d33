"""A tiny real search on the fixture reviews (Optuna's TPE and successive halving through the driver),
used by tests/test_search.py in-process and as a script.

    RNNSWEEP_DATA=tests/fixtures python tests/search_sweep.py --address local --dry-run
"""
import os
from pathlib import Path

from rnnsweep.driver import main
from rnnsweep.sweep import choice, grid, loguniform

FIXTURES = Path(__file__).parent / "fixtures"
PRUNER = os.environ.get("SEARCH_PRUNER", "asha")

SWEEP = dict(
    name="tiny_search",
    dataset=dict(source="imdb_reviews", path=str(FIXTURES / "imdb_400.csv.gz"), clean="seed000",
                 num_words=500, maxlen=30, padding="post", embedding="glove", glove_dim=50),
    model=dict(arch="GRU", units=4),
    training=dict(batch_size=32, epochs=int(os.environ.get("SEARCH_EPOCHS", "4")), limit_train=160),
    studies=dict(
        search=dict(
            model=dict(units=choice(2, 4, 8, 16), learning_rate=loguniform(1e-3, 5e-2)),
            search=dict(sampler="tpe", trials=int(os.environ.get("SEARCH_TRIALS", "4")), startup_trials=2, seed=7,
                        pruner=None if PRUNER == "none" else dict(kind=PRUNER, min_epochs=1, reduction=2)),
        ),
        # The winner's repeats: the best finished trial of `search`, seeds 1-2, on the test split.
        winner=dict(best_of="search", training=dict(seed=grid(1, 2))),
        # Pruning on a grid: the same pruner over listed trials.
        pruned_grid=dict(model=dict(units=grid(2, 8)),
                         search=dict(pruner=dict(kind="median", min_epochs=1, startup_trials=1))),
    ),
)

if __name__ == "__main__":
    main(SWEEP)
