"""``model.semantics="tf_keras2"``: what the seeds' TensorFlow 2.x ``tf.keras`` computed, checked
against ``tf_keras`` (tf.keras 2.x, its legacy optimizers) and by training in ``fit``.

Backend-neutral: ``tests/test_backends.py`` runs this module again with ``KERAS_BACKEND=jax`` (tf_keras, the
reference, runs on TensorFlow in both). On JAX our models' step is ``jax.value_and_grad`` over
``stateless_call``; the sparse-gradient tests are TensorFlow's alone (JAX's gradients are dense: an
embedding row repeated in a batch is summed by construction)."""
import numpy as np
import pytest

from rnnsweep.models import build_model, cudnn

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")
import keras  # noqa: E402

from rnnsweep.semantics import LegacyAdam, LegacyRMSprop, PerStepGRUCell, PerStepLSTMCell  # noqa: E402

# Gradients from tiny to large: where Keras 3's √(ms + ε) and tf.keras 2.x's √ms + ε part ways.
ON_JAX = keras.backend.backend() == "jax"
tf_only = pytest.mark.skipif(ON_JAX, reason="IndexedSlices (sparse gradients) are TensorFlow's")
SCALES = np.array([1e-7, 1e-5, 1e-4, 1e-2, 1.0], dtype="float32")


def _gradients(steps=6, seed=0):
    rng = np.random.default_rng(seed)
    return [(SCALES * (1 + 0.5 * rng.standard_normal(SCALES.shape))).astype("float32") for _ in range(steps)]


def _run_keras3(opt, grads, start):
    v = keras.Variable(start.copy())
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), v)])
    return np.asarray(v.numpy())


def _run_tf2(opt, grads, start):
    v = tf.Variable(start.copy())
    for g in grads:
        opt.apply_gradients([(tf.constant(g), v)])
    return v.numpy()


def test_legacy_rmsprop_is_tf_keras2s_update():
    start, grads = np.ones(len(SCALES), "float32"), _gradients()
    ours = _run_keras3(LegacyRMSprop(learning_rate=1e-3), grads, start)
    theirs = _run_tf2(tf_keras.optimizers.legacy.RMSprop(learning_rate=1e-3), grads, start)
    np.testing.assert_allclose(ours - start, theirs - start, rtol=1e-5, atol=1e-7)
    # Keras 3's own RMSprop moves a weight with a 1e-7 gradient about 1000× less.
    stock = _run_keras3(keras.optimizers.RMSprop(learning_rate=1e-3), grads, start)
    assert abs(theirs[0] - start[0]) > 100 * abs(stock[0] - start[0])
    np.testing.assert_allclose(stock[-1] - start[-1], theirs[-1] - start[-1], rtol=1e-3)  # large gradients agree


@tf_only
def test_legacy_rmsprop_sparse_rows_with_repeats():
    """An embedding's gradient is IndexedSlices with repeated rows (a token twice in a batch):
    tf.keras 2.x summed the repeats before its update; so does LegacyRMSprop."""
    start = np.ones((4, 3), "float32")
    steps = [(np.array([0, 2, 0]), np.full((3, 3), 1e-4, "float32") * (k + 1)) for k in range(4)]
    v3, v2 = keras.Variable(start.copy()), tf.Variable(start.copy())
    ours, theirs = LegacyRMSprop(learning_rate=1e-2), tf_keras.optimizers.legacy.RMSprop(learning_rate=1e-2)
    for idx, vals in steps:
        ours.apply_gradients([(tf.IndexedSlices(tf.constant(vals), tf.constant(idx), tf.constant([4, 3])), v3)])
        theirs.apply_gradients([(tf.IndexedSlices(tf.constant(vals), tf.constant(idx), tf.constant([4, 3])), v2)])
    np.testing.assert_allclose(np.asarray(v3.numpy()), v2.numpy(), rtol=1e-5)
    assert (np.asarray(v3.numpy())[[1, 3]] == 1).all()  # rows never seen never move


