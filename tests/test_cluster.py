"""The cluster side: cluster.yaml validity, GPU pinning across nodes, and the user's literal
`ray up` / `ray submit` / `ray rsync-down` / `ray down` against a loopback SSH "cluster"."""
import copy
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import yaml
from helpers import FIXTURES, ROOT
from tiny_sweep import SWEEP

from rnnsweep import results
from rnnsweep.driver import main
from rnnsweep.sweep import grid

RAY_CLI = [sys.executable, "-m", "ray.scripts.scripts"]


def test_cluster_yaml_passes_ray_validation():
    from jsonschema import ValidationError
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    validate_config(prepare_config(copy.deepcopy(config)))
    assert config["provider"]["type"] == "aws" and config["max_workers"] == 18
    gpu = config["available_node_types"]["gpu"]
    assert gpu["min_workers"] == 0 and gpu["max_workers"] == 18
    assert any("tensorflow[and-cuda]" in c for c in config["setup_commands"])
    assert any("pip install -q -e ~/rnnsweep" in c for c in config["setup_commands"])
    # Nobody else runs code on it: token authentication on every node, the token from the user's own
    # ~/.ray (never in the repo), the dashboard on the head's localhost only.
    starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token ray start" in c for c in starts if "ray start" in c)
    assert any("export RAY_AUTH_MODE=token" in c for c in config["setup_commands"])
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert "0.0.0.0" not in yaml.safe_dump(config) and "--dashboard-host=127.0.0.1" in " ".join(starts)
    broken = copy.deepcopy(config)
    broken["available_node_types"]["gpu"]["max_worker"] = 3  # a typo Ray must catch
    with pytest.raises(ValidationError):
        validate_config(prepare_config(broken))


def test_two_gpu_nodes_one_gpu_per_trial(tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 4, "num_gpus": 2})
    cluster.add_node(num_cpus=4, num_gpus=2)
    try:
        spec = {**SWEEP, "model": {**SWEEP["model"], "units": grid(2, 3, 4, 5)},
                "training": {**SWEEP["training"], "limit_train": 64}}
        s = main(spec, ["--results", str(tmp_path), "--address", cluster.address, "--gpus-per-trial", "1"])
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
    rs = s.results
    assert len(rs) == 8 and all(r["status"] == "ok" for r in rs)
    assert len({r["node_id"] for r in rs}) == 2  # both nodes used
    for r in rs:  # each task sees exactly one GPU, and CUDA_VISIBLE_DEVICES is that one
        assert len(r["gpu_ids"]) == 1 and r["cuda_visible_devices"] == r["gpu_ids"][0]
    # Never more than 4 at once, and never two running trials on one (node, GPU).
    events = sorted([(r["started_at"], 1, r) for r in rs] + [(r["finished_at"], -1, r) for r in rs],
                    key=lambda e: (e[0], e[1]))
    running, peak = [], 0
    for _, kind, r in events:
        if kind == 1:
            assert (r["node_id"], r["gpu_ids"][0]) not in {(o["node_id"], o["gpu_ids"][0]) for o in running}
            running.append(r)
            peak = max(peak, len(running))
        else:
            running.remove(r)
    assert 1 <= peak <= 4
    assert len(results.load(str(tmp_path), "tiny")[0]) == 8


# ----------------------------------------------------------------------------- loopback ray submit

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# `ray down` runs `ray stop` on the head, which stops every Ray process of the machine: on this
# loopback "head" that would kill any other Ray (a sweep someone runs beside the tests). The head's
# shell stops only the cluster on $RNNSWEEP_TEST_RAY_PORT: its session's processes and its client server.
_RAY_STOP_THIS_ONLY = """
ray() {
  if [ "$1" = stop ]; then
    s=$(pgrep -af -- "--gcs_server_port=$RNNSWEEP_TEST_RAY_PORT" | grep -o "/tmp/ray/session_[0-9_-]*" | head -1)
    [ -n "$s" ] && pkill -9 -f -- "$s"
    pkill -9 -f -- "--address=[0-9.]*:$RNNSWEEP_TEST_RAY_PORT "
    grep -qs ":$RNNSWEEP_TEST_RAY_PORT\\$" /tmp/ray/ray_current_cluster && rm -f /tmp/ray/ray_current_cluster
    return 0
  fi
  command ray "$@"
}
"""


@pytest.fixture
def loopback_sshd(tmp_path):
    """sshd on 127.0.0.1:22 only, with a throw-away host key and client key; stopped by pid."""
    sshd, rsync = shutil.which("sshd") or "/usr/sbin/sshd", shutil.which("rsync")
    if not (os.path.exists(sshd) and rsync) or os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the loopback cluster test needs root, openssh-server and rsync (.ci/run installs them)")
        pytest.skip("needs root, openssh-server and rsync")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 22)) == 0:
            pytest.skip("port 22 on loopback is taken by another sshd")
    d = tmp_path / "ssh"
    d.mkdir()
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    os.chmod(d, 0o700)
    data = tmp_path / "data"  # the sweep's data dir on the "head node": real fixture reviews + GloVe
    data.mkdir()
    os.symlink(FIXTURES / "imdb_400.csv.gz", data / "IMDB Dataset.csv.gz")
    os.symlink(FIXTURES / "glove.6B.50d.txt.gz", data / "glove.6B.50d.txt.gz")
    # The "head node"'s login shell must run this environment's python and ray (a virtualenv's, when
    # the tests run in one): a home of its own whose .bashrc puts them first on PATH (Ray's commands
    # run in a login shell that sources ~/.bashrc, after /etc/profile has reset PATH).
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    (home / ".bashrc").write_text(f"export PATH={os.path.dirname(sys.executable)}:$PATH\n"
                                  f"export RNNSWEEP_TEST_RAY_PORT={port}\n" + _RAY_STOP_THIS_ONLY)
    (d / "sshd_config").write_text(textwrap.dedent(f"""\
        ListenAddress 127.0.0.1
        Port 22
        HostKey {d}/host_key
        AuthorizedKeysFile {d}/authorized_keys
        PermitRootLogin prohibit-password
        PasswordAuthentication no
        StrictModes no
        UsePAM no
        PidFile {d}/sshd.pid
        SetEnv HOME={home} RNNSWEEP_DATA={data} RNNSWEEP_OFFLINE=1 RNNSWEEP_CACHE={tmp_path}/cache
        """))
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", 22)) == 0:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"sshd did not start: {proc.stderr.read().decode()[-500:]}")
    yield d / "client_key", port
    proc.terminate()
    proc.wait(timeout=10)


