"""Boxes started ahead of demand (worker/sandbox/pool.py), through the real bubblewrap
backend: a warm box must be exactly a cold box once its job starts, be used once, and
leave nothing behind. The hostile suite (tests/test_hostile.py) also runs every case on
pooled boxes ("bwrap-pool"); these tests look at what only a pool can get wrong."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest

from tests.sandboxed import REQUIRE
from worker.sandbox import SandboxUnavailable, cgroups
from worker.sandbox.base import PYTHON, STARTED_MARKER, Limits, Request
from worker.sandbox.bwrap import BwrapBackend
from worker.sandbox.pool import BoxPool, WarmBox, close_shared_pool, profile_of, shared_pool

ROOT = Path(__file__).resolve().parent.parent
JOBS = Path("/tmp") / f"ag-pool-t{os.getpid()}"


def make_backend(pool_size: int) -> BwrapBackend:
    return BwrapBackend(
        jobs_dir=JOBS,
        venv=ROOT / ".venv-sandbox",
        uid_base=61000,
        slots=64,
        slot_dir=Path("/run/autograder-slots"),
        pool_size=pool_size,
        pool_idle_seconds=600,
    )


@pytest.fixture
def pooled():
    backend = make_backend(1)
    try:
        backend.check()
    except SandboxUnavailable as exc:
        if REQUIRE:
            pytest.fail(f"sandbox unavailable: {exc}")
        pytest.skip(f"sandbox unavailable: {exc}")
    yield backend
    close_shared_pool()
    mine = [n for n in cgroups.box_names() if n.startswith(f"box-{os.getpid()}-")]
    assert all(not cgroups.box_cgroup(n).pids() for n in mine), "a box process survived"
    assert str(JOBS) not in Path("/proc/mounts").read_text(), "a box tmpfs is still mounted"
    assert not list(JOBS.glob("box-*")), "a box folder was left"


# The facts a program can see about its box, printed as one JSON line.
FACTS = """
import json, os, sys
status = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines()
              if ":\\t" in l)
