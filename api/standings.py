"""Each open assignment with the user's own best and latest submission: the student's
list of assignments, as the JSON API and the page both show it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.lookups import active_assignments
from api.routes.assignments import summary
from api.submission_views import best_and_latest, submission_view, summary_of
from autograder.models import Submission, User


def my_assignments(session: Session, user: User, base: str, now: datetime) -> list[dict[str, Any]]:
    mine: dict[int, list[Submission]] = defaultdict(list)
    query = (
        select(Submission)
        .where(Submission.user_id == user.id)
        .order_by(Submission.received_at.desc(), Submission.id)
    )
    for submission in session.scalars(query):
        mine[submission.assignment_id].append(submission)
    rows = []
    for assignment, loaded in active_assignments(session):
        views = [submission_view(session, s, user, now) for s in mine[assignment.id]]
        best, latest = best_and_latest(views)
        rows.append(
            summary(loaded, base)
            | {
                "submissions": len(views),
                "best": summary_of(best, base) if best else None,
                "latest": summary_of(latest, base) if latest else None,
            }
        )
    return rows
