"""The reconciler: finds jobs the broker lost and leases that expired, in every worker.

Runs as a thread in each worker's main process. Idempotent: a run sent twice is
claimed once (worker/jobs.py), so several reconcilers side by side are harmless.

It respects fair order (autograder/fairness.py): of each student's queued runs on a lane
only the head, with nothing of theirs running there, is (re-)sent; the others stay held.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from autograder.assignments import spec_for
from autograder.db import session_scope
from autograder.fairness import sendable
from autograder.grading.failures import Failure, FailureCode
from autograder.models import GradingRun, RunState, Submission, utcnow
from autograder.queueing import cpu_lane_of, send_grade
from autograder.settings import Settings, get_settings

log = logging.getLogger(__name__)
BATCH = 200


def reconcile_once() -> dict[str, int]:
    settings = get_settings()
    now = utcnow()
    counts = {"expired": 0, "failed": 0, "resent": 0, "fallback": 0}
    with session_scope() as session:
        expired = session.scalars(
            select(GradingRun)
            .where(GradingRun.state == RunState.running, GradingRun.lease_expires_at < now)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for run in expired:
            run.lease_owner = run.lease_expires_at = run.phase = None
            lost = Failure(code=FailureCode.WORKER_LOST)
            run.failure_kind, run.failure_message = lost.code, lost.message()
            run.failure = lost.stored()
            if run.attempts >= settings.max_attempts:
                run.state, run.finished_at = RunState.failed_infra, now
                counts["failed"] += 1
            else:
                run.state, run.enqueued_at = RunState.queued, None
                counts["expired"] += 1
    stale_before = now - timedelta(seconds=settings.requeue_after_seconds)
    with session_scope() as session:
        stale = session.scalars(
            select(GradingRun)
            .join(Submission, Submission.id == GradingRun.submission_id)
            .where(
                GradingRun.state == RunState.queued,
                or_(GradingRun.enqueued_at.is_(None), GradingRun.enqueued_at < stale_before),
                sendable(),  # held runs wait for their turn
            )
            .order_by(GradingRun.queued_at, GradingRun.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True, of=GradingRun)
        ).all()
        for run in stale:
            if run.attempts >= settings.max_attempts:
                run.state, run.finished_at = RunState.failed_infra, now
                counts["failed"] += 1
            elif send_grade(run.id, run.queue):
                run.enqueued_at = now
                counts["resent"] += 1
    counts["fallback"] = fall_back_to_cpu(settings, now)
    return counts


def fall_back_to_cpu(settings: Settings, now: datetime) -> int:
    """GPU jobs whose spec allows it move to the cpu queue after waiting too long."""
    moved = 0
    before = now - timedelta(seconds=settings.gpu_fallback_after_seconds)
    with session_scope() as session:
        waiting = session.scalars(
            select(GradingRun)
            .join(Submission, Submission.id == GradingRun.submission_id)
            .where(
                GradingRun.state == RunState.queued,
                GradingRun.queue.in_(("gpu", "gpu-low")),
                GradingRun.queued_at < before,
                sendable(),  # a held run moves when its turn comes
            )
            .limit(BATCH)
            .with_for_update(skip_locked=True, of=GradingRun)
        ).all()
        for run in waiting:
            loaded = spec_for(session, run.submission.assignment, run.spec_hash)
            lane = cpu_lane_of(run.queue)  # a re-grade stays in the lower-priority lane
            if loaded.spec.resources.cpu_fallback and send_grade(run.id, lane):
                run.queue, run.enqueued_at = lane, now
                moved += 1
    return moved


def start_reconciler() -> threading.Thread:
    interval = get_settings().reconcile_seconds

    def loop() -> None:
        while True:
            try:
                counts = reconcile_once()
                if any(counts.values()):
                    log.info("reconciler: %s", counts)
            except Exception:
                log.warning("reconciler pass failed", exc_info=True)
            threading.Event().wait(interval)

    thread = threading.Thread(target=loop, name="reconciler", daemon=True)
    thread.start()
    return thread
