"""The sweep driver: ``python sweeps/<study>.py [options]`` (or ``ray submit cluster.yaml ...``).

The command line becomes one ``run.Run`` (the sweep validated once, its trials expanded, those
already in the results skipped, each searched study's rows read once), which ``onray.execute``
runs on Ray; every way of running returns one ``run.Outcome``. ``--trial NAME`` runs one trial in
this process without Ray, for debugging; ``--dry-run`` lists the trials per study with their
projected time (``dryrun``); ``--compact`` rewrites the results' files. No Ray here.
"""
from __future__ import annotations

import argparse
import os
import sys

import pyarrow as pa

from . import data, kept, lease, results, search
from .dryrun import dry_run
from .fused import ALSO
from .onray import COMPACT_AT, execute
from .progress import fmt, trial_line
from .run import GPUS_ENV, Options, Outcome, Run
from .search import resolve_best
from .settings import SECTIONS
from .config import Trial
from .sweep import BEST_OF, Grid, SweepError, expand, searches, select, select_studies, validate
from .text import prepare_dataset
from .trial import run_trial
from .version import code_version

SMOKE = {"epochs": 2, "limit_train": 512, "limit_test": 512}  # does everything run? (learns nothing)
# A newcomer's first run: models that visibly learn in a few minutes on a laptop. Seed 000's models need
# ~1,500 Adam steps at their learning rate of 1e-4 to pass 65 % (its grid's own curves): twenty times the
# rate learns in the ~150 steps (batch 64) that 3 minutes of the whole grid hold (BENCHMARKS.md, 8: 8 epochs
# at ×10 learned as well and took 226 s against 154 s). Quick-run numbers, not the study's (said in the output).
QUICK = {"epochs": 5, "limit_train": 2400, "limit_test": 1000}
QUICK_LR_SCALE = 20
QUICK_NOTE = (f"--quick: these are quick-run numbers ({QUICK['epochs']} epochs on at most {QUICK['limit_train']:,} "
              f"reviews, learning rates ×{QUICK_LR_SCALE}), not the study's: run without --quick for those")


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
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help=f"a few minutes on a laptop, models that visibly learn: {QUICK}, each trial's learning rate "
                           f"×{QUICK_LR_SCALE}; on the packaged sample when the full data is not here. Quick-run "
                           "numbers, not the study's")
    size.add_argument("--smoke", action="store_true",
                      help=f"the smallest budget, to check a sweep runs end to end (its models learn nothing): {SMOKE}")
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
    p.add_argument("--keep-models", type=_keep, default=None, metavar="WHICH",
                   help="which trained models every study keeps as .keras files beside its rows: best (each study's "
                        "best trial, every repeat of a best_of winner: the default), all, none, or a number k (the "
                        "best k); overrides the studies' keep_models")
    p.add_argument("--fuse", type=int, default=None, metavar="K",
                   help="seed repeats of a JAX trial trained as one fused task, at most K (1: never; default: on "
                        "GPUs up to 8, as many as leave every slot a task; on CPUs never, where it measured no faster)")
    p.add_argument("--fuse-also", type=_also, default=(), metavar="SETTING",
                   help="let fused members differ in this setting too, not only in the seed: learning_rate "
                        "(a learning-rate grid of one model then trains as one program)")
    return p.parse_args(argv)


def _keep(value: str):
    try:
        return kept.parse_keep(value)
    except SweepError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--keep-models: ")) from None


def _also(value: str) -> tuple:
    """--fuse-also's settings, checked: only what a fused member can hold as its own (fused.ALSO)."""
    names = tuple(n.strip().removeprefix("model.") for n in value.split(",") if n.strip())
    for n in names:
        if n not in ALSO:
            why = (" (a layer's dropout rate is a constant of the compiled step, one for every member)"
                   if "dropout" in n else "")
            raise argparse.ArgumentTypeError(f"{n!r} cannot differ within a fused group{why}; fusable: "
                                             f"{', '.join(ALSO)}")
    return names


