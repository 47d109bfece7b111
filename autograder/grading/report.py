"""A grading run's report: what the worker hands to storage, ``specs test`` and the CLI.

The worker's pipeline makes one per job (worker/pipeline.py, ``grade``); its fields are
the columns of ``grading_runs`` that a result fills (each outcome a ``CheckOutcome``, the
run's failure a ``Failure``), so the one place that stores it (worker/jobs.py) and every
reader work from one typed value rather than from dict keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from autograder.grading.failures import Failure
from autograder.grading.outcomes import CheckOutcome


class GradeReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["graded", "failed_student"] = Field(
        description="failed_student: the student's program failed as a whole (a limit, an "
        "import error, a missing file); its checks still say what they found."
    )
    raw_score: float = Field(description="The points earned, before any late penalty.")
    max_score: float
    outcomes: list[CheckOutcome]
    log: str = Field(description="What the student's programs printed (their own output).")
    log_truncated: bool
    timings: dict[str, float] = Field(description="Seconds, by phase of the pipeline.")
    resources: dict[str, Any] = Field(description="What each box used, by box.")
    failure: Failure | None = Field(
        default=None, description="The student's failure, when the run as a whole failed."
    )
    extra: dict[str, Any] = Field(
        default_factory=dict, description="What the worker adds (e.g. the late penalty)."
    )

    @property
    def failure_kind(self) -> str | None:
        """The failure's code, as stored in ``grading_runs.failure_kind``."""
        return None if self.failure is None else str(self.failure.code)

    @property
    def failure_message(self) -> str | None:
        return None if self.failure is None else self.failure.message()
