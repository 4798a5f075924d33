import numpy as np
import pytest

from rnnsweep.models import build_model, param_counts

SEED004 = dict(embedding_dim=100, units=32, layers=2, output_dropout=0.5)


@pytest.mark.parametrize("spec,vocab,maxlen,expected", [
    ({**SEED004, "arch": "LSTM"}, 10_000, 500, 1_025_377),
    ({**SEED004, "arch": "GRU"}, 10_000, 500, 1_019_233),
    ({**SEED004, "arch": "LSTM", "bidirectional": True}, 10_000, 500, 1_058_945),
    ({"arch": "SimpleRNN", "units": 5, "embedding_dim": 50}, 2_000, 100, 100_286),
    ({"arch": "LSTM", "units": 100, "embedding_dim": 32}, 64_869, 100, 2_129_109),
    ({"arch": "LSTM", "units": 50, "layers": 2, "embedding_dim": 32, "embedding_dropout": 0.2,
      "output_dropout": 0.2}, 72_396, 100, 2_353_523),
], ids=["seed004-lstm", "seed004-gru", "seed004-bilstm", "seed001-simplernn", "seed003-lstm", "seed003-stacked"])
def test_parameter_counts_match_seed_summaries(spec, vocab, maxlen, expected):
    model = build_model(spec, vocab, maxlen)
    assert sum(param_counts(model)) == model.count_params() == expected


def test_seed000_model():
    emb = np.random.default_rng(0).normal(size=(5000, 50)).astype("float32")
    spec = dict(arch="GRU", units=64, activation="relu", kernel_initializer="he_normal", dense_units="same",
                dense_initializer="he_normal", output_initializer="glorot_normal", learning_rate=1e-4)
    m = build_model(spec, 5000, 100, emb)
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds == ["InputLayer", "Embedding", "GRU", "Dense", "Dense"]
    e, rnn, hidden, out = m.layers[1:]
    assert not e.trainable and np.array_equal(e.get_weights()[0], emb)  # frozen GloVe
    assert rnn.cell.activation.__name__ == "relu" and type(rnn.cell.kernel_initializer).__name__ == "HeNormal"
    assert hidden.units == 64 and hidden.activation.__name__ == "relu"
    assert type(hidden.kernel_initializer).__name__ == "HeNormal"
    assert out.activation.__name__ == "sigmoid" and type(out.kernel_initializer).__name__ == "GlorotNormal"
    assert float(m.optimizer.learning_rate) == pytest.approx(1e-4) and type(m.optimizer).__name__ == "Adam"
    trainable, frozen = param_counts(m)
    assert frozen == 5000 * 50 and trainable == 3 * (64 * (50 + 64) + 2 * 64) + 64 * 64 + 64 + 65


def test_bag_model_and_random_normal_initializer():
    m = build_model({"arch": "bag", "units": 16, "kernel_initializer": "random_normal", "init_stddev": 0.01,
                     "optimizer": "rmsprop"}, 30, 12)
    assert m.count_params() == 30 * 16 + 16 + 17
    assert m.layers[3].kernel_initializer.stddev == 0.01
    assert m.predict(np.array([[1, 2, 3] + [0] * 9]), verbose=0).shape == (1, 1)


def test_bag_input_is_seed002s_texts_to_matrix_binary(fixture_data):
    """The bag model sees exactly legacy Keras's texts_to_matrix(mode="binary") of the names."""
    import keras
    from tf_keras.preprocessing.text import Tokenizer as Legacy

    from rnnsweep import data, text

    names = data.read("names", fixture_data / "names")["name"].tolist()
    legacy = Legacy(char_level=True)
    legacy.fit_on_texts(names)
    ours = text.Tokenizer(char_level=True).fit_on_texts(names)
    vocab = len(ours.word_index) + 1
    x = text.pad(ours.texts_to_sequences(names), max(map(len, names)))
    m = build_model({"arch": "bag", "units": 16, "layers": 2, "activation": "relu"}, vocab, x.shape[1])
    bag = keras.Model(m.input, m.get_layer("drop_padding").output).predict(x, verbose=0)
    assert np.array_equal(bag, legacy.texts_to_matrix(names, mode="binary"))
    assert m.count_params() == vocab * 16 + 16 + 16 * 16 + 16 + 17  # seed 002's model 1


def test_seed003_batch_norm_and_l2():
    m = build_model({"arch": "LSTM", "units": 50, "layers": 3, "embedding_dim": 32, "embedding_dropout": 0.4,
                     "output_dropout": 0.4, "dropout": 0.4, "recurrent_dropout": 0.4, "batch_norm": True,
                     "l2": 0.01}, 1000, 100)
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds == ["InputLayer", "Embedding", "BatchNormalization", "Dropout", "LSTM", "LSTM", "LSTM", "Dropout",
                     "BatchNormalization", "Dense"]
    lstms = [layer for layer in m.layers if type(layer).__name__ == "LSTM"]
    assert all(layer.cell.kernel_regularizer.l2 == pytest.approx(0.01) for layer in lstms)
    assert [layer.return_sequences for layer in lstms] == [True, True, False]


