"""The terminal's bar (``rnnsweep.progress``): what it shows is what the trials have reported."""
import queue

from rnnsweep.progress import Progress


def test_the_bar_shows_every_epoch_one_poll_takes(capsys):
    """A fused group's members (seeds 1-3 in one task) report their epoch at the same moment: the bar
    must show all three at once, not the first one until the next epoch 20 minutes later (its ETA 3× off)."""
    todo = [dict(trial_id=f"t{i}", name=f"m{i}", training=dict(epochs=6)) for i in range(3)]
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
