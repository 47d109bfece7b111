"""Accepting a submission: the cut-off and quota rules, the Submission row with its first
GradingRun, and the hint to the broker. The database is the truth: a run whose message
could not be sent stays ``queued`` with ``enqueued_at`` NULL and the worker's reconciler
sends it again.

Limits on use: the spec's quota (429 + Retry-After), checked and consumed in one locked
step (``lock_student``, DESIGN rule 12); back-pressure when the lane the upload would go
to already has ``queue_max_depth`` queued runs (503 + Retry-After, ``check_capacity``,
refused before any file is stored; an overload guard read without a lock, so a burst may
pass it together: exact, it would serialise every student's uploads); under the spec's
``supersede_queued`` a new upload supersedes the student's runs still queued for the
assignment (``supersede_queued``); and at most one run per student per lane in the
broker (autograder/fairness.py).
"""

from __future__ import annotations

import hmac
import math
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, exists, func, select, update
from sqlalchemy.orm import Session

from autograder import fairness, late_policy
from autograder.db import write_lock
from autograder.models import Assignment, GradingRun, RunState, Submission, User, new_id, utcnow
from autograder.refusals import QueueFull, QuotaExceeded, UploadsClosed
from autograder.settings import get_settings
from autograder.specs.loader import LoadedSpec
from autograder.specs.schema import Spec

QUOTA_WINDOW = timedelta(days=1)


def job_seed(submission_id: str, spec_hash: str, secret_key: str | None = None) -> int:
    """The secret per-job seed for generated inputs; 63 bits, so it fits a signed BigInteger."""
    key = secret_key if secret_key is not None else get_settings().effective_secret_key
    digest = hmac.new(key.encode(), f"{submission_id}:{spec_hash}".encode(), "sha256").digest()
    return int.from_bytes(digest[:8], "big") >> 1


def queue_for(spec: Spec) -> str:
    return "gpu" if spec.resources.device == "gpu" else "cpu"


def check_accepting(
    session: Session,
    user: User,
    assignment: Assignment,
    spec: Spec,
    received_at: datetime,
) -> late_policy.Lateness:
    """Refuse past the hard cut-off or over quota; otherwise say how late this upload is."""
    lateness = late_policy.assess(received_at, spec.deadline, spec.late_policy)
    if lateness.refused and spec.deadline is not None and lateness.closes_at is not None:
        zone = spec.deadline.tzinfo
        deadline = spec.deadline.isoformat(timespec="minutes")
        cutoff = lateness.closes_at.astimezone(zone).isoformat(timespec="minutes")
        raise UploadsClosed(
            f"uploads for {assignment.slug} are closed: the deadline was "
            f"{deadline} and the late cut-off was {cutoff}",
            f"{assignment.slug} 已停止接收提交：截止时间是 {deadline}，迟交截止时间是 {cutoff}",
        )
    _check_quota(session, user, assignment, spec, received_at)
    return lateness


def check_capacity(session: Session, spec: Spec) -> None:
    """Back-pressure: refuse while the upload's lane has too many queued runs (counted in
    the database; re-grades wait in the -low lanes and are not counted here)."""
    settings = get_settings()
    limit = settings.queue_max_depth
    if limit <= 0:
        return
    lane = queue_for(spec)
    queued = session.scalar(
        select(func.count())
        .select_from(GradingRun)
        .where(GradingRun.state == RunState.queued, GradingRun.queue == lane)
    )
    if (queued or 0) >= limit:
        retry_after = max(1, settings.queue_busy_retry_after_seconds)
        raise QueueFull(
            f"the grading queue is full right now ({queued} submissions waiting); nothing "
            f"was stored and nothing is lost: try again in {retry_after} seconds",
            retry_after=retry_after,
            zh=f"评测队列现在已满（{queued} 个提交在等待）；本次未保存任何内容，也没有丢失"
            f"任何内容：请在 {retry_after} 秒后重试",
        )


NOT_CHARGED = (RunState.failed_infra, RunState.superseded)


def _charged(
    user: User, assignment: Assignment, spec: Spec | None = None
) -> tuple[ColumnElement[bool], ...]:
    """Submissions charged to the quota: all but those whose every run failed on our side
    or was superseded before it ran. Under ``supersede_queued`` an upload still queued is
    not charged either: the upload being checked would supersede it."""
    states: tuple[RunState, ...] = NOT_CHARGED
    if spec is not None and spec.supersede_queued:
        states = (*NOT_CHARGED, RunState.queued)
    charged = exists().where(
        GradingRun.submission_id == Submission.id, GradingRun.state.not_in(states)
    )
    return (
        Submission.user_id == user.id,
        Submission.assignment_id == assignment.id,
        charged,
    )