@tf_only
def test_adam_dense_is_the_same_sparse_repeats_are_summed():
    """Seeds 000, 002 and 003 use Adam: Keras 3's dense update is tf.keras 2.x's; a sparse gradient
    with a repeated row is not (Keras 3 updates the row once per repeat), LegacyAdam's is."""
    start, grads = np.ones(len(SCALES), "float32"), _gradients(seed=1)
    ours = _run_keras3(keras.optimizers.Adam(learning_rate=1e-3), grads, start)
    theirs = _run_tf2(tf_keras.optimizers.legacy.Adam(learning_rate=1e-3), grads, start)
    np.testing.assert_allclose(ours - start, theirs - start, rtol=1e-4, atol=1e-8)
    moved = {}
    for name, opt, var in (("legacy", LegacyAdam(learning_rate=1e-2), keras.Variable),
                           ("keras3", keras.optimizers.Adam(learning_rate=1e-2), keras.Variable),
                           ("tf2", tf_keras.optimizers.legacy.Adam(learning_rate=1e-2), tf.Variable)):
        v = var(np.ones((4, 3), "float32"))
        for k in range(4):
            opt.apply_gradients([(tf.IndexedSlices(tf.constant(np.full((3, 3), 0.1 * (k + 1), "float32")),
                                                   tf.constant([0, 2, 0]), tf.constant([4, 3])), v)])
        moved[name] = 1 - np.asarray(v.numpy())
    np.testing.assert_allclose(moved["legacy"], moved["tf2"], rtol=1e-5)
    np.testing.assert_allclose(moved["keras3"][2], moved["tf2"][2], rtol=1e-5)  # a row seen once: the same
    assert moved["keras3"][0, 0] > 1.2 * moved["tf2"][0, 0]                      # a repeated row: moved more


def test_sgd_is_the_same_in_both():
    start, grads = np.ones(len(SCALES), "float32"), _gradients(seed=2)
    ours = _run_keras3(keras.optimizers.SGD(learning_rate=0.1), grads, start)
    theirs = _run_tf2(tf_keras.optimizers.legacy.SGD(learning_rate=0.1), grads, start)
    np.testing.assert_allclose(ours - start, theirs - start, rtol=1e-5, atol=1e-9)


def _step_change(semantics, **dropout):
    """Train (learning rate 0) a SimpleRNN whose state reaches a fixed point when its dropout masks
    hold still over time, through ``fit``: the loss is |h_T - h_T-1|, zero for constant masks."""
    keras.utils.set_random_seed(3)
    units, steps = 16, 48
    model = build_model(dict(arch="SimpleRNN", units=units, embedding_dim=units, semantics=semantics,
                             activation="linear", **dropout), vocab_size=4, maxlen=steps)
    emb, rnn = model.get_layer("embedding"), model.layers[2]
    emb.set_weights([np.ones((4, units), "float32")])
    kernel, recurrent, bias = rnn.get_weights()
    rnn.set_weights([np.eye(units, dtype="float32"), 0.25 * np.eye(units, dtype="float32"), bias * 0])
    tokens = keras.Input((steps,), dtype="int32")
    h = _with_sequences(rnn)(emb(tokens))
    m = keras.Model(tokens, keras.layers.Lambda(lambda h: keras.ops.abs(h[:, -1] - h[:, -2]))(h))
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mean_absolute_error")
    x, y = np.ones((64, steps), "int32"), np.zeros((64, units), "float32")
    return m.fit(x, y, batch_size=32, epochs=1, verbose=0).history["loss"][0]


def _with_sequences(rnn):
    """The same recurrent layer (same weights and cell), returning its whole sequence."""
    cfg = rnn.get_config()
    cfg["return_sequences"] = True
    layer = type(rnn).from_config(cfg)
    layer.build(rnn.input.shape)
    layer.set_weights(rnn.get_weights())
    return layer


@pytest.mark.parametrize("dropout", [dict(dropout=0.5), dict(recurrent_dropout=0.5)], ids=["input", "recurrent"])
def test_masks_are_drawn_per_timestep_inside_fit(dropout):
    assert _step_change("keras3", **dropout) == 0.0        # Keras 3: one mask per sequence
    assert _step_change("tf_keras2", **dropout) > 0.05     # tf.keras 2.x: a fresh mask at every timestep


@pytest.mark.parametrize("cell", [PerStepLSTMCell, PerStepGRUCell])
def test_lstm_and_gru_cells_draw_fresh_masks_per_gate(cell):
    c = cell(8, dropout=0.5, recurrent_dropout=0.5)
    c.build((None, 8))
    x = keras.ops.ones((4, 8))
    if ON_JAX:  # the masks of steps 0 and 1, from the sequence's key (see semantics._FreshMasks)
        c._key = c.seed_generator.next()
        (first, rec1), (second, rec2) = (c._step_masks(x, x, keras.ops.full((4, 1), t)) for t in (0, 1))
    else:       # a fresh draw at every call
        first, second = c.get_dropout_mask(x), c.get_dropout_mask(x)
        rec1, rec2 = c.get_recurrent_dropout_mask(x), c.get_recurrent_dropout_mask(x)
    assert len(first) == (4 if cell is PerStepLSTMCell else 3)  # one mask per gate, as tf.keras 2.x
    assert not np.array_equal(np.asarray(first[0]), np.asarray(second[0]))
    assert not np.array_equal(np.asarray(first[0]), np.asarray(first[1]))
    assert not np.array_equal(np.asarray(rec1[0]), np.asarray(rec2[0]))


