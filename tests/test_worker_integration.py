"""The job lifecycle with real parts: Postgres, Redis, a Celery worker process, the sandbox."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from autograder.grading.failures import FailureCode
from autograder.models import GradingRun, RunState
from autograder.queueing import send_grade
from autograder.settings import PROJECT_ROOT
from tests.factories import submit_folder, wait_final
from tests.sandboxed import MINI_REFERENCE, MINI_SPEC, require_sandbox
from worker.sandbox import cgroups

pytestmark = pytest.mark.slow


@pytest.fixture
def mini_env(configured, monkeypatch):
    """Point the service at the test fixtures' reference solutions."""
    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(MINI_REFERENCE.parent))
    from tests.conftest import reset_caches

    reset_caches()
    return configured


def _folder(tmp_path, source: str):
    folder = tmp_path / "sub"
    folder.mkdir(exist_ok=True)
    (folder / "mini.py").write_text(source)
    return folder


GOOD = (MINI_REFERENCE / "mini.py").read_text()


def test_reference_graded_by_worker(mini_env, db, worker, tmp_path):
    run = submit_folder(db, MINI_SPEC, MINI_REFERENCE)
    assert send_grade(run.id, run.queue)
    final = wait_final(run.id)
    assert final.state == RunState.graded
    assert final.score == final.max_score == 8
    assert final.attempts == 1
    assert final.spec_hash == run.spec_hash
    assert {"stage", "sandbox", "student_code", "score"} <= set(final.timings)
    assert final.resources["peak_memory_bytes"] > 0


def test_student_failure_is_a_grade_with_a_message(mini_env, db, worker, tmp_path):
    run = submit_folder(db, MINI_SPEC, _folder(tmp_path, "def add(:\n"))
    send_grade(run.id, run.queue)
    final = wait_final(run.id)
    assert final.state == RunState.failed_student
    assert final.score == 0
    assert final.failure_kind == "submission:import-error"
    assert "SyntaxError" in final.failure_message


def test_duplicate_delivery_grades_once(mini_env, db, worker):
    run = submit_folder(db, MINI_SPEC, MINI_REFERENCE)
    for _ in range(3):
        send_grade(run.id, run.queue)
    final = wait_final(run.id)
    time.sleep(2)  # let the duplicates arrive and find nothing to claim
    db.expire_all()
    again = db.get(GradingRun, run.id)
    assert again.attempts == 1
    assert again.state == RunState.graded
    assert again.finished_at == final.finished_at
    assert "skipped" in worker.log()


def test_lost_message_is_found_by_the_reconciler(mini_env, db, worker):
    run = submit_folder(db, MINI_SPEC, MINI_REFERENCE)  # never sent to the broker
    final = wait_final(run.id, timeout=60)
    assert final.state == RunState.graded
    assert final.score == 8


def test_instructor_failure_ends_at_once_never_a_zero(mini_env, db, worker, tmp_path, monkeypatch):
    """The reference solution disappears: the instructor's failure (``spec:*``), not the
    student's and not ours. Retrying would fail the same way: the run ends at its first
    attempt, with no score, and staff see why."""
    broken_refs = tmp_path / "refs"
    (broken_refs / "mini").mkdir(parents=True)
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(broken_refs))
    worker.stop()
    from tests.processes import WorkerProcess

    other = WorkerProcess(
        tmp_path / "w2.log",
        {"AUTOGRADER_RECONCILE_SECONDS": "1", "AUTOGRADER_REQUEUE_AFTER_SECONDS": "3"},
    )
    other.start()
    try:
        run = submit_folder(db, MINI_SPEC, MINI_REFERENCE)
        send_grade(run.id, run.queue)
        final = wait_final(run.id, timeout=120)
    finally:
        other.stop()
    assert final.state == RunState.failed_infra
    assert final.score is None
    assert final.attempts == 1
    assert final.failure_kind == FailureCode.REFERENCE_MISSING
    assert str(broken_refs / "mini") in final.failure_message


