"""The sweep driver: ``python sweeps/<study>.py [options]`` (or ``ray submit cluster.yaml ...``).

Expands the sweep, skips trials already in the results, and hands the rest to ``cluster.run_ray``:
each distinct dataset prepared once and put in the Ray object store once, one Ray task per trial
(CPU workers kept between trials, a fresh worker per GPU trial), each result written as it
arrives. ``--trial NAME`` runs one trial in this process without Ray, for debugging; ``--dry-run``
lists the trials per study with their projected time (``cost``).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

from . import cost, results
from .cluster import COMPACT_AT, GPUS_ENV, Options, code_version, prepare_dataset, run_ray
from .progress import fmt, trial_line
from .search import resolve_best
from .sweep import BEST_OF, Grid, SweepError, expand, non_default, searches, select, select_studies, studies_of

SMOKE = {"epochs": 2, "limit_train": 512, "limit_test": 512}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Run a sweep: one Ray task per trial, results as Parquet.")
    p.add_argument("--results", default="results", help="results root: a path or a URI (s3://bucket/prefix)")
    p.add_argument("--gpus-per-trial", type=float, default=None,
                   help=f"GPUs per trial; a fraction packs trials per GPU (default: ${GPUS_ENV}, "
                        "else 1 when the cluster has GPUs, else 0)")
    p.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs per trial (TF threads follow)")
    p.add_argument("--gpu-memory-mb", type=int, default=None,
                   help="TF memory limit per trial with a fractional GPU (default: fraction × card memory)")
    p.add_argument("--only", default=None, help="comma-separated globs of trial names or id prefixes")
    p.add_argument("--study", default=None, help="comma-separated study names: run only their trials")
    p.add_argument("--seeds", default=None,
                   help="random seeds of every configuration, e.g. 1-10 or 1,2,3 (replaces the sweep's own)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="set one setting in every trial, e.g. --set model.semantics=tf_keras2 (repeatable; "
                        "a setting that differs from its default changes the trial ids)")
    p.add_argument("--epochs", type=int, default=None, help="override training.epochs (recorded)")
    p.add_argument("--limit-train", type=int, default=None, help="train on the first N samples (recorded)")
    p.add_argument("--search-trials", type=int, default=None, metavar="N",
                   help="draw at most N trials in each searched study (its search.trials otherwise)")
    p.add_argument("--smoke", action="store_true",
                   help=f"tiny budget so a whole grid runs in minutes on a laptop: {SMOKE}")
    p.add_argument("--dry-run", action="store_true",
                   help="list the trials, what is done, and the projected time of the rest; run nothing")
    p.add_argument("--calibrate", action="store_true",
                   help="with --dry-run: time each model no earlier trial has timed with a short run here")
    p.add_argument("--rerun-failed", action="store_true", help="run failed trials again")
    p.add_argument("--rerun-other-versions", action="store_true",
                   help="run again the finished trials whose rows another code version made (or none recorded), "
                        "so that a study's rows all come from this one")
    p.add_argument("--compact", action="store_true",
                   help="rewrite the finished trials' files as one file per table (results.compact) and exit; "
                        f"a run does it by itself when a table has {COMPACT_AT} files or more")
    p.add_argument("--trial", default=None, help="run this one trial here, without Ray, and print it")
    p.add_argument("--address", default=None,
                   help="Ray address (default: the running cluster if any, else a local one; 'local' forces local)")
    p.add_argument("--tensorboard", action="store_true",
                   help="Keras TensorBoard logs of each trial in <results>/<sweep>/tensorboard/<trial> (local results)")
    p.add_argument("--max-retries", type=int, default=2, help="Ray retries when a worker or node dies")
    return p.parse_args(argv)


def best_of(spec) -> bool:
    """Does a study rerun another's best trial? (Checked before the spec is: any shape may come.)"""
    studies = spec.get("studies") if isinstance(spec, dict) else None
    return isinstance(studies, dict) and any(isinstance(b, dict) and BEST_OF in b for b in studies.values())


