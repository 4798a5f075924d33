"""rnnsweep: studies of recurrent sentiment models as distributed Ray sweeps.

Stages, in data-flow order: data → text → models → trial → driver → results → report.
"""
import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) drowns the progress output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
