"""Response models: what each endpoint promises (and what /docs shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="What was wrong, in words meant for the student.")
    code: str = Field(description="A stable code, e.g. upload:missing-file.")
    messages: dict[str, str] | None = Field(
        default=None,
        description="The same in each language it exists in ({'en': ..., 'zh': ...}): an "
        "upload's refusals have Chinese too.",
    )


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
    starter_url: str | None = Field(
        default=None, description="The skeleton and handouts as a zip; null: no starter."
    )
    handouts: dict[str, str] = Field(
        default_factory=dict, description="The handout's URL by language (en, zh)."
    )


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
    notes: list[str] = Field(
        default_factory=list,
        description="What was made of the upload, e.g. a notebook's code cells as the "
        "module the assignment asks for, and the IPython lines left out of it.",
    )


class OutcomeOut(BaseModel):
    """One check's result. Fields the feedback policy withholds are null."""

    question: str | None
    question_title: str | None = None
    question_title_zh: str | None = None
    check: str | None
    title: str | None
    title_zh: str | None = None
    points: float | None
    earned: float | None
    passed: bool | None
    message: str | None
    message_zh: str | None = None
    hint_zh: str | None = None
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
        description="While queued: how many submissions will be graded before this one under "
        "the fair order (0: it is next); null otherwise.",
    )
    estimated_wait_seconds: float | None = Field(
        default=None,
        description="While queued: roughly how long until it is graded, from the "
        "assignment's recent gradings; null when there is no history yet.",
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
    failure_messages: dict[str, str] | None = Field(
        default=None,
        description="The student's own failure in each language there is (en, zh); "
        "failure_message is the English one.",
    )
    failure_titles: dict[str, str] | None = Field(
        default=None,
        description="The failure in a few words, in each language (en, zh): a heading.",
    )
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
    state: Literal["alive", "lost"] = Field(
        description='"lost": no heartbeat for two intervals, or its process on this host is gone'
    )
    queues: list[str]
    sandbox_backend: str
    sandbox: str = Field(description='"ok", or why its sandbox cannot start boxes')
    gpus: list[Any] = Field(description="GPU indices it hands to jobs")
    started_at: datetime
    seen_at: datetime


class HeldRunOut(BaseModel):
    run: int
    submission: str
    lease_owner: str = Field(description="host:pid of the process that leased it")
    lease_expires_at: datetime | None
    why: str


class DiskOut(BaseModel):
    folder: Literal["storage", "job scratch", "datasets", "database"]
    path: str
    free_mb: int | None = None
    total_mb: int | None = None
    error: str | None = None
    low: bool


class HealthOut(BaseModel):
    status: Literal["ok", "error"] = Field(description='"error" only when the database is down')
    database: str = Field(description='"ok" or "unreachable: ..."')
    broker: str = Field(description='"ok" or "unreachable: ..."')
    workers: list[WorkerHealthOut] = Field(
        default_factory=list, description="Workers whose heartbeat was seen lately."
    )
    runs_held_by_lost_workers: list[HeldRunOut] = Field(
        default_factory=list,
        description="Running runs whose worker is gone: graded again once their lease ends.",
    )
    disk: list[DiskOut] = Field(
        default_factory=list, description="Free space of the folders the service writes."
    )
    degraded: bool = Field(
        default=False, description="Something is wrong that delays grading (see problems)."
    )
    problems: list[str] = Field(default_factory=list)
