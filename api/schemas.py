"""Response models: what each endpoint promises (and what /docs shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="What was wrong, in words meant for the student.")
    code: str = Field(description="A stable code, e.g. upload:missing-file.")


class RequiredFileOut(BaseModel):
    name: str
    max_bytes: int


class LatePolicyOut(BaseModel):
    grace_minutes: int
    penalty_per_day: float = Field(description="Fraction of the maximum per started late day.")
    cutoff_days: float | None
    closes_at: datetime | None = Field(description="Uploads are refused after this instant.")


class QuotaOut(BaseModel):
    per_day: int | None = Field(description="Submissions per rolling 24 hours.")
    total: int | None


class AssignmentOut(BaseModel):
    slug: str
    title: str
    title_zh: str
    deadline: datetime | None
    late_policy: LatePolicyOut
    files: list[RequiredFileOut]
    max_points: float
    device: Literal["cpu", "gpu"]
    url: str
    upload_page: str


class CheckOut(BaseModel):
    id: str
    kind: str
    title: str
    points: float
    hidden: bool


class QuestionOut(BaseModel):
    id: str
    title: str
    points: float
    checks: list[CheckOut]


class AssignmentDetailOut(AssignmentOut):
    description: str
    quota: QuotaOut
    questions: list[QuestionOut]


class SubmissionCreatedOut(BaseModel):
    id: str
    url: str = Field(description="GET this URL (with your token) for the result.")
    page_url: str = Field(description="The result as a web page.")
    state: str
    is_late: bool
    late_days: int


class OutcomeOut(BaseModel):
    """One check's result. Fields the feedback policy withholds are null."""

    question: str | None
    check: str | None
    title: str | None
    points: float | None
    earned: float | None
    passed: bool | None
    message: str | None
    hidden: bool
    details: dict[str, Any] | list[Any] | None


class SubmittedFileOut(BaseModel):
    name: str
    size: int
    sha256: str


class SubmissionOut(BaseModel):
    id: str
    assignment: str
    received_at: datetime
    is_late: bool
    late_days: int
    files: list[SubmittedFileOut]
    state: str = Field(
        description="queued, running, graded, failed_student, failed_infra or superseded"
    )
    phase: str | None
    queue_position: int | None = Field(
        default=None,
        description="While queued: how many queued submissions on the same queue are ahead "
        "of this one (0: it is next); null otherwise.",
    )
    progress: dict[str, Any] = Field(
        default_factory=dict,
        description="While a model trains: the check, the phase (train, predict) and the "
        "epochs logged so far, each with loss and train_accuracy.",
    )
    score: float | None
    max_score: float | None
    raw_score: float | None
    late_penalty: float
    feedback_level: str = Field(description="What hidden checks show now (see feedback.py).")
    failure_kind: str | None
    failure_message: str | None
    outcomes: list[OutcomeOut]
    scores_released: bool = Field(
        default=True,
        description="False while the course staff withhold this assignment's scores: then "
        "score, raw_score and outcomes are withheld and release_note says until when.",
    )
    release_note: str | None = None
    log: str = Field(description="Your program's output (capped).")
    log_truncated: bool
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class SubmissionSummaryOut(BaseModel):
    id: str
    url: str
    page_url: str
    assignment: str
    received_at: datetime
    is_late: bool
    late_days: int
    state: str
    score: float | None
    max_score: float | None


class WorkerHealthOut(BaseModel):
    worker: str = Field(description="host:pid of the worker's main process")
    host: str
    pid: int
    queues: list[str]
    sandbox_backend: str
    sandbox: str = Field(description='"ok", or why its sandbox cannot start boxes')
    gpus: list[Any] = Field(description="GPU indices it hands to jobs")
    started_at: datetime
    seen_at: datetime


class HealthOut(BaseModel):
    status: Literal["ok", "error"] = Field(description='"error" only when the database is down')
    database: str = Field(description='"ok" or "unreachable: ..."')
    broker: str = Field(description='"ok" or "unreachable: ..."')
    workers: list[WorkerHealthOut] = Field(
        default_factory=list, description="Workers whose heartbeat was seen lately."
    )
    degraded: bool = Field(
        default=False, description="Something is wrong that delays grading (see problems)."
    )
    problems: list[str] = Field(default_factory=list)
