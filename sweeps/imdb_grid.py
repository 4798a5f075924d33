"""Seed 000: the 18-model IMDB grid — GRU/LSTM × 32/64/128 units × batch 32/64/128 on frozen GloVe.

    python sweeps/imdb_grid.py --smoke                  # whole grid, tiny budget, local Ray
    python sweeps/imdb_grid.py --trial GRU-32-bs64      # one trial here, no Ray (debugging)
    ray submit cluster.yaml sweeps/imdb_grid.py         # the real thing, on the cluster
"""
from rnnsweep.driver import main
from rnnsweep.sweep import grid

SWEEP = dict(
    name="imdb_grid",
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

if __name__ == "__main__":
    main(SWEEP)
