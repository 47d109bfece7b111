"""An assignment at a glance, for TAs: counts, mean, median, histogram, pass rate.

Counts are of submissions, by the state of each one's current run; a submission
superseded by a newer upload before it ran (never graded) is left out of every count
(the submissions list still shows it, with its state). The score statistics are of
students: each student's counted score (autograder/gradebook.py, the best),
students without a score left out. A student **passes** with a counted score of at least
60% of the assignment's maximum (the spec has no key for a pass mark). The histogram has
ten bins of 10% of the maximum each; the last one includes the maximum.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from autograder.gradebook import RosterRow
from autograder.models import Assignment, GradingRun, RunState, Submission

PASS_FRACTION = 0.6
BINS = 10


def submission_counts(session: Session, assignment: Assignment) -> dict[str, int]:
    """Counted by the database in one aggregate query over the current runs (read from
    the covering indexes of migration 0008), never by loading the runs."""
    kept = GradingRun.state != RunState.superseded
    row = session.execute(
        select(
            func.count(distinct(Submission.user_id)).filter(kept),
            func.count().filter(kept, Submission.is_late),
            *(func.count().filter(GradingRun.state == state) for state in RunState),
        )
        .select_from(Submission)
        .join(GradingRun, GradingRun.submission_id == Submission.id)
        .where(Submission.assignment_id == assignment.id, GradingRun.is_current)
    ).one()
    students, late = int(row[0] or 0), int(row[1] or 0)
    states: Counter[str] = Counter(
        {state.value: int(n or 0) for state, n in zip(RunState, row[2:], strict=True)}
    )
    return {
        "submitted": sum(states.values()) - states[RunState.superseded.value],
        "students": students,
        "graded": states[RunState.graded.value],
        "failed": states[RunState.failed_student.value] + states[RunState.failed_infra.value],
        "failed_student": states[RunState.failed_student.value],
        "failed_infra": states[RunState.failed_infra.value],
        "pending": states[RunState.queued.value] + states[RunState.running.value],
        "late": late,
    }


def score_summary(scores: list[float], max_points: float) -> dict[str, Any]:
    """Mean, median, histogram and pass rate of ``scores`` (pure)."""
    threshold = PASS_FRACTION * max_points
    width = max_points / BINS if max_points > 0 else 1.0
    counts = [0] * BINS
    for score in scores:
        counts[min(BINS - 1, max(0, int(score // width)))] += 1
    passed = sum(score >= threshold - 1e-9 for score in scores)
    return {
        "scored": len(scores),
        "mean": round(statistics.fmean(scores), 4) if scores else None,
        "median": round(statistics.median(scores), 4) if scores else None,
        "max_points": max_points,
        "pass_threshold": round(threshold, 4),
        "passed": passed,
        "pass_rate": round(passed / len(scores), 4) if scores else None,
        "histogram": [
            {"low": round(i * width, 4), "high": round((i + 1) * width, 4), "count": counts[i]}
            for i in range(BINS)
        ],
    }


def assignment_stats(
    session: Session, assignment: Assignment, max_points: float, rows: list[RosterRow]
) -> dict[str, Any]:
    scores = [r.counted for r in rows if r.counted is not None]
    return {
        "counts": submission_counts(session, assignment),
        **score_summary(scores, max_points),
    }
