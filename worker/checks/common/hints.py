"""The hint a spec's check may carry (``hint:``), added to a message that lost points."""

from __future__ import annotations

from typing import Any

from autograder.grading.said import Said, as_said, say
from worker.checks.base import Outcome

NOT_RUN = "not run: "


NOT_IMPORTED = "could not import "  # how a runner's error for an unimportable module begins


def not_run(error: str) -> Said:
    """A check's whole message when the student's module could not be imported (``error``:
    the runner's, "could not import <module>.py: ..."): the error itself is the run's
    failure, shown once above the checks, not once per check."""
    module = error.removeprefix(NOT_IMPORTED).split(":", 1)[0].strip()
    return say("check.not_imported", module=module)


def with_hint(message: Said | str, check: Any) -> Said:
    """``message`` with ``check``'s hint on a line of its own, in each language (the
    English hint where the spec has no ``hint_zh``); as it is without one, and for a check
    that did not run: no hint applies to it."""
    said = as_said(message)
    hint = getattr(check, "hint", None)
    if not hint or said.en.startswith(NOT_RUN):
        return said
    hint_zh = getattr(check, "hint_zh", "") or hint
    return said + say("check.hint", hint=Said(hint, hint_zh))


def zero(check: Any, message: Said | str, details: dict[str, Any] | None = None) -> Outcome:
    """No points for ``check``, saying why (and the hint)."""
    return Outcome(0.0, check.points, with_hint(message, check), details or {})
