"""What several test modules share: where things are, the small real dataset, a sweep file's spec, and
the handling of real processes (psutil) by the tests that kill workers and drivers.

pytest puts this folder on ``sys.path`` (tests/ is not a package), so a test module imports it as
``helpers``; ``conftest.py`` holds only fixtures."""
import contextlib
import os
import runpy
import signal
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
FULL_DATA = os.environ.get("RNNSWEEP_DATA")
LOCAL = ["--address", "local", "--cpus-per-trial", "1"]  # a private local Ray, one CPU per trial

# A small real dataset config: 400 IMDB reviews, seed-000 cleaning and split, GloVe 50d fixture.
FIXTURE_DATASET = dict(source="imdb_reviews", path=str(FIXTURES / "imdb_400.csv.gz"), clean="seed000",
                       num_words=1000, maxlen=40, padding="post", split="seed000",
                       embedding="glove", glove_dim=50)


def sweep_of(path) -> dict:
    """``SWEEP`` of a sweep file (``sweeps/imdb_grid.py``, ``tests/tiny_sweep.py``), read as the file it
    is: its ``__main__`` part does not run, and no folder goes on ``sys.path``."""
    return runpy.run_path(str(ROOT / path))["SWEEP"]


@contextlib.contextmanager
def data_env(data, cache=None):
    """``$RNNSWEEP_DATA`` (and a private prepared-dataset cache) for a module-scoped fixture, which
    runs before the per-test ``fixture_data`` sets them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNSWEEP_DATA", str(data))
        if cache is not None:
            mp.setenv("RNNSWEEP_CACHE", str(cache))
        yield


@contextlib.contextmanager
def no_hang(seconds: int = 300):
    """Fails the block when it still runs after ``seconds``: a guard for the bugs that hung (a driver that
    waited for ever, or retried a dead address for 14 minutes), far above any honest run, not a timing claim."""
    def fail(*_):
        raise AssertionError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def wait_for(condition, timeout: float = 240, what: str = "the condition"):
    """Poll ``condition()`` until it holds (returns it) or ``timeout`` seconds pass (fails)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = condition()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{what} never happened in {timeout} s")


def training(out: str, sweep: str, name: str) -> bool:
    """Whether trial ``name`` of ``sweep`` has trained an epoch and still runs (its live row says so)."""
    from rnnsweep import results

    try:
        trials = results.load(out, sweep)[0]
    except (FileNotFoundError, OSError, ValueError):
        return False
    return bool(((trials["name"] == name) & (trials["status"] == "running")).any())


def non_blank_png(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300, path
    gray = img[..., :3].mean(axis=2)
    assert (gray < 0.9).mean() > 0.01 and gray.std() > 0.05, f"{path} looks blank"


def descendants(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def each(procs, act: str):
    """``proc.resume()`` / ``proc.kill()`` on each process still alive."""
    for proc in procs:
        try:
            getattr(proc, act)()
        except psutil.NoSuchProcess:
            pass


def freeze_trials(driver_pid):
    """SIGSTOP every Ray worker under the driver: no trial can finish until they are continued,
    so a signal sent now lands while trials are still running, on a fast machine or a slow one."""
    frozen = []
    for proc in descendants(driver_pid):
        try:
            if proc.cmdline() and proc.cmdline()[0].startswith("ray::"):
                proc.suspend()
                frozen.append(proc)
        except psutil.NoSuchProcess:
            pass
    return frozen


def kill_driver_mid_sweep(p):
    """SIGKILL a driver while its trials are frozen mid-run, then stop the Ray processes of its
    killed local cluster (ours) by pid."""
    started = descendants(p.pid)
    freeze_trials(p.pid)
    p.kill()
    p.wait()
    each(started, "kill")
    psutil.wait_procs(started, timeout=20)


def running_trials(pids, names=None):
    """{trial name: process} of the Ray workers (under ``pids``) running one of ``names`` now
    (Ray titles a worker ``ray::<task name>``; its agents are ``ray::DashboardAgent`` and the like)."""
    found = {}
    for pid in pids:
        for proc in descendants(pid):
            try:
                title = (proc.cmdline() or [""])[0]
            except psutil.NoSuchProcess:
                continue
            name = title[len("ray::"):].split()[0] if title.startswith("ray::") else None
            if name and name != "IDLE" and (names is None or name in names):
                found[name] = proc
    return found
