# ruff: noqa: F811  (fixtures imported from tests/api/conftest.py are parameters here)
"""Health that tells the truth: a killed worker is reported lost at once (its process on
this host is gone) or once its heartbeat is one interval late, the runs it held are listed,
a folder low on disk degrades /healthz, and ``autograder health`` exits non-zero in each
case. Real Postgres and Redis; a real worker process for the kill."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.models import RunState, WorkerHeartbeat, utcnow
from tests.api.conftest import client, make_assignment, make_user, submission_for  # noqa: F401
from tests.conftest import reset_caches


def dead_pid() -> int:
    """The pid of a process of this host that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def heartbeat(worker: str, host: str, pid: int, seconds_ago: float) -> WorkerHeartbeat:
    now = utcnow()
    return WorkerHeartbeat(
        worker=worker,
        host=host,
        pid=pid,
        queues="cpu,cpu-low",
        sandbox_backend="bwrap",
        sandbox_status="ok",
        gpus=[],
        started_at=now - timedelta(minutes=5),
        seen_at=now - timedelta(seconds=seconds_ago),
    )


def health_exit_code() -> tuple[int, str]:
    from autograder.cli import main

    result = CliRunner().invoke(main, ["health"])
    return result.exit_code, result.output


def test_lost_workers_and_the_runs_they_hold(client, db, make_assignment, make_user):
    here = socket.gethostname()
    gone = dead_pid()
    db.add_all(
        [
            heartbeat(f"{here}:{os.getpid()}", here, os.getpid(), 1),  # this process: alive
            heartbeat(f"{here}:{gone}", here, gone, 1),  # beat a second ago, process gone
            heartbeat("far:7", "far", 7, 31),  # 15 s interval: more than one interval late
            heartbeat("near:8", "near", 8, 20),  # late, but by less than one interval
        ]
    )
    db.commit()
    make_assignment()
    student, _ = make_user()
    lease = utcnow() + timedelta(seconds=60)
    held_here = submission_for(
        db, student, state=RunState.running, lease_owner=f"{here}:{gone}", lease_expires_at=lease
    )
    held_far = submission_for(
        db, student, state=RunState.running, lease_owner="far:99", lease_expires_at=lease
    )
    submission_for(  # leased by a live process of this host: fine
        db,
        student,
        state=RunState.running,
        lease_owner=f"{here}:{os.getpid()}",
        lease_expires_at=lease,
    )
    body = client.get("/healthz").json()
    states = {w["worker"]: w["state"] for w in body["workers"]}
    assert states == {
        f"{here}:{os.getpid()}": "alive",
        f"{here}:{gone}": "lost",
        "far:7": "lost",
        "near:8": "alive",
    }
    held = {r["submission"]: r["why"] for r in body["runs_held_by_lost_workers"]}
    assert held == {
        held_here.id: "its process is gone",
        held_far.id: "no worker of its host is alive",
    }
    assert body["degraded"] is True
    assert any(f"worker {here}:{gone} is lost" in p for p in body["problems"])
    assert any(
        "far:99, which is lost (no worker of its host is alive)" in p for p in body["problems"]
    )
    code, out = health_exit_code()
    assert code == 2, out
    assert "lost" in out and f"held by {here}:{gone}" in out


def test_an_expired_lease_is_reported(client, db, make_assignment, make_user):
    here = socket.gethostname()
    db.add(heartbeat(f"{here}:{os.getpid()}", here, os.getpid(), 1))
    db.commit()
    make_assignment()
    student, _ = make_user()
    stale = submission_for(
        db,
        student,
        state=RunState.running,
        lease_owner=f"{here}:{os.getpid()}",
        lease_expires_at=utcnow() - timedelta(seconds=5),
    )
    body = client.get("/healthz").json()
    assert [(r["submission"], r["why"]) for r in body["runs_held_by_lost_workers"]] == [
        (stale.id, "its lease expired")
    ]


@pytest.fixture
def small_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured):  # type: ignore[no-untyped-def]
    """Storage on a real 8 MB tmpfs (this test runs as root, as make test does)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "storage"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], check=True)
    try:  # unmounted whatever happens (a mount left behind outlives the test run)
        monkeypatch.setenv("AUTOGRADER_STORAGE_DIR", str(folder))
        reset_caches()
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_degrades_health(client, db, small_storage):
    here = socket.gethostname()
    db.add(heartbeat(f"{here}:{os.getpid()}", here, os.getpid(), 1))
    db.commit()
    body = client.get("/healthz").json()
    storage = next(d for d in body["disk"] if d["folder"] == "storage")
    assert storage["path"] == str(small_storage) and storage["low"] is False, storage
    assert not any("low on disk" in p for p in body["problems"]), body["problems"]
    with open(small_storage / "filler", "wb", buffering=0) as fh:  # fill it to the last block
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    body = client.get("/healthz").json()
    storage = next(d for d in body["disk"] if d["folder"] == "storage")
    assert storage["low"] is True and storage["free_mb"] == 0
    assert body["degraded"] is True
    assert any(f"storage ({small_storage}) is low on disk" in p for p in body["problems"])
    code, out = health_exit_code()
    assert code == 2 and "LOW" in out, out


@pytest.mark.slow
def test_a_killed_worker_is_lost_at_once(json_worker_env, db, worker):
    """A real worker, killed with SIGKILL: /healthz says lost within two seconds (its
    heartbeat is still fresh), not after three intervals."""
    from autograder.db import session_factory
    from autograder.health import report

    deadline = time.monotonic() + 30
    while True:
        session = session_factory()()
        body = report(session)
        session.close()
        if [w["state"] for w in body["workers"]] == ["alive"]:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.5)
    worker.kill()
    killed = time.monotonic()
    while True:
        session = session_factory()()
        body = report(session)
        session.close()
        if [w["state"] for w in body["workers"]] == ["lost"]:
            break
        assert time.monotonic() - killed < 2, body
        time.sleep(0.1)
    assert any("is lost" in p for p in body["problems"])
    assert health_exit_code()[0] == 2


@pytest.fixture
def json_worker_env(configured, monkeypatch):  # type: ignore[no-untyped-def]
    """A heartbeat every 5 s: the test shows the loss is not waiting for it."""
    from tests.sandboxed import require_sandbox

    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_WORKER_HEARTBEAT_SECONDS", "5")
    reset_caches()
    return configured


def test_the_databases_disk_is_reported(client, configured):
    """SQLite: its folder. Postgres: the server's data directory, when it is on this host
    (the tests' server is): its file system's free space, like every other folder's."""
    body = client.get("/healthz").json()
    database = next((d for d in body["disk"] if d["folder"] == "database"), None)
    assert database is not None, body["disk"]
    assert database["free_mb"] > 0 and database["low"] is False
    url = configured.effective_database_url
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        with create_engine(url).connect() as connection:
            expected = connection.execute(text("SHOW data_directory")).scalar()
        assert database["path"] == expected
