"""The spec's ``counted`` policy decides which score the gradebook counts."""

from __future__ import annotations

from autograder.gradebook import RosterRow, _add
from autograder.models import GradingRun, RunState, Submission


def _fold(policy: str, scores: list[float | None]) -> RosterRow:
    row = RosterRow(user_id=1, student="s1", full_name="", email="", role="student")
    for i, score in enumerate(scores):
        submission = Submission(id=f"s{i}", late_days=i)
        run = GradingRun(
            score=score, state=RunState.graded if score is not None else RunState.queued
        )
        _add(row, submission, run, policy)
    return row


def test_best_counts_by_default():
    row = _fold("best", [40.0, 90.0, 70.0, None])
    assert (row.counted, row.counted_submission, row.late_days) == (90.0, "s1", 1)
    assert row.latest is None and row.attempts == 4


def test_latest_graded_counts_when_the_spec_says_so():
    row = _fold("latest", [40.0, 90.0, 70.0, None])
    assert (row.counted, row.counted_submission, row.late_days) == (70.0, "s2", 2)
    assert row.best == 90.0
