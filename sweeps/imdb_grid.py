"""Seed 000's 18-model IMDB grid, plus seed 001's sequence-length, hidden-size and architecture studies.

    python sweeps/imdb_grid.py --dry-run                       # every trial, per study, with its settings
    python sweeps/imdb_grid.py --smoke --study grid            # seed 000's grid, tiny budget, local Ray
    python sweeps/imdb_grid.py --study sequence_length,hidden_size,architecture   # seed 001, full budget
    python sweeps/imdb_grid.py --trial GRU-32-bs64             # one trial here, no Ray (debugging)
    ray submit cluster.yaml sweeps/imdb_grid.py                # all of it, on the cluster
"""
from rnnsweep.driver import main
from rnnsweep.sweep import grid, over

# Seed 000: GRU/LSTM × 32/64/128 units × batch 32/64/128 on frozen GloVe, 100 epochs.
SEED000 = dict(
    dataset=dict(
        source="imdb_reviews",       # Kaggle's "IMDB Dataset.csv" (or the aclImdb layout)
        clean="seed000",             # strip tags, letters only, drop single letters
        num_words=5000,              # Tokenizer(num_words=5000), fit on the 40k training reviews
        maxlen=100,
        padding="post",              # truncating stays Keras's default "pre"
        split="seed000",             # train_test_split(test_size=0.2, random_state=42)
        embedding="glove",           # frozen; 100d when present, else 50d (recorded per trial)
        glove_dim="auto",
    ),
    model=dict(
        arch=grid("GRU", "LSTM"),
        units=grid(32, 64, 128),
        activation="relu",
        kernel_initializer="he_normal",
        dense_units="same",          # Dense(units, relu, he_normal) before the output
        dense_activation="relu",
        dense_initializer="he_normal",
        output_initializer="glorot_normal",
        optimizer="adam",
        learning_rate=1e-4,
    ),
    training=dict(
        batch_size=grid(32, 64, 128),
        epochs=100,
        validation_split=0.2,
    ),
)

# Seed 001: Embedding(2000, 50) → SimpleRNN(5, kernel RandomNormal(0.001)) → Dense(1) on Keras's IMDB
# encoding, RMSprop(1e-4), 10 epochs, batch 64. Seeds 1-3 (the notebook ran each point once).
SEED001 = dict(
    dataset=dict(
        source="keras_imdb",         # keras.datasets.imdb: the official 25k/25k split
        num_words=2000,
        split="official",
        padding="post",              # padding *and* truncating 'post'
        truncating="post",
    ),
    model=dict(
        arch="SimpleRNN",
        units=5,
        embedding_dim=50,
        kernel_initializer="random_normal",
        init_stddev=0.001,
        optimizer="rmsprop",
        learning_rate=1e-4,
    ),
    training=dict(
        batch_size=64,
        epochs=10,
        validation_split=0.2,
        seed=grid(1, 2, 3),
    ),
)

SWEEP = dict(
    name="imdb_grid",
    studies=dict(
        grid=SEED000,
        sequence_length=over(SEED001, dataset=dict(maxlen=grid(30, 50, 80, 100, 150, 200))),
        # At maxlen 200: the notebook's padded arrays were left over from the last length it tried.
        hidden_size=over(SEED001, dataset=dict(maxlen=200), model=dict(units=grid(2, 5, 10, 20))),
        # Same initializer for all three; the report also compares their training time.
        architecture=over(SEED001, dataset=dict(maxlen=30), model=dict(arch=grid("SimpleRNN", "LSTM", "GRU"))),
    ),
)

if __name__ == "__main__":
    main(SWEEP)
