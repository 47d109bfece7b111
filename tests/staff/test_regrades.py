"""Re-grade batches on the database alone (the worker's part is simulated by writing the
results a worker would store; tests/staff/test_regrade_worker.py runs a real worker)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from autograder import regrades
from autograder.grading.failures import Failure, FailureCode
from autograder.models import GradingRun, RunState, Submission, utcnow
from autograder.staff_runs import current_run
from tests.staff.conftest import SLUG, bearer


def finish(db, batch_id: int, scores: dict[str, float | None]) -> None:  # type: ignore[no-untyped-def]
    """Store results for the batch's runs, by student name (None: failed on our side)."""
    runs = db.scalars(select(GradingRun).where(GradingRun.batch_id == batch_id)).all()
    for run in runs:
        score = scores[run.submission.user.name]
        run.state = RunState.graded if score is not None else RunState.failed_infra
        run.score = run.raw_score = score
        run.max_score = 5.0
        run.finished_at = utcnow()
    db.commit()


def test_regrade_of_an_assignment(staff_client, db, people, graded):
    ann = graded("ann", 2.0)
    bob = graded("bob", 4.0)
    cat = graded("cat", 3.0)
    start = staff_client.post(
        f"/api/v1/staff/assignments/{SLUG}/regrades", headers=bearer(people.ta)
    )
    assert start.status_code == 202, start.text
    batch = start.json()
    assert batch["scope"] == "assignment" and batch["state"] == "open"
    assert batch["progress"]["total"] == 3
    runs = db.scalars(select(GradingRun).where(GradingRun.batch_id == batch["id"])).all()
    assert {r.queue for r in runs} == {"cpu-low"} and not any(r.is_current for r in runs)

    again = staff_client.post(
        f"/api/v1/staff/assignments/{SLUG}/regrades", headers=bearer(people.ta)
    )
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    early = staff_client.post(
        f"/api/v1/staff/regrades/{batch['id']}/apply", headers=bearer(people.ta)
    )
    assert early.status_code == 409 and "still grading 3" in early.json()["detail"]

    finish(db, batch["id"], {"ann": 3.5, "bob": 4.0, "cat": None})
    report = staff_client.get(
        f"/api/v1/staff/regrades/{batch['id']}/report", headers=bearer(people.ta)
    ).json()
    assert report["batch"]["progress"]["done"] == 3
    assert report["summary"] == {"up": 1, "down": 0, "same": 1, "pending": 0, "failed": 1}
    rows = {r["student"]: r for r in report["rows"]}
    assert (rows["ann"]["before"]["score"], rows["ann"]["after"]["score"]) == (2.0, 3.5)
    assert rows["ann"]["delta"] == 1.5 and rows["cat"]["change"] == "failed"

    applied = staff_client.post(
        f"/api/v1/staff/regrades/{batch['id']}/apply", headers=bearer(people.ta)
    )
    assert applied.status_code == 200 and applied.json()["state"] == "applied"
    db.expire_all()
    assert current_run(db.get(Submission, ann.id)).score == 3.5
    assert current_run(db.get(Submission, bob.id)).batch_id == batch["id"]
    cat_run = current_run(db.get(Submission, cat.id))
    assert cat_run.batch_id is None and cat_run.score == 3.0  # failed on our side: not applied
    frozen = staff_client.get(
        f"/api/v1/staff/regrades/{batch['id']}/report", headers=bearer(people.ta)
    ).json()
    assert frozen["rows"] == report["rows"]  # the report still shows what was replaced
    twice = staff_client.post(
        f"/api/v1/staff/regrades/{batch['id']}/apply", headers=bearer(people.ta)
    )
    assert twice.status_code == 409


def test_discard_keeps_current_runs_and_drops_unstarted_ones(staff_client, db, people, graded):
    ann = graded("ann", 2.0)
    graded("bob", 4.0)
    batch = staff_client.post(
        f"/api/v1/staff/assignments/{SLUG}/regrades", headers=bearer(people.ta)
    ).json()
    running = db.scalars(select(GradingRun).where(GradingRun.batch_id == batch["id"])).first()
    running.state = RunState.running
    db.commit()
    discarded = staff_client.post(
        f"/api/v1/staff/regrades/{batch['id']}/discard", headers=bearer(people.ta)
    )
    assert discarded.status_code == 200 and discarded.json()["state"] == "discarded"
    assert discarded.json()["progress"]["total"] == 1  # the queued one is gone
    db.expire_all()
    assert current_run(db.get(Submission, ann.id)).score == 2.0
    assert db.scalar(select(GradingRun).where(GradingRun.is_current.is_(False))).state == "running"


