"""Which run of a submission counts: the one place that decides it.

A submission's runs are its upload's run and one per re-grade (autograder/regrades.py).
Exactly one is current (``GradingRun.is_current``, a partial unique index): the run the
student sees and the gradebook counts. Everything that shows "the" result of a submission
asks :func:`current_run`. The condition is written ``is_current`` (not ``IS TRUE``) so that
Postgres can use the partial indexes ``WHERE is_current``.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from autograder.models import GradingRun, RunState, Submission


def current_run(submission: Submission) -> GradingRun:
    """The run that counts. Falls back to the newest run if none is marked current (a row
    written by hand); a submission always has at least its upload's run."""
    runs = submission.runs
    for run in reversed(runs):
        if run.is_current:
            return run
    return runs[-1]


def current_runs_of(assignment_id: int) -> Select[Submission, GradingRun]:
    """Every submission of an assignment with its current run, oldest submission first."""
    return (
        select(Submission, GradingRun)
        .join(GradingRun, GradingRun.submission_id == Submission.id)
        .where(Submission.assignment_id == assignment_id, GradingRun.is_current)
        .order_by(Submission.received_at, Submission.id)
    )


def current_scores_of(assignment_id: int) -> Select[str, int, int, RunState, float | None]:
    """``current_runs_of`` with only what the roster reads, as plain rows of
    ``(submission_id, user_id, late_days, state, score)``, oldest submission first: read
    from two covering indexes (migration 0008) instead of every run's outcomes and log,
    and with no objects made per row."""
    return (
        select(
            Submission.id,
            Submission.user_id,
            Submission.late_days,
            GradingRun.state,
            GradingRun.score,
        )
        .join(GradingRun, GradingRun.submission_id == Submission.id)
        .where(Submission.assignment_id == assignment_id, GradingRun.is_current)
        .order_by(Submission.received_at, Submission.id)
    )