def budget(args) -> dict:
    b = dict(SMOKE) if args.smoke else {}
    if args.epochs:
        b["epochs"] = args.epochs
    if args.limit_train:
        b["limit_train"] = args.limit_train
    return b


def settings_overrides(pairs: list[str]) -> dict:
    """``["model.semantics=tf_keras2", "training.epochs=3"]`` → ``{"model": {"semantics": ...}, ...}``;
    values read as Python literals (3, 0.5, True, None), else as strings. Checked by ``expand``."""
    import ast

    from .settings import SECTIONS

    out: dict = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        section, dot, name = key.strip().partition(".")
        if not eq or not dot or section not in SECTIONS:
            raise SweepError(f"--set {pair!r}: expected SECTION.KEY=VALUE with SECTION one of "
                             f"{', '.join(SECTIONS)}")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        out.setdefault(section, {})[name] = value
    return out


def with_seeds(spec: dict, seeds: str | None) -> dict:
    """The spec with ``training.seed`` set to ``grid(*seeds)`` in its base and every study: "1-10"
    or "1,2,3". Trials of seeds it already had keep their ids (and results)."""
    if not seeds:
        return spec
    values = []
    for part in seeds.split(","):
        lo, _, hi = part.partition("-")
        if not (lo.strip().isdigit() and (not hi or hi.strip().isdigit())):
            raise SweepError(f"--seeds {seeds!r}: expected integers like 1-10 or 1,2,3")
        if int(hi or lo) < int(lo):
            raise SweepError(f"--seeds {seeds!r}: the range {part.strip()} is empty (write it low-high: "
                             f"{hi.strip()}-{lo.strip()})")
        values += range(int(lo), int(hi or lo) + 1)

    def seeded(body):
        return {**body, "training": {**body.get("training", {}), "seed": Grid(tuple(values))}}

    return {**seeded(spec), **({"studies": {k: seeded(v) for k, v in spec["studies"].items()}}
                               if spec.get("studies") else {})}


def dry_run(trials: list[dict], have: dict, todo=(), args=None, earlier=None):
    """Each trial and whether it is done, under the study it belongs to, with its settings and
    (when earlier trials or ``--calibrate`` say how fast its model trains) its projected time;
    then the projected total of ``todo``, the trials a run would start."""
    rates = cost.rates(earlier)
    if args is not None and args.calibrate:
        rates.update(calibrate(todo, rates))
    projected = {t["trial_id"]: cost.project(t, rates.get(cost.timing_key(t))) for t in trials}
    again = {t["trial_id"] for t in todo}
    for study in studies_of(trials) or [None]:
        group = [t for t in trials if study is None or study in (t.get("study") or "").split(",")]
        if study:
            print(f"study {study}: {len(group)} trials")
        for t in group:
            status = have.get(t["trial_id"], "todo")
            if status in ("ok", "diverged") and t["trial_id"] in again:
                status = "rerun"  # --rerun-other-versions: finished, but by other code
            shared = f"  (also {t['study'].replace(study + ',', '').replace(',' + study, '')})" \
                if study and "," in t["study"] else ""
            print(f"  {t['trial_id']}  {t['name']:<34} {status:<8} "
                  f"{_duration(projected[t['trial_id']]):>8}  {describe(t)}{shared}")
    if args is not None and todo:
        print(projection([projected[t["trial_id"]] for t in todo], args))