def _unique_copy(tmp_path, folder):  # type: ignore[no-untyped-def]
    """The mini reference with its own blobs (so that losing them touches no other test)."""
    import uuid

    copy = tmp_path / "sub"
    copy.mkdir()
    for f in folder.iterdir():
        if f.is_file():
            (copy / f.name).write_text(f.read_text() + f"\n# {uuid.uuid4().hex}\n")
    return copy


def test_infrastructure_failure_is_retried_never_a_zero(mini_env, db, worker, tmp_path):
    """A stored file lost from storage: ours (``infra:*``), retried with back-off; with no
    time budget for our faults (AUTOGRADER_INFRA_RETRY_SECONDS=0) only the attempts are
    left, then ``failed_infra`` with no score."""
    from autograder.storage import path_for
    from tests.processes import WorkerProcess

    worker.stop()
    other = WorkerProcess(tmp_path / "w2.log", {"AUTOGRADER_INFRA_RETRY_SECONDS": "0"})
    other.start()
    try:
        run = submit_folder(db, MINI_SPEC, _unique_copy(tmp_path, MINI_REFERENCE))
        for stored in run.submission.files:
            path_for(stored["sha256"]).unlink()
        send_grade(run.id, run.queue)
        final = wait_final(run.id, timeout=120)
    finally:
        other.stop()
    assert final.state == RunState.failed_infra
    assert final.score is None
    assert final.attempts == 3
    assert final.failure_kind == FailureCode.FILE_LOST
    assert final.resources["infra_retries"] == 3


def test_a_fault_of_ours_is_retried_for_minutes_not_attempts(mini_env, db, worker, tmp_path):
    """Ours for longer than three attempts take (5 s, 10 s, 20 s of back-off): the run is
    retried within AUTOGRADER_INFRA_RETRY_SECONDS whatever its attempts, and once the fault
    is gone it is graded as if nothing happened."""
    from autograder.storage import path_for
    from tests.processes import WorkerProcess

    worker.stop()
    other = WorkerProcess(tmp_path / "w2.log", {"AUTOGRADER_INFRA_RETRY_SECONDS": "120"})
    other.start()
    try:
        run = submit_folder(db, MINI_SPEC, _unique_copy(tmp_path, MINI_REFERENCE))
        kept = {}
        for stored in run.submission.files:
            blob = path_for(stored["sha256"])
            kept[blob] = blob.read_bytes()
            blob.unlink()
        send_grade(run.id, run.queue)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until a fourth try has failed
            db.expire_all()
            current = db.get(GradingRun, run.id)
            if (current.resources or {}).get("infra_retries", 0) >= 4:
                break
            time.sleep(0.5)
        assert current.resources["infra_retries"] >= 4, current.resources
        assert current.state == RunState.queued and current.attempts < 3
        for blob, data in kept.items():  # the fault is gone
            blob.write_bytes(data)
        final = wait_final(run.id, timeout=180)
    finally:
        other.stop()
    assert final.state == RunState.graded, (final.failure_kind, final.failure_message)
    assert final.score == final.max_score == 8
    assert final.failure_kind is None


