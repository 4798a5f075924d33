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
first-batch figure is the one that says whether the data was copied. ``shared_mmap`` is ``shared``
in workers whose glibc returns every freed block of 128 KB or more to the system at once
(``MALLOC_MMAP_THRESHOLD_``): what glibc keeps of the freed batch buffers then no longer counts.

    RNNSWEEP_DATA=../shared/data python -m bench.sharing                      # ~8 min on 2 cores
    python -m bench.sharing --rounds 3                                        # medians over 3 rounds
    python -m bench.sharing --trace 6 --rounds 2                              # memory epoch by epoch
"""
from __future__ import annotations

import time

from bench.common import machine, record, table

DATASET = dict(source="keras_imdb", num_words=10_000, split="official", maxlen=500)
MODEL = dict(arch="bag", units=1, layers=0)  # the cheapest model: the input pipeline is what is measured


def anonymous() -> int:
    """Bytes of this process's anonymous memory (heap, TF's buffers): never the object store's
    shared pages, which USS counts as private once no other process has them mapped."""
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) * 1024
    return 0


def probe(prepared, rows, shared=True):
    """One worker's trial, as ``task.remote_trial`` and ``trial.run_trial`` do it, with a memory probe."""
    import psutil

    from rnnsweep.worker import configure_tf
    from rnnsweep.trial import shared_batches, split_validation

    configure_tf(1)
    import keras

    from rnnsweep.models import build_model

    me = psutil.Process()
    keras.utils.set_random_seed(1)
    train, val = split_validation(prepared.x_train[:rows], prepared.y_train[:rows], 0.2)
    model = build_model(MODEL, prepared.vocab_size, train[0].shape[1])
    before, anon = me.memory_full_info().uss, anonymous()
    seen = {}
    probe_cb = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: seen.update(uss=me.memory_full_info().uss, anon=anonymous()),
        on_train_batch_end=lambda b, logs: b == 0 and seen.update(first=me.memory_full_info().uss,
                                                                  first_anon=anonymous()))
    if shared:
        model.fit(shared_batches(*train, 512, shuffle=True), validation_data=shared_batches(*val, 512, shuffle=False),
                  epochs=1, verbose=0, callbacks=[probe_cb], shuffle=False)
    else:
        model.fit(*train, validation_data=val, batch_size=512, epochs=1, verbose=0, callbacks=[probe_cb])
    return {"growth": seen["uss"] - before, "first_batch": seen["first"] - before,
            "anon_growth": seen["anon"] - anon, "anon_first_batch": seen["first_anon"] - anon,
            "fit_bytes": sum(a.nbytes for a in (*train, *val)),
            "zero_copy": not prepared.x_train.flags.writeable and not prepared.x_train.flags.owndata}


def trace_probe(prepared, epochs: int, shared: bool) -> list[float]:
    """One worker's anonymous memory (MB) at the end of each of ``epochs`` epochs on the whole dataset:
    a copy is there from the first epoch on; a leak would grow by the same amount every epoch."""
    from rnnsweep.worker import configure_tf
    from rnnsweep.trial import shared_batches, split_validation

    configure_tf(1)
    import keras

    from rnnsweep.models import build_model

    keras.utils.set_random_seed(1)
    train, val = split_validation(prepared.x_train, prepared.y_train, 0.2)
    model = build_model(MODEL, prepared.vocab_size, train[0].shape[1])
    seen = [anonymous() / 2**20]
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(anonymous() / 2**20))
    if shared:
        model.fit(shared_batches(*train, 512, shuffle=True), validation_data=shared_batches(*val, 512, shuffle=False),
                  epochs=epochs, verbose=0, callbacks=[cb], shuffle=False)
    else:
        model.fit(*train, validation_data=val, batch_size=512, epochs=epochs, verbose=0, callbacks=[cb])
    return seen


def trace(epochs: int, rounds: int):
    """``--trace``: anonymous memory epoch by epoch, both ways alternated, one worker each."""
    import ray

    from rnnsweep import text

    prepared = text.prepare(DATASET)
    for r in range(rounds):
        for way in ("shared", "arrays"):
            ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
            try:
                seen = ray.get(ray.remote(num_cpus=1, max_calls=1)(trace_probe).remote(
                    ray.put(prepared), epochs, way == "shared"))
            finally:
                ray.shutdown()
            at = time.time()
            for e, v in enumerate(seen):  # epoch 0: before fit
                record("sharing_trace", {"epochs_run": epochs, "round": r, "way": way, "at": at, "epoch": e,
                                         "anonymous_mb": round(v, 1)})
            print(f"round {r} {way:<7} anonymous MB before fit, then at each epoch's end: "
                  + ", ".join(f"{v:.0f}" for v in seen), flush=True)