def main(spec: dict, argv=None, train=None) -> Outcome:
    """Entry point of every sweep script: the command line, then one way of running it. ``train``: what
    trains each trial in its Ray task in place of ``trial.run_trial`` (``bench.overhead``'s sleeping trial)."""
    args = parse_args(argv)
    if args.fuse is not None and args.fuse < 1:
        sys.exit(f"error: --fuse {args.fuse}: K must be 1 (never fuse) or more")
    try:
        trials, plans = chosen_studies(spec, args)
    except (SweepError, results.ResultsError) as e:
        sys.exit(f"error: {e}")
    if args.trial:
        return Outcome(results=[run_local(one_trial(trials, args.trial, spec["name"]))])
    if args.compact:
        return Outcome(compacted=compact_sweep(args.results, spec["name"]))
    try:
        run, listed, done = plan_run(spec, args, trials, plans)
        if args.dry_run:
            earlier = results.read_table(args.results, run.name, "trials").to_pandas()
            return dry_run(run, listed, done, earlier, args.calibrate)
        run.searches = [p for p in run.searches if not search_done(p, run.search_rows[p["study"]])]
        if not run.todo and not run.searches and not run.ensembles:
            print("nothing to do: every trial is already done (use --rerun-failed to retry failed ones)")
            return Outcome(done=done)
        run.train = train
        results.check_writable(args.results, run.name)
        if args.tensorboard:
            _check_tensorboard(args.results, run.name)
        outcome = execute(run)
        if args.quick:
            print(QUICK_NOTE, flush=True)
        return outcome
    except results.ResultsError as e:
        sys.exit(f"error: {e}")
    except (OSError, pa.ArrowException) as e:  # the store failed past its retries: one line, nothing lost
        sys.exit(f"error: the results store {results.shown(args.results)} failed ({results.first_line(e)}); "
                 "everything written before is kept: run the same command again to resume")


def chosen_studies(spec: dict, args) -> tuple[list[Trial], list[dict]]:
    """The listed trials and the searched studies (``sweep.searches``) this run is about: the sweep
    validated once, with ``--seeds``, ``--set`` and the budget in, its ``best_of`` studies filled in,
    ``--study``, ``--search-trials`` and (``--smoke``, ``--quick``) the packaged sample applied."""
    overrides = settings_overrides(args.set)
    overrides["training"] = {**overrides.get("training", {}), **budget(args)}
    seeded = validate(with_seeds(spec, args.seeds))
    seeded, waiting = resolve_best(seeded, args.results, args.search_trials) if best_of(seeded) else (seeded, {})
    wanted = {n.strip() for n in (args.study or "").split(",") if n.strip()}
    for study, why in waiting.items():  # a winner's repeats once the study it reruns has ended
        if study in wanted:
            raise SweepError(f"study {study!r}: {why}; run it again when that study is done")
        print(f"study {study!r}: left out for now: {why}")
    plans = searches(seeded, overrides, checked=True)
    trials = select_studies(expand(seeded, overrides, checked=True), args.study, [p["study"] for p in plans])
    # A search draws its trials as it runs: --only picks among listed trials, so it runs none.
    plans = [p for p in plans if (not wanted or p["study"] in wanted) and not args.only]
    if args.search_trials is not None:
        if args.search_trials < 1:
            raise SweepError(f"--search-trials {args.search_trials}: expected a positive number of trials")
        for p in plans:
            p["search"]["trials"] = min(p["search"]["trials"], args.search_trials)
    if args.quick:
        print(QUICK_NOTE, flush=True)
        trials = [t.changed(model={"learning_rate": t.model.learning_rate * QUICK_LR_SCALE}) for t in trials]
    return (on_sample(trials) if args.smoke or args.quick else trials), plans


def plan_run(spec: dict, args, trials: list[Trial], plans: list[dict]) -> tuple[Run, list[Trial], dict]:
    """The ``Run`` of this command line: what ``--only`` picks of ``trials`` that the results do not
    hold yet (or hold from other code, with ``--rerun-other-versions``), and each searched study's rows.
    Returns it, the trials ``--only`` picked, and {trial_id: status} of what the results hold."""
    name = spec["name"]
    chosen = select(trials, args.only)
    if not chosen and not plans:
        sys.exit(f"error: --only {args.only!r} matches none of the {len(trials)} trials of {name}")
    done = results.done(args.results, name)
    # Read now, before anything starts: an unreadable sweep.json stops here, never overwritten.
    meta = results.read_json(args.results, name, "sweep.json") or {}
    meta.pop("trials", None)  # this run writes its own (onray.record_run); 100,000 earlier ones are ~300 MB
    skip = {"ok", "diverged"} | (set() if args.rerun_failed else {"failed"})
    # A trial its study's pruner stopped is done there (without the pruner it runs to the end).
    todo = [t for t in chosen if done.get(t.trial_id) not in skip | ({"pruned"} if t.prune else set())]
    if args.rerun_other_versions:
        running = {t.trial_id for t in todo}  # by id: comparing trials is quadratic at 10,000
        todo += other_versions([t for t in chosen if t.trial_id not in running],
                               results.versions(args.results, name))
    rows = {p["study"]: search.study_rows(args.results, name, p["study"], p) for p in plans}
    recorded = {**budget(args), **({"learning_rate_scale": QUICK_LR_SCALE} if args.quick else {})}
    run = Run(spec, trials, todo, plans, rows, recorded, meta, Options.of(args),
              keep=kept.policies(spec, args.keep_models))
    run.ensembles = [j for j in kept.ensemble_jobs(spec, select(trials, args.only) if args.only else trials,
                                                   args.results, kept.study_metrics(spec))
                     if done.get(j.trial.trial_id) != "ok"]
    exported = os.environ.get("KERAS_BACKEND")
    if exported and exported != "tensorflow" and any(t.training.backend == "tensorflow" for t in todo):
        print(f"KERAS_BACKEND={exported} is exported, but training.backend is tensorflow (the default) for trials "
              f"this run starts: they run on TensorFlow, as their ids say (--set training.backend={exported} runs them "
              f"on {exported}, under their own ids)", flush=True)
    print(f"{name}: {len(chosen)} trials, {len(chosen) - len(todo)} already in {run.where}, {len(todo)} to run"
          + (f", and {len(plans)} searched {'study' if len(plans) == 1 else 'studies'} drawing theirs"
             if plans else "") + (f", {len(run.ensembles)} ensembles to score" if run.ensembles else "")
          + (f"  (budget: {run.budget})" if run.budget else ""), flush=True)
    return run, chosen, done


