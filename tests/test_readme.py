"""Every command README.md shows runs as shown: the sweeps' at ``--dry-run`` (their training runs in
test_driver, test_report and test_cluster), the report's on committed results. The cluster's commands
(`ray up`, `submit`, `exec`, `rsync-down`, `down`) run literally in test_cluster; the set-up and test
commands are CI's own (.ci/run)."""
import re
import shlex
import shutil
import subprocess
import sys

from helpers import ROOT


def commands(prefix: str) -> list[list[str]]:
    """The README's ```bash lines that start with ``prefix``, comments cut, split as a shell would."""
    text = (ROOT / "README.md").read_text()
    lines = [ln.split(" #")[0].strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
             for ln in block.splitlines()]
    return [shlex.split(ln) for ln in dict.fromkeys(lines) if ln.startswith(prefix)]


def test_every_sweep_command_in_the_readme_runs(tmp_path):
    shown = commands("python sweeps/")
    assert len(shown) >= 2
    for cmd in shown:
        p = subprocess.run([sys.executable, *cmd[1:], "--dry-run", "--results", str(tmp_path)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0 and "trials" in p.stdout, f"{' '.join(cmd)}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"


def test_every_local_report_command_in_the_readme_runs(tmp_path):
    """On a copy of committed results, named as the README names them (``results/``, ``results/imdb_grid``)."""
    shown = [c for c in commands("python -m rnnsweep.report") if "://" not in c[3]]  # S3's: test_s3
    assert len(shown) >= 2
    shutil.copytree(ROOT / "reproduction" / "results" / "imdb_stacked", tmp_path / "results" / "imdb_stacked")
    for cmd in shown:
        args = [a.replace("imdb_grid", "imdb_stacked").replace("/tmp/r", str(tmp_path / "r")) for a in cmd[3:]]
        p = subprocess.run([sys.executable, "-m", "rnnsweep.report", *args], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0 and "imdb_stacked: wrote" in p.stdout, f"{' '.join(cmd)}:\n{p.stderr[-2000:]}"
    assert (tmp_path / "results" / "imdb_stacked" / "report" / "index.html").exists()
    assert (tmp_path / "r" / "index.html").exists()
