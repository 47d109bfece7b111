"""Response models of the instructors' API: specs, their versions, release settings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from autograder.grading.failures import FailureCode


class ProblemOut(BaseModel):
    """One mistake in a spec, as the CLI prints it (``text``) and in parts."""

    file: str
    line: int | None
    key_path: str
    message: str
    code: str = Field(description="e.g. spec:unknown-key, spec:yaml, spec:bad-value")
    text: str = Field(description="file:line: key.path: message")


class VersionOut(BaseModel):
    spec_hash: str
    loaded_at: datetime
    current: bool
    origin: Literal["file", "upload"]
    uploaded_at: datetime | None
    uploaded_by: int | None
    problems: list[ProblemOut] = Field(description="Empty: the loader accepts it today.")


class SpecFileOut(BaseModel):
    path: str
    hash: str | None
    problems: list[ProblemOut]
    state: Literal["same", "differs", "invalid"] | None = Field(
        default=None, description="The file in grading_specs/ against the current version."
    )


class SpecEntryOut(BaseModel):
    slug: str
    title: str | None
    state: Literal["draft", "published", "withdrawn"] | None = Field(
        description="draft: staff only; published: students see it; withdrawn: hidden again, "
        "submissions kept; null: a file in grading_specs/ that never loaded (invalid)."
    )
    origin: str = Field(description="Where the current version came from.")
    publishable: bool = Field(
        description="The current version passed the publish checks (or was live): the pages "
        "may publish it."
    )
    current_hash: str | None
    valid: bool
    problems: list[ProblemOut]
    versions: list[VersionOut] = Field(description="Newest first.")
    file: SpecFileOut | None
    reference_solution: bool = Field(description="reference_solutions/<slug>/ exists.")


class SpecSourceOut(BaseModel):
    slug: str
    spec_hash: str
    source: str


class SpecUploadedOut(BaseModel):
    slug: str
    title: str
    spec_hash: str
    changed: bool = Field(description="False: this content was already the current version.")
    state: Literal["draft", "published", "withdrawn"]
    warnings: list[str]


class StateIn(BaseModel):
    state: Literal["published", "withdrawn"]


class StateOut(BaseModel):
    slug: str
    state: Literal["draft", "published", "withdrawn"]
    spec_hash: str


class SpecRejectedOut(BaseModel):
    detail: str
    code: Literal[FailureCode.SPEC_INVALID] = FailureCode.SPEC_INVALID
    problems: list[ProblemOut]
    messages: dict[str, str] | None = Field(
        default=None, description="``detail`` in each language: {'en': ..., 'zh': ...}."
    )


class ReleaseIn(BaseModel):
    scores_mode: Literal["immediate", "scheduled"] = "immediate"
    scores_released_at: datetime | None = Field(
        default=None, description="With scheduled (and then needed): when scores appear."
    )
    feedback_mode: Literal["deadline", "scheduled"] = "deadline"
    feedback_released_at: datetime | None = Field(
        default=None,
        description="With scheduled (and then needed): when hidden checks switch from the "
        "spec's before_deadline level to its after_deadline level.",
    )

    @model_validator(mode="after")
    def _a_time_when_scheduled(self) -> ReleaseIn:
        """'Withheld until' with no time would withhold for ever: say when."""
        if self.scores_mode == "scheduled" and self.scores_released_at is None:
            raise ValueError("scores withheld until when? Give scores_released_at")
        if self.feedback_mode == "scheduled" and self.feedback_released_at is None:
            raise ValueError("hidden checks switch when? Give feedback_released_at")
        return self

    @field_validator("scores_released_at", "feedback_released_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("a release time needs a time zone, e.g. 2026-12-01T20:00:00+08:00")
        return value


class ReleaseOut(ReleaseIn):
    slug: str
    scores_visible_now: bool
    feedback_level_now: str = Field(description="What hidden checks show students now.")
    deadline: datetime | None