def test_one_submission_regrade_applies_itself(staff_client, db, people, graded):
    submission = graded("s001", 1.0)
    response = staff_client.post(
        f"/api/v1/staff/submissions/{submission.id}/regrade", headers=bearer(people.ta)
    )
    assert response.status_code == 202
    batch = response.json()
    assert batch["auto_apply"] and batch["scope"] == "submission"
    [run] = db.scalars(select(GradingRun).where(GradingRun.batch_id == batch["id"])).all()
    assert run.queue == "cpu" and not run.is_current
    finish(db, batch["id"], {"s001": 5.0})
    assert regrades.apply_if_automatic(db, run.id)  # what worker/jobs.store calls
    db.commit()
    db.expire_all()
    assert current_run(db.get(Submission, submission.id)).id == run.id
    seen = staff_client.get(
        f"/api/v1/submissions/{submission.id}", headers=bearer(people.student)
    ).json()
    assert seen["score"] == 5.0  # the student sees the current run
    detail = staff_client.get(
        f"/api/v1/staff/submissions/{submission.id}", headers=bearer(people.ta)
    ).json()
    assert detail["current_run"] == run.id and [r["current"] for r in detail["runs"]] == [
        False,
        True,
    ]
    report = staff_client.get(batch["url"] + "/report", headers=bearer(people.ta)).json()
    assert report["batch"]["state"] == "applied"
    assert report["rows"][0]["before"]["score"] == 1.0 and report["rows"][0]["delta"] == 4.0


def test_an_infra_failure_is_not_applied_automatically(db, people, graded, assignment):
    from autograder.assignments import spec_for

    submission = graded("s001", 1.0)
    batch = regrades.start_for_submission(db, submission, spec_for(db, assignment).spec, None)
    db.commit()
    finish(db, batch.id, {"s001": None})
    assert not regrades.apply_if_automatic(db, batch.runs[0].id)
    db.expire_all()
    assert current_run(db.get(Submission, submission.id)).score == 1.0


@pytest.mark.parametrize(
    ("failure", "owner"),
    [
        (Failure(code=FailureCode.REFERENCE_FAILED, detail="KeyError in solution.py"), "spec"),
        (Failure(code=FailureCode.WORKER_LOST), "infra"),
    ],
)
def test_staff_see_whose_failure_a_run_is(staff_client, db, people, graded, failure, owner):
    submission = graded("s001", None)
    run = current_run(db.get(Submission, submission.id))
    run.failure_kind, run.failure_message = failure.code, failure.message()
    run.failure = failure.stored()
    db.commit()
    response = staff_client.get(
        f"/api/v1/staff/submissions/{submission.id}", headers=bearer(people.ta)
    )
    assert response.status_code == 200, response.text
    shown = response.json()["runs"][0]
    assert shown["failure_owner"] == owner
    assert shown["failure_kind"] == failure.code
    assert shown["failure_message"] == failure.message()


def test_a_batch_discarded_while_it_is_being_sent_is_skipped(
    db, people, graded, assignment, monkeypatch
):  # type: ignore[no-untyped-def]
    """The API sends a batch's runs after its response (enqueue_later); a TA may discard
    the batch while that goes on. Here the discard lands just as the first run's message
    is sent: that run and the others are deleted, and sending goes on without an error
    (before: StaleDataError recording the first, which dropped the connection)."""
    from autograder import queueing
    from autograder.assignments import spec_for
    from autograder.db import session_factory

    for name in ("ann", "bob", "cat"):
        graded(name, 2.0)
    batch = regrades.start_for_assignment(db, assignment, spec_for(db, assignment).spec, None)
    db.commit()
    assert len(batch.runs) == 3  # loaded here, as enqueue_later has them
    sent: list[int] = []
    real = queueing.send_grade

    def send_then_discard(run_id: int, queue: str) -> bool:
        ok = real(run_id, queue)
        sent.append(run_id)
        if len(sent) == 1:  # the TA's discard, committed by another request
            other = session_factory()()
            try:
                regrades.discard(other, batch.id, None)
                other.commit()
            finally:
                other.close()
        return ok

    monkeypatch.setattr(queueing, "send_grade", send_then_discard)
    assert regrades.enqueue(db, batch) == 1  # the first went before the discard
    assert len(sent) == 1  # and nothing after it
    db.expire_all()
    assert db.scalars(select(GradingRun).where(GradingRun.batch_id == batch.id)).all() == []
    assert regrades.get_batch(db, batch.id).state == "discarded"


def test_a_batch_is_sent_once_even_when_sent_twice(db, people, graded, assignment):
    from autograder.assignments import spec_for

    graded("ann", 2.0)
    batch = regrades.start_for_assignment(db, assignment, spec_for(db, assignment).spec, None)
    db.commit()
    assert regrades.enqueue(db, batch) == 1
    run = db.scalar(select(GradingRun).where(GradingRun.batch_id == batch.id))
    assert run.enqueued_at is not None
    assert regrades.enqueue(db, regrades.get_batch(db, batch.id)) == 0
