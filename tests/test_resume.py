"""Exact resume: a trial SIGKILLed right after epoch 1's or epoch 2's backup and resumed in a fresh process
ends with the same epoch rows and test numbers as the same trial run undisturbed, bit for bit: on
TensorFlow (dropout, recurrent dropout, early stopping, the plateau schedule; tf.keras 2 semantics too), on
JAX, and for a fused group of seed repeats (each member from its own backup)."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CHILD = HERE / "resume_child.py"


def child(case, mode, backup, k=0):
    p = subprocess.run([sys.executable, str(CHILD), case, mode, str(backup), str(k)], capture_output=True, text=True,
                       timeout=600, cwd=HERE.parent, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if mode == "die":
        assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
        return None
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["tf", "tf_keras2", "jax", "fused"])
def test_a_trial_killed_after_epoch_1_or_2_resumes_to_the_undisturbed_numbers(case, tmp_path):
    base = child(case, "run", tmp_path / "undisturbed")
    assert all(r["status"] == "ok" and len(r["history"]) >= 3 for r in base), base
    for k in (1, 2):
        backup = tmp_path / f"killed_after_{k}"
        child(case, "die", backup, k)
        resumed = child(case, "resume", backup, k)
        assert [r["resumed_from_epoch"] for r in resumed] == [k] * len(base)
        for b, r in zip(base, resumed):
            b, r = dict(b, resumed_from_epoch=None), dict(r, resumed_from_epoch=None)
            assert r == b, f"{case}, killed after epoch {k}"

