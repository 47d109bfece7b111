"""One check's outcome in a grading run: the row the worker stores in
``grading_runs.outcomes`` and every reader (the student's and the staff's views, the CLI,
``specs test``) validates on read.

``details`` holds what the check kind measured (cases, accuracy, curves, ...); its keys are
the kind's and are shown to staff, and to students as the spec's feedback level allows.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)


class CheckOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question's id in the spec.")
    check: str = Field(description="The check's id within its question.")
    title: str = Field(default="", description="The check's title (pages show its id without).")
    title_zh: str = Field(
        default="", description="The check's title in Chinese, if the spec has it."
    )
    question_title: str = Field(default="", description="The question's title.")
    question_title_zh: str = Field(default="", description="The question's title in Chinese.")
    points: float = Field(ge=0, description="What the check is worth.")
    earned: float = Field(ge=0, description="What the submission earned of them.")
    passed: bool = Field(description="Earned every point.")
    message: str = Field(description="What the check found, in words for the student.")
    message_zh: str = Field(
        default="",
        description="The same message in Chinese (its hint included); empty in rows stored "
        "before checks spoke Chinese, where pages show the English.",
    )
    hidden: bool = Field(default=False, description="A hidden check (the feedback level).")
    hint_zh: str = Field(
        default="",
        description="The hint in Chinese, when the message ends with the English one (pages in "
        "Chinese show it in its place).",
    )
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """``question/check``: how specs and samples name a check."""
        return f"{self.question}/{self.check}"


FIELDS = tuple(CheckOutcome.model_fields)


def read_outcomes(rows: list[Any] | None, run_id: Any = None) -> list[CheckOutcome]:
    """A run's stored outcome rows, validated; a row that is not one is logged and left
    out rather than breaking the page that reads it."""
    found = []
    for row in rows or []:
        try:
            found.append(CheckOutcome.model_validate(row))
        except ValidationError as exc:
            log.warning("run %s: a stored outcome is not one: %s", run_id, exc)
    return found
