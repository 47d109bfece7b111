"""The host's core and memory ledger (worker/cpus.py): jobs side by side never share a
core, never promise more memory than the host has, and a dead holder frees its share."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from worker.cpus import Ledger, host_cores, host_memory_mb


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path, reserve_memory_mb=0)


def test_jobs_never_share_a_core(ledger):
    cores = host_cores()
    first = ledger.try_take("a", 1, 10)
    assert first is not None and len(first.cores) == 1
    rest = ledger.try_take("b", len(cores) - 1, 10) if len(cores) > 1 else None
    if rest is not None:
        assert not set(rest.cores) & set(first.cores)
    assert ledger.try_take("c", 1, 10) is None  # every core is held
    ledger.release("a")
    again = ledger.try_take("c", 1, 10)
    assert again is not None and again.cores == first.cores


def test_a_job_asking_more_cores_than_the_host_gets_them_all(ledger):
    grant = ledger.try_take("a", 999, 10)
    assert grant is not None and list(grant.cores) == host_cores()


def test_memory_is_not_promised_twice(ledger):
    total = host_memory_mb()
    assert ledger.try_take("a", 1, total - 100) is not None
    ledger.release("a")
    half = total // 2 + 1
    assert ledger.try_take("a", 1, half) is not None
    if len(host_cores()) > 1:
        assert ledger.try_take("b", 1, half) is None  # cores free, memory not


def test_a_dead_holders_share_is_freed(tmp_path):
    """A worker killed while it held cores does not keep them."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]); from worker.cpus import Ledger; "
        "from pathlib import Path; print(Ledger(Path(sys.argv[1]), 0).try_take('x', 999, 1))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), root],
        check=False,
        capture_output=True,
        text=True,
    )
    assert "Grant" in out.stdout, out.stderr
    ledger = Ledger(tmp_path, 0)
    assert ledger.try_take("y", 1, 1) is not None  # the holder's process has ended


def test_acquire_waits_for_a_release_and_times_out(ledger):
    ledger.try_take("a", 999, 10)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="free core"):
        ledger.acquire("b", 1, 10, timeout=0.3)
    assert time.monotonic() - started >= 0.3
    ledger.release("a")
    assert ledger.acquire("b", 1, 10, timeout=1).cores