def dry_run_search(plan: dict, uri: str, name: str, shown: int = 3) -> list[dict]:
    """A searched study in ``--dry-run``: its settings, what the results hold, the budget bound and
    the next draws it would try (the results replayed into its sampler, as a run does). Returns them."""
    from . import search

    s, epochs = plan["search"], plan["fixed"]["training"]["epochs"]
    rows = search.study_rows(uri, name, plan["study"], plan)
    searcher = search.Searcher([plan], {}, {plan["study"]: epochs})
    searcher.replay(plan["study"], [r for r in rows if r["status"] != "running"])
    left = max(0, s["trials"] - len(rows))
    p = s["pruner"]
    statuses = dict(Counter(r["status"] for r in rows))
    print(f"study {plan['study']}: searched by {s['sampler']} (seed {s['seed']}), {s['trials']} trials on "
          f"{s['metric']} ({s['direction']}); pruner "
          + (f"{p['kind']} (min_epochs {p['min_epochs']}, reduction {p['reduction']})" if p else "none")
          + f"; {len(rows)} in the results {statuses or ''}, {left} to draw")
    print("  space: " + ", ".join(f"{sec}.{k}={v.kind}{v.args}" for sec, k, v in plan["sampled"]))
    print(f"  budget: at most {left} × {epochs} = {left * epochs} epochs"
          + (" (the pruner stops most sooner)" if p else ""))
    nxt = [searcher.ask(plan["study"]) for _ in range(min(shown, left))]
    for t in (t for t in nxt if t):
        print(f"  next  {t['trial_id']}  {t['name']:<34} {describe(t)}")
    return [t for t in nxt if t]


def search_done(plan: dict, uri: str, name: str) -> bool:
    """Has a searched study drawn all its trials, and none of them is still to be resumed?"""
    from . import search

    mine = [r for r in search.study_rows(uri, name, plan["study"]) if r["number"] is not None]
    return len(mine) >= plan["search"]["trials"] and not any(r["status"] == "running" for r in mine)


def _duration(seconds) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:.0f} s" if seconds < 100 else f"{seconds / 60:.0f} min" if seconds < 6000 else \
        f"{seconds / 3600:.1f} h"


