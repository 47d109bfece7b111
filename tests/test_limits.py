# ruff: noqa: F811  (fixtures imported from tests/api/conftest.py are parameters here)
"""Limits on use: quotas (429), back-pressure (503), superseded uploads, fair order.

Real Postgres and Redis throughout; the fair-order test grades with a real worker process
and the bubblewrap sandbox."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from autograder import fairness
from autograder.models import GradingRun, Role, RunState, Submission, utcnow
from tests.api.conftest import (  # noqa: F401  (fixtures)
    PASSWORD,
    auth,
    broker,
    client,
    good_files,
    make_assignment,
    make_user,
    sign_in,
    submission_for,
)
from tests.conftest import reset_caches

URL = "/api/v1/assignments/hw-test/submissions"


def upload(client, token: str):  # type: ignore[no-untyped-def]
    return client.post(URL, files=good_files(), headers=auth(token))


def runs_of(db, submission_id: str) -> list[GradingRun]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(GradingRun).where(GradingRun.submission_id == submission_id)))


def stored_blobs(settings) -> int:  # type: ignore[no-untyped-def]
    root = settings.path("storage")
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


# --------------------------------------------------------------------------- quota: 429


def test_daily_quota_still_answers_429_with_retry_after(client, make_assignment, make_user):
    make_assignment(quota={"per_day": 1})
    _, token = make_user()
    assert upload(client, token).status_code == 202
    refused = upload(client, token)
    assert refused.status_code == 429
    assert refused.json()["code"] == "upload:quota"
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600


# --------------------------------------------------------------------------- back-pressure: 503


@pytest.fixture
def shallow_queue(configured, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUTOGRADER_QUEUE_MAX_DEPTH", "2")
    monkeypatch.setenv("AUTOGRADER_QUEUE_BUSY_RETRY_AFTER_SECONDS", "42")
    reset_caches()
    return configured


def test_full_lane_refuses_with_503_before_storing_anything(
    shallow_queue, client, db, make_assignment, make_user
):
    make_assignment()
    bob, _ = make_user("bob")
    carol, _ = make_user("carol")
    _, token = make_user("alice")
    submission_for(db, bob)  # two runs queued on "cpu" (not sent: nothing to grade them)
    submission_for(db, carol)
    blobs = stored_blobs(shallow_queue)
    submissions = db.scalar(select(func.count()).select_from(Submission))

    refused = upload(client, token)

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "42"
    body = refused.json()
    assert body["code"] == "upload:busy"
    assert "try again" in body["detail"] and "nothing is lost" in body["detail"]
    assert stored_blobs(shallow_queue) == blobs  # refused before the files were stored
    assert db.scalar(select(func.count()).select_from(Submission)) == submissions


def test_back_pressure_counts_only_the_uploads_lane(
    shallow_queue, client, db, make_assignment, make_user
):
    make_assignment()
    bob, _ = make_user("bob")
    _, token = make_user("alice")
    # Two re-grades waiting in the low lane and a finished run: not the upload's lane.
    submission_for(db, bob, queue="cpu-low")
    submission_for(db, bob, queue="cpu-low")
    submission_for(db, bob, state=RunState.graded)
    assert upload(client, token).status_code == 202
    # The lane frees up when runs leave the queue.
    submission_for(db, bob)
    assert upload(client, token).status_code == 503
    db.execute(
        GradingRun.__table__.update()
        .where(GradingRun.queue == "cpu", GradingRun.state == RunState.queued)
        .values(state=RunState.running)
    )
    db.commit()
    assert upload(client, token).status_code == 202


# --------------------------------------------------------------------------- supersede


def test_newer_upload_supersedes_queued_ones(client, db, make_assignment, make_user, broker):
    make_assignment(supersede_queued=True, quota={"total": 2})
    alice, token = make_user("alice")
    bob, bob_token = make_user("bob")
    first = upload(client, token).json()["id"]
    bobs = upload(client, bob_token).json()["id"]
    second = upload(client, token).json()["id"]
    third = upload(client, token).json()["id"]  # over the quota of 2, were they counted

    for old, newer in ((first, second), (second, third)):
        (run,) = runs_of(db, old)
        assert run.state == RunState.superseded
        assert run.failure_kind == "superseded"
        assert f"superseded by submission {newer}" in run.failure_message
        assert run.finished_at is not None and run.score is None
    assert runs_of(db, third)[0].state == RunState.queued
    assert runs_of(db, bobs)[0].state == RunState.queued  # another student's: untouched

    # A late or duplicate message for a superseded run does nothing.
    from worker import jobs

    (run,) = runs_of(db, first)
    assert jobs.process(run.id) == "skipped"
    (again,) = runs_of(db, first)
    assert again.state == RunState.superseded and again.attempts == 0

    # The student reads it plainly in the API.
    view = client.get(f"/api/v1/submissions/{first}", headers=auth(token)).json()
    assert view["state"] == "superseded"
    assert f"superseded by submission {second}" in view["failure_message"]
    assert view["score"] is None
    listed = client.get("/api/v1/me/submissions", headers=auth(token)).json()
    assert sorted(s["state"] for s in listed) == ["queued", "superseded", "superseded"]

    # Superseded uploads are not charged: one graded + one queued (would be superseded).
    (run,) = runs_of(db, third)
    run.state, run.score, run.max_score = RunState.graded, 5.0, 5.0
    db.commit()
    fourth = upload(client, token)
    assert fourth.status_code == 202, fourth.text
    assert runs_of(db, third)[0].state == RunState.graded  # finished runs are never touched
    fifth = upload(client, token)
    assert fifth.status_code == 202, fifth.text
    assert runs_of(db, fourth.json()["id"])[0].state == RunState.superseded
    # Now graded (third) + queued (fifth, still supersedable): total 2 is not reached yet,
    # but a running run counts and is never superseded.
    (run,) = runs_of(db, fifth.json()["id"])
    run.state = RunState.running
    db.commit()
    over = upload(client, token)
    assert over.status_code == 429, over.text
    assert runs_of(db, fifth.json()["id"])[0].state == RunState.running


def test_without_the_key_nothing_is_superseded(client, db, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    first = upload(client, token).json()["id"]
    upload(client, token)
    assert runs_of(db, first)[0].state == RunState.queued


def test_superseded_reads_correctly_on_pages_and_gradebook(client, db, make_assignment, make_user):
    make_assignment(supersede_queued=True)
    _, token = make_user("alice", password=PASSWORD)
    _, ta_token = make_user("tess", role=Role.ta)
    first = upload(client, token).json()["id"]
    second = upload(client, token).json()["id"]
    (run,) = runs_of(db, second)
    run.state, run.score, run.max_score = RunState.graded, 4.0, 5.0
    db.commit()

    roster = client.get("/api/v1/staff/assignments/hw-test/roster", headers=auth(ta_token)).json()
    (row,) = [r for r in roster["rows"] if r["student"] == "alice"]
    assert row["attempts"] == 1 and row["latest_state"] == "graded"
    stats = client.get("/api/v1/staff/assignments/hw-test", headers=auth(ta_token)).json()
    assert stats["counts"]["submitted"] == 1 and stats["counts"]["pending"] == 0

    sign_in(client, "alice")
    page = client.get("/assignments/hw-test/upload")
    assert page.status_code == 200
    assert "superseded by a newer upload" in page.text
    zh = client.get("/assignments/hw-test/upload?lang=zh")
    assert "已被更新的提交取代" in zh.text
    assert client.get(f"/submissions/{first}").status_code == 200


# --------------------------------------------------------------------------- fair order


def messages(broker, queue: str = "cpu") -> list[int]:  # type: ignore[no-untyped-def]
    import base64
    import json

    out = []
    for raw in broker.lrange(queue, 0, -1):
        body = json.loads(base64.b64decode(json.loads(raw)["body"]))
        out.append(body[0][0])
    return sorted(out)


def test_one_run_per_student_in_the_broker(
    client, db, make_assignment, make_user, broker, monkeypatch
):
    make_assignment()
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    a = [upload(client, alice).json()["id"] for _ in range(3)]
    b = upload(client, bob).json()["id"]
    a_runs = [runs_of(db, s)[0] for s in a]
    b_run = runs_of(db, b)[0]
    # Alice's first and Bob's first are in the broker; Alice's others are held.
    assert messages(broker) == sorted([a_runs[0].id, b_run.id])
    assert [r.enqueued_at is not None for r in a_runs] == [True, False, False]

    # The reconciler re-sends nothing that is held, even long after.
    monkeypatch.setenv("AUTOGRADER_REQUEUE_AFTER_SECONDS", "0")
    reset_caches()
    from worker.reconciler import reconcile_once

    broker.delete("cpu")  # the broker lost every message
    time.sleep(0.05)
    reconcile_once()
    assert messages(broker) == sorted([a_runs[0].id, b_run.id])  # only the heads again

    # Alice's first run ends: her second is sent, her third still held.
    broker.delete("cpu")
    db.execute(
        GradingRun.__table__.update()
        .where(GradingRun.id == a_runs[0].id)
        .values(state=RunState.graded, finished_at=utcnow())
    )
    db.commit()
    assert fairness.send_next_after(a_runs[0].id) == a_runs[1].id
    assert fairness.send_next_after(a_runs[0].id) is None  # idempotent: nothing more to send
    assert messages(broker) == [a_runs[1].id]
    assert runs_of(db, a[2])[0].enqueued_at is None

    # While her second runs, the reconciler still holds the third.
    db.execute(
        GradingRun.__table__.update()
        .where(GradingRun.id == a_runs[1].id)
        .values(state=RunState.running)
    )
    db.commit()
    broker.delete("cpu")
    reconcile_once()
    assert a_runs[2].id not in messages(broker)


def test_worker_lost_mid_run_keeps_the_line_in_order(
    client, db, make_assignment, make_user, broker
):
    """A worker dies while grading the head of a line: the reconciler puts it back and
    re-sends it, and the student's next run stays held behind it."""
    from datetime import timedelta

    from worker.reconciler import reconcile_once

    make_assignment()
    _, token = make_user("alice")
    first, second = (upload(client, token).json()["id"] for _ in range(2))
    head, held = runs_of(db, first)[0], runs_of(db, second)[0]
    db.execute(
        GradingRun.__table__.update()
        .where(GradingRun.id == head.id)
        .values(
            state=RunState.running,
            attempts=1,
            lease_owner="dead-host:1",
            lease_expires_at=utcnow() - timedelta(seconds=1),
        )
    )
    db.commit()
    broker.delete("cpu")  # the message went with the worker
    counts = reconcile_once()
    assert counts["expired"] == 1 and counts["resent"] == 1
    assert messages(broker) == [head.id]
    db.expire_all()
    assert db.get(GradingRun, held.id).enqueued_at is None
    # A duplicate of the head's message is harmless: claimed once (worker/jobs.claim).
    from worker.jobs import claim

    assert claim(head.id, "w:1", 60, 3) and not claim(head.id, "w:2", 60, 3)


