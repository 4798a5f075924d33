"""What the terminal shows while a sweep runs: a bar in epochs, the running trials, one line per
finished trial."""
from __future__ import annotations

import sys


def fmt(x, spec=".3f"):
    return "—" if x is None else format(x, spec)


def trial_line(r: dict) -> str:
    h = r.get("history") or []
    val = max((e["val_accuracy"] for e in h if e.get("val_accuracy") is not None), default=None)
    line = (f"{r['name']:<34} {r['status']:<8} val_acc {fmt(val)}  test_acc {fmt(r.get('test_accuracy'))}  "
            f"test_auc {fmt(r.get('test_auc'))}  {r.get('seconds', 0) / 60:.1f} min")
    return line + (f"  ({r['error']})" if r.get("error") else "")


class _Gone:
    def qsize(self):
        return 0


class Progress:
    """The bar counts epochs across all trials (its ETA from measured epoch times); its text shows
    each running trial's epoch and last validation accuracy. Trials report epochs through a Ray
    queue as they finish them."""

    def __init__(self, todo, queue, extra: int = 0):
        """``extra``: the epochs of trials a search has yet to draw."""
        from tqdm import tqdm

        self.queue, self.done, self.running, self.over = queue, {}, {}, set()
        self.epochs = {t.trial_id: t.training.epochs for t in todo}
        self.counts = {"ok": 0, "diverged": 0, "failed": 0}
        self.bar = tqdm(total=sum(self.epochs.values()) + extra, unit="epoch", dynamic_ncols=True, file=sys.stdout)

    def poll(self):
        try:
            events = [self.queue.get_nowait() for _ in range(self.queue.qsize())]
        except Exception as e:  # noqa: BLE001 - the queue is gone: the bar stops, the sweep goes on
            self.bar.write(f"progress: epochs no longer reported ({type(e).__name__}); trials still land")
            self.queue, events = _Gone(), []  # never raises: said once
        for tid, name, epoch, val in events:
            if tid in self.over:  # its epoch came after its result: the trial is no longer running
                continue
            self.bar.update(max(0, epoch - self.done.get(tid, 0)))
            self.done[tid] = max(epoch, self.done.get(tid, 0))
            self.running[name] = f"{name} e{epoch}" + (f" {val:.3f}" if val is not None else "")
        self.show(refresh=bool(events))

    def finished(self, t, r: dict):
        epochs = t.training.epochs  # a pruned or early-stopped trial's remaining epochs count as done
        self.bar.update(max(0, epochs - self.done.get(t.trial_id, 0)))
        self.done[t.trial_id] = epochs
        self.over.add(t.trial_id)
        self.running.pop(t.name, None)
        self.counts[r["status"]] = self.counts.get(r["status"], 0) + 1
        self.bar.write(trial_line(r))
        self.show()

    def show(self, refresh: bool = False):
        """``refresh``: redraw now. tqdm redraws on ``update`` at most every 0.1 s, so of the epochs one
        poll takes (a fused group's members report together) it would show the first until the next."""
        bad = ", ".join(f"{k} {v}" for k, v in self.counts.items() if k != "ok" and v)
        self.bar.set_postfix_str(" | ".join(list(self.running.values())[:4] + ([bad] if bad else [])), refresh=refresh)
