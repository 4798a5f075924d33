"""Benchmark 6 — ten thousand trials: the resume scan, ``load``, the report and ``--dry-run``.

Makes a sweep of N trials (seed 000's GRU-32-bs64 over seeds 1..N) whose result files are copies of
real trial and epoch rows (reproduction/results/imdb_grid, 100 epochs each), one Parquet file per
trial and table, as the driver writes them; then times each reader in a fresh process:

    python -m bench.scale                       # 1,000 and 10,000 trials, local files
    python -m bench.scale --n 10000 --compact   # the same, after compacting (results.compact)
    python -m bench.scale --s3 --n 1000         # on S3 (moto's server on loopback)
    python -m bench.scale --n 100000 --packed 500   # as a long run leaves them: compacted every 500 trials

Rows land in bench/results/scale.csv. Also measures the driver with N queued trivial trials
(``--driver``): its peak memory and how long submitting and finishing them all takes.
"""
from __future__ import annotations

import argparse
import json
import os
import posixpath
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, record

SPEC = {"name": "scale", "dataset": dict(source="imdb_reviews", clean="seed000", num_words=5000, padding="post",
                                         embedding="glove"),
        "model": dict(arch="GRU", units=32, activation="relu"), "training": dict(batch_size=64, epochs=100)}
SWEEP_FILE = f"""from rnnsweep.driver import main
from rnnsweep.sweep import grid
SPEC = {SPEC!r}
if __name__ == "__main__":
    import sys
    n = int(sys.argv.pop(1))
    main({{**SPEC, "training": {{**SPEC["training"], "seed": grid(*range(1, n + 1))}}}})
"""


