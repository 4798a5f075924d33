"""Results straight to object storage: a real S3 API (moto's server on loopback), through the
same pyarrow filesystem code a cluster uses for s3://bucket/prefix."""
import socket
import subprocess
import sys
import time

import pyarrow.fs as pafs
import pytest
from conftest import ROOT

from rnnsweep import report, results
from rnnsweep.driver import main

sys.path.insert(0, str(ROOT / "tests"))
from tiny_sweep import SWEEP  # noqa: E402


@pytest.fixture
def s3_uri(monkeypatch):
    pytest.importorskip("moto")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        creds = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        for k, v in creds.items():
            monkeypatch.setenv(k, v)
        pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http", region="us-east-1",
                          allow_bucket_creation=True).create_dir("sweeps")
        yield f"s3://sweeps/team/results?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sweep_results_and_report_on_s3(s3_uri):
    s = main(SWEEP, ["--results", s3_uri, "--address", "local", "--only", "GRU-*"])
    assert s["counts"]["ok"] == 1
    assert main(SWEEP, ["--results", s3_uri, "--address", "local"])["results"][0]["name"] == "LSTM-4-bs64"
    assert main(SWEEP, ["--results", s3_uri, "--address", "local"])["todo"] == []  # resume reads S3
    trials, epochs = results.load(s3_uri, "tiny")
    assert sorted(trials["name"]) == ["GRU-4-bs64", "LSTM-4-bs64"] and len(epochs) == 2
    assert results.read_json(s3_uri, "tiny", "sweep.json")["runs"][-1]["counts"]["ok"] == 1
    sweep_uri = s3_uri.replace("/results?", "/results/tiny?")
    assert results.load(sweep_uri)[0]["trial_id"].tolist() == trials["trial_id"].tolist()
    r = report.report(sweep_uri)
    fs, base = results.filesystem(s3_uri)
    listed = {i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{base}/tiny/report"))}
    assert set(r["files"]) <= listed and "index.html" in listed
    # Nothing but the final files is left in the bucket (temporary names were moved into place).
    keys = [i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{base}/tiny", recursive=True))]
    assert not [k for k in keys if k.startswith(".")]
