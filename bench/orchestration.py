"""Benchmark 4 — orchestration: 72 fixed-length sleep trials on a simulated cluster of 8 "GPUs"
(``ray.cluster_utils.Cluster``: 2 nodes declaring 4 GPUs each), submitted by rnnsweep's own
``onray.submit`` (one task per trial, one GPU each, a fresh worker per trial as on real GPUs),
collected with ``ray.wait``. Makespan vs the ideal ``ceil(72 / 8) × length``.

    python -m bench.orchestration                  # ~2 min; --length 5 --trials 72 --gpus 8
"""
from __future__ import annotations

import argparse
import math
import time
from types import SimpleNamespace

from bench.common import machine, record, table


def sleeper(length: float):
    """What stands in for ``task.remote_trial``: holds its GPU for ``length`` seconds."""
    def sleep_trial(config, prepared, cpus, gpus, gpu_memory_mb, live):
        import ray

        time.sleep(length)
        return {"trial_id": config.trial_id, "gpu_ids": ray.get_gpu_ids()}

    return sleep_trial


def run(trials: int, gpus: int, length: float, nodes: int = 2) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from rnnsweep import onray as rc
    from rnnsweep.config import Trial
    from rnnsweep.task import TaskContext

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "num_gpus": 0})
    for _ in range(nodes):
        c.add_node(num_cpus=gpus // nodes, num_gpus=gpus // nodes)
    ray.init(address=c.address, log_to_driver=False, configure_logging=False)
    try:
        c.wait_for_nodes()
        todo = [Trial.of({"trial_id": f"t{i}", "name": f"sleep-{i}"}) for i in range(trials)]
        refs = {rc.dataset_key(todo[0].dataset): ray.put(b"x" * 1024)}
        args = SimpleNamespace(max_retries=0, cpus_per_trial=1, gpu_memory_mb=None)
        t0 = time.time()
        flight = rc.submit(todo, refs, args, 1, TaskContext("", "sleep", {}), body=sleeper(length))
        while flight.pending:
            ready, _ = ray.wait(list(flight.pending), num_returns=1)
            assert len(ray.get(ready[0])["gpu_ids"]) == 1
            flight.pending.pop(ready[0])
        makespan = time.time() - t0
    finally:
        ray.shutdown()
        c.shutdown()
    ideal = math.ceil(trials / gpus) * length
    return {"trials": trials, "gpus": gpus, "length": length, "makespan": makespan, "ideal": ideal,
            "ratio": makespan / ideal}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=72)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--length", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for rnd in range(args.rounds):
        r = run(args.trials, args.gpus, args.length)
        record("orchestration", {"round": rnd + 1, **r})
        rows.append([rnd + 1, r["trials"], r["gpus"], r["length"], r["makespan"], r["ideal"], r["ratio"]])
        print(f"round {rnd + 1}: makespan {r['makespan']:.1f} s, ideal {r['ideal']:.0f} s, "
              f"ratio {r['ratio']:.3f}", flush=True)
    print(f"\n{machine()}; simulated cluster, a fresh worker per GPU trial\n")
    print(table(["round", "trials", "GPUs", "trial s", "makespan s", "ideal s", "ratio"], rows))


if __name__ == "__main__":
    main()