def _job(dashboard: int, token: str | None) -> tuple[int, dict]:
    """POST a job to Ray's job API (what ShadowRay abused), with or without the token."""
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{dashboard}/api/jobs/", method="POST",
                                 data=json.dumps({"entrypoint": "echo rnnsweep-job-ran"}).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}


def _job_status(dashboard: int, token: str, job: str) -> str:
    import json
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{dashboard}/api/jobs/{job}",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["status"]


def test_ray_up_submit_rsync_down_on_loopback(tmp_path, loopback_sshd):
    import secrets

    key, port = loopback_sshd
    dashboard = _free_port()
    remote, local = tmp_path / "remote-results", tmp_path / "downloaded"
    token = tmp_path / "auth_token"  # the user's ~/.ray/auth_token, as `ray get-auth-token --generate` makes it
    token.write_text(secrets.token_hex(32))
    config = {
        "cluster_name": f"rnnsweep-loopback-{port}",
        "provider": {"type": "local", "head_ip": "127.0.0.1", "worker_ips": []},
        "auth": {"ssh_user": "root", "ssh_private_key": str(key)},
        "max_workers": 0,
        # As cluster.yaml: the token reaches the head through the launcher's file_mounts.
        "file_mounts": {"~/.ray/auth_token": str(token)},
        "setup_commands": ["grep -q RAY_AUTH_MODE ~/.bashrc || echo 'export RAY_AUTH_MODE=token' >> ~/.bashrc"],
        "head_setup_commands": [],
        # No `ray stop` here: on a real head it would stop every Ray process of the machine.
        "head_start_ray_commands": [f"RAY_AUTH_MODE=token ray start --head --port={port} --num-cpus=2 "
                                    f"--dashboard-host=127.0.0.1 --dashboard-port={dashboard} "
                                    f"--dashboard-agent-listen-port={_free_port()} --disable-usage-stats"],
    }
    cfg = tmp_path / "loopback.yaml"
    cfg.write_text(yaml.safe_dump(config))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}

    def ray(*args, timeout=300):
        p = subprocess.run(RAY_CLI + list(args), env=env, capture_output=True, text=True, timeout=timeout,
                           cwd=ROOT)
        assert p.returncode == 0, f"ray {' '.join(args)} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        return p.stdout + p.stderr

    # Files `ray up` leaves on this machine outside the head's (temporary) home; removed afterwards.
    left = [f"/tmp/ray/cluster-{config['cluster_name']}.{ext}" for ext in ("state", "lock")]
    ray("up", "-y", "--no-config-cache", str(cfg))
    try:
        # A job without the token is refused; with it, it runs.
        deadline = time.time() + 120
        while (status := _job(dashboard, None)[0]) in (502, 503, 404) and time.time() < deadline:
            time.sleep(2)  # the dashboard is still starting
        assert status == 401, status
        while (answer := _job(dashboard, token.read_text()))[0] == 500 and time.time() < deadline:
            time.sleep(2)  # "No available agent to submit job, please try again later"
        status, body = answer
        assert status == 200 and (body.get("job_id") or body.get("submission_id")), (status, body)
        job = body.get("submission_id") or body["job_id"]
        while (state := _job_status(dashboard, token.read_text(), job)) not in ("SUCCEEDED", "FAILED", "STOPPED"):
            assert time.time() < deadline + 120, state
            time.sleep(1)
        assert state == "SUCCEEDED"
        out = ray("submit", str(cfg), "sweeps/imdb_grid.py", "--smoke", "--only", "GRU-32-bs*,LSTM-64-bs64",
                  "--results", str(remote), timeout=600)
        assert "done in" in out and "'ok': 4" in out, out[-3000:]
        assert "Resources" in ray("exec", str(cfg), "RAY_AUTH_MODE=token ray status")  # README's "watch nodes"
        ray("rsync-down", str(cfg), f"{remote}/", str(local))
    finally:
        ray("down", "-y", str(cfg))
        for f in left:
            if os.path.exists(f):
                os.unlink(f)
    trials, epochs = results.load(str(local), "imdb_grid")
    assert sorted(trials["name"]) == ["GRU-32-bs128", "GRU-32-bs32", "GRU-32-bs64", "LSTM-64-bs64"]
    assert (trials["status"] == "ok").all() and (trials["budget"] == "epochs=2 limit_test=512 limit_train=512").all()
    assert len(epochs) == 8 and (trials["glove_dim_used"] == 50).all()
    with socket.socket() as s:  # the cluster is down
        assert s.connect_ex(("127.0.0.1", port)) != 0
