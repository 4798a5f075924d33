"""Part of stage 4 (trial): seed repeats fused into one program on JAX.

k trials of one model that differ only in ``training.seed`` train as one ``jax.vmap``-ed, ``jax.jit``-ed
step: each member's weights, optimizer state, metric state and dropout seed state stacked on a leading
axis, and the step is Keras's own ``train_step`` (``model.stateless_call`` and
``optimizer.stateless_apply``), so a member computes what ``model.fit`` computes for that trial alone.
Each member keeps what it would have alone:

- its model, built right after ``set_random_seed(its seed)`` (its initial weights, its dropout streams);
- its batch order: the permutations ``fit``'s array adapter would draw from NumPy's global generator,
  drawn from a copy of that generator's state as this trial alone would leave it;
- its callbacks (epoch log and live rows, pruning verdicts, early stopping, learning-rate schedules,
  ``BackupAndRestore``), run on its own model after each epoch, with its state copied in and back out;
- its verdict: a member whose loss turns non-finite, that early stopping or the pruner stops, is
  frozen (its state no longer changes) while the others go on; its rows are final.

So a member's rows equal the trial run alone on JAX to float round-off (``tests/on_jax``), with the same
trial id; ``fused_group`` says which group it ran in. CPU- and GPU-seconds are shared out evenly.
"""
from __future__ import annotations

import itertools
import time

from . import keras_private
from .config import Trial, config_id, stable_hash
from .trial import callbacks_of, failed, finish, new_result, record_fit, record_test, seeded_model
from .worker import ready_keras

FUSE_MAX = 8  # members per group when the command line does not say (--fuse)
OWN = {"training": ("seed",), "model": ("learning_rate",)}  # what a member may have of its own: no shape changes
ALSO = tuple(k for keys in OWN.values() for k in keys if k != "seed")  # what --fuse-also may let members differ in


def groups(todo: list[Trial], fuse: int | None, slots: int = 1, gpus: float = 0.0, also: tuple = ()) -> list:
    """``todo`` with the JAX trials that differ only in their seed (one ``config_id``, no pruning) gathered
    into groups of at most ``fuse`` members: each group a list, each other trial as it is. ``also``
    (``ALSO``'s names): members may differ in these too (the user's leave: a learning-rate grid then trains
    as one program). ``fuse`` None: on CPUs none (measured here, a fused member-epoch took 1.0x the time of
    one alone at maxlen 30 and 2x at maxlen 200: BENCHMARKS.md 9); on GPUs the most members (up to
    ``FUSE_MAX``) that still leave a task for each of the cluster's ``slots`` (6 seeds on 2 slots: 2 groups
    of 3, not 1 of 6 and an idle slot)."""
    if fuse is None and not gpus:
        fuse = 1
    if fuse is None:
        enough = min(slots, len(todo))
        fuse = next((k for k in range(FUSE_MAX, 1, -1) if len(_grouped(todo, k, also)) >= enough), 1)
    return _grouped(todo, fuse, also)


def _key(t: Trial, also: tuple) -> str:
    """What a trial's group mates share: its config (all but the seed), less the ``also`` settings."""
    if not also:
        return t.config_id
    return config_id({s: {k: v for k, v in values.items() if k not in also} for s, values in t.sections().items()})


def _grouped(todo: list[Trial], k: int, also: tuple = ()) -> list:
    """Each config's fusable trials in as few groups of at most ``k`` as hold them, sizes even (7 in
    groups of at most 4: 4 and 3), each group where its first member was."""
    out, members = [], {}
    for t in todo:
        if k < 2 or t.backend != "jax" or t.prune:
            out.append(t)
            continue
        key = _key(t, also)
        if key not in members:
            members[key] = []
            out.append(members[key])  # its place in the order; filled as the loop goes
        members[key].append(t)
    grouped = []
    for item in out:
        if not isinstance(item, list):
            grouped.append(item)
            continue
        n = -(-len(item) // k)  # groups
        q, r = divmod(len(item), n)
        ends = list(itertools.accumulate([q + 1] * r + [q] * (n - r)))
        grouped += [g[0] if len(g) == 1 else g for g in (item[a:b] for a, b in zip([0] + ends, ends))]
    return grouped


def group_id(members: list[Trial]) -> str:
    return "g" + stable_hash(sorted(t.trial_id for t in members))[:11]


def _state(model) -> tuple:
    return ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables], [v.value for v in model.metrics_variables])


def _assign(model, state):
    for variables, values in zip((model.trainable_variables, model.non_trainable_variables,
                                  model.optimizer.variables, model.metrics_variables), state):
        for v, x in zip(variables, values):
            v.assign(x)


def _member(state, i: int):
    import jax

    return jax.tree.map(lambda a: a[i], state)


