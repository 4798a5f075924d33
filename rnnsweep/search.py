"""Searching instead of listing: Optuna's samplers draw a study's next trial when a slot frees, and
its pruners stop hopeless trials at the end of an epoch (``search=dict(...)`` in a sweep; its keys
in ``settings.SEARCH``).

Optuna's ask-and-tell API, inside the driver: one ``Searcher`` (a Ray actor on the driver's node,
no CPU of its own) holds an in-memory ``optuna.Study`` per study that searches or prunes. The driver
asks it for a trial whenever a slot frees, each trial reports every epoch's metric to it and stops
when it says "prune", and the driver tells it how each trial ended. Nothing of Optuna's lives in the
results: a driver that starts again replays the Parquet rows (parameters, per-epoch values, how the
trial ended) into fresh studies, so the same spec and seed then draw the same next trials.

Each draw's sampler is seeded by the study's seed and the trial's number, so a draw depends only on
the spec, the seed and the trials before it, not on when the driver last started.
"""
from __future__ import annotations

import math
from dataclasses import replace

from . import results
from .settings import SECTIONS
from .config import Trial
from .sweep import BEST_OF, REFIT, STUDY_KEYS, Sample, expand, model_label, searches

def distribution(sample: Sample):
    import optuna.distributions as d

    if sample.kind == "choice":
        return d.CategoricalDistribution(list(sample.args))
    return d.FloatDistribution(*sample.args, log=sample.kind == "loguniform")


def sampler(search: dict, number: int):
    """The sampler of draw ``number``: seeded by the study's seed and the number (see the module's doc)."""
    import optuna

    seed = search["seed"] * 1_000_003 + number
    if search["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Constant liar: trials still running count as bad guesses, so trials in flight spread out.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=search["startup_trials"], constant_liar=True)


def pruner(search: dict, max_epochs: int):
    import optuna

    p = search["pruner"]
    if p is None:
        return optuna.pruners.NopPruner()
    if p["kind"] == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=p["min_epochs"], reduction_factor=p["reduction"])
    if p["kind"] == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=p["min_epochs"], max_resource=max_epochs,
                                              reduction_factor=p["reduction"])
    return optuna.pruners.MedianPruner(n_startup_trials=p["startup_trials"], n_warmup_steps=p["min_epochs"] - 1)


def trial_of(plan: dict, number: int, params: dict) -> Trial:
    """The trial of draw ``number`` of a searched study: its fixed values and the drawn ones."""
    body = {s: dict(values) for s, values in plan["fixed"].items()}
    for s, k, _ in plan["sampled"]:
        body[s][k] = params[f"{s}.{k}"]
    t = Trial.of({**body, "sweep": plan["sweep"], "study": plan["study"], "search_number": number,
                  "prune": {**plan["search"], "study": plan["study"]}})
    # The number makes it unique; the drawn values are the row's config columns (--dry-run lists them).
    return replace(t, name=f"{plan['study'] or 'search'}{number:03d}-{model_label(t)}")


def params_of(plan: dict, row: dict) -> dict:
    """The drawn values of a trial row (its config columns), as Optuna's parameters."""
    return {f"{s}.{k}": row[k] for s, k, _ in plan["sampled"]}


def objective(history: list[dict], metric: str, direction: str):
    """A trial's value: its best epoch's ``metric`` (early stopping restores those weights)."""
    values = [h.get(metric) for h in history if h.get(metric) is not None and math.isfinite(h[metric])]
    if not values:
        return None
    return max(values) if direction == "maximize" else min(values)


def scored_epoch(history: list[dict], metric: str, direction: str) -> int:
    """The epoch (1-based) ``objective`` took its value from: the first, where several tie."""
    value = objective(history, metric, direction)
    return next(i + 1 for i, h in enumerate(history) if h.get(metric) == value)


