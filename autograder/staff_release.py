"""When students see an assignment's scores and hidden-check feedback.

Per assignment, set by instructors (``ReleaseSetting``; no row = the defaults):

=========  ===================================  ======================================
what       mode                                 students see
=========  ===================================  ======================================
scores     ``immediate`` (default)              score and outcomes as soon as graded
           ``scheduled``                        nothing of the score until
                                                ``scores_released_at`` (None: until an
                                                instructor sets a time)
feedback   ``deadline`` (default)               hidden checks at the spec's
                                                ``before_deadline`` level, then its
                                                ``after_deadline`` level
           ``scheduled``                        the same two levels, switched at
                                                ``feedback_released_at`` instead of the
                                                deadline (None: not yet)
=========  ===================================  ======================================

Staff always see everything. ``autograder/feedback.py`` applies the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy.orm import Session

from autograder.clock import course_time
from autograder.models import Assignment, ReleaseSetting, User, utcnow

ScoresMode = Literal["immediate", "scheduled"]
FeedbackMode = Literal["deadline", "scheduled"]


@dataclass(frozen=True)
class ReleasePolicy:
    scores_mode: ScoresMode = "immediate"
    scores_released_at: datetime | None = None
    feedback_mode: FeedbackMode = "deadline"
    feedback_released_at: datetime | None = None

    def scores_visible(self, now: datetime) -> bool:
        if self.scores_mode == "immediate":
            return True
        return self.scores_released_at is not None and now >= self.scores_released_at

    def feedback_switch(self, deadline: datetime | None) -> tuple[bool, datetime | None]:
        """(True, when) if the instructor's time replaces the deadline; else (False, deadline)."""
        if self.feedback_mode == "scheduled":
            return True, self.feedback_released_at
        return False, deadline

    def withheld_message(self) -> str:
        if self.scores_released_at is None:
            when = "by the course staff"
            when_zh = "由助教公布"
        else:
            stamp = course_time(self.scores_released_at)
            when, when_zh = f"on {stamp}", f"于 {stamp} 公布"
        return (
            f"Your submission was received and graded; scores for this assignment are "
            f"released {when}. 你的提交已收到并评分；本次作业的分数{when_zh}。"
        )


DEFAULT = ReleasePolicy()


def policy_for(session: Session, assignment: Assignment | int) -> ReleasePolicy:
    assignment_id = assignment if isinstance(assignment, int) else assignment.id
    row = session.get(ReleaseSetting, assignment_id)
    if row is None:
        return DEFAULT
    return ReleasePolicy(
        scores_mode=cast(ScoresMode, row.scores_mode),  # a String column: what save_policy wrote
        scores_released_at=row.scores_released_at,
        feedback_mode=cast(FeedbackMode, row.feedback_mode),
        feedback_released_at=row.feedback_released_at,
    )


def save_policy(
    session: Session, assignment: Assignment, policy: ReleasePolicy, user: User | None
) -> ReleaseSetting:
    """Store ``policy`` for ``assignment`` (not committed)."""
    row = session.get(ReleaseSetting, assignment.id)
    if row is None:
        row = ReleaseSetting(assignment_id=assignment.id)
        session.add(row)
    row.scores_mode = policy.scores_mode
    row.scores_released_at = policy.scores_released_at
    row.feedback_mode = policy.feedback_mode
    row.feedback_released_at = policy.feedback_released_at
    row.updated_by = user.id if user else None
    row.updated_at = utcnow()
    session.flush()
    return row