def run(k: int, fraction: float, way: str) -> dict:
    import ray

    from rnnsweep import text

    prepared = text.prepare(DATASET)
    rows = int(len(prepared.x_train) * fraction)
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ref = ray.put(prepared)
        env = {"env_vars": {"MALLOC_MMAP_THRESHOLD_": "131072"}} if way == "shared_mmap" else None
        task = ray.remote(num_cpus=1, max_calls=1, runtime_env=env)(probe)
        out = ray.get([task.remote(ref, rows, way != "arrays") for _ in range(k)])
    finally:
        ray.shutdown()
    return {"k": k, "fraction": fraction, "growth_mb": sum(o["growth"] for o in out) / 2**20,
            "first_batch_mb": sum(o["first_batch"] for o in out) / 2**20,
            "anon_mb": sum(o["anon_growth"] for o in out) / 2**20,
            "anon_first_batch_mb": sum(o["anon_first_batch"] for o in out) / 2**20,
            "fit_mb": out[0]["fit_bytes"] / 2**20, "dataset_mb": sum(a.nbytes for a in (
                prepared.x_train, prepared.y_train, prepared.x_test, prepared.y_test)) / 2**20,
            "zero_copy": all(o["zero_copy"] for o in out)}


def main(argv=None):
    import argparse
    import statistics

    p = argparse.ArgumentParser()
    p.add_argument("--k", default="1,2,4", help="concurrent workers")
    p.add_argument("--ways", default="shared,arrays", help="ways of feeding fit, alternated (also: shared_mmap)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--trace", type=int, default=None, metavar="EPOCHS",
                   help="instead: one worker's anonymous memory at each of EPOCHS epochs' end, both ways")
    a = p.parse_args(argv)
    if a.trace:
        return trace(a.trace, a.rounds)
    ways, ks = a.ways.split(","), [int(k) for k in a.k.split(",")]
    copies: dict = {}
    for r in range(a.rounds):
        for k in ks:
            for way in ways:  # alternated
                full, tenth = run(k, 1.0, way), run(k, 0.1, way)
                c = (full["growth_mb"] - tenth["growth_mb"]) / (0.9 * full["fit_mb"])
                first = (full["first_batch_mb"] - tenth["first_batch_mb"]) / (0.9 * full["fit_mb"])
                anon = (full["anon_mb"] - tenth["anon_mb"]) / (0.9 * full["fit_mb"])
                anon_first = (full["anon_first_batch_mb"] - tenth["anon_first_batch_mb"]) / (0.9 * full["fit_mb"])
                record("sharing_anon", {"k": k, "growth_full_mb": full["growth_mb"],
                                        "growth_tenth_mb": tenth["growth_mb"], "fit_mb": full["fit_mb"],
                                        "dataset_mb": full["dataset_mb"], "copies_added": c,
                                        "zero_copy": full["zero_copy"], "at": time.time(), "way": way,
                                        "round": r, "first_batch_full_mb": full["first_batch_mb"],
                                        "first_batch_tenth_mb": tenth["first_batch_mb"],
                                        "copies_at_first_batch": first, "anon_copies_added": anon,
                                        "anon_copies_at_first_batch": anon_first})
                copies.setdefault((k, way), []).append((c, first, anon, anon_first))
                print(f"round {r} k={k} {way}: {c:.2f} copies added by {k} workers ({first:.2f} at the first batch); "
                      f"anonymous memory: {anon:.2f} ({anon_first:.2f})", flush=True)
    rows = [[k, way, len(v), *(statistics.median(x[i] for x in v) for i in range(4)),
             statistics.median(x[2] for x in v) / k] for (k, way), v in copies.items()]
    print(f"\n{machine()}; copies of the arrays fit was given ({full['fit_mb']:.1f} MB), medians over rounds\n")
    print(table(["k workers", "fit fed", "rounds", "USS: copies added, all workers", "at the first batch",
                 "anonymous memory: copies added", "at the first batch", "anonymous, per worker"], rows))


if __name__ == "__main__":
    main()
