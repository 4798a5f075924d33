"""Seed 001: SimpleRNN vs LSTM vs GRU — a sequence-length study and a hidden-size study.

Base model: Embedding(2000, 50) → RNN(5) → Dense(1, sigmoid) on the Keras IMDB encoding
(num_words=2000, official 25k/25k split); each study varies one setting around that point, with
three random seeds per configuration so the report can draw 95 % confidence intervals. The base
point (maxlen 100, 5 units) belongs to both studies and runs once.

    python sweeps/rnn_studies.py --smoke --dry-run
    ray submit cluster.yaml sweeps/rnn_studies.py

The study ranges, epochs and batch size are ours: seed 001's own values were not recorded.
"""
from rnnsweep.driver import main
from rnnsweep.sweep import grid

SWEEP = dict(
    name="rnn_studies",
    dataset=dict(source="keras_imdb", num_words=2000, maxlen=100),
    model=dict(arch=grid("SimpleRNN", "LSTM", "GRU"), units=5, embedding_dim=50),
    training=dict(batch_size=128, epochs=10, validation_split=0.2, seed=grid(1, 2, 3)),
    studies=dict(
        sequence_length=dict(dataset=dict(maxlen=grid(25, 50, 100, 200, 400))),
        hidden_size=dict(model=dict(units=grid(5, 10, 20, 40, 80))),
    ),
)

if __name__ == "__main__":
    main(SWEEP)
