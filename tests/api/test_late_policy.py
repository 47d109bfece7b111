"""Late policy: grace, per started day penalty, cut-off, no deadline (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from autograder.late_policy import assess, closes_at
from autograder.specs.schema import LatePolicy

BEIJING = timezone(timedelta(hours=8))
DEADLINE = datetime(2026, 3, 1, 23, 59, tzinfo=BEIJING)
POLICY = LatePolicy(grace_minutes=15, penalty_per_day=0.3, cutoff_days=3)


def at(**delta: float) -> datetime:
    return DEADLINE + timedelta(**delta)


def test_no_deadline_is_never_late():
    lateness = assess(datetime(2099, 1, 1, tzinfo=UTC), None, POLICY)
    assert (lateness.is_late, lateness.late_days, lateness.penalty_fraction) == (False, 0, 0.0)
    assert not lateness.refused and lateness.closes_at is None


def test_before_the_deadline_and_within_grace_are_on_time():
    for received in (at(days=-1), DEADLINE, at(minutes=15)):
        lateness = assess(received, DEADLINE, POLICY)
        assert not lateness.is_late and lateness.late_days == 0 and lateness.penalty_fraction == 0


def test_each_started_day_after_the_grace_counts():
    cases = [
        (at(minutes=15, seconds=1), 1),
        (at(minutes=15, days=1), 1),
        (at(minutes=15, days=1, seconds=1), 2),
        (at(minutes=15, days=2, hours=23), 3),
    ]
    for received, days in cases:
        lateness = assess(received, DEADLINE, POLICY)
        assert lateness.is_late and lateness.late_days == days, received
        assert lateness.penalty_fraction == pytest.approx(min(1.0, days * 0.3))
        assert not lateness.refused


def test_penalty_is_capped_at_the_whole_score():
    lateness = assess(at(days=5), DEADLINE, LatePolicy(penalty_per_day=0.4))
    assert lateness.late_days == 5 and lateness.penalty_fraction == 1.0
    assert not lateness.refused  # no cut-off: late but accepted


def test_past_the_cutoff_is_refused():
    cutoff = closes_at(DEADLINE, POLICY)
    assert cutoff == DEADLINE + timedelta(days=3, minutes=15)
    assert not assess(cutoff, DEADLINE, POLICY).refused
    refused = assess(cutoff + timedelta(seconds=1), DEADLINE, POLICY)
    assert refused.refused and refused.closes_at == cutoff


def test_zero_cutoff_still_allows_the_grace_period():
    policy = LatePolicy(grace_minutes=10, cutoff_days=0)
    assert not assess(at(minutes=9), DEADLINE, policy).refused
    assert assess(at(minutes=11), DEADLINE, policy).refused


def test_time_zones_are_compared_as_instants():
    received = (DEADLINE + timedelta(minutes=5)).astimezone(UTC)
    assert not assess(received, DEADLINE, POLICY).is_late


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="time-zone"):
        assess(datetime(2026, 3, 1), DEADLINE, POLICY)
