"""Why JAX's SimpleRNN rows of seed 001 sit below TensorFlow's: one suspect measured. Keras 3 on TensorFlow
hands an embedding's gradient to the optimizer as IndexedSlices, one slice per occurrence of a token in the
batch; on JAX it is a dense array, a repeated token's rows already summed. RMSprop squares the gradient:
per occurrence, or of the sum. From the same initial weights and the same 20 batches (seed 001's
SimpleRNN(10), RMSprop 1e-4), each backend in its own process, this writes how far the two backends'
weights end apart, relative to how far they moved, with every token once per batch and with repeats.

    python -m reproduction.experiments.backend_rows     # → reproduction/results/backend_rows.csv
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "reproduction" / "results" / "backend_rows.csv"
STEPS, MAXLEN, ROWS = 20, 10, 3000

ONE = """
import os, runpy, sys, numpy as np
import keras
from rnnsweep.models import build_model
from rnnsweep.sweep import expand, select
SWEEP = runpy.run_path({root!r} + "/sweeps/imdb_grid.py")["SWEEP"]
t = select(expand(SWEEP), "SimpleRNN-10-bs64-seed1")[0]
keras.utils.set_random_seed(1)
m = build_model(t.model, 10000, {maxlen})
start = sys.argv[1]
if os.path.exists(start):
    z = np.load(start); m.set_weights([z[f"arr_{{i}}"] for i in range(len(z.files))])
else:
    np.savez(start, *m.get_weights())
rng = np.random.default_rng(0)
for _ in range({steps}):
    once = rng.permutation(np.arange(1, {rows}))[:64 * {maxlen}].reshape(64, {maxlen})
    x = once if sys.argv[2] == "once" else rng.integers(1, {rows}, (64, {maxlen}))
    m.train_on_batch(x.astype("int32"), rng.integers(0, 2, 64).astype("float32"))
np.savez(sys.argv[3], *m.get_weights())
"""


def main():
    import numpy as np

    code = ONE.format(root=str(ROOT), maxlen=MAXLEN, steps=STEPS, rows=ROWS)
    out = []
    with tempfile.TemporaryDirectory() as d:
        start = os.path.join(d, "start.npz")
        for tokens in ("once", "repeated"):
            ends = {}
            for backend in ("tensorflow", "jax"):  # TensorFlow first: it writes the shared initial weights
                ends[backend] = os.path.join(d, f"{tokens}-{backend}.npz")
                subprocess.run([sys.executable, "-c", code, start, tokens, ends[backend]], check=True,
                               env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
                               capture_output=True)
            a, b, z = (np.load(p) for p in (ends["tensorflow"], ends["jax"], start))
            for i, name in enumerate(("embedding", "kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")):
                k = f"arr_{i}"
                out.append(dict(tokens=tokens, weight=name, steps=STEPS,
                                apart=float(np.abs(a[k] - b[k]).max()), moved=float(np.abs(b[k] - z[k]).max())))
    with open(OUT, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
