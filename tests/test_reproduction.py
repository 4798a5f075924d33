"""REPRODUCTION.md is generated, never typed: ``python -m reproduction.page`` writes it again from the
committed rows byte for byte (its figures too), so a page that drifted from its rows fails here."""
import subprocess
import sys

from helpers import ROOT


def test_reproduction_md_regenerates_byte_identical_from_the_committed_rows(tmp_path):
    out = tmp_path / "REPRODUCTION.md"
    p = subprocess.run([sys.executable, "-m", "reproduction.page", str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    committed = (ROOT / "REPRODUCTION.md").read_text(encoding="utf-8").splitlines()
    made = out.read_text(encoding="utf-8").splitlines()
    differ = [(i + 1, a, b) for i, (a, b) in enumerate(zip(committed, made)) if a != b]
    assert len(made) == len(committed) and not differ, (len(made), len(committed), differ[:3])
    assert out.read_bytes() == (ROOT / "REPRODUCTION.md").read_bytes()
