"""Hostile submissions through the real sandbox and scoring, each with its expected outcome.

Every case must: earn only what it deserves, leak nothing (canaries planted where a
submission might look), and leave no process, cgroup, mount or container behind. Each case
runs on every sandbox backend: bwrap with each box started cold, bwrap with boxes started
ahead of demand (worker/sandbox/pool.py), and docker; the docker ones skip with the reason when
no engine or sandbox image is there, and fail under AUTOGRADER_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from tests.sandboxed import (
    MINI_REFERENCE,
    by_check,
    grade_source,
    sandbox_settings,
    use_backend,
)
from worker.sandbox import cgroups
from worker.sandbox.pool import close_shared_pool, shared_pool

GOOD = (MINI_REFERENCE / "mini.py").read_text()
CANARY = "CANARY-7f3a9c-do-not-leak"


@pytest.fixture(autouse=True, params=["bwrap", "bwrap-pool", "docker"])
def sandbox_backend(request, tmp_path):
    use_backend(request.param)
    if request.param == "bwrap-pool":
        # Grade once and wait until boxes of the mini homework's profile are warm, so the
        # case itself runs in boxes started ahead of it (checked after the case).
        (tmp_path / "warm-up").mkdir()
        grade_source(tmp_path / "warm-up", GOOD)
        pool = shared_pool(2, 600)
        deadline = time.monotonic() + 120
        while pool.warm_count() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        hits = pool.hits
    yield request.param
    if request.param == "bwrap-pool":
        assert pool.hits > hits, "the case ran in no pre-warmed box"
    use_backend("bwrap")


@pytest.fixture(autouse=True)
def no_leftovers(tmp_path, sandbox_backend):
    """After each case: no process in this test run's box cgroups, no box mount left,
    no sandbox container left (the warm boxes of a pool removed first: a pool that could
    not remove its own boxes would fail here)."""
    yield
    close_shared_pool()
    mine = [n for n in cgroups.box_names() if n.startswith(f"box-{os.getpid()}-")]
    assert all(not cgroups.box_cgroup(n).pids() for n in mine), "a sandbox process survived"
    jobs = str(sandbox_settings(tmp_path).path("jobs"))
    assert jobs not in Path("/proc/mounts").read_text(), "a sandbox tmpfs is still mounted"
    if sandbox_backend == "docker" and sandbox_settings(tmp_path).sandbox_image:
        from tests.docker_engine import box_containers

        assert not box_containers(), "a sandbox container was left behind"


def test_reference_earns_full_marks(tmp_path):
    report = grade_source(tmp_path, GOOD)
    assert report.state == "graded"
    assert report.raw_score == report.max_score == 8
    assert all(o.passed for o in report.outcomes)


def test_reading_files_outside_its_folder_finds_nothing(tmp_path):
    settings = sandbox_settings(tmp_path)
    settings.home.mkdir(parents=True, exist_ok=True)
    secret = settings.home / "secret_key"
    secret.write_text(CANARY)
    source = GOOD + textwrap.dedent(f"""
        import os
        for path in [{str(secret)!r}, {str(MINI_REFERENCE / "mini.py")!r}, "/etc/shadow",
                     "/root/.bash_history", "/proc/1/environ", "/job/in/../../etc/passwd"]:
            try:
                print(path, open(path).read()[:200])
            except Exception as exc:
                print(path, "blocked:", type(exc).__name__)
        print("env:", dict(os.environ))
        print("root:", os.listdir("/"))
    """)
    report = grade_source(tmp_path, source)
    assert CANARY not in report.log
    assert "def fit" not in report.log  # the reference solution is not visible
    assert "blocked" in report.log
    assert "AUTOGRADER" not in report.log
    assert report.raw_score == 8  # reading around is not punished; it just finds nothing


def test_network_is_unreachable(tmp_path):
    source = GOOD + textwrap.dedent("""
        import socket
        for host, port in [("1.1.1.1", 80), ("127.0.0.1", 5432), ("127.0.0.1", 6379)]:
            try:
                socket.create_connection((host, port), timeout=2)
                print("CONNECTED", host, port)
            except OSError as exc:
                print("no network:", host, port, exc.errno)
        print("interfaces:", socket.if_nameindex())
    """)
    report = grade_source(tmp_path, source)
    assert "CONNECTED" not in report.log
    assert "no network" in report.log
    assert "[(1, 'lo')]" in report.log


def test_fork_bomb_is_contained(tmp_path):
    source = textwrap.dedent("""
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """)
    report = grade_source(tmp_path, source)
    assert report.state == "failed_student"
    assert report.raw_score == 0
    assert report.failure_kind == "submission:processes"
    assert "more than 32 processes" in report.failure_message


def test_memory_bomb_is_killed(tmp_path):
    source = "hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))\n"
    report = grade_source(tmp_path, source)
    assert report.state == "failed_student"
    assert report.failure_kind == "submission:memory"
    assert "256 MB" in report.failure_message
    assert report.raw_score == 0


def test_endless_loop_is_stopped_at_the_wall_clock(tmp_path):
    report = grade_source(tmp_path, GOOD.replace("return a + b", "while True:\n        pass"))
    assert report.state == "failed_student"
    assert report.failure_kind == "submission:timeout"
    assert "6 s" in report.failure_message
    assert report.raw_score == 0  # add() loops first; nothing after it ran
    assert 5.5 < report.resources["wall_seconds"] < 15


def test_printing_a_fake_score_changes_nothing(tmp_path):
    source = textwrap.dedent("""
        import json, sys
        print(json.dumps({"score": 100, "max_score": 100, "state": "graded"}))
        print("Score: 8/8  ALL TESTS PASSED", file=sys.stderr)
        def add(a, b):
            raise NotImplementedError
    """)
    report = grade_source(tmp_path, source)
    assert report.raw_score == 0
    assert "ALL TESTS PASSED" in report.log  # shown to the student as their own output


def test_sys_exit_before_any_work(tmp_path):
    report = grade_source(tmp_path, "import sys\nsys.exit(0)\n" + GOOD)
    assert report.raw_score == 0
    assert report.state == "failed_student"
    assert report.failure_kind == "submission:import-error"
    assert "SystemExit" in report.failure_message


def test_os_exit_before_any_work(tmp_path):
    report = grade_source(tmp_path, "import os\nos._exit(0)\n" + GOOD)
    assert report.raw_score == 0
    assert report.failure_kind == "submission:exited-early"


def test_object_whose_eq_is_always_true(tmp_path):
    source = GOOD + textwrap.dedent("""
        class Anything:
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __array__(self, *a, **k): raise TypeError("no")
        def add(a, b):
            return Anything()
    """)
    report = grade_source(tmp_path, source)
    outcome = by_check(report)["arrays/add"]
    assert outcome["earned"] == 0
    assert "returned Anything" in outcome["message"]


def test_nan_and_inf_never_pass(tmp_path):
    source = GOOD.replace("return a + b", "return (a + b) * float('nan')").replace(
        "return e / e.sum(axis=-1, keepdims=True)", "return np.full_like(z, np.inf)"
    )
    report = grade_source(tmp_path, source)
    checks = by_check(report)
    assert checks["arrays/add"]["earned"] == 0
    assert "NaN or infinite" in checks["arrays/add"]["message"]
    assert checks["arrays/softmax"]["earned"] == 0
    assert checks["fit/line"]["earned"] == 4  # the rest still counts


def test_symlinks_and_forged_results_are_refused(tmp_path):
    source = textwrap.dedent("""
        import json, os
        out = "/job/rw/out"
        for i in range(20):
            os.symlink("/job/in/plan.json", f"{out}/c{i}_o0.npy")
        os.mkfifo(f"{out}/fifo")
        with open(f"{out}/results.jsonl", "w") as fh:
            for i in range(20):
                fh.write(json.dumps({"index": i, "status": "ok", "seconds": 0}) + "\\n")
        os._exit(0)
    """)
    report = grade_source(tmp_path, source)
    assert report.raw_score == 0
    assert any(n.endswith("_o0.npy") for n in report.resources["rejected_outputs"])
    assert "fifo" in report.resources["rejected_outputs"]


def test_gigabytes_of_output_are_capped(tmp_path):
    source = GOOD + textwrap.dedent("""
        import sys
        chunk = "x" * 1_000_000
        for _ in range(3000):
            sys.stdout.write(chunk)
    """)
    report = grade_source(tmp_path, source)
    assert len(report.log.encode()) <= 64 * 1024
    assert report.log_truncated
    assert report.resources["output_bytes"] > 64 * 1024


def test_wrong_shapes_are_explained(tmp_path):
    report = grade_source(tmp_path, GOOD.replace("return a + b", "return (a + b).T"))
    message = by_check(report)["arrays/add"]["message"]
    assert "expected (" in message and "shape" in message
    assert "Hint: elementwise sum" in message


def test_syntax_error_tells_the_student_where(tmp_path):
    report = grade_source(tmp_path, GOOD + "\ndef broken(:\n    pass\n")
    assert report.state == "failed_student"
    assert report.failure_kind == "submission:import-error"
    assert "SyntaxError" in report.failure_message
    assert "line" in report.failure_message
    assert report.raw_score == 0
    # Said once, with the student's own lines only: not again in each check, no hints.
    assert "frozen" not in report.failure_message and "importlib" not in report.failure_message
    assert 'File "/job/src/mini.py", line' in report.failure_message
    for outcome in report.outcomes:
        assert outcome.message.startswith("not run: mini.py could not be imported"), outcome
        assert "SyntaxError" not in outcome.message and "Hint" not in outcome.message
