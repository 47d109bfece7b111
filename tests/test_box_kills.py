"""Who a box's death is charged to (issue 16, item 1), with real boxes and real signals.

Only the box's own limits (wall clock, CPU seconds, memory, processes) and the program's own
doing (an exception, any exit code -- 137 included -- os.abort(), a segfault) are the
student's. A box killed by a signal none of its limits sent is ours: the pipeline raises
GradingError(FailureCode.BOX_KILLED), which the job layer retries (tests/test_fault_tolerance.py
runs that end to end with a real worker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from autograder.grading.failures import GradingError
from tests.sandboxed import (
    MINI_REFERENCE,
    grade_source,
    require_sandbox,
    sandbox_settings,
    use_backend,
)
from worker.sandbox import cgroups
from worker.sandbox.base import Result
from worker.sandbox.pool import close_shared_pool

GOOD = (MINI_REFERENCE / "mini.py").read_text()
# The student's box sleeps in fit() long enough to be killed from outside.
SLEEPY = GOOD.replace("def fit(x, y):\n", "def fit(x, y):\n    import time\n    time.sleep(30)\n")


def _student_fits(source: str) -> str:
    return GOOD.replace("def fit(x, y):\n", "def fit(x, y):\n" + source)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _student_pids() -> list[int]:
    """The box processes that may run the student's code (a cold box's runner, a warm
    box's process; not their reaper)."""
    found = []
    for name in cgroups.box_names():
        for pid in cgroups.box_cgroup(name).pids():
            line = _cmdline(pid)
            runners = (b"sandbox_runner.py", b"torch_runner.py", b"warm_start.py")
            runs_job = any(r in line for r in runners)
            if runs_job and b"box_reaper.py" not in line:
                found.append(pid)
    return found


@pytest.fixture(autouse=True, params=["bwrap", "bwrap-pool", "docker"])
def backend(request, tmp_path):
    """Every backend: cold bwrap boxes, warm ones (started ahead of demand: the job's
    command runs in the box's warm process, under the same reaper) and Docker."""
    use_backend(request.param)
    if request.param == "docker":
        require_sandbox(sandbox_settings(tmp_path))
    yield request.param
    close_shared_pool()
    use_backend("bwrap")


def _kill_docker_student(stop: threading.Event, after: float = 1.0) -> None:
    """``docker kill`` (SIGKILL) of this process's running student container, from
    outside, once it has run ``after`` seconds (the student's box sleeps for 30 s)."""
    import docker
    from tests.docker_engine import docker_host
    from worker.sandbox.docker_backend import OWNER_LABEL, owner

    api = docker.APIClient(base_url=docker_host(), version="auto", timeout=10)
    try:
        seen: dict[str, float] = {}
        while not stop.is_set():
            running = api.containers(filters={"label": f"{OWNER_LABEL}={owner()}"})
            for c in running:
                if "--oracle" in c.get("Command", ""):
                    continue  # the reference's box
                first = seen.setdefault(c["Id"], time.monotonic())
                if time.monotonic() - first > after:
                    api.kill(c["Id"], signal="SIGKILL")
                    return
            time.sleep(0.05)
    finally:
        api.close()


def _kill_when_sleeping(how: str, stop: threading.Event) -> None:
    """SIGKILL from outside, once the student's box sleeps in fit(): only its runner
    process (``how == "runner"``), or every process of its box (``"all"``)."""
    while not stop.is_set():
        for pid in _student_pids():
            try:
                wchan = Path(f"/proc/{pid}/wchan").read_text()
            except OSError:
                continue
            if "nanosleep" not in wchan and "hrtimer" not in wchan:
                continue
            if how == "runner":
                os.kill(pid, signal.SIGKILL)
            else:
                for name in cgroups.box_names():
                    group = cgroups.box_cgroup(name)
                    if pid in group.pids():
                        for p in group.pids():
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(p, signal.SIGKILL)
            return
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["runner", "all"])
def test_box_killed_from_outside_is_ours(tmp_path, how, backend):
    stop = threading.Event()
    if backend == "docker":
        if how == "runner":
            pytest.skip("docker: the whole container is killed (docker kill), case 'all'")
        killer = threading.Thread(target=_kill_docker_student, args=(stop,))
    else:
        killer = threading.Thread(target=_kill_when_sleeping, args=(how, stop))
    killer.start()
    try:
        with pytest.raises(GradingError) as caught:
            grade_source(tmp_path, SLEEPY)
    finally:
        stop.set()
        killer.join()
    assert caught.value.code == "infra:box-killed", caught.value
    assert "killed from outside" in str(caught.value)


