"""Seed 004: two stacked recurrent layers on IMDB — LSTM, GRU and bidirectional LSTM.

    python sweeps/imdb_stacked.py --dry-run
    python sweeps/imdb_stacked.py --smoke
    ray submit cluster.yaml sweeps/imdb_stacked.py

Embedding(10000, 100) learned → RNN(32, dropout 0.5, recurrent_dropout 0.2, sequences) →
RNN(32, same) → Dropout(0.5) → Dense(1, sigmoid); RMSprop (Keras's default 1e-3), batch 512,
5 epochs, on Keras's IMDB encoding padded and truncated 'pre' (Keras's defaults) to 500 tokens.
"""
from rnnsweep.driver import main
from rnnsweep.sweep import grid

SWEEP = dict(
    name="imdb_stacked",
    dataset=dict(
        source="keras_imdb",         # keras.datasets.imdb: the official 25k/25k split
        num_words=10_000,
        split="official",
        maxlen=500,                  # padding and truncating 'pre': pad_sequences's defaults
    ),
    model=dict(
        arch="LSTM",
        units=32,
        layers=2,                    # the first returns sequences
        dropout=0.5,
        recurrent_dropout=0.2,
        output_dropout=0.5,
        embedding_dim=100,
        optimizer="rmsprop",
        learning_rate=1e-3,
    ),
    training=dict(
        batch_size=512,
        epochs=5,
        validation_split=0.2,
        seed=1,                      # more: --seeds 1-3
    ),
    studies=dict(
        stacked=dict(model=dict(arch=grid("LSTM", "GRU"))),
        bidirectional=dict(model=dict(bidirectional=True)),
    ),
)

if __name__ == "__main__":
    main(SWEEP)
