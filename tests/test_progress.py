"""The terminal's bar (``rnnsweep.progress``): what it shows is what the trials have reported."""
import queue

from rnnsweep.config import Trial
from rnnsweep.progress import Progress


def test_the_bar_shows_every_epoch_one_poll_takes(capsys):
    """A fused group's members (seeds 1-3 in one task) report their epoch at the same moment: the bar
    must show all three at once, not the first one until the next epoch 20 minutes later (its ETA 3× off)."""
    todo = [Trial.of(dict(trial_id=f"t{i}", name=f"m{i}", training=dict(epochs=6))) for i in range(3)]
    q = queue.Queue()  # Progress reads a Ray queue through qsize/get_nowait: the stdlib one has both
    bar = Progress(todo, q)
    for i in range(3):
        q.put((f"t{i}", f"m{i}", 1, 0.8))
    bar.poll()
    shown = capsys.readouterr().out.split("\r")[-1]
    assert "3/18" in shown and "m2 e1 0.800" in shown, shown
    q.put(("t0", "m0", 2, 0.85))
    bar.poll()
    assert "4/18" in capsys.readouterr().out.split("\r")[-1]
    bar.bar.close()


def test_an_epoch_that_arrives_after_its_trials_result_does_not_bring_it_back(capsys):
    """Epochs travel through the queue, results through Ray: a trial's last epoch may be polled after its result
    landed. It must not show again as running (a 10,000-trial run ended with four finished trials on the bar)."""
    todo = [Trial.of(dict(trial_id=f"t{i}", name=f"m{i}", training=dict(epochs=1))) for i in range(2)]
    q = queue.Queue()
    bar = Progress(todo, q)
    bar.finished(todo[0], {"name": "m0", "status": "ok", "history": []})
    q.put(("t0", "m0", 1, 0.7))
    q.put(("t1", "m1", 1, 0.6))
    bar.poll()
    shown = capsys.readouterr().out.split("\r")[-1]
    assert "m1 e1 0.600" in shown and "m0 e1" not in shown, shown
    assert "2/2" in shown, shown
    bar.bar.close()


def test_the_driver_keeps_a_written_result_without_copies_of_its_trial_or_dataset():
    from rnnsweep.onray import slim

    trial = Trial.of({"training": {"seed": 1}})
    seen = {}
    one = slim({"config": trial.as_dict(), "dataset": {"fingerprint": "f", "n": 3}}, trial, seen)
    reseeded = trial.changed(training={"seed": 2}).as_dict()
    two = slim({"config": reseeded, "dataset": {"fingerprint": "f", "n": 3}}, trial, seen)
    assert one["config"] is trial and two["config"] is reseeded  # not equal: kept as it came
    assert two["dataset"] is one["dataset"]
    other = slim({"config": trial.as_dict(), "dataset": {"fingerprint": "f", "n": 4}}, trial, seen)
    assert other["dataset"] == {"fingerprint": "f", "n": 4}  # same fingerprint, other values: its own