@pytest.mark.parametrize(
    "code",
    [
        "    import os\n    os._exit(137)\n",  # an exit code, not a signal
        "    import os\n    os._exit(143)\n",
        "    import os\n    os.abort()\n",  # SIGABRT from its own code
        "    import ctypes\n    ctypes.string_at(0)\n",  # a segfault in its own code
    ],
)
def test_a_program_that_ends_itself_is_the_students(tmp_path, code):
    report = grade_source(tmp_path, _student_fits(code))
    assert report.state == "failed_student", (report.failure_kind, report.failure_message)
    assert report.failure_kind == "submission:exited-early"
    assert 0 < report.raw_score < report.max_score  # the checks before fit() still count


@pytest.mark.parametrize(
    "code",
    [
        "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n",
        "    import os, signal\n    os.killpg(0, signal.SIGKILL)\n",
        "    import os, signal\n    os.kill(os.getppid(), signal.SIGTERM)\n",
        "    import signal\n    signal.raise_signal(signal.SIGTERM)\n",
        "    import resource\n    resource.setrlimit(resource.RLIMIT_CPU, (1, 1))\n"
        "    while True: pass\n",
    ],
)
def test_a_program_cannot_fake_a_kill_from_outside(tmp_path, code):
    """The reaper's signal filter refuses what would make a box look killed from outside
    (a SIGKILL or SIGTERM of itself or its parent, a CPU rlimit the kernel enforces with
    SIGKILL): the call fails in the student's own code, which is the student's."""
    report = grade_source(tmp_path, _student_fits(code))
    assert report.state in ("graded", "failed_student"), (
        report.failure_kind,
        report.failure_message,
    )
    assert "PermissionError" in str(report.outcomes) or "not allowed" in str(report.outcomes)
    assert 0 < report.raw_score < report.max_score  # the checks before fit() still count


def _result(**kw) -> Result:
    base = dict(
        exit_code=137,
        timed_out=False,
        oom_killed=False,
        output=b"",
        output_truncated=False,
        output_total_bytes=0,
        wall_seconds=1.0,
        start_seconds=0.0,
        cpu_seconds=None,
        peak_memory_bytes=None,
        out_files={},
        out_rejected=[],
    )
    return Result(**{**base, **kw})


def _mnist_folder(tmp_path: Path, prelude: str) -> Path:
    """The mini MNIST reference with ``prelude`` run when its module is imported (in the
    training box first)."""
    from tests.sandboxed import MINI_MNIST

    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "tiny.py").write_text(prelude + (MINI_MNIST / "tiny.py").read_text())
    return folder


def _grader_loop_only():
    from tests.test_classifier import mini

    return mini("grader-loop")


def test_training_box_killed_from_outside_is_ours(tmp_path, backend):
    """A training phase's box (phases.run_phase) SIGKILLed from outside: ours."""
    from tests.sandboxed import grade_mnist

    stop = threading.Event()
    if backend == "docker":  # once torch is imported and the student's module sleeps
        killer = threading.Thread(target=_kill_docker_student, args=(stop, 12.0))
    else:
        killer = threading.Thread(target=_kill_when_sleeping, args=("runner", stop))
    killer.start()
    try:
        with pytest.raises(GradingError) as caught:
            folder = _mnist_folder(tmp_path, "import time\ntime.sleep(30)\n")
            grade_mnist(tmp_path, folder, _grader_loop_only())
    finally:
        stop.set()
        killer.join()
    assert caught.value.code == "infra:box-killed", caught.value


def test_training_box_that_exits_137_is_the_students(tmp_path, backend):
    from tests.sandboxed import grade_mnist

    folder = _mnist_folder(tmp_path, "import os\nos._exit(137)\n")
    report = grade_mnist(tmp_path, folder, _grader_loop_only())
    assert report.state == "failed_student", (report.failure_kind, report.failure_message)
    assert report.failure_kind == "submission:exited-early"
    assert "exit code 137" in str(report.outcomes)


@pytest.mark.parametrize("backend", ["none"], indirect=True)
def test_who_is_charged_by_how_the_box_ended():
    """The rule itself, on every combination the backends report."""
    assert not _result(ended_how=("exit", 137)).killed_from_outside
    assert not _result(ended_how=("signal", 11), exit_code=139).killed_from_outside
    assert not _result(ended_how=("signal", 6), exit_code=134).killed_from_outside
    assert _result(ended_how=("signal", 9)).killed_from_outside
    assert _result(ended_how=("signal", 15), exit_code=143).killed_from_outside
    assert _result(ended_how=None).killed_from_outside  # the reaper was killed too
    assert not _result(ended_how=None, exit_code=1).killed_from_outside
    assert _result(host_signal=9, ended_how=("exit", 0)).killed_from_outside
    # A limit of the box is the student's, whatever signal ended it.
    assert not _result(ended_how=("signal", 9), oom_killed=True).killed_from_outside
    assert not _result(ended_how=("signal", 9), timed_out=True).killed_from_outside
    assert not _result(ended_how=("signal", 9), cpu_limit_hit=True).killed_from_outside
    assert not _result(ended_how=("signal", 9), process_limit_hit=True).killed_from_outside