stat = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
mounts = sorted(l.split()[4] for l in open("/proc/self/mountinfo").read().splitlines())
print(json.dumps({
    "env": dict(os.environ),
    "uid": [status["Uid"].split(), status["Gid"].split()],
    "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
    "nnp": status["NoNewPrivs"].strip(),
    "seccomp": status.get("Seccomp", "").strip(),
    "nice": int(stat[16]),
    "mounts": mounts,
    "src": sorted(os.listdir("/job/src")),
    "in": sorted(os.listdir("/job/in")),
    "tmp": sorted(os.listdir("/tmp")),
    "home": sorted(os.listdir(".")),
    "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
    "torch": "torch" in sys.modules,
    "affinity": sorted(os.sched_getaffinity(0)),
    "argv": sys.argv,
}))
"""


def job(tmp_path: Path, name: str, code: str, runtime: str = "numpy", **limits) -> Request:
    # A cold box binds these folders as its uid: they must be traversable (pytest's are not).
    base = Path("/tmp") / f"ag-pool-work-{os.getpid()}" / tmp_path.name / name
    base.parent.parent.mkdir(mode=0o711, exist_ok=True)
    base.parent.mkdir(mode=0o711, exist_ok=True)
    src, inp = base / "src", base / "in"
    src.mkdir(parents=True)
    inp.mkdir(parents=True)
    (src / "main.py").write_text(textwrap.dedent(code))
    (inp / "input.txt").write_text(name)
    return Request(
        argv=[PYTHON, "-B", "/job/src/main.py", "one", "two"],
        src_dir=src,
        in_dir=inp,
        limits=Limits(**{"memory_mb": 512, "wall_seconds": 30, "processes": 32, **limits}),
        runtime=runtime,
    )


def facts(result) -> dict:
    assert result.runner_started is False  # no runner here: plain output
    assert result.exit_code == 0, result.output
    return json.loads(result.output.decode().strip().splitlines()[-1])


def wait_warm(pool: BoxPool, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while pool.warm_count() < count:
        assert time.monotonic() < deadline, "the pool did not warm a box"
        time.sleep(0.05)


def test_a_warm_box_runs_its_job_exactly_as_a_cold_box(pooled, tmp_path):
    cold = make_backend(0).run(job(tmp_path, "cold", FACTS), tmp_path / "out-cold")
    first = pooled.run(job(tmp_path, "first", FACTS), tmp_path / "out-1")  # a miss: started now
    pool = shared_pool(1, 600)
    wait_warm(pool, 1)
    warm = pooled.run(job(tmp_path, "warm", FACTS), tmp_path / "out-2")
    assert pool.hits >= 1
    a, b, c = facts(cold), facts(first), facts(warm)
    for key in ("env", "caps", "nnp", "seccomp", "nice", "src", "in", "tmp", "home"):
        assert a[key] == b[key] == c[key], key
    for f in (a, b, c):  # each box its own slot uid, never root
        (uid,) = set(f["uid"][0] + f["uid"][1])
        assert 61000 <= int(uid) < 61064
    assert c["argv"] == ["/job/src/main.py", "one", "two"]
    assert c["nice"] == 0  # warmed at nice 19, the job runs at 0
    # The same mounts, but for the control folder the job's command came through.
    assert [m for m in c["mounts"] if m != "/job/ctl"] == a["mounts"]
    assert len(c["procs"]) == len(a["procs"])  # only bwrap's init and the job
    assert not c["torch"]  # numpy-only homework never imports torch


def test_a_job_runs_on_its_cores_warm_or_cold(pooled, tmp_path):
    """Cores held for the job (worker/cpus.py) are the only ones its box runs on."""
    core = max(os.sched_getaffinity(0))
    pool = shared_pool(1, 600)
    cold = make_backend(0).run(job(tmp_path, "cold", FACTS, cores=(core,)), tmp_path / "o0")
    pooled.run(job(tmp_path, "first", FACTS, cores=(core,)), tmp_path / "o1")
    wait_warm(pool, 1)
    warm = pooled.run(job(tmp_path, "warm", FACTS, cores=(core,)), tmp_path / "o2")
    assert pool.hits >= 1
    assert facts(cold)["affinity"] == facts(warm)["affinity"] == [core]


def test_nothing_of_the_warm_up_reaches_the_students_output(pooled, tmp_path):
    code = "import sys; sys.stdout.buffer.write(b'" + repr(STARTED_MARKER)[2:-1] + "hello\\n')"
    pool = shared_pool(1, 600)
    pooled.run(job(tmp_path, "a", "print('x')"), tmp_path / "o1")
    wait_warm(pool, 1)
    result = pooled.run(job(tmp_path, "b", code), tmp_path / "o2")
    assert result.output == STARTED_MARKER + b"hello\n"
    assert result.runner_started


def test_each_box_serves_one_job_and_nothing_carries_over(pooled, tmp_path):
    """Files in /tmp, home and out/, and a process left running by one job are gone for
    the next, which runs in another box of the same profile."""
    leave = """
    import os, subprocess
    for path in ("/tmp/left", "left", "/job/rw/out/left"):
        open(path, "w").write("secret of job one")
    subprocess.Popen(["sleep", "600"], start_new_session=True)
    print(open("/proc/self/cgroup").read().splitlines()[-1])
    """
    look = """
    import os
    print([p for p in ("/tmp/left", "left", "/job/rw/out/left") if os.path.exists(p)])
    print(sorted(open(f"/proc/{p}/cmdline").read() for p in os.listdir("/proc") if p.isdigit()))
    print(open("/job/in/input.txt").read())
    """
    pool = shared_pool(1, 600)
    one = pooled.run(job(tmp_path, "one", leave), tmp_path / "o1")
    assert one.exit_code == 0, one.output
    assert "left" in one.out_files
    wait_warm(pool, 1)
    two = pooled.run(job(tmp_path, "two", look), tmp_path / "o2")
    lines = two.output.decode().splitlines()
    assert lines[0] == "[]"
    assert "sleep" not in lines[1]
    assert lines[2] == "two"
    assert "left" not in two.out_files


def test_limits_count_from_the_start_of_the_job(pooled, tmp_path):
    """A box that waited warm longer than the job's wall clock still gets all of it; CPU
    time spent warming is not the job's, and the job's own CPU limit still holds."""
    pool = shared_pool(1, 600)
    pooled.run(job(tmp_path, "a", "pass", runtime="torch"), tmp_path / "o1")
    wait_warm(pool, 1)
    time.sleep(3)
    sleeper = pooled.run(
        job(
            tmp_path,
            "b",
            "import time; time.sleep(1); print('done')",
            runtime="torch",
            wall_seconds=2,
        ),
        tmp_path / "o2",
    )
    assert not sleeper.timed_out and b"done" in sleeper.output
    assert sleeper.cpu_seconds is not None and sleeper.cpu_seconds < 1.0  # warm-up not counted
    wait_warm(pool, 1)
    spin = pooled.run(
        job(tmp_path, "c", "while True: pass", runtime="torch", wall_seconds=20, cpu_seconds=1),
        tmp_path / "o3",
    )
    assert spin.exit_code not in (0, None) and not spin.timed_out
    assert 0.8 < spin.cpu_seconds < 4, spin.cpu_seconds
    wait_warm(pool, 1)
    slow = pooled.run(
        job(tmp_path, "d", "import time; time.sleep(30)", runtime="torch", wall_seconds=1),
        tmp_path / "o4",
    )
    assert slow.timed_out and slow.wall_seconds < 5


def test_a_torch_box_has_torch_ready_and_pinned(pooled, tmp_path):
    code = """
    import sys, time
    t = time.perf_counter(); import torch; dt = time.perf_counter() - t
    print(sys.modules.get("torch") is not None, torch.get_num_threads(), dt < 0.05)
    """
    pool = shared_pool(1, 600)
    pooled.run(job(tmp_path, "a", "pass", runtime="torch", threads=2), tmp_path / "o1")
    wait_warm(pool, 1)
    result = pooled.run(job(tmp_path, "b", code, runtime="torch", threads=2), tmp_path / "o2")
    assert result.output.decode().split() == ["True", "2", "True"]


def test_a_box_that_died_while_warm_is_replaced(pooled, tmp_path):
    pool = shared_pool(1, 600)
    pooled.run(job(tmp_path, "a", "pass"), tmp_path / "o1")
    wait_warm(pool, 1)
    profile = profile_of(job(tmp_path, "probe", "pass"), pooled)
    (box,) = pool._boxes[profile]
    box.group.kill_all()
    box.proc.wait(5)
    result = pooled.run(job(tmp_path, "b", "print('still graded')"), tmp_path / "o2")
    assert result.exit_code == 0 and b"still graded" in result.output


def test_profiles_do_not_mix(pooled, tmp_path):
    """A box warmed with one memory limit never runs a job that asks for another."""
    pool = shared_pool(1, 600)
    code = "print(open('/proc/self/cgroup').read())"
    pooled.run(job(tmp_path, "a", code, memory_mb=512), tmp_path / "o1")
    wait_warm(pool, 1)
    other = job(tmp_path, "b", code, memory_mb=768)
    assert profile_of(other, pooled) not in pool._boxes
    hits = pool.hits
    result = pooled.run(other, tmp_path / "o2")
    assert result.exit_code == 0 and pool.hits == hits


def test_requests_a_warm_box_cannot_run_go_cold(tmp_path):
    backend = make_backend(1)
    odd = Request(
        argv=["/bin/sh", "-c", "true"], src_dir=tmp_path, in_dir=tmp_path, limits=Limits()
    )
    assert profile_of(odd, backend) is None
    escape = Request(
        argv=[PYTHON, "/opt/runner/../../etc/x.py"],
        src_dir=tmp_path,
        in_dir=tmp_path,
        limits=Limits(),
    )
    assert profile_of(escape, backend) is None


def test_a_warm_box_left_unused_is_removed_cleanly(pooled, tmp_path):
    box = WarmBox(pooled, profile_of(job(tmp_path, "a", "pass"), pooled), background=True)
    assert box.capture.ready.wait(60)
    box.discard()
    assert not box.folder.path.exists()


FREEZER = Path("/sys/fs/cgroup/freezer")


def test_a_warm_box_that_cannot_be_killed_is_ours_not_the_students(pooled, tmp_path):
    """A warm box whose processes sit in uninterruptible sleep past the time limit (a
    frozen freezer cgroup, as a process stuck in the kernel): the job is not graded as
    the student's timeout but raised as ours (SandboxUnavailable, retried), in bounded
    time, and the box is removed once its processes can die."""
    if not FREEZER.is_dir():
        pytest.skip("the cgroup v1 freezer controller is not mounted")
    pool = shared_pool(1, 600)
    pooled.run(job(tmp_path, "a", "pass"), tmp_path / "o1")
    wait_warm(pool, 1)
    frozen = FREEZER / f"agpool-{os.getpid()}-{os.urandom(3).hex()}"
    frozen.mkdir()
    running: list[str] = []
    try:
        import threading

        outcome: dict = {}

        def run() -> None:
            try:
                outcome["result"] = pooled.run(
                    job(tmp_path, "b", "import time; time.sleep(60)", wall_seconds=2),
                    tmp_path / "o2",
                )
            except SandboxUnavailable as exc:
                outcome["error"] = str(exc)

        worker = threading.Thread(target=run)
        started = time.monotonic()
        worker.start()
        time.sleep(1.0)  # the job is running in the warm box
        running = [  # the job's box: its FIFO is gone (a box still warming has one)
            n
            for n in cgroups.box_names()
            if n.startswith(f"box-{os.getpid()}-") and not (JOBS / n / "ro" / "ctl" / "go").exists()
        ]
        assert len(running) == 1, running
        for pid in cgroups.box_cgroup(running[0]).pids():
            (frozen / "cgroup.procs").write_text(str(pid))
        (frozen / "freezer.state").write_text("FROZEN")
        worker.join(60)
        assert not worker.is_alive()
        assert "could not be killed" in outcome.get("error", ""), outcome
        assert time.monotonic() - started < 45  # bounded: the job does not hang
    finally:
        (frozen / "freezer.state").write_text("THAWED")
        for _ in range(100):  # the box's reaper removes it once its processes died
            try:
                frozen.rmdir()
            except OSError:
                time.sleep(0.1)
                continue
            if not running or not (JOBS / running[0]).exists():
                break
            time.sleep(0.1)
