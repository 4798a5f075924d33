"""Runs beside the sweeps, each a command of its own (``python -m reproduction.experiments.<name>``):
``seed_keras`` the seeds' own code on Keras 3 and on tf.keras 2, on the arrays rnnsweep trains on;
``simplernn2`` seed 001's SimpleRNN(2) step by step on both sides; ``backend_rows`` how Keras 3's two
backends update a repeated token's embedding rows. Their rows land in ``reproduction/results/``."""