def test_lanes_are_separate_lines(client, db, make_assignment, make_user, broker):
    make_assignment()
    alice, token = make_user("alice")
    submission_for(db, alice, queue="cpu-low")  # a re-grade of hers waiting in the low lane
    created = upload(client, token).json()["id"]
    run = runs_of(db, created)[0]
    assert run.enqueued_at is not None
    assert messages(broker) == [run.id]


@pytest.mark.slow
def test_many_uploads_do_not_push_others_back(configured, db, monkeypatch, tmp_path: Path):
    """A uploads 6 times, then B once; one worker that takes one job at a time grades B
    before A's last five."""
    from tests.factories import submit_folder, wait_final
    from tests.processes import WorkerProcess
    from tests.sandboxed import MINI_REFERENCE, MINI_SPEC, require_sandbox

    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(MINI_REFERENCE.parent))
    reset_caches()
    a_runs = [submit_folder(db, MINI_SPEC, MINI_REFERENCE, user="anna") for _ in range(6)]
    b_run = submit_folder(db, MINI_SPEC, MINI_REFERENCE, user="ben")
    for run in [*a_runs, b_run]:  # what the API does after each upload
        fairness.enqueue_run(db, run)
    db.expire_all()
    assert [db.get(GradingRun, r.id).enqueued_at is not None for r in a_runs] == [True] + [
        False
    ] * 5

    worker = WorkerProcess(
        tmp_path / "worker.log",
        {"AUTOGRADER_RECONCILE_SECONDS": "1", "AUTOGRADER_REQUEUE_AFTER_SECONDS": "30"},
        concurrency=1,
    )
    worker.start()
    try:
        finals = {r.id: wait_final(r.id, timeout=240) for r in [*a_runs, b_run]}
    finally:
        worker.stop()
    assert all(f.state == RunState.graded for f in finals.values()), worker.log()
    b_done = finals[b_run.id].finished_at
    for run in a_runs[1:]:
        assert finals[run.id].started_at >= b_done, worker.log()
    # Anna's runs were graded in the order she uploaded them.
    starts = [finals[r.id].started_at for r in a_runs]
    assert starts == sorted(starts)
    assert all(f.attempts == 1 for f in finals.values())


# --------------------------------------------------------------------------- migration 0005


def test_migration_0005_keeps_superseded_runs_readable(configured, db, make_assignment, make_user):
    from autograder.migrate import downgrade, upgrade

    make_assignment()
    alice, _ = make_user()
    submission = submission_for(db, alice, state=RunState.superseded)
    run_id = submission.runs[0].id
    db.close()
    downgrade("0004")
    upgrade()
    db.expire_all()
    run = db.get(GradingRun, run_id)
    assert run.state == RunState.failed_infra  # the closest old state: not graded, not charged
    run.state = RunState.superseded  # and the value exists again after the upgrade
    db.commit()
    db.expire_all()
    assert db.get(GradingRun, run_id).state == RunState.superseded
