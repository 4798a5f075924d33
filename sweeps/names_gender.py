"""Seed 002: is a first name male or female? Five character-level models and a random search.

    python sweeps/names_gender.py --dry-run
    python sweeps/names_gender.py --study models                 # the five models, seeds 1-3
    python sweeps/names_gender.py --study random_search          # as the seed ran it: 1 epoch
    python sweeps/names_gender.py --study random_search --epochs 20

NLTK names (male.txt = 1, female.txt = 0, 7,944 names), shuffled (the seed's unseeded
random.shuffle, here with shuffle_seed=1) then train_test_split(test_size=0.2, random_state=42):
6,355 / 1,589. Legacy Keras Tokenizer(char_level=True) fitted on the training names (29 characters
+ padding), padded 'pre' to the longest training name (15). Adam(1e-3), batch 128, 20 epochs.
"""
from rnnsweep.driver import main
from rnnsweep.sweep import choice, grid

EMBEDDED = dict(embedding_dim=128, mask_zero=True, activation="relu", units=16)

SWEEP = dict(
    name="names_gender",
    dataset=dict(source="names", char_level=True, maxlen=None, shuffle_seed=1, split="seed000"),
    training=dict(batch_size=128, epochs=20, validation_split=0.2, seed=grid(1, 2, 3)),
    model=dict(optimizer="adam", learning_rate=1e-3),
    studies=dict(
        # 1. texts_to_matrix(mode="binary") → Dense(16, relu) → Dense(16, relu) → Dense(1)  (seed: 0.7067)
        bag_of_characters=dict(model=dict(arch="bag", units=16, layers=2, activation="relu")),
        # 2. Embedding(128, mask_zero) → SimpleRNN(16, relu) → Dense(16, relu) → Dense(1)  (0.8093)
        simple_rnn=dict(model=dict(arch="SimpleRNN", **EMBEDDED, dense_units=16)),
        # 3. model 2 with dropout 0.2 and recurrent_dropout 0.2  (0.7904)
        simple_rnn_dropout=dict(model=dict(arch="SimpleRNN", **EMBEDDED, dense_units=16, dropout=0.2,
                                           recurrent_dropout=0.2)),
        # 4. two such SimpleRNN(16) layers, no hidden Dense  (0.8068)
        stacked_simple_rnn=dict(model=dict(arch="SimpleRNN", **EMBEDDED, layers=2, dropout=0.2,
                                           recurrent_dropout=0.2)),
        # 5. Bidirectional(LSTM(32, activation relu, dropout 0.2, recurrent_dropout 0.2)) → Dense(1)  (0.7992)
        bilstm=dict(model=dict(arch="LSTM", **{**EMBEDDED, "units": 32}, bidirectional=True, dropout=0.2,
                               recurrent_dropout=0.2)),
        # Keras Tuner RandomSearch over model 5: max_trials 10, executions_per_trial 2 (seeds), and
        # search() given no epochs: 1 epoch each (best val_accuracy 0.6267 at dim 96, units 48).
        random_search=dict(
            model=dict(arch="LSTM", **{**EMBEDDED, "embedding_dim": choice(32, 64, 96, 128),
                                       "units": choice(16, 32, 48, 64)},
                       bidirectional=True, dropout=0.2, recurrent_dropout=0.2),
            training=dict(epochs=1, seed=grid(1, 2)),
            samples=10, sample_seed=2,
        ),
    ),
)

if __name__ == "__main__":
    main(SWEEP)
