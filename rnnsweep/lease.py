"""One driver per sweep and results location: a lease file, ``<results>/<sweep>/lease.json``.

It names its owner (host, pid) and carries a heartbeat the owner renews while it runs. A second
driver on the same sweep and location stops with one line naming the owner, unless the lease is
stale: its heartbeat older than ``STALE_SECONDS``, or its owner a process of this host that no
longer exists (a driver killed a moment ago). Works on any results location, s3:// included; object
stores have no atomic create, so two drivers started within the same second could both pass: the
lease guards against the common case, a second driver started while the first runs.
"""
from __future__ import annotations

import os
import socket
import time
import uuid

from . import results

NAME = "lease.json"
STALE_SECONDS = 120
RENEW_SECONDS = 30


class LeaseHeld(results.ResultsError):
    """Another driver holds the sweep."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _stale(lease: dict) -> bool:
    if time.time() - lease.get("heartbeat", 0) > STALE_SECONDS:
        return True
    return lease.get("host") == socket.gethostname() and not _alive(int(lease.get("pid", 0)))


def take(uri: str, sweep: str) -> dict:
    """Take the sweep's lease (or one line naming who holds it); returns ours, to renew and release."""
    held = results.read_json(uri, sweep, NAME)
    if held and not _stale(held):
        age = time.time() - held["heartbeat"]
        where = results.shown(uri, sweep, NAME)
        raise LeaseHeld(f"another driver runs sweep {sweep!r} on these results: {held['host']} pid {held['pid']}, "
                        f"alive {age:.0f} s ago; wait for it to end, or remove {where} if it is gone")
    ours = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex,
            "started_at": time.time(), "heartbeat": time.time()}
    results.write_json(uri, sweep, NAME, ours)
    return ours


def renew(uri: str, sweep: str, ours: dict) -> dict:
    """Renew the heartbeat every ``RENEW_SECONDS`` (cheap to call often)."""
    if time.time() - ours["heartbeat"] >= RENEW_SECONDS:
        ours = {**ours, "heartbeat": time.time()}
        results.write_json(uri, sweep, NAME, ours)
    return ours


def release(uri: str, sweep: str, ours: dict):
    """Remove the lease if it is still ours. A store that fails now leaves it: it goes stale (a dead owner
    on this host at once, elsewhere after ``STALE_SECONDS``), and the same command takes it over."""
    try:
        held = results.read_json(uri, sweep, NAME)
        if held and held.get("token") == ours["token"]:
            results.delete(uri, sweep, NAME)
    except OSError as e:
        print(f"rnnsweep: the lease of {sweep} was left in the results ({type(e).__name__}); it goes stale by itself")
