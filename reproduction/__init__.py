"""The seed reproductions: ``page`` writes REPRODUCTION.md from the committed rows in ``results/``
(``python -m reproduction.page``); ``experiments`` holds the runs that are not sweeps (the seeds' own
code as a peer, single-point probes); ``canary`` the reproducibility canary CI reruns; the ``run_*.sh``
scripts the pinned runs that made the rows."""
