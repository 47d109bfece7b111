"""Check kinds by name: each is a ``plan`` and a pure ``score``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.checks import classifier_check, function_check, regression_check


@dataclass(frozen=True)
class CheckKind:
    plan: Callable[..., Any]
    score: Callable[..., Any]


KINDS: dict[str, CheckKind] = {
    "function": CheckKind(function_check.plan, function_check.score),
    "regression": CheckKind(regression_check.plan, regression_check.score),
}

# Checks that run their own sandboxes in phases (train, predict) instead of calls.
PHASED: dict[str, Callable[..., Any]] = {"classifier": classifier_check.run}
