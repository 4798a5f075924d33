"""``--dry-run``: each trial per study with its settings and whether it is done, each searched study's
next draws, and what the rest will cost (``cost``: from earlier trials' epoch times, or ``--calibrate``'s
short runs here). Runs nothing on Ray.
"""
from __future__ import annotations

from collections import Counter

from . import backends, cost, fused, kept, results, search
from .onray import capacity
from .plan import Planner
from .config import Trial
from .run import Outcome, Run
from .config import non_default
from .sweep import studies_of
from .text import prepare_dataset
from .trial import run_trial


def dry_run(run: Run, listed: list[Trial], done: dict, earlier, calibrating: bool = False) -> Outcome:
    """Print the ``listed`` trials (``done``: {trial_id: status} in the results; ``earlier``: the
    trials table, for timings) and each searched study's plan; returns the searched studies' next draws."""
    rates = cost.rates(earlier)
    if calibrating:
        rates.update(calibrate(run.todo, rates))
        calibrate_backends(run, earlier)
    # Seed repeats share their timing and all but one setting: each worked out once per configuration.
    keys, described = {}, {}
    for t in listed:
        if t.config_id not in keys:
            sections = t.sections()
            keys[t.config_id] = cost.timing_key(sections)
            sections["training"].pop("seed")
            described[t.config_id] = describe(sections)
    projected = {t.trial_id: cost.project(t, rates.get(keys[t.config_id])) for t in listed}
    again = {t.trial_id for t in run.todo}
    lines = []
    for study in studies_of(listed) or [None]:
        group = [t for t in listed if study is None or study in t.studies]
        if study:
            lines.append(f"study {study}: {len(group)} trials")
        for t in group:
            status = done.get(t.trial_id, "todo")
            if status in ("ok", "diverged") and t.trial_id in again:
                status = "rerun"  # --rerun-other-versions: finished, but by other code
            shared = f"  (also {t.study.replace(study + ',', '').replace(',' + study, '')})" \
                if study and "," in t.study else ""
            settings_ = " ".join(x for x in (described[t.config_id], describe({"training": {"seed": t.training.seed}}))
                                 if x)
            lines.append(f"  {t.trial_id}  {t.name:<34} {status:<8} "
                         f"{duration(projected[t.trial_id]):>8}  {settings_}{shared}")
    print("\n".join(lines), flush=True)  # one write: 100,000 prints took seconds
    planner = planner_of(run, earlier) if run.todo or run.searches else None
    if run.todo:
        print(projection([projected[t.trial_id] for t in run.todo], run))
        fusing(run, earlier, rates, planner)
    models = kept.projection(listed, run.keep, earlier)
    if models:
        print(models)
    for job in run.ensembles:
        print(f"ensemble {job.trial.name}: the average of {len(job.members)} kept models, scored once on the test "
              "split when they have landed")
    draws = {p["study"]: next_draws(p, run.search_rows[p["study"]], planner) for p in run.searches}
    return Outcome(todo=run.todo, done=done, draws=draws)


def planner_of(run: Run, earlier) -> Planner:
    """The run's ``plan.Planner``, as the run would make it (the cluster looked at only when an unset
    --fuse on GPUs needs its slots)."""
    gpus = run.options.gpus_per_trial or 0
    slots = capacity(run.options)[0] if run.options.fuse is None and gpus else 1
    return Planner(run.options.cpus_per_trial, gpus, run.options.fuse, run.options.fuse_also, slots, trials=earlier,
                   calibration=results.read_json(run.options.results, run.name, backends.CALIBRATION))


def fusing(run: Run, earlier, rates: dict, planner: Planner):
    """What will run, as the run plans it (``plan.Planner``): each ``auto`` trial's backend and why, which
    trials run fused and, where a fused group of the same model and size has run before, the time it saves."""
    tasks = planner.tasks(run.todo)
    for task in tasks:
        for t in task.members:
            if t.backend_choice:
                print(f"  backend of {t.name}: {t.backend_choice['backend']} ({t.backend_choice['why']})")
    groups = [list(task.members) for task in tasks if task.fused]
    if not groups:
        todo = [t for task in tasks for t in task.members]
        could = [g for g in fused.groups(todo, fused.FUSE_MAX, also=run.options.fuse_also) if isinstance(g, list)]
        if could and run.options.fuse is None and not planner.gpus:
            print(f"not fused: {sum(map(len, could))} JAX seed repeats run one by one on CPUs, where fusing measured "
                  "no faster (--fuse K fuses them)")
        return
    shown = ", ".join(f"{g[0].name.rsplit('-seed', 1)[0]} ×{len(g)}" for g in groups[:6])
    more = ", ..." if len(groups) > 6 else ""
    print(f"fused on JAX: {sum(map(len, groups))} trials in {len(groups)} tasks ({shown}{more})")
    has = earlier is not None and not earlier.empty and "fused_members" in earlier
    together = cost.rates(earlier[earlier["fused_members"].fillna(1) > 1], key=lambda sections, row: (
        cost.timing_key(sections), int(row["fused_members"]))) if has else {}
    alone = cost.rates(earlier[earlier["fused_members"].fillna(1) <= 1]) if has else rates
    saved = [(sum(cost.project(t, alone.get(cost.timing_key(t.sections()))) or 0 for t in g),
              cost.project(g[0], together.get((cost.timing_key(g[0].sections()), len(g))))) for g in groups]
    known = [(a, f) for a, f in saved if a and f]
    print(f"  projected: {duration(sum(a for a, _ in known))} one by one, {duration(sum(f for _, f in known))} fused, "
          f"for the {len(known)} groups whose model ran both ways before" if known else
          "  projected saving: unknown until a fused group of these models has run here (BENCHMARKS.md §9)")


