"""Benchmark 1b — levers for seed 000's GRU-128/bs128 on this CPU, each computing the same model:
Keras's GRU as is; the same GRU with its input projection done once for all timesteps and a
hand-written backward pass whose weight gradients are one matmul each (``FusedGRU`` below, checked
against Keras's GRU: same weights → same outputs and gradients); XLA (``jit_compile``); ``unroll``;
32 steps per execution (``steps_per_execution``); and, changing the numbers, ``mixed_bfloat16``.
Fresh process per run, alternated.

    RNNSWEEP_DATA=../shared/data python -m bench.levers            # ~6 min on 2 cores
"""
from __future__ import annotations

import argparse
import json
import time

from bench.common import in_fresh_process, machine, median, record, seed_trial, table

LEVERS = ("keras", "fused", "jit", "unroll", "bfloat16", "steps32")


def fused_gru(units, activation, kernel_initializer):
    """A GRU layer (reset_after, no mask, no dropout) with Keras's weights and function."""
    import tensorflow as tf
    from keras import layers, ops

    act, dact = {"relu": (ops.relu, lambda a, y: ops.cast(a > 0, a.dtype)),
                 "tanh": (ops.tanh, lambda a, y: 1 - y * y)}[activation]

    def recurrence(x_all, R, rb):
        u = R.shape[0]

        @tf.custom_gradient
        def run(x_all, R, rb):
            xs = tf.transpose(x_all, [1, 0, 2])
            zeros = tf.zeros_like(x_all[:, 0, :u])
            init = (zeros, zeros, tf.zeros_like(x_all[:, 0, :2 * u]), zeros, zeros, zeros)

            def step(c, x):
                h = c[0]
                m = h @ R + rb
                zr = tf.sigmoid(x[:, :2 * u] + m[:, :2 * u])
                a = x[:, 2 * u:] + zr[:, u:] * m[:, 2 * u:]
                hh = act(a)
                return (zr[:, :u] * h + (1 - zr[:, :u]) * hh, h, zr, m[:, 2 * u:], a, hh)

            H, Hp, ZR, MH, A, HH = tf.scan(step, xs, initializer=init)

            def grad(dy):
                z3 = tf.zeros_like(x_all[:, 0, :])

                def back(c, x):
                    dh, hp, zr, mh, a, hh = c[0], *x
                    z, r = zr[:, :u], zr[:, u:]
                    da = dh * (1 - z) * dact(a, hh)
                    dzr = tf.concat([dh * (hp - hh), da * mh], -1) * zr * (1 - zr)
                    dm = tf.concat([dzr, da * r], -1)
                    return (dh * z + dm @ tf.transpose(R), tf.concat([dzr, da], -1), dm)

                dys = tf.zeros_like(H)
                _, DX, DM = tf.scan(lambda c, x: back((c[0] + x[0], c[1], c[2]), x[1:]), (dys, Hp, ZR, MH, A, HH),
                                    initializer=(dy, z3, z3), reverse=True)
                dR = tf.matmul(tf.reshape(Hp, (-1, u)), tf.reshape(DM, (-1, 3 * u)), transpose_a=True)
                return tf.transpose(DX, [1, 0, 2]), dR, tf.reduce_sum(DM, axis=(0, 1))

            return H[-1], grad

        return run(x_all, R, rb)

    class FusedGRU(layers.Layer):
        def build(self, shape):
            self.kernel = self.add_weight(shape=(shape[-1], 3 * units), initializer=kernel_initializer, name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(units, 3 * units), initializer="orthogonal",
                                                    name="recurrent_kernel")
            self.bias = self.add_weight(shape=(2, 3 * units), initializer="zeros", name="bias")

        def call(self, x):
            return recurrence(ops.matmul(x, self.kernel) + self.bias[0], tf.identity(self.recurrent_kernel),
                              self.bias[1])

        def compute_output_shape(self, s):
            return (s[0], units)

    return FusedGRU()


def one(lever: str) -> dict:
    import keras
    from keras import layers

    from rnnsweep import text

    trial = seed_trial("imdb_grid", "GRU-128-bs128", epochs=2, limit_train=10_000)
    p = text.prepare(trial.dataset)
    if lever == "bfloat16":
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    keras.utils.set_random_seed(1)
    rnn = fused_gru(128, "relu", "he_normal") if lever == "fused" else \
        layers.GRU(128, activation="relu", kernel_initializer="he_normal", unroll=lever == "unroll")
    model = keras.Sequential([keras.Input(shape=(p.x_train.shape[1],)),
                              layers.Embedding(*p.embedding.shape, weights=[p.embedding], trainable=False), rnn,
                              layers.Dense(128, activation="relu", kernel_initializer="he_normal"),
                              layers.Dense(1, activation="sigmoid", dtype="float32")])
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy", metrics=["accuracy"],
                  jit_compile=lever == "jit", steps_per_execution=32 if lever == "steps32" else 1)
    t0 = time.perf_counter()
    model.fit(p.x_train[:10_000], p.y_train[:10_000], epochs=2, batch_size=128, validation_split=0.2, verbose=0)
    return {"samples_per_second": 8000 * 2 / (time.perf_counter() - t0)}


def check_fused() -> float:
    """Largest relative difference between Keras's GRU and FusedGRU (same weights): outputs and gradients."""
    import keras
    import numpy as np
    import tensorflow as tf
    from keras import layers

    x = np.random.default_rng(0).normal(size=(64, 30, 50)).astype("float32")
    keras.utils.set_random_seed(1)
    ref, mine = layers.GRU(128, activation="relu", kernel_initializer="he_normal"), fused_gru(128, "relu", "he_normal")
    ref.build(x.shape)
    mine.build(x.shape)
    mine.set_weights(ref.get_weights())
    worst = 0.0
    for layer in (ref, mine):
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        layer.out = (y.numpy(), [g.numpy() for g in tape.gradient(loss, layer.trainable_weights)])
    for a, b in zip([ref.out[0]] + ref.out[1], [mine.out[0]] + mine.out[1]):
        worst = max(worst, float(np.abs(a - b).max() / (np.abs(a).max() + 1e-12)))
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--levers", default=",".join(LEVERS))
    ap.add_argument("--one", nargs=1, metavar="LEVER", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0]) if args.one[0] != "check" else {"max_rel_diff": check_fused()}))
        return
    print(f"FusedGRU vs Keras's GRU, same weights: max relative difference "
          f"{in_fresh_process('levers', 'check')['max_rel_diff']:.1e}", flush=True)
    levers = args.levers.split(",")
    runs = {lv: [] for lv in levers}
    for rnd in range(args.rounds):
        for lever in levers if rnd % 2 == 0 else levers[::-1]:
            r = in_fresh_process("levers", lever)
            runs[lever].append(r["samples_per_second"])
            record("levers", {"round": rnd + 1, "lever": lever, **r})
            print(f"round {rnd + 1} {lever:<9} {r['samples_per_second']:7.0f} samples/s", flush=True)
    base = median(runs["keras"])
    print(f"\n{machine()}; seed 000 GRU-128/bs128, 8,000 training reviews × 2 epochs, samples/s over fit\n")
    print(table(["lever", "samples/s", "÷ Keras's GRU", "rounds"],
                [[lv, median(runs[lv]), median(runs[lv]) / base, len(runs[lv])] for lv in levers]))


if __name__ == "__main__":
    main()
