"""Fused seed repeats on JAX (``rnnsweep.fused``): a member is the trial run alone, to float round-off."""
import numpy as np
import pytest

from helpers import FIXTURE_DATASET
from rnnsweep import text
from rnnsweep.fused import train_group
from rnnsweep.trial import run_trial

# Learned embedding, recurrent and output dropout, RMSprop: every state a member carries (weights, optimizer
# slots, dropout seeds, batch order) shows in two epochs if it is not the member's own.
MODEL = dict(arch="LSTM", units=8, embedding_dim=16, dropout=0.2, recurrent_dropout=0.1, output_dropout=0.2,
             optimizer="rmsprop", learning_rate=3e-3)


def config(seed, **model):
    return {"trial_id": f"t{seed}", "config_id": "c", "name": f"LSTM-8-seed{seed}",
            "dataset": {**FIXTURE_DATASET, "embedding": "learned"},
            "model": {**MODEL, **model}, "training": dict(batch_size=32, epochs=2, seed=seed, backend="jax")}


@pytest.fixture(scope="module")
def prepared():
    return text.prepare(config(1)["dataset"])


def _weights(store):
    return lambda *a: store.append([np.asarray(w) for w in a[-1].get_weights()])


@pytest.mark.parametrize("semantics", ["keras3", "tf_keras2"])
def test_a_fused_member_is_the_trial_run_alone(prepared, semantics):
    """Seeds 1-3 fused, seed 2 at its own learning rate (what --fuse-also learning_rate allows); seed 2 alone
    through ``run_trial`` (Keras's fit): the same weights to 1e-5 and the same accuracies to 1e-4, epoch by
    epoch and on the test split."""
    fused_w, alone_w = [], []
    cfgs = [config(s, semantics=semantics, learning_rate=1e-2 if s == 2 else MODEL["learning_rate"])
            for s in (1, 2, 3)]
    fused = train_group(cfgs, prepared, on_trained=_weights(fused_w))
    alone = run_trial(cfgs[1], prepared, on_trained=_weights(alone_w))
    assert [r["status"] for r in fused] == ["ok"] * 3 and alone["status"] == "ok", (fused[1].get("error"), alone)
    gap = max(np.abs(a - b).max() for a, b in zip(fused_w[1], alone_w[0]))
    moved = max(np.abs(a - b).max() for a, b in zip(fused_w[1], fused_w[0]))
    assert gap < 1e-5 < moved, (gap, moved)  # member 2 is seed 2 alone, and not seed 1
    for mine, theirs in zip(fused[1]["history"], alone["history"]):
        for k in ("accuracy", "val_accuracy", "loss", "val_loss", "auc"):
            assert mine[k] == pytest.approx(theirs[k], abs=1e-4), (k, mine, theirs)
    assert fused[1]["test_accuracy"] == pytest.approx(alone["test_accuracy"], abs=1e-4)
    assert fused[1]["trial_id"] == alone["trial_id"] and fused[1]["fused_members"] == 3
    assert len({r["fused_group"] for r in fused}) == 1


def test_a_member_that_diverges_is_frozen_while_the_others_go_on(prepared):
    """A learning rate that blows one member up (the learning rate is the one other setting a member may have
    of its own: an optimizer variable, stacked like the weights): it stops in epoch 1 with status diverged;
    the other members' rows are those of the group without it."""
    blow = {**config(3), "model": {**MODEL, "learning_rate": 1e38}}  # weights overflow to inf, the loss to NaN
    with_it = train_group([config(1), config(2), blow], prepared)
    without = train_group([config(1), config(2)], prepared)
    assert with_it[2]["status"] == "diverged" and with_it[2]["epochs_run"] == 1, with_it[2]["error"]
    assert "batch" in with_it[2]["error"]
    for a, b in zip(with_it[:2], without):
        assert a["status"] == "ok" and a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=1e-4)
        assert [h["val_loss"] for h in a["history"]] == pytest.approx([h["val_loss"] for h in b["history"]], abs=1e-4)
    with pytest.raises(ValueError, match="more than its seed"):
        _check([config(1), {**config(2), "model": {**MODEL, "units": 4}}])


def _check(cfgs):
    from rnnsweep.config import Trial
    from rnnsweep.fused import _check_fusable

    _check_fusable([Trial.of(c) for c in cfgs])



def test_a_fused_group_that_dies_resumes_every_member_from_its_backup(prepared, tmp_path):
    """The worker dies after epoch 2's backups (as in test_trial's killed-worker test): the retried group
    goes on from epoch 2 for every member, each from its own backup, and runs epochs 3-4 only."""
    cfgs = [{**c, "training": {**c["training"], "epochs": 4}} for c in (config(1), config(2))]
    backups = [str(tmp_path / c["trial_id"]) for c in cfgs]
    rows = [[], []]
    seen = []

    def killed_after_epoch_2():
        seen.append(1)
        if len(seen) == 4:  # both members backed up epoch 2
            raise KeyboardInterrupt  # the worker is gone (a BaseException: train_group does not catch it)
    with pytest.raises(KeyboardInterrupt):
        train_group(cfgs, prepared, backup_dirs=backups, on_backups=[killed_after_epoch_2] * 2,
                    on_epochs=[rows[0].append, rows[1].append])
    assert [len(r) for r in rows] == [2, 2]
    again = train_group(cfgs, prepared, backup_dirs=backups, earliers=rows)
    assert [r["resumed_from_epoch"] for r in again] == [2, 2]
    # Each member's epoch rows carry its part of the group's CPU time; the killed attempt's part is kept.
    assert all(h["cpu_seconds"] > 0 for r in again for h in r["history"])
    assert [r["earlier_cpu_seconds"] for r in again] == [pytest.approx(sum(h["cpu_seconds"] for h in r)) for r in rows]
    assert [[h["epoch"] for h in r["history"]] for r in again] == [[1, 2, 3, 4]] * 2
    assert all(r["status"] == "ok" for r in again)
