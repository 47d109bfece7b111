"""Partial-credit curves: falling (an error: full credit at or below ``full_at``) and rising
(a score such as accuracy: nothing at ``floor``, full credit at ``target``)."""

from __future__ import annotations

import math

from autograder.specs.schema import Credit


def credit_fraction(err: float, full_at: float, zero_at: float, scale: str) -> float:
    """1 at or below ``full_at``, 0 at or above ``zero_at``, linear or log-linear between.

    NaN, inf and negative errors earn nothing (positive checks only).
    """
    if not (math.isfinite(err) and err >= 0):
        return 0.0
    if err <= full_at:
        return 1.0
    if err >= zero_at:
        return 0.0
    if scale == "log":
        return (math.log(zero_at) - math.log(err)) / (math.log(zero_at) - math.log(full_at))
    return (zero_at - err) / (zero_at - full_at)


def thresholds(credit: Credit, reference_error: float) -> tuple[float, float]:
    """The curve's ends in the metric's own units."""
    if credit.relative_to == "absolute":
        return credit.full_at, credit.zero_at
    # A perfect reference (error 0) would make every threshold 0: use a tiny floor.
    base = max(reference_error, 1e-12)
    return credit.full_at * base, credit.zero_at * base


def rising_fraction(value: float, floor: float, target: float) -> float:
    """0 at or below ``floor``, 1 at or above ``target``, linear between; NaN and inf earn
    nothing."""
    if not math.isfinite(value):
        return 0.0
    return float(min(1.0, max(0.0, (value - floor) / (target - floor))))
