"""Benchmark 7 — searching: seed 002's search space (names, bidirectional LSTM; embedding width, units
and learning rate drawn), the same trial count and maximum epochs, three ways, each a fresh process,
alternated, over several search seeds:

- random:   rnnsweep, Optuna's random sampler, every trial to its last epoch (a random search as
            seed 002 ran it, at full budget)
- tpe_asha: rnnsweep, TPE (``startup_trials`` random draws first) + successive halving (ASHA)
- tune:     Ray Tune's ``ASHAScheduler`` + ``OptunaSearch`` (TPE, the same startup draws), configured
            at its best: ``reuse_actors=True``, as many trials at once as rnnsweep runs; each trial
            builds rnnsweep's model on rnnsweep's prepared arrays and reports every epoch

Recorded per run: the best validation accuracy any trial reached (its best epoch), the epochs
and CPU-seconds the trials spent, and the wall time of the whole process.

    RNNSWEEP_DATA=../shared/data python -m bench.search                     # 3 seeds × 3 ways
    python -m bench.search --trials 4 --epochs 3 --seeds 1                  # a quick look
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, machine, median, record, table

WAYS = ("random", "tpe_asha", "tune")
STARTUP = 4  # random draws before TPE models the space (both TPEs)


def spec(way: str, seed: int, trials: int, epochs: int) -> dict:
    from rnnsweep.sweep import choice, loguniform

    search = dict(sampler="random" if way == "random" else "tpe", trials=trials, seed=seed, startup_trials=STARTUP,
                  pruner=None if way == "random" else dict(kind="asha", min_epochs=1, reduction=3))
    return dict(
        name="names_search",
        # seed 002's data and its random search's model (sweeps/names_gender.py), the learning rate drawn too
        dataset=dict(source="names", char_level=True, maxlen=None, shuffle_seed=1, split="seed000"),
        model=dict(arch="LSTM", bidirectional=True, embedding_dim=choice(32, 64, 96, 128), units=choice(16, 32, 48, 64),
                   mask_zero=True, activation="relu", dropout=0.2, recurrent_dropout=0.2, optimizer="adam",
                   learning_rate=loguniform(3e-4, 1e-2)),
        training=dict(batch_size=128, epochs=epochs, validation_split=0.2, seed=1),
        studies=dict(search=dict(search=search)),
    )


def rnnsweep_way(way: str, seed: int, trials: int, epochs: int) -> dict:
    from rnnsweep.driver import main
    from rnnsweep.results import load

    with tempfile.TemporaryDirectory() as out:
        main(spec(way, seed, trials, epochs), ["--results", out, "--address", "local", "--study", "search"])
        t, e = load(out, "names_search")
    best = e.groupby("trial_id")["val_accuracy"].max()
    return {"best_val_accuracy": float(best.max()), "epochs": int(t["epochs_run"].sum()),
            "cpu_seconds": float(t["cpu_seconds"].sum()), "trials": len(t),
            "pruned": int((t["status"] == "pruned").sum())}


def tune_way(seed: int, trials: int, epochs: int) -> dict:
    import os

    import optuna
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from rnnsweep import text
    from rnnsweep.sweep import searches

    (plan,) = searches(spec("tune", seed, trials, epochs))
    prepared = text.prepare(plan["fixed"]["dataset"])

    class Trial(tune.Trainable):
        """One trial an epoch per ``step``; ``reset_config`` lets Tune reuse the actor (TF imported once)."""

        def setup(self, config, prepared=None):
            from rnnsweep.worker import configure_tf

            self.t_setup = time.process_time()  # TF's import counts for a worker's first trial, as in rnnsweep's rows
            configure_tf(1)
            self.prepared = prepared
            self.reset_config(config)

        def reset_config(self, config):
            import keras

            from rnnsweep.models import build_model
            from rnnsweep.trial import shared_batches, split_validation

            self.t0, self.t_setup = getattr(self, "t_setup", None) or time.process_time(), None
            keras.backend.clear_session()  # the last trial's state gone, as rnnsweep's kept workers do
            keras.utils.set_random_seed(1)
            p = self.prepared
            train, val = split_validation(p.x_train, p.y_train, 0.2)
            self.model = build_model({**plan["fixed"]["model"], **config}, p.vocab_size, train[0].shape[1])
            self.data = (shared_batches(*train, 128, shuffle=True), shared_batches(*val, 128, shuffle=False))
            self.epoch = 0
            return True

        def save_checkpoint(self, checkpoint_dir):  # no checkpoints: a trial runs once, as in rnnsweep's runs here
            return None

        def load_checkpoint(self, checkpoint):
            pass

        def step(self):
            h = self.model.fit(self.data[0], validation_data=self.data[1], initial_epoch=self.epoch,
                               epochs=self.epoch + 1, verbose=0, shuffle=False)
            self.epoch += 1
            return {"val_accuracy": float(h.history["val_accuracy"][-1]), "epoch": self.epoch,
                    "cpu_seconds": time.process_time() - self.t0, "done": self.epoch >= epochs}

    space = {"embedding_dim": tune.choice([32, 64, 96, 128]), "units": tune.choice([16, 32, 48, 64]),
             "learning_rate": tune.loguniform(3e-4, 1e-2)}
    searcher = OptunaSearch(metric="val_accuracy", mode="max",
                            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP,
                                                               constant_liar=True))
    asha = ASHAScheduler(time_attr="epoch", metric="val_accuracy", mode="max", max_t=epochs, grace_period=1,
                         reduction_factor=3)
    slots = os.cpu_count() or 1
    ray.init(address="local", include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        with tempfile.TemporaryDirectory() as storage:
            res = tune.Tuner(tune.with_resources(tune.with_parameters(Trial, prepared=prepared), {"cpu": 1}),
                             param_space=space,
                             tune_config=tune.TuneConfig(search_alg=searcher, scheduler=asha, num_samples=trials,
                                                         max_concurrent_trials=slots, reuse_actors=True),
                             run_config=tune.RunConfig(storage_path=storage, verbose=0)).fit()
            frames = [r.metrics_dataframe for r in res if r.metrics_dataframe is not None]
    finally:
        ray.shutdown()
    assert len(frames) == trials and not [r.error for r in res if r.error], [r.error for r in res if r.error]
    return {"best_val_accuracy": float(max(f["val_accuracy"].max() for f in frames)),
            "epochs": int(sum(f["epoch"].max() for f in frames)),
            "cpu_seconds": float(sum(f["cpu_seconds"].max() for f in frames)), "trials": len(frames),
            "pruned": int(sum(f["epoch"].max() < epochs for f in frames))}


def one(way: str, seed: int, trials: int, epochs: int) -> dict:
    return tune_way(seed, trials, epochs) if way == "tune" else rnnsweep_way(way, seed, trials, epochs)


def timed(way, seed, trials, epochs) -> dict:
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "bench.search", "--one", way, "--seeds", str(seed), "--trials",
                        str(trials), "--epochs", str(epochs)], cwd=ROOT, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        raise SystemExit(f"{way} seed {seed} failed:\n{p.stdout[-2000:]}{p.stderr[-3000:]}")
    return {**json.loads(lines[-1]), "wall_seconds": time.time() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3", help="search seeds (the sampler's)")
    ap.add_argument("--ways", default=",".join(WAYS))
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=9, help="each trial's maximum (ASHA's rungs: 1, 3, 9)")
    ap.add_argument("--one", choices=WAYS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    seeds, ways = [int(s) for s in args.seeds.split(",")], args.ways.split(",")
    if args.one:
        print(json.dumps(one(args.one, seeds[0], args.trials, args.epochs)))
        return
    runs = {w: [] for w in ways}
    for n, seed in enumerate(seeds):
        for way in ways[n % len(ways):] + ways[:n % len(ways)]:  # alternated: the order rotates every seed
            r = timed(way, seed, args.trials, args.epochs)
            runs[way].append(r)
            record("search", {"way": way, "seed": seed, "trials": args.trials, "max_epochs": args.epochs, **r,
                              "at": time.time()})
            print(f"seed {seed} {way:<9} best val {r['best_val_accuracy']:.4f}  {r['epochs']:4d} epochs  "
                  f"{r['cpu_seconds']:7.0f} CPU-s  {r['wall_seconds']:6.0f} s wall  ({r['pruned']} pruned)", flush=True)
    rows = [[w, len(v), median([r["best_val_accuracy"] for r in v]), median([r["epochs"] for r in v]),
             median([r["cpu_seconds"] for r in v]), median([r["wall_seconds"] for r in v])] for w, v in runs.items()]
    print(f"\n{machine()}; {args.trials} trials of at most {args.epochs} epochs; medians over search seeds\n")
    print(table(["way", "seeds", "best val accuracy", "epochs", "CPU-seconds", "wall s"], rows))


if __name__ == "__main__":
    main()