@pytest.mark.parametrize("spec,dataset,verdict", [
    ({"arch": "GRU", "activation": "relu"}, None, "no (activation=relu)"),  # seed 000
    ({"arch": "LSTM"}, None, "yes"),
    ({"arch": "LSTM", "recurrent_dropout": 0.2, "layers": 2}, None, "no (recurrent_dropout=0.2)"),  # seed 004
    ({"arch": "LSTM", "mask_zero": True}, {"padding": "pre"}, "no (mask_zero with padding=pre (cuDNN needs "
                                                               "right-padded sequences))"),
    ({"arch": "GRU", "mask_zero": True}, {"padding": "post"}, "yes"),
    ({"arch": "SimpleRNN"}, None, "no (SimpleRNN has no cuDNN kernel)"),
    ({"arch": "bag"}, None, "no (no recurrent layer)"),
])
def test_cudnn_verdict_names_what_rules_it_out(spec, dataset, verdict):
    from rnnsweep.models import cudnn

    assert cudnn(spec, dataset) == verdict


def test_precision_is_set_per_model_and_the_output_stays_float32():
    half = build_model({"arch": "GRU", "units": 8, "precision": "mixed_bfloat16"}, 100, 10)
    rnn, out = half.layers[2], half.layers[-1]
    assert rnn.compute_dtype == "bfloat16" and rnn.variable_dtype == "float32"
    assert out.compute_dtype == "float32" and half.output.dtype == "float32"
    full = build_model({"arch": "GRU", "units": 8}, 100, 10)  # the next model in the same process
    assert {layer.compute_dtype for layer in full.layers[1:]} == {"float32"}


def test_pooling_over_time_leaves_padding_out_and_the_strong_imdb_settings_are_built():
    """model.pooling / spatial_dropout / clipnorm (issue 16's settings): max and mean over the
    recurrent outputs skip padded steps, so a right-padded review scores as without its padding."""
    import keras

    spec = dict(arch="GRU", units=6, embedding_dim=8, mask_zero=True, bidirectional=True, spatial_dropout=0.3,
                clipnorm=1.0)
    short = np.array([[5, 9, 3, 0, 0, 0, 0, 0]], dtype="int32")
    for pooling, width in (("max", 12), ("mean", 12), ("max_mean", 24)):
        keras.utils.set_random_seed(1)
        m = build_model({**spec, "pooling": pooling}, 20, 8)
        pooled = keras.Model(m.input, m.layers[-2].output)  # MaskedMax, GlobalAveragePooling1D or both
        assert pooled.output_shape == (None, width)
        keras.utils.set_random_seed(1)
        m3 = build_model({**spec, "pooling": pooling}, 20, 3)  # the same weights, no padding at all
        m3.set_weights(m.get_weights())
        np.testing.assert_allclose(m.predict(short, verbose=0), m3.predict(short[:, :3], verbose=0), rtol=1e-5)
    assert "SpatialDropout1D" in [type(layer).__name__ for layer in m.layers]
    assert m.optimizer.clipnorm == 1.0
    plain = build_model(dict(arch="GRU", units=6, embedding_dim=8), 20, 8)  # the defaults: as before
    assert [type(layer).__name__ for layer in plain.layers] == ["InputLayer", "Embedding", "GRU", "Dense"]
    assert plain.optimizer.clipnorm is None


def test_embedding_lr_scale_keeps_the_output_and_scales_adams_step():
    """model.embedding_lr_scale: the same embedding out of the layer, and after one Adam step the
    embedding has moved `scale` times as far as without it (the other weights as far as before)."""
    import keras

    glove = np.random.default_rng(0).normal(size=(20, 8)).astype("float32")
    x, y = np.array([[5, 9, 3, 0]], dtype="int32"), np.array([1.0], dtype="float32")
    moved = {}
    for scale in (1.0, 0.1):
        keras.utils.set_random_seed(1)
        m = build_model(dict(arch="GRU", units=4, mask_zero=True, embedding_trainable=True, embedding_lr_scale=scale,
                             learning_rate=1e-2), 20, 4, glove)
        emb = m.get_layer("embedding")
        np.testing.assert_allclose(keras.ops.convert_to_numpy(emb(x))[0, :3], glove[[5, 9, 3]], rtol=1e-6)
        before = [np.array(w) for w in m.get_weights()]
        m.train_on_batch(x, y)
        moved[scale] = [np.abs(np.array(w) - b).max() for w, b in zip(m.get_weights(), before)]
        moved[scale][0] *= scale  # the layer's output moves scale x its stored weights
    np.testing.assert_allclose(moved[0.1][0], 0.1 * moved[1.0][0], rtol=1e-3)
    np.testing.assert_allclose(moved[0.1][1:], moved[1.0][1:], rtol=1e-3)
    frozen = build_model(dict(arch="GRU", units=4, embedding_lr_scale=0.1), 20, 4, glove)  # GloVe frozen: no-op
    assert type(frozen.get_layer("embedding")).__name__ == "Embedding"