class Searcher:
    """Optuna's studies of one run of a sweep, keyed by study name (a Ray actor: ``actor()``)."""

    def __init__(self, plans: list[dict], pruned: dict[str, dict], max_epochs: dict[str, int]):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.plans = {p["study"]: p for p in plans}
        self.settings = {**pruned, **{p["study"]: p["search"] for p in plans}}
        self.studies = {name: optuna.create_study(direction=s["direction"], study_name=str(name),
                                                  pruner=pruner(s, max_epochs.get(name, 1)))
                        for name, s in self.settings.items()}
        self.in_flight: dict = {}    # trial_id → (study, optuna trial): running now
        self.reported: dict = {}  # trial_id → the epochs it reported (a retried worker reports some again)
        self.known: dict = {}   # (study, trial_id) → how it ended: a draw of a config already run is told that
        self.numbers = {name: 0 for name in self.plans}  # the next draw's number in each searched study

    # -- a fresh start: what the results already hold
    def replay(self, study, rows: list[dict]):
        """Earlier trials of ``study`` (``rows``: ``params``, ``status``, ``history``, ``number``),
        in the order they were drawn, added to its Optuna study as they ended."""
        import optuna
        from optuna.trial import TrialState

        s, plan = self.settings[study], self.plans.get(study)
        dists = {f"{sec}.{k}": distribution(v) for sec, k, v in plan["sampled"]} if plan else {}
        for r in sorted(rows, key=lambda r: (r.get("number") is None, r.get("number") or 0)):
            value = objective(r["history"], s["metric"], s["direction"])
            steps = {h["epoch"]: h[s["metric"]] for h in r["history"] if h.get(s["metric"]) is not None
                     and math.isfinite(h[s["metric"]])}
            state = {"ok": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(r["status"], TrialState.FAIL)
            if state == TrialState.COMPLETE and value is None:
                state = TrialState.FAIL
            self.studies[study].add_trial(optuna.trial.create_trial(
                state=state, value=value if state == TrialState.COMPLETE else None, params=r["params"] if plan else {},
                distributions=dists if plan else {}, intermediate_values=steps))
            self.known[(study, r["trial_id"])] = (state, value)
            if plan and r.get("number") is not None:
                self.numbers[study] = max(self.numbers[study], r["number"] + 1)

    def resume(self, study, trial: Trial, history: list[dict]):
        """A trial that was running when the driver stopped, asked again with its own parameters and
        its epochs so far reported (it goes on from its epoch backup)."""
        st = self.studies[study]
        if study in self.plans:
            st.enqueue_trial({f"{s}.{k}": getattr(getattr(trial, s), k) for s, k, _ in self.plans[study]["sampled"]})
        self.in_flight[trial.trial_id] = (study, st.ask(self._dists(study)))
        if trial.search_number is not None:  # later draws number on from it
            self.numbers[study] = max(self.numbers[study], trial.search_number + 1)
        for h in history:
            self.report(trial, h["epoch"], h.get(self.settings[study]["metric"]))

    # -- while the sweep runs
    def _dists(self, study):
        plan = self.plans.get(study)
        return {f"{s}.{k}": distribution(v) for s, k, v in plan["sampled"]} if plan else {}

    def ask(self, study) -> dict | None:
        """The next trial of a searched study; a draw of a configuration already run (a choice-only
        space) is told that trial's result and drawn again; None when the space gives nothing new."""
        from optuna.trial import TrialState

        plan, st = self.plans[study], self.studies[study]
        for _ in range(100):
            number = self.numbers[study]
            st.sampler = sampler(plan["search"], number)
            ot = st.ask(self._dists(study))
            self.numbers[study] += 1
            t = trial_of(plan, number, ot.params)
            seen = self.known.get((study, t.trial_id))
            running = t.trial_id in self.in_flight
            if seen is None and not running:
                self.in_flight[t.trial_id] = (study, ot)
                return t
            state, value = seen if seen else (TrialState.FAIL, None)
            st.tell(ot, value if state == TrialState.COMPLETE else None,
                    state=state if state == TrialState.COMPLETE else TrialState.FAIL)
        return None

    def report(self, trial: Trial, epoch: int, value) -> bool:
        """A running trial's ``epoch`` ended with ``value`` of its metric: whether to stop it now."""
        tid = trial.trial_id
        if tid not in self.in_flight:  # a grid trial of a study that prunes: known from its first epoch
            study = trial.prune["study"]
            self.in_flight[tid] = (study, self.studies[study].ask())
        study, ot = self.in_flight[tid]
        if value is None or not math.isfinite(value):
            return False  # a non-finite loss stops the trial by itself (diverged)
        done = self.reported.setdefault(tid, set())
        if epoch not in done:
            ot.report(float(value), int(epoch))
            done.add(epoch)
        return ot.should_prune()

    def tell(self, trial: Trial, status: str, history: list[dict]):
        from optuna.trial import TrialState

        tid = trial.trial_id
        if tid not in self.in_flight:  # pruned studies: a grid trial that ended before its first epoch
            return
        study, ot = self.in_flight.pop(tid)
        self.reported.pop(tid, None)
        s = self.settings[study]
        value = objective(history, s["metric"], s["direction"])
        state = TrialState.PRUNED if status == "pruned" else TrialState.COMPLETE if status == "ok" and \
            value is not None else TrialState.FAIL
        self.studies[study].tell(ot, value if state == TrialState.COMPLETE else None, state=state)
        self.known[(study, tid)] = (state, value)


def actor(plans, pruned, max_epochs):
    """The ``Searcher`` as a Ray actor on the driver's node (no CPU of its own)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(num_cpus=0, scheduling_strategy=here)(Searcher).remote(plans, pruned, max_epochs)


class Feed:
    """What the driver launches next: the listed trials first, then each searched study's draws,
    asked from the ``Searcher`` only when a slot frees (``onray.InFlight.top_up``), so every draw
    knows how the trials before it went."""

    def __init__(self, listed: list[Trial], searcher, left: dict[str, int]):
        from collections import deque

        self.listed, self.searcher, self.left = deque(listed), searcher, dict(left)

    def __len__(self):
        return len(self.listed) + sum(self.left.values())

    def popleft(self) -> Trial | None:
        if self.listed:
            return self.listed.popleft()
        import ray

        study = next(s for s, n in self.left.items() if n > 0)
        self.left[study] -= 1
        t = ray.get(self.searcher.ask.remote(study))
        if t is None:  # the space has nothing new left
            self.left[study] = 0
        return t


def rows_for_replay(plan_or_settings: dict, trials, epochs) -> list[dict]:
    """``Searcher.replay``'s rows from the results' tables (pandas) of one study."""
    plan = plan_or_settings if "sampled" in plan_or_settings else None
    out = []
    by_trial = {tid: g.sort_values("epoch").to_dict("records") for tid, g in epochs.groupby("trial_id")} \
        if len(epochs) else {}
    for r in trials.to_dict("records"):
        n = r.get("search_number")
        out.append({"trial_id": r["trial_id"], "status": r["status"], "history": by_trial.get(r["trial_id"], []),
                    "number": None if n is None or (isinstance(n, float) and math.isnan(n)) else int(n),
                    "params": params_of(plan, r) if plan else {}})
    return out


def study_rows(uri: str, name: str, study: str, plan: dict | None = None, leave_out=()) -> list[dict]:
    """``rows_for_replay`` of one study as the results hold it (a trial shared by several studies is
    in each), less the trials in ``leave_out``: what a run, ``--dry-run`` and the done check read."""
    tab = results.read_table(uri, name, "trials").to_pandas()
    if tab.empty:
        return []
    mine = tab[tab["study"].fillna("").str.split(",").apply(lambda names: study in names)]
    mine = mine[~mine["trial_id"].isin(set(leave_out))]
    epochs = results.read_table(uri, name, "epochs").to_pandas()
    if len(epochs):
        epochs = epochs[epochs["trial_id"].isin(mine["trial_id"])]
    return rows_for_replay(plan or {}, mine, epochs)


def config_of(row: dict) -> dict:
    """A trial's sections rebuilt from its row's config columns (a row read with Arrow's
    ``to_pylist``, so integers stay integers and nulls are None)."""
    return {s: {k: SECTIONS[s][k].from_column(row.get(k)) for k in SECTIONS[s]} for s in SECTIONS}


def resolve_best(spec: dict, uri: str, search_trials: int | None = None) -> tuple[dict, dict]:
    """The spec with each ``best_of`` study filled in: the settings of the best finished trial of the
    study it names (on that study's search metric, val_accuracy where it has none), its own sections
    laid over them (the seeds), and ``evaluate_test`` back to its default, so the winner's repeats are
    the only trials to touch the test split. A study whose source has trials still to run or to draw
    stays out; returns (spec, {study: why it waits}). ``spec`` has been validated (``sweep.validate``)."""
    studies = spec.get("studies") or {}
    waiting = {name: body[BEST_OF] for name, body in studies.items() if BEST_OF in body}
    if not waiting:
        return spec, {}
    plans = {p["study"]: p for p in searches(spec, checked=True)}
    listed = expand(spec, checked=True)
    table = results.read_table(uri, spec["name"], "trials")
    rows = {r["trial_id"]: r for r in table.to_pylist()}  # Arrow → Python: ints stay ints, nulls None
    filled, why = dict(studies), {}
    for name, source in waiting.items():
        plan = plans.get(source)
        metric, direction = (plan["search"]["metric"], plan["search"]["direction"]) if plan else \
            ("val_accuracy", "maximize")
        ended = [r for r in study_rows(uri, spec["name"], source, plan) if r["status"] != "running"]
        if plan:
            want = min(plan["search"]["trials"], search_trials or plan["search"]["trials"])
            have = len([r for r in ended if r["number"] is not None])
        else:
            ids = {t.trial_id for t in listed if source in t.studies}
            want, have = len(ids), len([r for r in ended if r["trial_id"] in ids])
        scored = [(objective(r["history"], metric, direction), r["trial_id"]) for r in ended if r["status"] == "ok"]
        scored = [(v, tid) for v, tid in scored if v is not None]
        if have < want or not scored:
            why[name] = (f"waits for study {source!r}: {have} of its {want} trials ended"
                         + ("" if scored or have < want else ", none of them ok"))
            del filled[name]
            continue
        pick = max if direction == "maximize" else min
        best = rows[pick(scored)[1]]
        body = {k: v for k, v in studies[name].items() if k not in STUDY_KEYS}
        base = config_of(best)
        base["training"].pop("evaluate_test")
        if studies[name].get(REFIT):
            history = next(r["history"] for r in ended if r["trial_id"] == best["trial_id"])
            base["training"].update(validation_split=0.0, early_stopping=None,
                                    epochs=scored_epoch(history, metric, direction))
        filled[name] = {**body, **{sec: {**base[sec], **body.get(sec, {})} for sec in SECTIONS}}
    return {**spec, "studies": filled}, why
