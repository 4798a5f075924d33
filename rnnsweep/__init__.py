"""rnnsweep: studies of recurrent sentiment models as distributed Ray sweeps.

Stages, in data-flow order: data → text → models → trial → driver → results → report.
"""
import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) drowns the progress output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def load_model(sweep_dir: str, trial: str):
    """The Keras model a sweep kept for ``trial`` (its name or id), compiled, with the weights its test
    numbers came from: ``rnnsweep.load_model("results/imdb_grid", "GRU-32-bs64")`` (``kept.load_model``)."""
    from .kept import load_model as load  # here, not at the top: `import rnnsweep` stays light

    return load(sweep_dir, trial)