def _stack(states: list):
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda *xs: jnp.stack(xs), *states)


def _steps(template):
    """The jitted fused train step (frozen members keep their state) and the fused validation step."""
    import jax
    import jax.numpy as jnp

    def where(keep, new, old):
        return jax.tree.map(lambda n, o: jnp.where(keep.reshape((-1,) + (1,) * (n.ndim - 1)), n, o), new, old)

    def train(state, x, y, active):
        logs, new = jax.vmap(template.train_step)(state, (x, y))
        # Selecting every array of the state costs as much memory traffic as the update itself: only
        # once a member has stopped (measured: a third of a SimpleRNN(5) step at maxlen 200 on a CPU).
        kept = jax.lax.cond(jnp.all(active), lambda: new, lambda: where(active, new, state))
        return kept, active & jnp.isfinite(logs["loss"])

    def test(state, x, y, active):
        trainable, fixed, opt, metrics = state
        _, (_, fixed2, metrics2) = jax.vmap(template.test_step, in_axes=((0, 0, 0), None))(
            (trainable, fixed, metrics), (x, y))
        return where(active, (trainable, fixed2, opt, metrics2), state)

    # The state is donated, as Keras's own JAX trainer donates it: updated in place, not copied each step.
    return jax.jit(train, donate_argnums=0), jax.jit(test, donate_argnums=0)


def train_group(configs: list[Trial | dict], prepared, cpus=None, on_epochs=None, backup_dirs=None, earliers=None,
                on_backups=None, gpus: float = 0.0, on_trained=None, on_done=None) -> list[dict]:
    """Train ``configs`` (one model, different seeds) as one fused program; one result per member, as
    ``trial.run_trial`` returns it. ``on_epochs``/``backup_dirs``/``earliers``/``on_backups``: per member,
    as ``run_trial`` takes them; ``on_trained(i, model)`` sees member i's trained model, ``on_done(i, model,
    result)`` the model its test numbers came from (members whose status is ok)."""
    configs = [Trial.of(c) for c in configs]
    k = len(configs)
    per = [lambda v: [v] * k, lambda v: list(v)]
    on_epochs, backup_dirs, on_backups = (per[v is not None](v) for v in (on_epochs, backup_dirs, on_backups))
    earliers = list(earliers) if earliers is not None else [()] * k
    cpu_start = time.process_time()
    results = [new_result(c, prepared) for c in configs]
    gid = group_id(configs)
    for r in results:
        r.update(fused_group=gid, fused_members=k)
    try:
        _check_fusable(configs)
        ready_keras(configs[0], results[0], cpus)
        shared = ("cudnn", "device", "keras_version", "keras_backend", "tf_version", "import_seconds")
        for r in results[1:]:
            r.update({f: results[0].get(f) for f in shared})
        if results[0]["keras_backend"] != "jax":
            raise RuntimeError(f"fused repeats run on JAX; Keras here runs on {results[0]['keras_backend']}")
        models = _train(configs, prepared, results, on_epochs, backup_dirs, earliers, on_backups, on_trained)
        for i, (model, r) in enumerate(zip(models, results)):
            if on_done and r["status"] == "ok":
                on_done(i, model, r)
    except Exception as e:  # recorded, never raised: the sweep must go on
        for r in results:
            if r["status"] == "ok" and "test_accuracy" not in r:
                failed(r, e)
    return [finish(r, cpu_start, gpus, share=k) for r in results]


def _check_fusable(configs):
    """Members differ in their seed and learning rate (an optimizer variable, stacked like the weights) alone."""
    def shape(c):
        return {s: {k: v for k, v in values.items() if k not in OWN.get(s, ())} for s, values in c.sections().items()}
    base = shape(configs[0])
    for c in configs[1:]:
        if shape(c) != base:
            raise ValueError(f"{c.name} differs from {configs[0].name} in more than its seed "
                             "and learning rate: not fusable")