def search_done(plan: dict, rows: list[dict]) -> bool:
    """Has a searched study drawn all its trials (``rows``: its rows in the results), and none of
    them is still to be resumed?"""
    mine = [r for r in rows if r["number"] is not None]
    return len(mine) >= plan["search"]["trials"] and not any(r["status"] == "running" for r in mine)


def one_trial(trials: list[Trial], pattern: str, name: str) -> Trial:
    """``--trial``: the one trial it names."""
    chosen = select(trials, pattern)
    if len(chosen) != 1:
        sys.exit(f"error: --trial {pattern!r} matches {len(chosen)} trials of {name}; "
                 f"names: {', '.join(t.name for t in trials[:6])}, ...")
    return chosen[0]


def compact_sweep(uri: str, name: str) -> int:
    """``--compact``: under the sweep's lease (never while a driver runs it)."""
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


def best_of(spec) -> bool:
    """Does a study rerun another's best trial? (Checked before the spec is: any shape may come.)"""
    studies = spec.get("studies") if isinstance(spec, dict) else None
    return isinstance(studies, dict) and any(isinstance(b, dict) and BEST_OF in b for b in studies.values())


def budget(args) -> dict:
    """The training settings ``--smoke``, ``--quick``, ``--epochs`` and ``--limit-train`` override."""
    b = dict(SMOKE) if args.smoke else dict(QUICK) if args.quick else {}
    if args.epochs:
        b["epochs"] = args.epochs
    if args.limit_train:
        b["limit_train"] = args.limit_train
    return b


def settings_overrides(pairs: list[str]) -> dict:
    """``["model.semantics=tf_keras2", "training.epochs=3"]`` → ``{"model": {"semantics": ...}, ...}``;
    values read as Python literals (3, 0.5, True, None), else as strings. Checked by ``expand``."""
    import ast

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


def run_local(trial: Trial):
    """One trial in this process, no Ray: for debugging a configuration."""
    print(f"preparing dataset for {trial.name} ...", flush=True)
    prepared = prepare_dataset(trial)
    print(f"  {len(prepared.x_train)} train / {len(prepared.x_test)} test rows, vocab {prepared.vocab_size}"
          + (f", GloVe {prepared.meta['config']['glove_dim']}d coverage {prepared.meta['glove_coverage']:.1%}"
             if prepared.embedding is not None else ""), flush=True)

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


def on_sample(trials: list[Trial]) -> list[Trial]:
    """``--smoke``/``--quick`` without the full IMDB reviews or GloVe files here: their trials run on the
    sample shipped with rnnsweep (``dataset.sample``, so their ids differ from runs on the full data),
    and one line says so."""
    def missing(ds):
        glove = ds.embedding == "glove" and not (data.available("glove50") or data.available("glove100"))
        return ds.source == "imdb_reviews" and not ds.path and (glove or not data.available("imdb_reviews"))

    moved = sum(missing(t.dataset) for t in trials)
    trials = [t.changed(dataset={"sample": True, **({"glove_dim": 50} if t.dataset.embedding == "glove" else {})})
              if missing(t.dataset) else t for t in trials]
    if moved:
        print(f"the IMDB reviews or GloVe vectors are not in {data.data_dir()}: {moved} trials run on "
              f"the 3,000-review sample shipped with rnnsweep ({data.SAMPLE_DIR}); put the full files there "
              f"(or set {data.DATA_ENV}) for the real data", flush=True)
    return trials


def other_versions(finished: list[Trial], made_by: dict) -> list[Trial]:
    """``--rerun-other-versions``: the finished trials another code version made, said in one line
    (from a dirty checkout they are all of them, with a warning: "+dirty" names no one version)."""
    now = code_version()
    if now.endswith("+dirty)"):
        print(f"warning: {now} has uncommitted changes: the rows it writes cannot say which code made them",
              flush=True)
    again = [t for t in finished if made_by.get(t.trial_id) != now]
    if again:
        print(f"--rerun-other-versions: {len(again)} finished trials were made by other code than {now}; "
              "they run again and their rows are replaced", flush=True)
    return again
