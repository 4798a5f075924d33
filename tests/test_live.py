"""A running sweep you can watch, and a long trial that survives its worker: epochs on the bar as
they happen, epoch rows in the results while the trial runs (the report draws it, marked running),
and a worker killed at epoch k whose retry goes on from epoch k + 1."""
import json
import os
import subprocess
import sys
import time

import pytest

from helpers import FIXTURES, ROOT, data_env, running_trials
from tiny_sweep import SWEEP

from rnnsweep import report, results
from rnnsweep.sweep import expand

pytestmark = pytest.mark.slow

EPOCHS = 8


def _backed_up_epoch(meta) -> int:
    """The epoch Keras's BackupAndRestore last recorded, or -1 while it has none or is writing it (the
    file is written in place: a read can catch it empty)."""
    try:
        return json.loads(meta.read_text()).get("epoch", -1)
    except (OSError, ValueError):
        return -1


def test_live_epochs_report_while_running_and_resume_after_a_killed_worker(tmp_path):
    out = tmp_path / "res"
    env = {**os.environ, "TINY_EPOCHS": str(EPOCHS)}
    cmd = [sys.executable, str(ROOT / "tests" / "tiny_sweep.py"), "--results", str(out), "--address", "local",
           "--cpus-per-trial", "1", "--only", "GRU-*"]
    gru = next(t for t in expand({**SWEEP, "training": {**SWEEP["training"], "epochs": EPOCHS}})
               if t.name == "GRU-4-bs64")
    meta = out / "tiny" / "backup" / gru.trial_id / "training_metadata.json"
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, worker = time.time() + 300, None
    while time.time() < deadline and p.poll() is None:  # until epoch 3 is backed up
        if _backed_up_epoch(meta) >= 3:
            worker = running_trials([p.pid], {"GRU-4-bs64"}).get("GRU-4-bs64")
            break
        time.sleep(0.1)
    assert worker is not None, "the trial never reached epoch 3"
    worker.suspend()  # freeze it: what the results hold now is exactly what a dead worker leaves
    while _backed_up_epoch(meta) < 0:  # frozen mid-write of Keras's metadata: let it finish that write
        worker.resume()
        time.sleep(0.05)
        worker.suspend()
    try:
        k = _backed_up_epoch(meta)
        trials, epochs = results.load(str(out / "tiny"))
        assert trials["status"].tolist() == ["running"]  # visible while it trains, not counted as done
        assert epochs["epoch"].tolist()[:k] == list(range(1, k + 1))
        r = report.report(str(out / "tiny"), out=str(tmp_path / "report"))
        assert "val_accuracy_all.png" in r["files"] and r["summary"]["config"].str.endswith("(running)").all()
    finally:
        worker.kill()  # the worker dies at epoch k; Ray retries the trial
    text = p.communicate(timeout=600)[0]
    assert p.returncode == 0, text[-3000:]
    trials, epochs = results.load(str(out / "tiny"))
    row = trials.iloc[0]
    assert len(trials) == 1 and row["status"] == "ok" and row["trial_id"] == gru.trial_id
    assert row["resumed_from_epoch"] == k and row["epochs_run"] == EPOCHS  # went on from epoch k + 1
    assert epochs["epoch"].tolist() == list(range(1, EPOCHS + 1))  # every epoch exactly once
    # What the killed attempt spent on the epochs kept is the trial's too: its cost covers both attempts.
    assert (epochs["cpu_seconds"] > 0).all()
    assert row["earlier_cpu_seconds"] == pytest.approx(epochs["cpu_seconds"][epochs["epoch"] <= k].sum())
    assert not (out / "tiny" / "backup" / gru.trial_id).exists()  # the backup went when it landed
    assert "epoch/s" in text or "s/epoch" in text  # the bar counts epochs
    assert "Could not find cuda drivers" not in text and "oneDNN custom operations" not in text


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A small finished sweep run with --tensorboard (real Ray, real Keras, real files)."""
    from rnnsweep.driver import main

    out = tmp_path_factory.mktemp("watched") / "res"
    with data_env(FIXTURES, tmp_path_factory.mktemp("cache")):
        s = main(SWEEP, ["--results", str(out), "--address", "local", "--tensorboard"])
    assert s.counts["ok"] == 2
    return out


def test_tensorboard_logs_per_trial(finished_sweep):
    logs = finished_sweep / "tiny" / "tensorboard"
    assert sorted(p.name for p in logs.iterdir()) == ["GRU-4-bs64", "LSTM-4-bs64"]
    for trial in logs.iterdir():
        assert list(trial.rglob("events.out.tfevents.*")), trial  # what `tensorboard --logdir` reads


def _write(path, meta):
    """As the driver writes sweep.json (results.atomic_write): whole or not at all. A write in place could
    be read half-written by the watcher, which then stops on an unreadable sweep.json (seen once under load)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, path)


def test_watch_renders_again_until_the_sweep_is_done(finished_sweep):
    sweep_json = finished_sweep / "tiny" / "sweep.json"
    meta = json.loads(sweep_json.read_text())
    ended = meta["runs"][-1].pop("finished_at")
    _write(sweep_json, meta)  # as while its driver runs
    p = subprocess.Popen([sys.executable, "-m", "rnnsweep.report", str(finished_sweep / "tiny"), "--watch", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, deadline = [], time.time() + 120
    while sum("tiny: wrote" in ln for ln in lines) < 2 and time.time() < deadline:
        lines.append(p.stdout.readline())
    assert p.poll() is None  # still watching: the sweep runs
    meta["runs"][-1]["finished_at"] = ended
    _write(sweep_json, meta)
    rest = p.communicate(timeout=120)[0]
    assert p.returncode == 0 and "the sweep is done: last report written" in rest


def test_index_html_in_a_real_browser_shows_every_figure(finished_sweep, tmp_path):
    """Headless Chromium renders index.html: every figure loads (no broken image); the summary
    prints counts as integers and empty cells empty."""
    import re
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        if os.environ.get("CI"):
            pytest.fail("the browser test needs Debian's chromium (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    r = report.report(str(finished_sweep / "tiny"), out=str(tmp_path / "report"))
    page = (tmp_path / "report" / "index.html").read_text()
    probe = tmp_path / "report" / "probe.html"
    probe.write_text(page.replace("</body>", "<script>window.addEventListener('load', () => { const i = "
                                  "[...document.images]; document.title = 'images ' + i.length + ' broken ' + "
                                  "i.filter(x => !x.complete || x.naturalWidth === 0).length; });</script></body>"))
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    dom = subprocess.run(flags + ["--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    figures = [f for f in r["files"] if f.endswith(".png")]
    assert re.search(r"<title>images (\d+) broken 0</title>", dom), dom[:500]
    assert int(re.search(r"<title>images (\d+)", dom)[1]) == len(figures)
    cells = re.findall(r"<td>(.*?)</td>", dom)
    assert "None" not in cells and not any(re.fullmatch(r"\d+\.000", c) for c in cells)
    shot = tmp_path / "report" / "screenshot.png"  # to look at: the page as a user sees it
    subprocess.run(flags + ["--window-size=1280,2400", f"--screenshot={shot}", (tmp_path / "report" / "index.html")
                            .as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000
    if os.environ.get("RNNSWEEP_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["RNNSWEEP_KEEP_SCREENSHOT"])
