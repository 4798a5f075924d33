"""Benchmark 5 — dataset sharing: k = 1, 2, 4 concurrent trials on one large prepared dataset
(seed 004's: Keras's IMDB encoding, 10,000 words, maxlen 500), each in its own Ray worker reading
the dataset from the object store as rnnsweep's trials do. Each worker's private memory (USS)
is read when its first epoch ends (training and validation input pipelines built); the same runs
on a tenth of the rows say what is the dataset's and what is TensorFlow's own. Copies added =
(growth on the full dataset − growth on the tenth) / (0.9 × bytes of the arrays fit was given).

Two ways of feeding ``fit``, alternated: ``shared`` (what ``trial.run_trial`` does: batches gathered
from the shared arrays in Keras's own order, ``trial.shared_batches``) and ``arrays`` (the arrays
handed to ``fit``, which Keras's adapter copies into TensorFlow tensors). USS is read twice: at the
end of the first epoch, and after the first training batch. A copy of the dataset that fit makes is
there by the first batch already; what TensorFlow and glibc keep batch after batch is not, and it
moves the end-of-epoch figure by ±0.5 of a copy from one round to the next (measured), so the
first-batch figure is the one that says whether the data was copied.

    RNNSWEEP_DATA=../shared/data python -m bench.sharing                      # ~8 min on 2 cores
    python -m bench.sharing --rounds 3                                        # medians over 3 rounds
"""
from __future__ import annotations

import time

from bench.common import machine, record, table

DATASET = dict(source="keras_imdb", num_words=10_000, split="official", maxlen=500)
MODEL = dict(arch="bag", units=1, layers=0)  # the cheapest model: the input pipeline is what is measured


def probe(prepared, rows, shared=True):
    """One worker's trial, as ``cluster.remote_trial`` and ``trial.run_trial`` do it, with a memory probe."""
    import psutil

    from rnnsweep.trial import configure_tf, shared_batches, split_validation

    configure_tf(1)
    import keras

    from rnnsweep.models import build_model

    me = psutil.Process()
    keras.utils.set_random_seed(1)
    train, val = split_validation(prepared.x_train[:rows], prepared.y_train[:rows], 0.2)
    model = build_model(MODEL, prepared.vocab_size, train[0].shape[1])
    before = me.memory_full_info().uss
    seen = {}
    probe_cb = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: seen.update(uss=me.memory_full_info().uss),
        on_train_batch_end=lambda b, logs: b == 0 and seen.update(first=me.memory_full_info().uss))
    if shared:
        model.fit(shared_batches(*train, 512, shuffle=True), validation_data=shared_batches(*val, 512, shuffle=False),
                  epochs=1, verbose=0, callbacks=[probe_cb], shuffle=False)
    else:
        model.fit(*train, validation_data=val, batch_size=512, epochs=1, verbose=0, callbacks=[probe_cb])
    return {"growth": seen["uss"] - before, "first_batch": seen["first"] - before,
            "fit_bytes": sum(a.nbytes for a in (*train, *val)),
            "zero_copy": not prepared.x_train.flags.writeable and not prepared.x_train.flags.owndata}


def run(k: int, fraction: float, way: str) -> dict:
    import ray

    from rnnsweep import text

    prepared = text.prepare(DATASET)
    rows = int(len(prepared.x_train) * fraction)
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ref = ray.put(prepared)
        task = ray.remote(num_cpus=1, max_calls=1)(probe)
        out = ray.get([task.remote(ref, rows, way != "arrays") for _ in range(k)])
    finally:
        ray.shutdown()
    return {"k": k, "fraction": fraction, "growth_mb": sum(o["growth"] for o in out) / 2**20,
            "first_batch_mb": sum(o["first_batch"] for o in out) / 2**20,
            "fit_mb": out[0]["fit_bytes"] / 2**20, "dataset_mb": sum(a.nbytes for a in (
                prepared.x_train, prepared.y_train, prepared.x_test, prepared.y_test)) / 2**20,
            "zero_copy": all(o["zero_copy"] for o in out)}


def main(argv=None):
    import argparse
    import statistics

    p = argparse.ArgumentParser()
    p.add_argument("--k", default="1,2,4", help="concurrent workers")
    p.add_argument("--ways", default="shared,arrays", help="ways of feeding fit, alternated")
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args(argv)
    ways, ks = a.ways.split(","), [int(k) for k in a.k.split(",")]
    copies: dict = {}
    for r in range(a.rounds):
        for k in ks:
            for way in ways:  # alternated
                full, tenth = run(k, 1.0, way), run(k, 0.1, way)
                c = (full["growth_mb"] - tenth["growth_mb"]) / (0.9 * full["fit_mb"])
                first = (full["first_batch_mb"] - tenth["first_batch_mb"]) / (0.9 * full["fit_mb"])
                record("sharing_rounds", {"k": k, "growth_full_mb": full["growth_mb"],
                                        "growth_tenth_mb": tenth["growth_mb"], "fit_mb": full["fit_mb"],
                                        "dataset_mb": full["dataset_mb"], "copies_added": c,
                                        "zero_copy": full["zero_copy"], "at": time.time(), "way": way,
                                        "round": r, "first_batch_full_mb": full["first_batch_mb"],
                                        "first_batch_tenth_mb": tenth["first_batch_mb"],
                                        "copies_at_first_batch": first})
                copies.setdefault((k, way), []).append((c, first))
                print(f"round {r} k={k} {way}: {c:.2f} copies added by {k} workers ({first:.2f} at the first batch)",
                      flush=True)
    rows = [[k, way, len(v), statistics.median(x[0] for x in v), statistics.median(x[0] for x in v) / k,
             statistics.median(x[1] for x in v)] for (k, way), v in copies.items()]
    print(f"\n{machine()}; copies of the arrays fit was given ({full['fit_mb']:.1f} MB), medians over rounds\n")
    print(table(["k workers", "fit fed", "rounds", "copies added, all workers", "per worker",
                 "at the first batch, all workers"], rows))


if __name__ == "__main__":
    main()
