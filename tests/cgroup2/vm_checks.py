"""The bubblewrap sandbox on a host with cgroup v2 alone: run INSIDE the virtual machine
of scripts/cgroup2_vm.sh by tests/test_cgroup_v2.py (``pytest --noconftest`` on this
file). Each check is a real box with the same limits as on a cgroup v1 host: memory
(OOM reported), processes (a fork bomb reported), CPU seconds read from outside and
enforced, the wall clock, the kill of every process, the removal of the group, and the
removal of a dead worker's groups. No database, no broker: the sandbox alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.settings import Settings
from worker import housekeeping
from worker.sandbox import cgroups
from worker.sandbox.base import PYTHON, Limits, Request
from worker.sandbox.bwrap import BwrapBackend

ROOT = Path(__file__).resolve().parents[2]

if not cgroups.unified():
    pytest.fail("these checks run inside the cgroup v2 VM (tests/test_cgroup_v2.py)")


@pytest.fixture
def work():
    """A folder the box's uid can traverse (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="ag-v2-", dir="/tmp"))
    folder.chmod(0o755)
    return folder


@pytest.fixture
def backend():
    b = BwrapBackend(
        jobs_dir=Path("/tmp/ag-v2-jobs"),
        venv=ROOT / ".venv-sandbox",
        uid_base=61000,
        slots=8,
        slot_dir=Path("/run/autograder-slots"),
    )
    b.check()
    return b


def run(backend, work, code: str, **limits) -> object:
    src, inputs = work / "src", work / "in"
    src.mkdir(exist_ok=True)
    inputs.mkdir(exist_ok=True)
    request = Request(
        argv=[PYTHON, "-c", code],
        src_dir=src,
        in_dir=inputs,
        limits=Limits(**{"memory_mb": 256, "wall_seconds": 30, "processes": 16, **limits}),
    )
    result = backend.run(request, work / f"out-{time.monotonic_ns()}")
    assert not [n for n in cgroups.box_names() if cgroups.box_cgroup(n).pids()]
    return result


def test_the_layout_is_delegated_and_the_worker_is_in_a_leaf(backend):
    parent = cgroups.V2Layout().parent
    assert "cgroup v2" in cgroups.describe()
    assert {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split())
    own = Path("/proc/self/cgroup").read_text().strip().removeprefix("0::")
    if parent.parent != cgroups.ROOT:  # started in a delegated group holding processes
        assert own.endswith(f"/{cgroups.SERVICE_LEAF}"), own


def test_a_box_runs_and_is_accounted(backend, work):
    result = run(backend, work, "print(sum(i * i for i in range(3_000_000)))")
    assert result.exit_code == 0, result.output
    assert b"8999995500000500000" in result.output
    assert result.cpu_seconds and result.cpu_seconds > 0.1
    assert result.peak_memory_bytes and result.peak_memory_bytes > 2**20
    assert not (result.oom_killed or result.process_limit_hit or result.timed_out)


def test_memory_over_the_limit_is_an_oom_kill(backend, work):
    result = run(backend, work, "x = bytearray(400 * 2**20); print('ALLOCATED')", memory_mb=96)
    assert result.oom_killed and result.ended_by_limit == "memory", result
    assert b"ALLOCATED" not in result.output
    assert result.peak_memory_bytes >= 80 * 2**20


def test_a_fork_bomb_hits_the_process_limit(backend, work):
    code = (
        "import os, time\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "    except OSError:\n"
        "        print('fork refused'); break\n"
    )
    result = run(backend, work, code, processes=8, wall_seconds=10)
    assert result.process_limit_hit, result.output
    assert b"fork refused" in result.output


def test_cpu_seconds_are_enforced_from_outside(backend, work):
    result = run(backend, work, "while True: pass", cpu_seconds=1, wall_seconds=30)
    assert result.cpu_limit_hit and result.ended_by_limit == "cpu", result
    assert result.cpu_seconds >= 1.0
    assert result.wall_seconds < 20


def test_the_wall_clock_kills_the_whole_box(backend, work):
    # Generous for software emulation under load: three interpreters must start first.
    code = (
        "import subprocess, sys, time\n"
        "print('started', flush=True)\n"
        "kids = [subprocess.Popen(['sleep', '60']) for _ in range(3)]\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    result = run(backend, work, code, wall_seconds=10)
    assert result.timed_out and time.monotonic() - started < 40
    assert b"started" in result.output
    assert not list(Path("/tmp/ag-v2-jobs").glob("box-*"))  # folder, mount and group gone
    assert not cgroups.box_names()


def test_a_dead_workers_groups_are_removed(backend, work):
    """kill -9 of a worker leaves its box groups; the next worker removes them, killing
    whatever still runs there."""
    stale = cgroups.box_cgroup("box-999999-deadbeef0000")
    stale.create(64 * 2**20, 8)
    sleeper = subprocess.Popen(["sleep", "60"], preexec_fn=stale.enter)  # noqa: PLW1509
    assert stale.pids() == [sleeper.pid]
    settings = Settings(home=work / "home", jobs_dir=Path("/tmp/ag-v2-jobs"))
    assert housekeeping.remove_stale_boxes(settings) >= 1
    assert sleeper.wait(timeout=10) == -9
    assert "box-999999-deadbeef0000" not in cgroups.box_names()


def test_the_kernel_gives_the_readings_the_sandbox_uses(backend, work):
    """cgroup.kill (5.14+) kills a box in one write, memory.peak (5.19+) is its peak; the
    code falls back without them, but this kernel (Debian 12's) has both."""
    group = cgroups.box_cgroup("box-1-kernelcheck000")
    group.create(64 * 2**20, 8)
    try:
        for name in ("cgroup.kill", "memory.peak", "memory.events", "pids.events", "cpu.stat"):
            assert (group.dir / name).exists(), name
        assert (group.dir / "memory.swap.max").read_text().strip() == "0"
    finally:
        group.remove()
    print(sys.version.split()[0], os.uname().release)
