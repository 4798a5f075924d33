"""Score new text with a model a sweep kept: its trial's text pipeline, then its model.

    python -m rnnsweep.predict results/imdb_grid GRU-32-bs64 "A wonderful film." "Dull and far too long."
    python -m rnnsweep.predict s3://bucket/runs/imdb_best BiGRU-32-bs64-seed1 --file reviews.txt   # one a line

Prints each text's positive probability and its label (positive at > 0.5, Keras's binary accuracy's
threshold). In Python: ``rnnsweep.load_model(sweep_dir, trial)`` and ``predict(sweep_dir, trial, texts)``.
"""
from __future__ import annotations

import argparse
import sys

from . import kept, results
from .text import encode_texts


def predict(sweep_dir: str, trial: str, texts: list[str], batch_size: int = 256):
    """Each text's positive probability (float64 array) from the kept model of ``trial`` (name or id)."""
    import numpy as np

    empty = [i + 1 for i, t in enumerate(texts) if not t.strip()]
    if not texts or empty:
        raise kept.ModelError(f"text {empty[0]} is empty: give each text some words" if empty
                              else "no text to score: give texts as arguments or --file")
    uri, sweep, row = kept.find(sweep_dir, trial)
    x = encode_texts(kept.read_pipeline(uri, sweep, row["dataset_fingerprint"]), texts)
    model = kept.load_row(uri, sweep, row)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype="float64").reshape(-1)


def read_texts(path: str) -> list[str]:
    """One text a line; a file that is not UTF-8 is a one-line error naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [line.rstrip("\n") for line in fh if line.strip()]
    except UnicodeDecodeError as e:
        raise kept.ModelError(f"{path}: not UTF-8 text (byte {e.start}): save it as UTF-8") from None
    except OSError as e:
        raise kept.ModelError(f"{path}: cannot be read ({e.strerror})") from None


def main(argv=None):
    p = argparse.ArgumentParser(description="Score texts with a model a sweep kept.")
    p.add_argument("sweep_dir", help="a sweep's results folder (results/imdb_grid, s3://bucket/prefix/imdb_grid)")
    p.add_argument("trial", help="the trial's name or (a prefix of) its id")
    p.add_argument("texts", nargs="*", help="texts to score")
    p.add_argument("--file", help="a UTF-8 file of texts, one a line")
    args = p.parse_args(argv)
    try:
        texts = list(args.texts) + (read_texts(args.file) if args.file else [])
        probs = predict(args.sweep_dir, args.trial, texts)
    except (kept.ModelError, results.ResultsError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    for text, prob in zip(texts, probs):
        short = text if len(text) <= 60 else text[:57] + "..."
        print(f"{prob:.4f}  {'positive' if prob > 0.5 else 'negative'}  {short}")
    return probs


if __name__ == "__main__":
    main()