def test_bidirectional_model_with_the_cells_saves_and_loads(tmp_path):
    spec = dict(arch="LSTM", units=4, layers=2, bidirectional=True, dropout=0.2, recurrent_dropout=0.2,
                optimizer="rmsprop", semantics="tf_keras2", embedding_dim=8)
    m = build_model(spec, vocab_size=50, maxlen=12)
    cells = [type(w.forward_layer.cell).__name__ + "/" + type(w.backward_layer.cell).__name__
             for w in m.layers if isinstance(w, keras.layers.Bidirectional)]
    assert cells == ["PerStepLSTMCell/PerStepLSTMCell"] * 2
    assert isinstance(m.optimizer, LegacyRMSprop)
    x = np.random.default_rng(0).integers(1, 50, (16, 12)).astype("int32")
    m.fit(x, np.arange(16) % 2, epochs=1, verbose=0)
    m.save(tmp_path / "m.keras")
    back = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    assert type(back.layers[2].backward_layer.cell).__name__ == "PerStepLSTMCell"
    assert isinstance(back.optimizer, LegacyRMSprop)


def test_where_tf_keras2_used_its_fused_kernel_nothing_changes():
    """tanh LSTM/GRU without recurrent dropout ran tf.keras 2.x's fused kernel (one mask per
    sequence): the stock layer stays, cuDNN-eligible; the generic loop says why it is not."""
    fused = build_model(dict(arch="GRU", units=4, dropout=0.3, semantics="tf_keras2"), 50, 12)
    assert type(fused.layers[2]).__name__ == "GRU"
    assert cudnn(dict(arch="GRU", dropout=0.3, semantics="tf_keras2")) == "yes"
    why = cudnn(dict(arch="LSTM", recurrent_dropout=0.2, semantics="tf_keras2"))
    assert why.startswith("no (") and "per-timestep dropout masks" in why
    assert cudnn(dict(arch="LSTM", recurrent_dropout=0.2)) == "no (recurrent_dropout=0.2)"


def _one_step(theirs, their_opt, ours: list, x, y, training: bool):
    """One training step on the same batch: tf_keras's model with its optimizer, and each of ours with its own."""
    with tf.GradientTape() as tape:
        loss = tf_keras.losses.BinaryCrossentropy()(y, theirs(x, training=training))
    their_opt.apply_gradients(zip(tape.gradient(loss, theirs.trainable_variables), theirs.trainable_variables))
    for model in ours:
        model.optimizer.apply_gradients(zip(_our_gradients(model, x, y, training), model.trainable_variables))


def _our_gradients(model, x, y, training: bool):
    if not ON_JAX:
        with tf.GradientTape() as tape:
            loss = keras.losses.BinaryCrossentropy()(y, model(x, training=training))
        return tape.gradient(loss, [v.value for v in model.trainable_variables])
    import jax

    fixed = [v.value for v in model.non_trainable_variables]

    def loss(trainable):
        pred, _ = model.stateless_call(trainable, fixed, x, training=training)
        return keras.losses.BinaryCrossentropy()(y, pred)
    return jax.grad(loss)([v.value for v in model.trainable_variables])


