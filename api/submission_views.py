"""A submission as its viewer may see it: shared by the JSON API and the pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from api.lookups import current_spec
from autograder.feedback import PreviewMoment, preview_time, student_view
from autograder.models import GradingRun, Role, RunState, Submission, User
from autograder.staff_release import policy_for
from autograder.staff_runs import current_run

FINAL_STATES = (RunState.graded, RunState.failed_student)


def lanes_first(queue: str) -> tuple[str, ...]:
    """The lanes a worker drains before or with ``queue``'s messages: a ``-low`` lane (re-
    grades) waits for its normal lane (queueing.py: queue_order_strategy "priority")."""
    return (queue.removesuffix("-low"), queue) if queue.endswith("-low") else (queue,)


def queue_position(session: Session, run: GradingRun) -> int | None:
    """How many runs will be graded before ``run`` under the fair order (0: it is next);
    None unless ``run`` is queued.

    Sent runs (``enqueued_at`` set: in the broker) go in the order they are due, on this
    lane and the lanes drained first. A held run (behind its student's own earlier run on
    the lane, autograder/fairness.py) goes after every run sent now and after its own
    earlier held ones; other students' later uploads may still come before it. A run being
    graded is not ahead of anything: it has started."""
    if run.state != RunState.queued:
        return None
    lanes = lanes_first(run.queue)
    sent = and_(
        GradingRun.state == RunState.queued,
        GradingRun.enqueued_at.is_not(None),
        GradingRun.queue.in_(lanes),
        GradingRun.id != run.id,
    )
    if run.enqueued_at is not None:
        ahead = or_(
            GradingRun.queue != run.queue,  # a lane drained first
            GradingRun.enqueued_at < run.enqueued_at,
            and_(GradingRun.enqueued_at == run.enqueued_at, GradingRun.id < run.id),
        )
        return int(session.scalar(select(func.count()).where(sent, ahead)) or 0)
    own_earlier = select(func.count()).where(
        GradingRun.submission_id == Submission.id,
        Submission.user_id == run.submission.user_id,
        GradingRun.queue == run.queue,
        GradingRun.state == RunState.queued,
        GradingRun.enqueued_at.is_(None),  # the sent ones are counted above
        or_(
            GradingRun.queued_at < run.queued_at,
            and_(GradingRun.queued_at == run.queued_at, GradingRun.id < run.id),
        ),
    )
    return int(session.scalar(select(func.count()).where(sent)) or 0) + int(
        session.scalar(own_earlier) or 0
    )


# Recent runs that set the estimate of a wait (the assignment's, graded or not).
RECENT_RUNS = 20


def estimated_wait(session: Session, run: GradingRun, position: int | None) -> float | None:
    """Seconds until ``run`` is graded, roughly: the median of the assignment's recent
    gradings times the runs that go first (and itself), shared by the runs the lanes are
    grading now (as many as are running, at least one). None when queued runs have no
    such history yet, or ``run`` is not queued."""
    if position is None:
        return None
    durations = session.execute(
        select(GradingRun.started_at, GradingRun.finished_at)
        .join(Submission, Submission.id == GradingRun.submission_id)
        .where(
            Submission.assignment_id == run.submission.assignment_id,
            GradingRun.state.in_((RunState.graded, RunState.failed_student)),
            GradingRun.started_at.is_not(None),
            GradingRun.finished_at.is_not(None),
        )
        .order_by(GradingRun.finished_at.desc())
        .limit(RECENT_RUNS)
    ).all()
    seconds = sorted(
        (end - start).total_seconds()
        for start, end in durations
        if start is not None and end is not None  # as the query asks: for the type checker
    )
    if not seconds:
        return None
    median = seconds[len(seconds) // 2]
    running = session.scalar(
        select(func.count()).where(
            GradingRun.state == RunState.running,
            GradingRun.queue.in_(lanes_first(run.queue)),
        )
    )
    return round(median * (position + 1) / max(1, int(running or 0)), 1)


def submission_view(
    session: Session,
    submission: Submission,
    viewer: User,
    now: datetime,
    *,
    as_student: bool = False,
    moment: PreviewMoment = "now",
) -> dict[str, Any]:
    """The current run of ``submission`` as ``viewer`` may see it under the assignment's
    release policy (staff see hidden checks and unreleased scores). ``as_student`` (staff):
    exactly what its student sees, ``moment`` giving when: now, or just before or just
    after the feedback switch (the caller lets only staff ask for another moment)."""
    loaded = current_spec(session, submission.assignment)
    run = current_run(submission)
    release = policy_for(session, submission.assignment)
    position = queue_position(session, run)
    view = student_view(
        run,
        loaded.spec,
        preview_time(loaded.spec, release, moment, now),
        reveal_all=viewer.role != Role.student and not as_student,
        release=release,
    )
    return view | {
        "id": submission.id,
        "assignment": submission.assignment.slug,
        "received_at": submission.received_at,
        "is_late": submission.is_late,
        "late_days": submission.late_days,
        "files": submission.files,
        "queue_position": position,
        "estimated_wait_seconds": estimated_wait(session, run, position),
    }


def summary_of(view: dict[str, Any], base: str) -> dict[str, Any]:
    """The fields of a submission's summary (``SubmissionSummaryOut``)."""
    keys = ("id", "assignment", "received_at", "is_late", "late_days", "state", "score")
    return {key: view[key] for key in keys} | {
        "max_score": view["max_score"],
        "url": f"{base}/api/v1/submissions/{view['id']}",
        "page_url": f"{base}/submissions/{view['id']}",
    }


def best_and_latest(
    views: list[dict[str, Any]],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``views`` newest first: the scored one with the highest score (the newest among
    equals), and the newest one whatever its state."""
    latest = views[0] if views else None
    scored = [v for v in views if v["score"] is not None and v["state"] in FINAL_STATES]
    best = max(scored, key=lambda v: v["score"], default=None)
    return best, latest
