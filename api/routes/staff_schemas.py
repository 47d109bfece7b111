"""Response models of the staff API (/api/v1/staff/...): what each endpoint promises."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas import OutcomeOut


class CountsOut(BaseModel):
    """Submissions by the state of their current run."""

    submitted: int
    students: int = Field(description="Distinct students who submitted.")
    graded: int
    failed: int = Field(description="failed_student + failed_infra")
    failed_student: int
    failed_infra: int
    pending: int = Field(description="Queued or running.")
    late: int


class BinOut(BaseModel):
    low: float
    high: float
    count: int


class StaffAssignmentOut(BaseModel):
    slug: str
    title: str
    state: Literal["draft", "published", "withdrawn"] = Field(
        description="draft: staff only; published: students see it; withdrawn: hidden from "
        "students, submissions kept."
    )
    deadline: datetime | None
    max_points: float
    spec_hash: str
    counts: CountsOut
    open_regrade: int | None = Field(description="The id of an open assignment-wide re-grade.")
    page_url: str


class AssignmentStatsOut(BaseModel):
    slug: str
    title: str
    counts: CountsOut
    scored: int = Field(description="Students with a counted score.")
    mean: float | None
    median: float | None
    max_points: float
    pass_threshold: float = Field(description="60% of max_points: a counted score at least this.")
    passed: int
    pass_rate: float | None = Field(description="passed / scored, 0..1")
    histogram: list[BinOut] = Field(description="Ten bins of 10% of max_points each.")
    counted_policy: Literal["best", "latest"] = Field(
        default="best", description="The spec's `counted` key: which score counts."
    )


class RosterRowOut(BaseModel):
    user_id: int
    student: str = Field(description="The login name (the student id for imported rosters).")
    full_name: str
    email: str
    role: str
    attempts: int
    best: float | None
    best_submission: str | None
    counted_submission: str | None = None
    latest: float | None
    latest_state: str | None
    latest_submission: str | None
    counted: float | None = Field(description="The score that counts, by counted_policy.")
    late_days: int = Field(description="Late days of the counted submission.")


class RosterOut(BaseModel):
    slug: str
    max_points: float
    counted_policy: Literal["best", "latest"] = Field(
        default="best", description="The spec's `counted` key: which score counts."
    )
    rows: list[RosterRowOut]


class SubmissionRowOut(BaseModel):
    id: str
    student: str
    received_at: datetime
    is_late: bool
    late_days: int
    state: str
    score: float | None
    max_score: float | None
    page_url: str


class StaffFileOut(BaseModel):
    name: str
    size: int
    sha256: str
    download_url: str


class RunOut(BaseModel):
    """One grading of the submission, everything included (staff only)."""

    id: int
    current: bool = Field(description="The run that counts and that the student sees.")
    batch_id: int | None = Field(description="The re-grade that made this run, if any.")
    spec_hash: str
    spec_is_current: bool = Field(description="Graded by the assignment's current spec.")
    queue: str
    state: str
    attempts: int
    phase: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    score: float | None
    raw_score: float | None
    max_score: float | None
    late_penalty: float
    outcomes: list[OutcomeOut]
    log: str
    log_truncated: bool
    timings: dict[str, Any] = Field(description="Seconds per phase.")
    resources: dict[str, Any] = Field(description="Peak memory, CPU time, ...")
    failure_kind: str | None
    failure_message: str | None
    failure_owner: Literal["student", "spec", "infra"] | None = Field(
        default=None,
        description="Whose failure it is: the student's program, the instructor's spec or "
        "reference solution (not retried), or ours (retried).",
    )


class StaffSubmissionOut(BaseModel):
    id: str
    assignment: str
    student: str
    full_name: str
    received_at: datetime
    is_late: bool
    late_days: int
    files: list[StaffFileOut]
    current_run: int
    runs: list[RunOut] = Field(description="Oldest first.")


class ProgressOut(BaseModel):
    queued: int
    running: int
    graded: int
    failed_student: int
    failed_infra: int
    total: int
    done: int


class BatchOut(BaseModel):
    id: int
    assignment: str
    scope: Literal["assignment", "submission"]
    auto_apply: bool
    state: Literal["open", "applied", "discarded"]
    spec_hash: str
    created_at: datetime
    decided_at: datetime | None
    progress: ProgressOut
    url: str


class SideOut(BaseModel):
    run_id: int
    state: str
    score: float | None
    max_score: float | None
    spec_hash: str


class ReportRowOut(BaseModel):
    submission_id: str
    student: str
    received_at: str
    before: SideOut
    after: SideOut
    delta: float | None
    change: Literal["up", "down", "same", "pending", "failed"]


class ReportOut(BaseModel):
    batch: BatchOut
    summary: dict[str, int] = Field(description="Rows by change: up, down, same, pending, failed.")
    rows: list[ReportRowOut]
