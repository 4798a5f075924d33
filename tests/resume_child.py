"""One trial (or a fused group) in a process of its own, for tests/test_resume.py: run undisturbed, or
SIGKILL itself right after epoch K's backup is written, or resume from that backup. Prints the rows as JSON.

    python tests/resume_child.py CASE run|die|resume BACKUP_DIR [K]
"""
import json
import os
import signal
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
DATASET = dict(source="imdb_reviews", path=str(FIXTURES / "imdb_400.csv.gz"), clean="seed000", num_words=1000,
               maxlen=40, padding="post", split="seed000", embedding="glove", glove_dim=50)
TRAINING = dict(batch_size=32, epochs=4, limit_train=256, validation_split=0.25, seed=1)
# Dropout and recurrent dropout (the masks' streams), early stopping and the plateau schedule (their memory).
CASES = {
    "tf": dict(model=dict(arch="LSTM", units=4, dropout=0.5, recurrent_dropout=0.2),
               training=dict(early_stopping=2, lr_schedule="plateau")),
    "tf_keras2": dict(model=dict(arch="GRU", units=4, dropout=0.3, semantics="tf_keras2", optimizer="rmsprop"),
                      training=dict(early_stopping=2)),
    "jax": dict(model=dict(arch="GRU", units=4, dropout=0.3, recurrent_dropout=0.2),
                training=dict(backend="jax", early_stopping=2, lr_schedule="plateau")),
    "fused": dict(model=dict(arch="GRU", units=4, dropout=0.3), training=dict(backend="jax", lr_schedule="plateau"),
                  seeds=(1, 2)),
}
ROW = ("epoch", "loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc", "learning_rate")
RESULT = ("status", "test_loss", "test_accuracy", "test_auc", "resumed_from_epoch", "epochs_run")


def configs(case: str) -> list[dict]:
    c = CASES[case]
    return [{"trial_id": f"{case}-{s}", "name": f"{case}-{s}", "config_id": case, "dataset": DATASET,
             "model": c["model"], "training": {**TRAINING, **c["training"], "seed": s}} for s in c.get("seeds", (1,))]


def main(case: str, mode: str, backup: str, k: int = 0):
    from rnnsweep import text

    os.environ.setdefault("KERAS_BACKEND", "jax" if case in ("jax", "fused") else "tensorflow")
    prepared = text.prepare(DATASET)
    cs = configs(case)
    os.makedirs(backup, exist_ok=True)
    folders = [os.path.join(backup, c["trial_id"]) for c in cs]
    live = [os.path.join(backup, f"{c['trial_id']}.rows.json") for c in cs]  # the epoch rows written as they land
    earlier = [json.load(open(f)) if mode == "resume" and os.path.exists(f) else [] for f in live]
    backups = {"n": 0}

    def on_epoch(i):
        def write(row):
            rows = json.load(open(live[i])) if os.path.exists(live[i]) else []
            rows = [r for r in rows if r["epoch"] < row["epoch"]]
            json.dump(rows + [row], open(live[i], "w"))
        return write

    def on_backup():
        backups["n"] += 1
        if mode == "die" and backups["n"] == k * len(cs):  # every member has backed up epoch k
            os.kill(os.getpid(), signal.SIGKILL)

    if case == "fused":
        from rnnsweep.fused import train_group

        rs = train_group(cs, prepared, cpus=1, on_epochs=[on_epoch(i) for i in range(len(cs))], backup_dirs=folders,
                         earliers=earlier, on_backups=[on_backup] * len(cs))
    else:
        from rnnsweep.trial import run_trial

        rs = [run_trial(cs[0], prepared, cpus=1, on_epoch=on_epoch(0), backup_dir=folders[0], earlier=earlier[0],
                        on_backup=on_backup)]
    print(json.dumps([{**{k: r.get(k) for k in RESULT}, "error": r.get("error"),
                       "history": [{k: h.get(k) for k in ROW} for h in r["history"]]} for r in rs]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
