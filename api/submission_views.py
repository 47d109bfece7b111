"""A submission as its viewer may see it: shared by the JSON API and the pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from api.lookups import current_spec
from autograder.feedback import student_view
from autograder.models import GradingRun, Role, RunState, Submission, User
from autograder.staff_release import policy_for
from autograder.staff_runs import current_run

FINAL_STATES = (RunState.graded, RunState.failed_student)


def queue_position(session: Session, run: GradingRun) -> int | None:
    """How many queued runs on the same queue are older than ``run`` (0: it is next);
    None unless ``run`` is queued."""
    if run.state != RunState.queued:
        return None
    older = or_(
        GradingRun.queued_at < run.queued_at,
        and_(GradingRun.queued_at == run.queued_at, GradingRun.id < run.id),
    )
    query = select(func.count()).where(
        GradingRun.state == RunState.queued, GradingRun.queue == run.queue, older
    )
    return int(session.scalar(query) or 0)


def submission_view(
    session: Session, submission: Submission, viewer: User, now: datetime
) -> dict[str, Any]:
    """The current run of ``submission`` as ``viewer`` may see it under the assignment's
    release policy (staff see hidden checks and unreleased scores)."""
    loaded = current_spec(session, submission.assignment)
    run = current_run(submission)
    view = student_view(
        run,
        loaded.spec,
        now,
        reveal_all=viewer.role != Role.student,
        release=policy_for(session, submission.assignment),
    )
    return view | {
        "id": submission.id,
        "assignment": submission.assignment.slug,
        "received_at": submission.received_at,
        "is_late": submission.is_late,
        "late_days": submission.late_days,
        "files": submission.files,
        "queue_position": queue_position(session, run),
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
