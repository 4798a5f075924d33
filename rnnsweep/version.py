"""Which code made a row: every trial row and run record carries ``code_version()``."""
from __future__ import annotations

import os
import subprocess


def code_version() -> str:
    """Which code made a row: ``rnnsweep 0.1.0 (f18d1a9)``, with ``+dirty`` when the package or the
    sweeps have uncommitted changes (trials are deterministic within a version, not across them)."""
    from importlib.metadata import version

    here = os.path.dirname(os.path.abspath(__file__))  # rnnsweep/

    def git(*a):
        return subprocess.run(["git", *a], capture_output=True, text=True, timeout=5, cwd=here).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = sha and git("status", "--porcelain", "--", here, os.path.join(here, "..", "sweeps"))
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    try:
        v = version("rnnsweep")
    except Exception:  # noqa: BLE001 - run from a checkout on sys.path, not installed
        v = "?"
    return f"rnnsweep {v}" + (f" ({sha}{'+dirty' if dirty else ''})" if sha else "")
