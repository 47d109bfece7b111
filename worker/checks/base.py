"""What every check kind provides: a plan (calls to run in the sandbox, and what stays
hidden outside) and a pure scoring function from plain data to an Outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Ref:
    """An argument that is the value a previous step kept (e.g. the fitted model)."""

    name: str


@dataclass
class Step:
    function: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    keep: str | None = None
    output: bool = False


@dataclass
class Call:
    module: str
    steps: list[Step]
    # A documented interface run by worker/runner/protocol_<name>.py instead of the steps
    # one by one (the reference box runs it as the oracle); None: plain steps.
    protocol: str | None = None
    # Run alone in a student box of its own with this wall clock (enforced from outside:
    # the box is killed at it, its start included); None: in the box shared by the calls.
    wall_seconds: float | None = None


@dataclass
class CallResult:
    """What came back from the sandbox for one call: untrusted, already type-checked."""

    status: str  # "ok" | "error" | "missing"
    error: str = ""
    outputs: list[np.ndarray] = field(default_factory=list)


@dataclass
class CheckPlan:
    calls: list[Call]
    hidden: Any = None  # stays outside the sandbox (hidden targets and the like)


@dataclass
class Outcome:
    earned: float
    points: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.earned >= self.points - 1e-9


class ReferenceFailed(Exception):
    """The reference solution failed on this job's inputs: the instructor's problem."""
