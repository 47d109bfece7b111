"""Re-grades through the real parts: a Celery worker process, the sandbox, Postgres, Redis.

An instructor uploads a changed spec (more points for one check), a TA re-grades the
assignment in the low lane, reads the before/after report, applies it (students now see
the new scores), re-grades again and discards it (nothing changes), and re-grades one
submission alone (the worker applies it as it stores the grade)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from autograder.models import GradingRun, RunState, Submission
from autograder.queueing import send_grade
from autograder.staff_runs import current_run
from tests.factories import submit_folder, wait_final
from tests.sandboxed import MINI_REFERENCE, MINI_SPEC, require_sandbox
from tests.staff.conftest import bearer

pytestmark = pytest.mark.slow
GOOD = (MINI_REFERENCE / "mini.py").read_text()
WRONG_ADD = GOOD.replace("return a + b", "return a - b")


@pytest.fixture
def mini_env(configured, monkeypatch, tmp_path_factory):  # type: ignore[no-untyped-def]
    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(MINI_REFERENCE.parent))
    # A published assignment's new spec needs its whole bundle (reference and starter with
    # its handouts), so the instructor's upload below finds a starter.
    starters = tmp_path_factory.mktemp("starters")
    (starters / "mini").mkdir()
    for name, text in (
        ("mini.py", "def add(a, b):\n    pass\n"),
        ("README.md", "add"),
        ("README.zh.md", "加法"),
    ):
        (starters / "mini" / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("AUTOGRADER_STARTERS_DIR", str(starters))
    from tests.conftest import reset_caches

    reset_caches()
    return configured


def folder_with(tmp_path, name: str, source: str):  # type: ignore[no-untyped-def]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "mini.py").write_text(source)
    return folder


def graded_submissions(db, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Two students' submissions graded through the worker: ann 8/8, bob 6/8."""
    ids = {}
    for user, source in (("ann", GOOD), ("bob", WRONG_ADD)):
        run = submit_folder(db, MINI_SPEC, folder_with(tmp_path, user, source), user=user)
        send_grade(run.id, run.queue)
        ids[user] = run.submission_id
        final = wait_final(run.id)
        assert final.state == RunState.graded, final.failure_message
    return ids


def wait_batch(client, url: str, token: str, timeout: float = 180) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.get(url, headers=bearer(token)).json()
        if batch["progress"]["done"] == batch["progress"]["total"] or batch["state"] != "open":
            return batch
        time.sleep(0.3)
    raise TimeoutError(f"re-grade not done after {timeout}s: {batch}")


def test_regrade_an_assignment_apply_and_discard(
    mini_env, db, people, worker, staff_client, tmp_path
):
    ids = graded_submissions(db, tmp_path)
    ta = people.ta
    # The instructor gives `add` 4 points instead of 2 (max 10): a new spec version.
    changed = MINI_SPEC.read_text().replace(
        "cases: 4\n        points: 2", "cases: 4\n        points: 4"
    )
    assert changed != MINI_SPEC.read_text()
    files = [("file", ("mini.yaml", changed.encode(), "application/x-yaml"))]
    uploaded = staff_client.post(
        "/api/v1/staff/specs", files=files, headers=bearer(people.instructor)
    )
    assert uploaded.status_code == 201, uploaded.text
    new_hash = uploaded.json()["spec_hash"]

    started = staff_client.post("/api/v1/staff/assignments/mini/regrades", headers=bearer(ta))
    assert started.status_code == 202, started.text
    batch = started.json()
    lanes = db.scalars(select(GradingRun.queue).where(GradingRun.batch_id == batch["id"])).all()
    assert lanes == ["cpu-low", "cpu-low"]
    done = wait_batch(staff_client, batch["url"], ta)
    assert done["progress"]["graded"] == 2, done

    report = staff_client.get(batch["url"] + "/report", headers=bearer(ta)).json()
    rows = {r["student"]: r for r in report["rows"]}
    assert (rows["ann"]["before"]["score"], rows["ann"]["after"]["score"]) == (8, 10)
    assert (rows["bob"]["before"]["score"], rows["bob"]["after"]["score"]) == (6, 6)
    assert rows["ann"]["after"]["spec_hash"] == new_hash
    assert report["summary"]["up"] == 1 and report["summary"]["same"] == 1
    # Before applying, students still see the old grade.
    student = staff_client.get(f"/api/v1/staff/submissions/{ids['ann']}", headers=bearer(ta))
    assert student.json()["runs"][0]["current"] is True

    applied = staff_client.post(batch["url"] + "/apply", headers=bearer(ta))
    assert applied.status_code == 200 and applied.json()["state"] == "applied"
    db.expire_all()
    ann = current_run(db.get(Submission, ids["ann"]))
    assert (ann.score, ann.max_score, ann.spec_hash) == (10, 10, new_hash)

    second = staff_client.post("/api/v1/staff/assignments/mini/regrades", headers=bearer(ta))
    assert second.status_code == 202
    discarded = staff_client.post(second.json()["url"] + "/discard", headers=bearer(ta))
    assert discarded.status_code == 200 and discarded.json()["state"] == "discarded"
    db.expire_all()
    assert current_run(db.get(Submission, ids["ann"])).id == ann.id

    # One submission alone: the worker makes its run current as it stores the grade.
    one = staff_client.post(f"/api/v1/staff/submissions/{ids['bob']}/regrade", headers=bearer(ta))
    assert one.status_code == 202
    final = wait_batch(staff_client, one.json()["url"], ta)
    deadline = time.monotonic() + 30
    while final["state"] == "open" and time.monotonic() < deadline:
        time.sleep(0.2)
        final = staff_client.get(one.json()["url"], headers=bearer(ta)).json()
    assert final["state"] == "applied"
    db.expire_all()
    bob = current_run(db.get(Submission, ids["bob"]))
    assert bob.batch_id == one.json()["id"] and bob.score == 6
    worker_log = worker.log()
    assert "Traceback" not in worker_log, worker_log


def test_new_uploads_are_graded_before_regrades(mini_env, db, people, staff_client, tmp_path):
    """With a re-grade waiting in cpu-low, students' new uploads (cpu) are all taken first."""
    from tests.processes import WorkerProcess

    run = submit_folder(db, MINI_SPEC, folder_with(tmp_path, "old", GOOD), user="old")
    for user in ("u1", "u2"):
        submit_folder(db, MINI_SPEC, folder_with(tmp_path, user, GOOD), user=user)
    started = staff_client.post(
        "/api/v1/staff/assignments/mini/regrades", headers=bearer(people.ta)
    )
    assert started.status_code == 202  # 3 runs now wait in cpu-low (no worker yet)
    fresh = [
        submit_folder(db, MINI_SPEC, folder_with(tmp_path, user, GOOD), user=user)
        for user in ("new1", "new2")
    ]
    for new in fresh:
        assert send_grade(new.id, "cpu")
    low = db.scalars(select(GradingRun.id).where(GradingRun.batch_id == started.json()["id"])).all()
    one_at_a_time = WorkerProcess(tmp_path / "w.log", concurrency=1)
    one_at_a_time.start()
    try:
        for run_id in [*low, *(new.id for new in fresh)]:
            wait_final(run_id)
    finally:
        one_at_a_time.stop()
    db.expire_all()
    low_starts = [db.get(GradingRun, run_id).started_at for run_id in low]
    new_starts = [db.get(GradingRun, new.id).started_at for new in fresh]
    # Round-robin would take new1, a re-grade, new2, ...; priority drains cpu first.
    assert max(new_starts) < min(low_starts), (new_starts, low_starts)
    assert run.id not in low  # the originals stay as they were
