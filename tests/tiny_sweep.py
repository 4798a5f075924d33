"""A tiny real sweep on the fixture reviews, used by the driver tests (in-process and as a script).

    RNNSWEEP_DATA=tests/fixtures python tests/tiny_sweep.py --address local
"""
import os
from pathlib import Path

from rnnsweep.driver import main
from rnnsweep.sweep import grid

FIXTURES = Path(__file__).parent / "fixtures"

SWEEP = dict(
    name="tiny",
    dataset=dict(source="imdb_reviews", path=str(FIXTURES / "imdb_400.csv.gz"), clean="seed000",
                 num_words=500, maxlen=30, padding="post", embedding="glove", glove_dim=50),
    model=dict(arch=grid("GRU", "LSTM"), units=grid(*[int(u) for u in os.environ.get("TINY_UNITS", "4").split(",")])),
    training=dict(batch_size=64, epochs=int(os.environ.get("TINY_EPOCHS", "1")), limit_train=128),
)

if __name__ == "__main__":
    main(SWEEP)