def _train(configs, prepared, results, on_epochs, backup_dirs, earliers, on_backups, on_trained):
    import keras
    import numpy as np

    training = configs[0].training
    models, gens, members = [], [], []
    for c, r, on_epoch, backup, on_backup in zip(configs, results, on_epochs, backup_dirs, on_backups):
        train, val, model = seeded_model(c, prepared, r)
        # What fit does before its first epoch, with NumPy's generator as this trial alone leaves it: the
        # array adapter's first batch builds the metrics (one permutation drawn), then each epoch draws one.
        keras_private.symbolic_build(model, keras_private.jax_epoch_iterator(*train, training.batch_size))
        gens.append(np.random.get_state())
        i = len(gens) - 1  # this member's own generator: what its backup keeps and restores
        stop, log, callbacks = callbacks_of(model, training, val, r, on_epoch, backup, on_backup,
                                            rng=(lambda i=i: gens[i], lambda s, i=i: gens.__setitem__(i, s)))
        cbs = keras.callbacks.CallbackList(callbacks, model=model, epochs=training.epochs, verbose=0,
                                           steps=-(-len(train[0]) // training.batch_size))
        models.append(model)
        members.append(dict(stop=stop, log=log, cbs=cbs, diverged_at=None))
    fused_test = _loop(models, gens, members, train, val, training)
    for i, (m, r, earlier) in enumerate(zip(members, results, earliers)):
        m["cbs"].on_train_end()
        record_fit(r, m["seconds"], m["diverged_at"], m["log"], models[i], train, val, earlier)
        if on_trained:
            on_trained(i, models[i])
    if training.evaluate_test:
        _evaluate(models, prepared, training, results, fused_test)
    return models


def _evaluate(models, prepared, training, results, fused_test):
    """The members still ``ok`` evaluated on the test split together: ``model.evaluate``'s steps (its batch
    size, metrics reset first), fused; each member's scores from its own metrics."""
    import jax.numpy as jnp

    on = [r["status"] == "ok" for r in results]
    if not any(on):
        return
    n = min(len(prepared.x_test), training.limit_test or len(prepared.x_test))
    x, y, size = prepared.x_test[:n], prepared.y_test[:n], max(256, training.batch_size)
    t0 = time.perf_counter()
    for model in models:
        model.reset_metrics()
    blank = [v.value for v in models[0].metrics_variables]
    state = _stack([_state(m)[:3] + (blank,) for m in models])
    for s in range(-(-n // size)):
        state = fused_test(state, x[s * size:(s + 1) * size], y[s * size:(s + 1) * size], jnp.asarray(on))
    for i, scores in _results(models, state, on).items():
        record_test(results[i], scores, time.perf_counter() - t0)


def _loop(models, gens, members, train, val, training):
    """The epochs of the group: each member's batches in its own order, one fused step per batch, then each
    member's validation (fused), metrics and callbacks on its own model."""
    import jax.numpy as jnp
    import numpy as np

    k, size, n = len(models), training.batch_size, len(train[0])
    fused_train, fused_test = _steps(models[0])
    for model, m in zip(models, members):
        model.stop_training = False
        m["cbs"].on_train_begin()  # BackupAndRestore restores a member's weights and first epoch here
        model.reset_metrics()
    blank = [v.value for v in models[0].metrics_variables]
    starts = [getattr(model, "_initial_epoch", 0) or 0 for model in models]
    done, t_fit = [False] * k, time.perf_counter()
    for epoch in range(min(starts), training.epochs):
        on = [not done[i] and epoch >= starts[i] for i in range(k)]
        if not any(on):
            break
        for i in np.flatnonzero(on):
            members[i]["cbs"].on_epoch_begin(epoch)
        order = np.zeros((k, n), dtype=np.int64)
        for i in np.flatnonzero(on):  # this member's permutation, from its own copy of NumPy's generator
            np.random.set_state(gens[i])
            order[i] = np.random.permutation(n)
            gens[i] = np.random.get_state()
        state = _stack([_state(m)[:3] + (blank,) for m in models])
        active, bad = jnp.asarray(on), jnp.full((k,), -1)
        for s in range(-(-n // size)):
            idx = order[:, s * size:(s + 1) * size]
            state, now = fused_train(state, train[0][idx], train[1][idx], active)
            bad = jnp.where(active & ~now, s, bad)
            active = now
        logs = _results(models, state, on)
        if val is not None:
            state = (*state[:3], _stack([blank] * k))
            for s in range(-(-len(val[0]) // size)):
                state = fused_test(state, val[0][s * size:(s + 1) * size], val[1][s * size:(s + 1) * size],
                                   jnp.asarray(on))
            for i, vals in _results(models, state, on).items():
                logs[i].update({f"val_{name}": v for name, v in vals.items()})
        bad = np.asarray(bad)
        for i, row in logs.items():
            members[i]["log"].share = len(logs)  # one process trained them all: each epoch row gets its part
            members[i]["cbs"].on_epoch_end(epoch, row)
            if bad[i] >= 0:
                members[i]["diverged_at"] = int(bad[i])
            done[i] = bad[i] >= 0 or models[i].stop_training
    for m in members:
        m["seconds"] = time.perf_counter() - t_fit
    return fused_test


def _results(models, state, on) -> dict:
    """{member: its metrics' results}, each member's state copied into its own model first."""
    out = {}
    for i in [i for i, o in enumerate(on) if o]:
        _assign(models[i], _member(state, i))
        out[i] = {name: float(v) for name, v in models[i].get_metrics_result().items()}
    return out
