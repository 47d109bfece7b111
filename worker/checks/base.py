"""What every check kind provides: a plan (calls to run in the sandbox, and what stays
hidden outside) and a pure scoring function from plain data to an Outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.grading.said import Said, as_said


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
    error: Said | str = ""
    outputs: list[np.ndarray] = field(default_factory=list)


@dataclass
class CheckPlan:
    calls: list[Call]
    hidden: Any = None  # stays outside the sandbox (hidden targets and the like)


@dataclass
class Outcome:
    """A check's result. ``message`` is given as a ``Said`` (both languages, from the
    catalogue) and kept as its English, with the Chinese in ``message_zh``; a plain ``str``
    is the same in both languages."""

    earned: float
    points: float
    message: str | Said
    details: dict[str, Any] = field(default_factory=dict)
    message_zh: str = ""

    def __post_init__(self) -> None:
        said = as_said(self.message)
        self.message = said.en
        self.message_zh = self.message_zh or said.zh

    @property
    def text(self) -> str:
        """The English message (always a ``str`` once made)."""
        return str(self.message)

    @property
    def passed(self) -> bool:
        return self.earned >= self.points - 1e-9


class ReferenceFailed(Exception):
    """The reference solution failed on this job's inputs: the instructor's problem."""