def next_draws(plan: dict, rows: list[dict], planner: Planner | None = None, shown: int = 3) -> list[dict]:
    """A searched study in ``--dry-run``: its settings, what the results hold (``rows``), the budget
    bound and the next draws it would try (the results replayed into its sampler, as a run does)."""
    s, epochs = plan["search"], plan["fixed"]["training"]["epochs"]
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
    nxt = [t for t in (searcher.ask(plan["study"]) for _ in range(min(shown, left))) if t]
    for t in nxt:
        t = planner.resolve(t) if planner else t
        chosen = f"  (backend {t.backend_choice['backend']}: {t.backend_choice['why']})" if t.backend_choice else ""
        print(f"  next  {t.trial_id}  {t.name:<34} {describe(t.sections())}{chosen}")
    return nxt


def duration(seconds) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:.0f} s" if seconds < 100 else f"{seconds / 60:.0f} min" if seconds < 6000 else \
        f"{seconds / 3600:.1f} h"


def projection(seconds: list, run: Run) -> str:
    """The totals line of ``--dry-run``: trial time, and wall time on the cluster's slots."""
    known = [s for s in seconds if s is not None]
    unknown = len(seconds) - len(known)
    if not known:
        return (f"projected time: unknown for all {len(seconds)} trials to run (no earlier trial of their models; "
                "--calibrate times each model with a short run here)")
    n, where = capacity(run.options)
    line = (f"projected time of {len(known)} trials to run: {duration(sum(known))} of trial time; "
            f"about {duration(cost.makespan(known, n))} on {where} ({n} at a time)")
    return line + (f"; {unknown} more not projected (--calibrate times their models)" if unknown else "")


def calibrate_backends(run: Run, earlier):
    """``--calibrate`` with ``auto`` trials: each model that earlier trials have not timed on both backends
    here gets a short run on each, recorded in the sweep's ``calibration.json``, where ``auto`` reads it."""
    old = results.read_json(run.options.results, run.name, backends.CALIBRATION) or {}
    known = backends.with_calibration(backends.measured(earlier), old)
    entries, done = [], set()
    for t in run.todo:
        key = backends.shape_key(t.sections())
        if t.training.backend != "auto" or key in done or all((key, b, "CPU") in known
                                                                         for b in backends.BACKENDS):
            continue
        done.add(key)
        print(f"calibrating {t.name} on TensorFlow and on JAX (a short run of each here) ...", flush=True)
        entries += backends.calibrate(t)
    if entries:
        results.write_json(run.options.results, run.name, backends.CALIBRATION,
                           {"rates": old.get("rates", []) + entries})


def calibrate(todo: list[Trial], rates: dict) -> dict:
    """A rate for each model of ``todo`` that has none: a short run of its first trial here."""
    found = {}
    for t in todo:
        key = cost.timing_key(t.sections())
        if key in rates or key in found:
            continue
        print(f"calibrating {t.name} (a short run here) ...", flush=True)
        found[key] = calibrate_model(t, prepare_dataset(t.dataset, t.name))
    return found


def calibrate_model(trial: Trial | dict, prepared, samples: int = 1024, epochs: int = 3) -> dict:
    """The rate of ``trial``'s model from a short run of it here (``samples`` rows, ``epochs`` epochs)."""
    trial = Trial.of(trial)
    r = run_trial(cost.short_run(trial, len(prepared.x_test), samples, epochs), prepared)
    if r["status"] != "ok":
        raise ValueError(f"calibration of {trial.name}: {r['error']}")
    return cost.rate_of_run(r, len(prepared.x_test), len(prepared.x_train))


def describe(sections: dict) -> str:
    """The settings (``Trial.sections``, or some of them) that differ from the defaults, as ``key=value``."""
    return " ".join(f"{k}={v}" for section in non_default(sections).values() for k, v in section.items())