def _check_quota(
    session: Session, user: User, assignment: Assignment, spec: Spec, now: datetime
) -> None:
    conditions = _charged(user, assignment, spec)
    quota = spec.quota
    if quota.total is not None:
        used = session.scalar(select(func.count()).select_from(Submission).where(*conditions))
        if (used or 0) >= quota.total:
            raise QuotaExceeded(
                f"submission quota reached: you have used {used} of {quota.total} "
                f"submissions for {assignment.slug}",
                retry_after=None,
                zh=f"已达到提交次数上限：{assignment.slug} 的 {quota.total} 次提交"
                f"你已用了 {used} 次",
            )
    if quota.per_day is not None:
        window_start = now - QUOTA_WINDOW
        times = sorted(
            session.scalars(
                select(Submission.received_at).where(
                    *conditions, Submission.received_at > window_start
                )
            )
        )
        if len(times) >= quota.per_day:
            frees_at = times[len(times) - quota.per_day] + QUOTA_WINDOW
            retry_after = max(1, math.ceil((frees_at - now).total_seconds()))
            raise QuotaExceeded(
                f"daily quota reached: {len(times)} of {quota.per_day} submissions for "
                f"{assignment.slug} in the last 24 hours; try again in {retry_after} seconds",
                retry_after=retry_after,
                zh=f"已达到每日上限：过去 24 小时内 {assignment.slug} 已提交 {len(times)} 次"
                f"（上限 {quota.per_day} 次）；请在 {retry_after} 秒后重试",
            )


def lock_student(session: Session, user: User) -> None:
    """Serialise ``user``'s uploads until the transaction ends (DESIGN rule 12): count,
    then insert, with no other upload of theirs in between. Postgres: the user's row
    (``FOR UPDATE``): other students' uploads go on; under READ COMMITTED each later
    statement reads what the previous holder committed. SQLite: the database's write lock
    (``db.write_lock``); SQLite has one writer at a time anyway, so this costs only the
    few milliseconds of the quota count."""
    write_lock(session)
    session.execute(select(User.id).where(User.id == user.id).with_for_update())


def create_submission(
    session: Session,
    user: User,
    assignment: Assignment,
    loaded_spec: LoadedSpec,
    files: list[dict[str, Any]],
    received_at: datetime,
) -> Submission:
    """Add the submission and its queued run (not committed). The rules are checked again
    under ``lock_student``, so two concurrent uploads cannot both take the last slot."""
    lock_student(session, user)
    lateness = check_accepting(session, user, assignment, loaded_spec.spec, received_at)
    submission = Submission(
        id=new_id(),
        user_id=user.id,
        assignment_id=assignment.id,
        received_at=received_at,
        is_late=lateness.is_late,
        late_days=lateness.late_days,
        files=[{"name": f["name"], "sha256": f["sha256"], "size": f["size"]} for f in files],
    )
    run = GradingRun(
        submission=submission,
        spec_hash=assignment.spec_hash,
        queue=queue_for(loaded_spec.spec),
        state=RunState.queued,
        seed=job_seed(submission.id, assignment.spec_hash),
        queued_at=utcnow(),
    )
    session.add_all([submission, run])
    session.flush()
    if loaded_spec.spec.supersede_queued:
        supersede_queued(session, submission)
    return submission


SUPERSEDED_KIND = "superseded"


def supersede_queued(session: Session, newer: Submission) -> int:
    """End the still-queued upload runs of ``newer``'s student for the same assignment as
    ``superseded`` (not committed). A compare-and-set on ``state == queued``: a run a worker
    has already claimed is left to finish; a message still in the broker for a superseded
    run finds nothing to claim. Re-grade runs (``batch_id``) are the staff's: kept."""
    older = select(Submission.id).where(
        Submission.user_id == newer.user_id,
        Submission.assignment_id == newer.assignment_id,
        Submission.id != newer.id,
    )
    result = session.execute(
        update(GradingRun)
        .where(
            GradingRun.submission_id.in_(older),
            GradingRun.state == RunState.queued,
            GradingRun.batch_id.is_(None),
        )
        .values(
            state=RunState.superseded,
            finished_at=utcnow(),
            phase=None,
            lease_owner=None,
            lease_expires_at=None,
            failure_kind=SUPERSEDED_KIND,
            failure_message=f"superseded by submission {newer.id}: a newer upload replaced "
            "this one before it was graded; it is not counted against your quota",
        )
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)  # an UPDATE's result


def enqueue_run(session: Session, run: GradingRun) -> bool:
    """Send ``run`` to its queue if its turn has come (call after the commit that made it);
    record when it went. A run held behind the student's earlier run on the same lane, or a
    broker outage, returns False and leaves ``enqueued_at`` NULL (autograder/fairness.py)."""
    return fairness.enqueue_run(session, run)
