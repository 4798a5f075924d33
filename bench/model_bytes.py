"""What keeping models costs: the bytes of each kept ``.keras`` file and the time to load it, for seed 000's
grid and seed 001's studies at 20 seeds (BENCHMARKS.md, "Kept models").

    RNNSWEEP_DATA=../shared/data python -m bench.model_bytes

Each distinct model of a study is built on its real prepared dataset (its vocabulary, its frozen GloVe
matrix), trained one batch (so the optimizer's slots exist, as in a trained trial's file), saved as the
worker saves it (``kept.save_model``) and loaded back (``kept.load_row``), three loads timed. The file's
bytes are set beside ``kept.model_bytes``'s projection from the parameter counts (what ``--dry-run`` prints).
Rows: bench/results/model_bytes.csv.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time

from bench.common import OUT, ROOT  # noqa: F401 - puts the checkout and sweeps/ on sys.path

STUDIES = {"grid": 1, "sequence_length": 20, "hidden_size": 20, "architecture": 20}  # study → seeds a config


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", default=",".join(STUDIES))
    args = p.parse_args(argv)

    import imdb_grid

    from rnnsweep import kept, models, results, text
    from rnnsweep.text import dataset_key
    from rnnsweep.version import code_version
    from rnnsweep.sweep import expand, select_studies

    version, rows = code_version(), []
    trials = expand(imdb_grid.SWEEP)
    prepared = {}
    with tempfile.TemporaryDirectory() as tmp:
        for study in args.studies.split(","):
            mine = select_studies(trials, study)
            configs = {t.config_id: t for t in mine}  # seeds share a model's size
            for t in configs.values():
                key = dataset_key(t.dataset)
                if key not in prepared:
                    prepared[key] = text.prepare(t.dataset)
                d = prepared[key]
                model = models.build_model(t.model, d.vocab_size, d.x_train.shape[1], d.embedding)
                model.fit(d.x_train[:64], d.y_train[:64], batch_size=64, epochs=1, verbose=0)
                trainable, frozen = models.param_counts(model)
                saved = kept.save_model(model, tmp, "bytes", t.trial_id)
                row = {"model_uri": saved["model_uri"], "name": t.name, "status": "ok"}
                loads = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    kept.load_row(tmp, "bytes", row)
                    loads.append(time.perf_counter() - t0)
                # Seed 000 ran each config once; seed 001's configs at 20 seeds each.
                n_trials = STUDIES.get(study, 1)
                rows.append(dict(study=study, name=t.name, trainable=trainable, non_trainable=frozen,
                                 optimizer=t.model.optimizer, bytes=saved["model_bytes"],
                                 projected=kept.model_bytes(trainable, frozen, t.model.optimizer),
                                 load_seconds=round(statistics.median(loads), 3), trials_at_seeds=n_trials,
                                 code_version=version))
                print(rows[-1], flush=True)
    OUT.mkdir(exist_ok=True)
    with open(OUT / "model_bytes.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for study in args.studies.split(","):
        mine = [r for r in rows if r["study"] == study]
        total = sum(r["bytes"] * r["trials_at_seeds"] for r in mine)
        print(f"{study}: {sum(r['trials_at_seeds'] for r in mine)} trials, keep_models='all' "
              f"{total / 1e6:,.1f} MB, 'best' {max(r['bytes'] for r in mine) / 1e6:.2f} MB at most", flush=True)
    del results


if __name__ == "__main__":
    main()
