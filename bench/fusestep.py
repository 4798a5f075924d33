"""Benchmark 9, continued — why a fused group is slower than its members one by one on a CPU (issue 28).

``--part inprocess``: 4 seeds of seed 001's SimpleRNN(5) at maxlen 200 (3 epochs on 10,000 reviews) in one
process, no Ray: one by one (``run_trial``) or fused (``fused.train_group``), XLA multi-threaded (default)
or single-threaded, on a quiet machine and beside a busy loop on the other core. Seconds per member-epoch
(epochs 2-3), each run a fresh process, the variants alternated.

``--part step``: the fused jitted train step alone (``fused._steps``), 1 member against 4, at maxlen 50 to
400: milliseconds per step, the median of 35 steps after 5 warm ones, k = 1 and k = 4 alternated twice in
one process.

    RNNSWEEP_DATA=../shared/data KERAS_BACKEND=jax python -m bench.fusestep --part inprocess --rounds 2
    RNNSWEEP_DATA=../shared/data KERAS_BACKEND=jax python -m bench.fusestep --part step
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench.common import in_fresh_process, machine, median, record, seed_trial, table

NAME = "SimpleRNN-5-bs64-maxlen200-seed1"
ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _trial(maxlen: int, **training):
    t = seed_trial("imdb_grid", NAME, epochs=3, limit_train=10_000, limit_test=1000, **training)
    return t.changed(training={"backend": "jax"}, dataset={"maxlen": maxlen})


def one_inprocess(way: str, k: int) -> dict:
    from rnnsweep import text

    t = _trial(200)
    p = text.prepare(t.dataset)
    configs = [t.changed(training={"seed": s}) for s in range(1, k + 1)]
    if way == "fused":
        from rnnsweep.fused import train_group

        per = [h["seconds"] / k for h in train_group(configs, p)[0]["history"][1:]]
    else:
        from rnnsweep.trial import run_trial

        per = [h["seconds"] for c in configs for h in run_trial(c, p)["history"][1:]]
    return {"member_epoch_seconds": median(per)}


def inprocess_part(rounds: int, k: int = 4):
    got = {}
    for rnd in range(rounds):
        for busy in (False, True):
            hog = subprocess.Popen(["sh", "-c", "exec yes > /dev/null"], start_new_session=True) if busy else None
            try:
                for way, xla in (("one by one", ""), ("fused", ""), ("fused", ONE_THREAD)):
                    os.environ["XLA_FLAGS"] = xla
                    r = in_fresh_process("fusestep", "inprocess", "fused" if way == "fused" else "solo", str(k))
                    label = (way, "single-threaded" if xla else "default", "busy core" if busy else "quiet")
                    got.setdefault(label, []).append(r["member_epoch_seconds"])
                    record("fusestep_inprocess", {"round": rnd + 1, "way": way, "xla": label[1], "beside": label[2],
                                                  "k": k, **r})
                    print(rnd + 1, *label, f"{r['member_epoch_seconds']:.2f} s", flush=True)
            finally:
                os.environ.pop("XLA_FLAGS", None)
                if hog:
                    hog.kill()
    print(f"\n{machine()}; {k} seeds of SimpleRNN(5), maxlen 200, in one process; s per member-epoch, medians of "
          f"{rounds}\n")
    print(table(["way", "XLA threads", "beside", "s per member-epoch"], [[*k_, median(v)] for k_, v in got.items()]))


def one_step(maxlen: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from rnnsweep import text
    from rnnsweep import keras_private
    from rnnsweep.fused import _stack, _state, _steps
    from rnnsweep.trial import seeded_model

    t = _trial(maxlen)
    p = text.prepare(t.dataset)
    models = []
    for s in range(1, 5):
        train, _, m = seeded_model(t.changed(training={"seed": s}), p, {})
        keras_private.symbolic_build(m, keras_private.jax_epoch_iterator(*train, 64))
        models.append(m)
    blank = [v.value for v in models[0].metrics_variables]
    out = {}
    for k in (1, 4, 1, 4):
        step, _ = _steps(models[0])
        state, active = _stack([_state(m)[:3] + (blank,) for m in models[:k]]), jnp.ones((k,), bool)
        rng, times = np.random.default_rng(0), []
        for _ in range(40):
            idx = rng.integers(0, len(train[0]), (k, 64))
            t0 = time.perf_counter()
            state, _ = step(state, train[0][idx], train[1][idx], active)
            jax.block_until_ready(state)
            times.append(time.perf_counter() - t0)
        out.setdefault(f"k{k}", []).append(1000 * median(times[5:]))
    return {f"ms_{k}": median(v) for k, v in out.items()}


def step_part(maxlens=(50, 100, 200, 400)):
    rows = []
    for maxlen in maxlens:
        r = in_fresh_process("fusestep", "step", str(maxlen))
        record("fusestep_step", {"maxlen": maxlen, **r})
        rows.append([maxlen, r["ms_k1"], r["ms_k4"], r["ms_k4"] / r["ms_k1"]])
        print(rows[-1], flush=True)
    print(f"\n{machine()}; the fused train step of SimpleRNN(5), batch 64 a member: ms per step\n")
    print(table(["maxlen", "1 member", "4 members", "4 ÷ 1"], rows))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("inprocess", "step"), default="step")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        what, *rest = args.one
        print(json.dumps(one_inprocess(rest[0], int(rest[1])) if what == "inprocess" else one_step(int(rest[0]))))
    elif args.part == "inprocess":
        inprocess_part(args.rounds)
    else:
        step_part()


if __name__ == "__main__":
    sys.exit(main())
