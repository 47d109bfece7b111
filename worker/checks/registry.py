"""Check kinds by name: each is a ``plan`` and a pure ``score``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.checks import (
    classifier_check,
    equivalence_check,
    function_check,
    gradient_check,
    output_check,
    reconstruction_check,
    regression_check,
    samples_check,
    script_check,
    sequence_check,
)


@dataclass(frozen=True)
class CheckKind:
    plan: Callable[..., Any]
    score: Callable[..., Any]
    # Optional: static(check, code_dir) -> a violation found in the submitted sources (read
    # as text, never run), which makes the check earn nothing; None: no violation.
    static: Callable[..., Any] | None = None


KINDS: dict[str, CheckKind] = {
    "function": CheckKind(function_check.plan, function_check.score),
    "regression": CheckKind(regression_check.plan, regression_check.score),
    "gradient": CheckKind(gradient_check.plan, gradient_check.score, gradient_check.static),
    "equivalence": CheckKind(
        equivalence_check.plan, equivalence_check.score, equivalence_check.constraint
    ),
}

# Checks that run their own sandboxes in phases (train, predict) instead of calls.
PHASED: dict[str, Callable[..., Any]] = {
    "classifier": classifier_check.run,
    "sequence": sequence_check.run,
    "samples": samples_check.run,
    "reconstruction": reconstruction_check.run,
    "output": output_check.run,
    "script": script_check.run,
}
