"""Late submissions: pure functions of the time received, the deadline and the spec's policy.

Every period counts from the end of the grace period (``deadline + grace_minutes``), so
the grace always applies:

- on time: received at or before ``deadline + grace``;
- late by ``n`` days: each started day after that counts (1 second late = 1 day);
- penalty: ``min(1, late_days * penalty_per_day)``, a fraction of the maximum;
- refused: received after ``deadline + grace + cutoff_days`` (when a cut-off is set).

No deadline means never late and never refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from autograder.specs.schema import LatePolicy

DAY_SECONDS = 86400


@dataclass(frozen=True)
class Lateness:
    is_late: bool
    late_days: int
    penalty_fraction: float
    refused: bool
    closes_at: datetime | None


ON_TIME = Lateness(is_late=False, late_days=0, penalty_fraction=0.0, refused=False, closes_at=None)


def grace_end(deadline: datetime, policy: LatePolicy) -> datetime:
    return deadline + timedelta(minutes=policy.grace_minutes)


def closes_at(deadline: datetime | None, policy: LatePolicy) -> datetime | None:
    """The hard cut-off after which uploads are refused, or None when there is none."""
    if deadline is None or policy.cutoff_days is None:
        return None
    return grace_end(deadline, policy) + timedelta(days=policy.cutoff_days)


def assess(received_at: datetime, deadline: datetime | None, policy: LatePolicy) -> Lateness:
    if received_at.tzinfo is None or (deadline is not None and deadline.tzinfo is None):
        raise ValueError("late policy needs time-zone-aware datetimes")
    if deadline is None:
        return ON_TIME
    cutoff = closes_at(deadline, policy)
    seconds_late = (received_at - grace_end(deadline, policy)).total_seconds()
    late_days = math.ceil(seconds_late / DAY_SECONDS) if seconds_late > 0 else 0
    return Lateness(
        is_late=late_days > 0,
        late_days=late_days,
        penalty_fraction=min(1.0, late_days * policy.penalty_per_day),
        refused=cutoff is not None and received_at > cutoff,
        closes_at=cutoff,
    )