def test_worker_killed_mid_run_loses_nothing(mini_env, db, tmp_path):
    """kill -9 of the whole worker while a sandbox runs; a new worker finishes the job."""
    from tests.processes import WorkerProcess

    slow = GOOD.replace("def add(a, b):\n", "def add(a, b):\n    import time; time.sleep(1)\n")
    env = {
        "AUTOGRADER_RECONCILE_SECONDS": "1",
        "AUTOGRADER_REQUEUE_AFTER_SECONDS": "3",
        "AUTOGRADER_LEASE_SECONDS": "6",
    }
    first = WorkerProcess(tmp_path / "w1.log", env)
    first.start()
    run = submit_folder(db, MINI_SPEC, _folder(tmp_path, slow))
    send_grade(run.id, run.queue)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db.expire_all()
        if db.get(GradingRun, run.id).phase == "running":
            break
        time.sleep(0.1)
    time.sleep(1.0)
    first.kill()
    killed_state = db.get(GradingRun, run.id)
    db.expire_all()
    assert killed_state.state == RunState.running
    second = WorkerProcess(tmp_path / "w2.log", env)
    second.start()
    try:
        final = wait_final(run.id, timeout=120)
    finally:
        second.stop()
    assert final.state == RunState.graded
    assert final.score == 8
    assert final.attempts == 2
    runs = db.scalars(select(GradingRun).where(GradingRun.submission_id == run.submission_id))
    assert len(list(runs)) == 1
    # The killed worker's boxes (named after its pid) left no process behind.
    killed = [n for n in cgroups.box_names() if n.startswith(f"box-{first.proc.pid}-")]
    assert not [n for n in killed if cgroups.box_cgroup(n).pids()]


def test_hw1_reference_through_the_worker(configured, db, worker):
    """The shipped homework: a reference solution earns its full score through the worker."""
    require_sandbox(configured)
    spec = PROJECT_ROOT / "grading_specs" / "hw1-1.yaml"
    run = submit_folder(db, spec, PROJECT_ROOT / "reference_solutions" / "hw1-1")
    send_grade(run.id, run.queue)
    final = wait_final(run.id)
    assert final.state == RunState.graded
    assert final.score == final.max_score
    starter = submit_folder(db, spec, PROJECT_ROOT / "starters" / "hw1-1", user="bob")
    send_grade(starter.id, starter.queue)
    final = wait_final(starter.id)
    assert final.score == 0
    assert any("NotImplementedError" in o["message"] for o in final.outcomes)


def test_training_progress_is_visible_while_running(configured, db, tmp_path, monkeypatch):
    """Epoch metrics reach the run (and so the API) while the train phase is still going,
    and the curve stays with the result."""
    from tests.processes import WorkerProcess
    from tests.sandboxed import MINI_MNIST, MINI_MNIST_SPEC, prepared_mnist

    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_DATA_DIR", str(prepared_mnist()))
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(MINI_MNIST.parent))
    slow = (
        (MINI_MNIST / "tiny.py")
        .read_text()
        .replace('log({"loss"', 'import time; time.sleep(2.5)\n        log({"loss"')
    )
    spec = tmp_path / "mini-mnist.yaml"
    text = MINI_MNIST_SPEC.read_text().replace(
        "epochs: 1, batch_size: 64, lr: 0.003, seed: 2",
        "epochs: 4, batch_size: 64, lr: 0.003, seed: 2",
    )
    spec.write_text(text)
    folder = _folder(tmp_path, "")
    (folder / "mini.py").unlink()
    (folder / "tiny.py").write_text(slow)
    worker = WorkerProcess(tmp_path / "w.log", {"AUTOGRADER_RECONCILE_SECONDS": "1"})
    worker.start()
    try:
        run = submit_folder(db, spec, folder)
        send_grade(run.id, run.queue)
        seen = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            db.expire_all()
            current = db.get(GradingRun, run.id)
            if RunState(current.state).is_final:
                break
            if current.progress.get("epochs"):
                seen.append(dict(current.progress))
            time.sleep(0.5)
        final = wait_final(run.id)
    finally:
        worker.stop()
    student = [p for p in seen if p["check"] == "student-loop"]
    assert student, f"no progress of the slow training was stored while it ran: {seen}"
    assert student[0]["phase"] == "train"
    assert 1 <= len(student[0]["epochs"]) < 4  # seen before the last epoch ended
    outcome = next(o for o in final.outcomes if o["check"] == "student-loop")
    assert [p["epoch"] for p in outcome["details"]["curve"]] == [1.0, 2.0, 3.0, 4.0]
