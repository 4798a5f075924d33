"""Tests run offline on small real fixtures (tests/fixtures, cut from the shared data by
make_fixtures.py). Tests marked ``full`` use the full data in $RNNSWEEP_DATA and are skipped
when it is unset (CI sets it to ../shared/data)."""
import os
from pathlib import Path

import pytest
from helpers import FIXTURES, FULL_DATA

# tests/on_jax runs in a process whose Keras is on JAX (test_backends.py starts it): Keras's backend is
# fixed per process, and this one's is TensorFlow.
collect_ignore = [] if os.environ.get("KERAS_BACKEND") == "jax" else ["on_jax"]

os.environ["RNNSWEEP_OFFLINE"] = "1"           # tests never download
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("prepared")


@pytest.fixture(autouse=True)
def fixture_data(monkeypatch, cache_root):
    """By default the data dir is the fixtures folder and the prepared-dataset cache is private."""
    monkeypatch.setenv("RNNSWEEP_DATA", str(FIXTURES))
    monkeypatch.setenv("RNNSWEEP_CACHE", str(cache_root))
    return FIXTURES


@pytest.fixture
def full_data(monkeypatch):
    if not FULL_DATA:
        pytest.skip("RNNSWEEP_DATA is not set: full-data test skipped")
    monkeypatch.setenv("RNNSWEEP_DATA", FULL_DATA)
    return Path(FULL_DATA)


def pytest_collection_modifyitems(items):
    for item in items:
        if "full_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.full)