def slots(args) -> tuple[int, str]:
    """How many trials the cluster it would run on runs at once, and which cluster that is."""
    from .cluster import gpus_wanted, ray_address
    from .cluster import slots as cluster_slots

    opts = Options.of(args)
    address = ray_address(opts)
    if address == "local":
        cpus = os.cpu_count() or 1
        return max(1, int(cpus // args.cpus_per_trial)), f"local Ray here: {cpus} CPUs"
    import ray

    ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        res = ray.cluster_resources()
    finally:
        ray.shutdown()
    gpus = gpus_wanted(opts, res)  # as the run would: --gpus-per-trial, $RNNSWEEP_GPUS_PER_TRIAL, else 1 on GPUs
    where = f"the cluster at {address}: {res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs"
    return cluster_slots(opts, gpus, res), where


def projection(seconds: list, args) -> str:
    """The totals line of ``--dry-run``: trial time, and wall time on the cluster's slots."""
    known = [s for s in seconds if s is not None]
    unknown = len(seconds) - len(known)
    if not known:
        return (f"projected time: unknown for all {len(seconds)} trials to run (no earlier trial of their models; "
                "--calibrate times each model with a short run here)")
    n, where = slots(args)
    line = (f"projected time of {len(known)} trials to run: {_duration(sum(known))} of trial time; "
            f"about {_duration(cost.makespan(known, n))} on {where} ({n} at a time)")
    return line + (f"; {unknown} more not projected (--calibrate times their models)" if unknown else "")


def calibrate(todo: list[dict], rates: dict) -> dict:
    """A rate for each model of ``todo`` that has none: a short run of its first trial here."""
    found = {}
    for t in todo:
        key = cost.timing_key(t)
        if key in rates or key in found:
            continue
        print(f"calibrating {t['name']} (a short run here) ...", flush=True)
        found[key] = calibrate_model(t, prepare_dataset(t))
    return found


def calibrate_model(trial: dict, prepared, samples: int = 1024, epochs: int = 3) -> dict:
    """The rate of ``trial``'s model from a short run of it here (``samples`` rows, ``epochs`` epochs)."""
    from .trial import run_trial

    r = run_trial(cost.short_run(trial, len(prepared.x_test), samples, epochs), prepared)
    if r["status"] != "ok":
        raise ValueError(f"calibration of {trial['name']}: {r['error']}")
    return cost.rate_of_run(r, len(prepared.x_test), len(prepared.x_train))


def describe(t: dict) -> str:
    """The settings of a trial that differ from the defaults, as ``section.key=value``."""
    return " ".join(f"{k}={v}" for section in non_default({s: t[s] for s in ("dataset", "model", "training")}).values()
                    for k, v in section.items())


# ----------------------------------------------------------------------------- main



def run_local(trial: dict):
    """One trial in this process, no Ray: for debugging a configuration."""
    print(f"preparing dataset for {trial['name']} ...", flush=True)
    prepared = prepare_dataset(trial)
    print(f"  {len(prepared.x_train)} train / {len(prepared.x_test)} test rows, vocab {prepared.vocab_size}"
          + (f", GloVe {prepared.meta['config']['glove_dim']}d coverage {prepared.meta['glove_coverage']:.1%}"
             if prepared.embedding is not None else ""), flush=True)
    from .trial import run_trial

    r = run_trial(trial, prepared, cpus=os.cpu_count(), verbose=2)
    r["code_version"] = code_version()
    for e in r["history"]:
        print(f"  epoch {e['epoch']}: {e['seconds']:.1f} s  loss {fmt(e['loss'], '.4f')}  "
              f"acc {fmt(e['accuracy'])}  val_acc {fmt(e['val_accuracy'])}  val_auc {fmt(e['val_auc'])}")
    print(trial_line(r))
    if r["status"] == "failed":
        print(r.get("traceback", ""), file=sys.stderr)
    return r


def _check_tensorboard(uri: str, name: str):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        sys.exit("error: --tensorboard needs TensorBoard: pip install 'rnnsweep[tensorboard]' (or tensorboard)")
    if results.local_folder(uri, name) is None:
        sys.exit(f"error: --tensorboard writes logs to a local folder; --results {uri} is remote")


def on_sample(trials: list[dict]) -> list[dict]:
    """``--smoke`` without the full IMDB reviews or GloVe files here: their trials run on the sample
    shipped with rnnsweep (``dataset.sample``, so their ids differ from runs on the full data), and
    one line says so."""
    from . import data
    from .sweep import config_id, trial_id

    def missing(ds):
        glove = ds.get("embedding") == "glove" and not (data.available("glove50") or data.available("glove100"))
        return ds.get("source") == "imdb_reviews" and not ds.get("path") and (glove or not data.available(
            "imdb_reviews"))

    moved = [t for t in trials if missing(t["dataset"])]
    for t in moved:
        t["dataset"] = {**t["dataset"], "sample": True, **({"glove_dim": 50} if t["dataset"].get("embedding") ==
                                                            "glove" else {})}
        body = {s: t[s] for s in ("dataset", "model", "training")}
        t["trial_id"], t["config_id"] = trial_id(body), config_id(body)
    if moved:
        print(f"--smoke: the IMDB reviews or GloVe vectors are not in {data.data_dir()}: {len(moved)} trials run on "
              f"the 3,000-review sample shipped with rnnsweep ({data.SAMPLE_DIR}); put the full files there "
              f"(or set {data.DATA_ENV}) for the real data", flush=True)
    return trials


def other_versions(finished: list[dict], made_by: dict) -> list[dict]:
    """``--rerun-other-versions``: the finished trials another code version made, said in one line
    (from a dirty checkout they are all of them, with a warning: "+dirty" names no one version)."""
    now = code_version()
    if now.endswith("+dirty)"):
        print(f"warning: {now} has uncommitted changes: the rows it writes cannot say which code made them",
              flush=True)
    again = [t for t in finished if made_by.get(t["trial_id"]) != now]
    if again:
        print(f"--rerun-other-versions: {len(again)} finished trials were made by other code than {now}; "
              "they run again and their rows are replaced", flush=True)
    return again


def compact(uri: str, name: str) -> int:
    """``--compact``: under the sweep's lease (never while a driver runs it)."""
    from . import lease

    try:
        held = lease.take(uri, name)
        try:
            n = results.compact(uri, name)
        finally:
            lease.release(uri, name, held)
    except results.ResultsError as e:
        sys.exit(f"error: {e}")
    print(f"{name}: {n} finished trials compacted into one file per table in {uri.rstrip('/')}/{name}")
    return n


def main(spec: dict, argv=None) -> dict:
    """Entry point of every sweep script. Returns a summary dict (used by tests)."""
    args = parse_args(argv)
    b = budget(args)
    try:
        overrides = settings_overrides(args.set)
        overrides["training"] = {**overrides.get("training", {}), **b}
        seeded = with_seeds(spec, args.seeds)
        seeded, waiting = resolve_best(seeded, args.results, args.search_trials) if best_of(seeded) else (seeded, {})
        wanted = {n.strip() for n in (args.study or "").split(",") if n.strip()}
        for study, why in waiting.items():  # a winner's repeats once the study it reruns has ended
            if study in wanted:
                raise SweepError(f"study {study!r}: {why}; run it again when that study is done")
            print(f"study {study!r}: left out for now: {why}")
        plans = searches(seeded, overrides)
        trials = select_studies(expand(seeded, overrides), args.study, [p["study"] for p in plans])
    except (SweepError, results.ResultsError) as e:
        sys.exit(f"error: {e}")
    # A search draws its trials as it runs: --only picks among listed trials, so it runs none.
    plans = [p for p in plans if (not wanted or p["study"] in wanted) and not args.only]
    if args.search_trials is not None:
        if args.search_trials < 1:
            sys.exit(f"error: --search-trials {args.search_trials}: expected a positive number of trials")
        for p in plans:
            p["search"]["trials"] = min(p["search"]["trials"], args.search_trials)
    name = spec["name"]
    if args.smoke:
        trials = on_sample(trials)
    if args.trial:
        chosen = select(trials, args.trial)
        if len(chosen) != 1:
            sys.exit(f"error: --trial {args.trial!r} matches {len(chosen)} trials of {name}; "
                     f"names: {', '.join(t['name'] for t in trials[:6])}, ...")
        return {"results": [run_local(chosen[0])]}

    if args.compact:
        return {"compacted": compact(args.results, name)}
    chosen = select(trials, args.only)
    if not chosen and not plans:
        sys.exit(f"error: --only {args.only!r} matches none of the {len(trials)} trials of {name}")
    try:
        have = results.done(args.results, name)
        # Read now, before anything starts: an unreadable sweep.json stops here, never overwritten.
        meta = results.read_json(args.results, name, "sweep.json") or {}
        skip = {"ok", "diverged"} | (set() if args.rerun_failed else {"failed"})
        # A trial its study's pruner stopped is done there (without the pruner it runs to the end).
        todo = [t for t in chosen if have.get(t["trial_id"]) not in skip | ({"pruned"} if t.get("prune") else set())]
        if args.rerun_other_versions:
            running = {t["trial_id"] for t in todo}  # by id: comparing trial dicts is quadratic at 10,000
            todo += other_versions([t for t in chosen if t["trial_id"] not in running],
                                   results.versions(args.results, name))
        where = f"{args.results.rstrip('/')}/{name}"
        print(f"{name}: {len(chosen)} trials, {len(chosen) - len(todo)} already in {where}, {len(todo)} to run"
              + (f", and {len(plans)} searched {'study' if len(plans) == 1 else 'studies'} drawing theirs"
                 if plans else "") + (f"  (budget: {b})" if b else ""), flush=True)
        if args.dry_run:
            dry_run(chosen, have, todo, args, results.read_table(args.results, name, "trials").to_pandas())
            return {"todo": todo, "done": have, "draws": {p["study"]: dry_run_search(p, args.results, name)
                                                           for p in plans}}
        plans = [p for p in plans if not search_done(p, args.results, name)]
        if not todo and not plans:
            print("nothing to do: every trial is already done (use --rerun-failed to retry failed ones)")
            return {"todo": [], "results": []}
        results.check_writable(args.results, name)
        if args.tensorboard:
            _check_tensorboard(args.results, name)
        return run_ray(spec, trials, todo, Options.of(args), b, meta, plans)
    except results.ResultsError as e:
        sys.exit(f"error: {e}")