def make(uri: str, n: int, packed: int | None = None):
    """N trials' files under ``uri``/scale: each a real trial row (and its epoch rows) with the
    id, name, seed and config of one trial of the spec. ``packed``: as compacted files of that many
    trials each, as a long run leaves them (it compacts every ``onray.COMPACT_AT`` finished trials)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rnnsweep import results
    from rnnsweep.sweep import expand, grid

    real, real_epochs = results.read_tables(str(ROOT / "reproduction" / "results"), "imdb_grid")
    row = next(r for r in real.to_pylist() if r["name"] == "GRU-32-bs64")
    epochs = [e for e in real_epochs.to_pylist() if e["trial_id"] == row["trial_id"]]
    trials = expand({**SPEC, "training": {**SPEC["training"], "seed": grid(*range(1, n + 1))}})
    fs, base = results.filesystem(uri)
    for table in ("trials", "epochs"):
        fs.create_dir(posixpath.join(base, "scale", table), recursive=True)
    t0 = time.time()
    if packed:
        import numpy as np

        one = pa.Table.from_pylist([{**e, "sweep": "scale"} for e in epochs], schema=results.EPOCH_SCHEMA)
        for i in range(0, n, packed):
            chunk = trials[i:i + packed]
            rows = [{k: {**row, **{c: getattr(getattr(t, s), c) for s, c in results.CONFIG_COLUMNS},
                         "trial_id": t.trial_id, "config_id": t.config_id, "name": t.name, "sweep": "scale",
                         "study": None}.get(k) for k in results.TRIAL_SCHEMA.names} for t in chunk]
            ep = pa.concat_tables([one] * len(chunk))  # each trial's 100 epochs, then its ids in place
            for col in ("trial_id", "name", "config_id"):
                ep = ep.set_column(ep.schema.get_field_index(col), col,
                                   pa.array(np.repeat([getattr(t, col) for t in chunk], one.num_rows)))
            name = f"{results.COMPACTED}{int(time.time() * 1000)}-{i:08d}.parquet"
            for table, body in (("epochs", ep), ("trials", pa.Table.from_pylist(rows, schema=results.TRIAL_SCHEMA))):
                with fs.open_output_stream(posixpath.join(base, "scale", table, name)) as o:
                    pq.write_table(body, o)
        return time.time() - t0
    for t in trials:
        r = {**row, **{k: getattr(getattr(t, s), k) for s, k in results.CONFIG_COLUMNS}, "trial_id": t.trial_id,
             "config_id": t.config_id, "name": t.name, "sweep": "scale", "study": None}
        trial = pa.Table.from_pylist([{k: r.get(k) for k in results.TRIAL_SCHEMA.names}],
                                     schema=results.TRIAL_SCHEMA)
        ep = pa.Table.from_pylist([{**e, "trial_id": t.trial_id, "name": t.name, "sweep": "scale",
                                    "config_id": t.config_id} for e in epochs], schema=results.EPOCH_SCHEMA)
        for table, body in (("epochs", ep), ("trials", trial)):
            with fs.open_output_stream(posixpath.join(base, "scale", table, f"{t.trial_id}.parquet")) as o:
                pq.write_table(body, o)
    return time.time() - t0


def timed(code: str, env=None) -> float:
    """Seconds a snippet takes in a fresh Python (imports outside the clock)."""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, **(env or {})}, timeout=3600)
    if p.returncode:
        raise SystemExit(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])["seconds"]


def clock(setup: str, call: str) -> str:
    return (f"import json, time\n{setup}\nt0 = time.perf_counter()\n{call}\n"
            "print(json.dumps({'seconds': time.perf_counter() - t0}))")


def measure(uri: str, n: int, where: str, compact: bool, env=None, packed: int | None = None) -> list[dict]:
    rows = []
    from rnnsweep.version import code_version

    base = dict(n=n, where=where, compacted=compact or bool(packed), packed=packed, code_version=code_version())
    if compact:
        rows.append({**base, "what": "compact", "seconds": timed(clock(
            "from rnnsweep import results", f"results.compact({uri!r}, 'scale')"), env)})
    rows.append({**base, "what": "resume scan (results.done)", "seconds": timed(clock(
        "from rnnsweep import results", f"d = results.done({uri!r}, 'scale'); assert len(d) == {n}, len(d)"), env)})
    rows.append({**base, "what": "results.load", "seconds": timed(clock(
        "from rnnsweep import results",
        f"t, e = results.load({uri!r}, 'scale'); assert len(t) == {n} and len(e) == {n} * 100"), env)})
    if where == "local":
        sweep = os.path.join(tempfile.gettempdir(), "rnnsweep_scale_sweep.py")
        with open(sweep, "w") as fh:
            fh.write(SWEEP_FILE)
        rows.append({**base, "what": "python -m rnnsweep.report", "seconds": timed(clock(
            "import subprocess, sys",
            f"subprocess.run([sys.executable, '-m', 'rnnsweep.report', {posixpath.join(uri, 'scale')!r}], "
            "check=True, capture_output=True)"), env)})
        rows.append({**base, "what": "--dry-run", "seconds": timed(clock(
            "import subprocess, sys",
            f"p = subprocess.run([sys.executable, {sweep!r}, '{n}', '--dry-run', '--results', {uri!r}], "
            f"check=True, capture_output=True, text=True); assert '{n} already in' in p.stdout, p.stdout[:500]"),
            env)})
    for r in rows:
        record("scale", r)
        print(f"{r['n']:>6} trials  {r['where']:<5} {'compacted' if base['compacted'] else 'per-trial files':<16} "
              f"{r['what']:<28} {r['seconds']:7.1f} s", flush=True)
    return rows


def driver(n: int, waves: bool) -> dict:
    """The driver's loop (submit, ``ray.wait``, write each result) with ``n`` trivial trials queued,
    in waves (``onray.window``) or all submitted at once: wall time and the driver's peak memory."""
    code = f"""
import argparse, json, resource, tempfile, time
import ray
from ray.util.queue import Queue
from rnnsweep import onray
from rnnsweep.config import Trial
from rnnsweep.task import TaskContext
from rnnsweep.progress import Progress
ray.init(num_cpus=2, log_to_driver=False, configure_logging=False, include_dashboard=False)
todo = [Trial.of(dict(trial_id=f"t{{i:05d}}", config_id=f"c{{i}}", name=f"trial-{{i}}", training={{"epochs": 1}}))
        for i in range({n})]
args = argparse.Namespace(cpus_per_trial=1, max_retries=0, gpu_memory_mb=None, results=tempfile.mkdtemp())
def body(config, prepared, cpus, gpus, mem, ctx):
    return dict(trial_id=config.trial_id, config_id=config.config_id, name=config.name, config=config.as_dict(),
                status="ok", history=[])
t0 = time.perf_counter()
size = onray.window(args, 0.0, ray.cluster_resources()) if {waves} else None
refs = {{onray.dataset_key(todo[0].dataset): ray.put(b"x")}}
flight = onray.submit(todo, refs, args, 0.0, TaskContext(args.results, "scale", {{}}), body=body, size=size)
finished, counts = onray.collect(flight, args, "scale", {{}}, Progress(todo, Queue()))
assert counts["ok"] == {n}, counts
print(json.dumps(dict(seconds=time.perf_counter() - t0,
                      peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if p.returncode:
        raise SystemExit(p.stderr[-3000:])
    r = json.loads(p.stdout.strip().splitlines()[-1])
    row = dict(n=n, where="local Ray, 2 CPUs", compacted=False,
               what=f"driver: {'waves' if waves else 'all at once'}", seconds=r["seconds"],
               peak_rss_mb=r["peak_rss_mb"])
    record("scale_driver", row)
    print(f"{n:>6} trivial trials through the driver, {row['what'][8:]:<11}: {r['seconds']:6.1f} s, "
          f"driver peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, nargs="*", default=[1000, 10000])
    p.add_argument("--compact", action="store_true", help="also time each reader after results.compact")
    p.add_argument("--s3", action="store_true", help="on S3: moto's server on loopback")
    p.add_argument("--driver", action="store_true", help="only the driver with N queued trivial trials")
    p.add_argument("--packed", type=int, default=None, metavar="K",
                   help="make the trials as compacted files of K trials each (as a long run leaves them)")
    args = p.parse_args(argv)
    if args.driver:
        for n in args.n:
            for waves in (False, True):  # alternated
                driver(n, waves)
        return
    for n in args.n:
        with tempfile.TemporaryDirectory() as tmp:
            if args.s3:
                sys.path.insert(0, str(ROOT / "tests"))
                from s3_server import moto_server  # the tests' moto server, as a context manager

                with moto_server() as (uri, env):
                    print(f"making {n} trials on {uri} ... {make(uri, n, args.packed):.0f} s", flush=True)
                    measure(uri, n, "s3", False, env, packed=args.packed)
                    if args.compact and not args.packed:
                        measure(uri, n, "s3", True, env)
                continue
            print(f"making {n} trials ... {make(tmp, n, args.packed):.0f} s", flush=True)
            measure(tmp, n, "local", False, packed=args.packed)
            if args.compact and not args.packed:
                measure(tmp, n, "local", True)


if __name__ == "__main__":
    sys.exit(main())