@pytest.mark.parametrize("arch,bidirectional", [("LSTM", False), ("GRU", False), ("LSTM", True)])
def test_seed004s_model_trains_as_tf_keras2s_step_for_step(arch, bidirectional):
    """The whole seed-004 model (embedding, two recurrent layers with dropout, RMSprop), the same
    weights and batches, dropout off so both draw nothing: gradients, the sparse embedding update
    (tokens repeated in a batch) and the optimizer, step for step, leave tf_keras 2's weights under
    tf.keras 2 semantics, and not under Keras 3's (which moves embedding rows by another amount)."""

    rng = np.random.default_rng(0)
    vocab, maxlen = 300, 12
    spec = dict(arch=arch, units=8, layers=2, dropout=0.5, recurrent_dropout=0.2, output_dropout=0.5,
                embedding_dim=16, optimizer="rmsprop", learning_rate=1e-3, bidirectional=bidirectional)
    layers = tf_keras.layers
    tf_keras.utils.set_random_seed(1)
    rnn = layers.GRU if arch == "GRU" else layers.LSTM
    wrap = layers.Bidirectional if bidirectional else (lambda layer: layer)
    theirs = tf_keras.Sequential([tf_keras.Input(shape=(maxlen,)), layers.Embedding(vocab, 16),
                                  wrap(rnn(8, dropout=0.5, recurrent_dropout=0.2, return_sequences=True)),
                                  wrap(rnn(8, dropout=0.5, recurrent_dropout=0.2)), layers.Dropout(0.5),
                                  layers.Dense(1, activation="sigmoid")])
    their_opt = tf_keras.optimizers.legacy.RMSprop(learning_rate=1e-3)
    start = theirs.get_weights()
    ours = {}
    for semantics in ("tf_keras2", "keras3"):
        ours[semantics] = build_model({**spec, "semantics": semantics}, vocab, maxlen)
        ours[semantics].set_weights(start)
    for _ in range(4):
        x = rng.integers(1, vocab, size=(64, maxlen)).astype("int32")
        x[:, :3] = rng.integers(1, 10, size=(64, 3))  # tokens repeated within the batch
        y = rng.integers(0, 2, size=(64, 1)).astype("float32")
        _one_step(theirs, their_opt, list(ours.values()), x, y, training=False)
    want = theirs.get_weights()
    moved = max(np.abs(a - b).max() for a, b in zip(want, start))
    gap = {s: max(np.abs(a - b).max() for a, b in zip(m.get_weights(), want)) for s, m in ours.items()}
    assert moved > 1e-3
    assert gap["tf_keras2"] < 1e-6, gap  # float32 round-off
    assert gap["keras3"] > 0.1 * moved, gap


def test_seed001s_simplernn2_at_maxlen_200_trains_as_tf_keras2s_step_for_step():
    """Seed 001's SimpleRNN(2) at maxlen 200 (Embedding(2000, 50), kernel RandomNormal(0.001), RMSprop
    1e-4), where rnnsweep's runs learned for seeds where the seed's code on tf.keras 2 did not (issue
    26): from the same weights, on the same real-shaped batches (post-padded), the two take the same
    steps. What differs between the two sides is the initial weights each seed draws
    (reproduction/experiments/simplernn2.py), not the step."""
    rng = np.random.default_rng(1)
    vocab, maxlen = 2000, 200
    spec = dict(arch="SimpleRNN", units=2, embedding_dim=50, kernel_initializer="random_normal", init_stddev=0.001,
                optimizer="rmsprop", learning_rate=1e-4, semantics="tf_keras2")
    layers = tf_keras.layers
    tf_keras.utils.set_random_seed(1)
    kernel = tf_keras.initializers.RandomNormal(stddev=0.001)
    theirs = tf_keras.Sequential([tf_keras.Input(shape=(maxlen,)), layers.Embedding(vocab, 50),
                                  layers.SimpleRNN(2, kernel_initializer=kernel),
                                  layers.Dense(1, activation="sigmoid")])
    their_opt = tf_keras.optimizers.legacy.RMSprop(learning_rate=1e-4)
    mine = build_model(spec, vocab, maxlen)
    start = theirs.get_weights()
    mine.set_weights(start)
    for _ in range(5):
        lengths = rng.integers(20, maxlen, size=64)
        x = np.where(np.arange(maxlen) < lengths[:, None], rng.integers(1, vocab, size=(64, maxlen)), 0).astype("int32")
        y = rng.integers(0, 2, size=(64, 1)).astype("float32")
        _one_step(theirs, their_opt, [mine], x, y, training=True)
    want = theirs.get_weights()
    moved = max(np.abs(a - b).max() for a, b in zip(want, start))
    gap = max(np.abs(a - b).max() for a, b in zip(mine.get_weights(), want))
    assert moved > 1e-4 and gap < 1e-3 * moved, (moved, gap)


def test_tf_keras2_itself_draws_masks_per_timestep_in_graph_mode():
    """What the semantics copies, shown on tf_keras 2 itself: inside a tf.function (as ``fit`` runs it)
    an RNN's input dropout mask changes from timestep to timestep; eagerly it holds for the sequence."""
    import tensorflow as tf

    tf_keras.utils.set_random_seed(3)
    layer = tf_keras.layers.SimpleRNN(16, dropout=0.5, activation=None, use_bias=False, return_sequences=True,
                                      kernel_initializer="identity", recurrent_initializer="zeros")
    x = np.ones((1, 6, 16), "float32")  # each output step is that step's masked input

    def kept(seq):
        return {tuple(step != 0) for step in seq[0]}
    assert len(kept(tf.function(lambda v: layer(v, training=True))(x).numpy())) > 1
    assert len(kept(layer(x, training=True).numpy())) == 1
