"""The hint a spec's check may carry (``hint:``), added to a message that lost points."""

from __future__ import annotations

from typing import Any

from worker.checks.base import Outcome

NOT_RUN = "not run: "


NOT_IMPORTED = "could not import "  # how a runner's error for an unimportable module begins


def not_run(error: str) -> str:
    """A check's whole message when the student's module could not be imported (``error``:
    the runner's, "could not import <module>.py: ..."): the error itself is the run's
    failure, shown once above the checks, not once per check."""
    module = error.removeprefix(NOT_IMPORTED).split(":", 1)[0].strip()
    return f"{NOT_RUN}{module} could not be imported (the error is shown once, above)"


def with_hint(message: str, hint: str | None) -> str:
    """``message`` with the check's hint on a line of its own (as it is without one, and
    for a check that did not run: no hint applies to it)."""
    if not hint or message.startswith(NOT_RUN):
        return message
    return f"{message}\nHint: {hint}"


def zero(check: Any, message: str, details: dict[str, Any] | None = None) -> Outcome:
    """No points for ``check``, saying why (and the hint)."""
    return Outcome(0.0, check.points, with_hint(message, check.hint), details or {})
