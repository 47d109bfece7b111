r"""Database models (SQLAlchemy 2). The database is the truth about every job.

Job states of a grading run (see docs/architecture.md):

    queued -> running -> graded | failed_student | failed_infra
                 \-> queued   (lease expired or infrastructure error, attempts left)
    queued -> superseded       (a newer upload of the same student replaced it before it
                                ran, under the spec's ``supersede_queued``; never graded)
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    Postgres keeps the offset; SQLite stores text without one and gives back naive
    datetimes, which cannot be compared with aware ones. Values are stored in UTC and
    always come back aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Role(enum.StrEnum):
    student = "student"
    ta = "ta"
    instructor = "instructor"


class RunState(enum.StrEnum):
    queued = "queued"
    running = "running"
    graded = "graded"
    failed_student = "failed_student"
    failed_infra = "failed_infra"
    superseded = "superseded"

    @property
    def is_final(self) -> bool:
        return self in (
            RunState.graded,
            RunState.failed_student,
            RunState.failed_infra,
            RunState.superseded,
        )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The login name; for users imported from a roster, their student (or staff) id.
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role"), default=Role.student)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    # Lower-cased; a second way to sign in.
    email: Mapped[str | None] = mapped_column(String(254), unique=True, nullable=True)
    # An argon2id hash (autograder/passwords.py); None: no password, API tokens only.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Set for an initial password handed out by a roster import: the pages ask for a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """An API token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class AssignmentState(enum.StrEnum):
    """draft: staff only (a spec uploaded for a new slug, not yet published with its
    checks); published: students see it and may submit; withdrawn: hidden from students
    again, every submission kept."""

    draft = "draft"
    published = "published"
    withdrawn = "withdrawn"


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    spec_hash: Mapped[str] = mapped_column(String(64))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    state: Mapped[AssignmentState] = mapped_column(
        String(16), default=AssignmentState.published, server_default="published"
    )
    # Where the current version came from: "file <path>", "upload by <user>", "bundle <dir>".
    origin: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # The version that passed the publish checks (`autograder assignments publish`) or was
    # live: only it may be published (again) from the staff pages.
    checked_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def published(self) -> bool:
        return self.state == AssignmentState.published


class SpecVersion(Base):
    """Every spec content ever loaded, so a stored result can name the spec it was graded by."""

    __tablename__ = "spec_versions"
    __table_args__ = (UniqueConstraint("assignment_id", "spec_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    spec_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        # An assignment's submissions in order with what the roster and the counts read,
        # from the index alone (autograder/staff_runs.py current_scores_of; migration 0008).
        Index(
            "ix_submissions_assignment_received",
            "assignment_id",
            "received_at",
            "id",
            "user_id",
            "is_late",
            "late_days",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    is_late: Mapped[bool] = mapped_column(Boolean, default=False)
    late_days: Mapped[int] = mapped_column(Integer, default=0)
    # [{"name": "numpy_basics.py", "sha256": "...", "size": 1234}]
    files: Mapped[list[Any]] = mapped_column(JSON, default=list)

    user: Mapped[User] = relationship()
    assignment: Mapped[Assignment] = relationship()
    runs: Mapped[list[GradingRun]] = relationship(
        back_populates="submission", order_by="GradingRun.id"
    )


class GradingRun(Base):
    """One grading of one submission by one spec version.

    A submission has one run when it is uploaded and one more per re-grade (of the same
    or a newer spec version). Exactly one of them is *current*: the run that counts and
    that the student sees (autograder/staff_runs.py ``current_run``). A re-grade's run is
    created not current and becomes current when its batch is applied
    (autograder/regrades.py).
    """

    __tablename__ = "grading_runs"
    __table_args__ = (
        Index(
            "uq_grading_runs_one_current",
            "submission_id",
            unique=True,
            postgresql_where=text("is_current"),
            sqlite_where=text("is_current"),
        ),
        # The current run's state and score by submission, from the index alone: the
        # roster, the gradebook and the dashboard's counts (migration 0008).
        Index(
            "ix_grading_runs_current_state_score",
            "submission_id",
            "state",
            "score",
            postgresql_where=text("is_current"),
            sqlite_where=text("is_current"),
        ),
        # /metrics (runs by state and lane, the grading-time histogram, failures by kind)
        # and the upload's back-pressure count, from the index alone (migration 0008).
        Index(
            "ix_grading_runs_state_queue",
            "state",
            "queue",
            "failure_kind",
            "started_at",
            "finished_at",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    spec_hash: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(16), default="cpu")
    state: Mapped[RunState] = mapped_column(
        Enum(RunState, name="run_state"), default=RunState.queued, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Secret per-job seed for generated inputs; never shown to students.
    seed: Mapped[int] = mapped_column(BigInteger)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    phase: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # While a phase trains: {"check", "phase", "epochs": [{"epoch", "loss", ...}, ...]}
    # (untrusted numbers from the sandbox, for the student's live view only).
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    raw_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    late_penalty: Mapped[float] = mapped_column(Float, default=0.0)
    # [{"question": "q1", "check": "softmax", "points": 2, "earned": 1.5, "passed": false,
    #   "message": "...", "hidden": false, "details": {...}}]
    outcomes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    log: Mapped[str] = mapped_column(Text, default="")
    log_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    failure_kind: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The failure whole (autograder/grading/failures.py Failure.model_dump()): code, values
    # and detail, so its message renders in either language. None: no failure, or a run
    # from before migration 0006.
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Set on a re-grade's run: the batch it belongs to (None for the upload's own run).
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("regrade_batches.id"), nullable=True, index=True
    )
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    submission: Mapped[Submission] = relationship(back_populates="runs")


class WebSession(Base):
    """A signed-in browser (api/sessions.py). The cookie holds a random token; only its
    SHA-256 is stored, so a copy of the database signs nobody in. Deleting or revoking
    the row signs the browser out at once."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The synchronizer token that every state-changing request of this session must echo.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """One failed sign-in, kept for the rate-limit window (autograder/login_limits.py).
    In the database so that every API process counts the same failures."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What was typed as the login name (lower-cased), whether or not such a user exists.
    account: Mapped[str] = mapped_column(String(254), index=True)
    client_ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class RegradeBatch(Base):
    """One re-grade: of one submission or of every submission of an assignment.

    Its runs are made not current; ``apply`` makes them current in one transaction,
    ``discard`` leaves the current runs as they were (autograder/regrades.py). States:
    ``open`` (grading, or graded and waiting for a decision) → ``applied`` | ``discarded``.
    """

    __tablename__ = "regrade_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    # The spec version the batch grades by (the assignment's current one when it started).
    spec_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))  # "assignment" or "submission"
    # A one-submission re-grade applies itself as soon as its run has a grade.
    auto_apply: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The before/after report, frozen when the batch is applied or discarded.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    assignment: Mapped[Assignment] = relationship()
    runs: Mapped[list[GradingRun]] = relationship(order_by="GradingRun.id")


class ReleaseSetting(Base):
    """When an assignment's scores and hidden-check feedback reach students
    (autograder/staff_release.py). No row: scores at once, feedback by the spec's deadline.
    """

    __tablename__ = "release_settings"

    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), primary_key=True)
    # "immediate", or "scheduled": withheld until scores_released_at (None: until set).
    scores_mode: Mapped[str] = mapped_column(String(16), default="immediate")
    scores_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # "deadline" (the spec's feedback levels switch at its deadline), or "scheduled":
    # they switch at feedback_released_at instead (None: not yet).
    feedback_mode: Mapped[str] = mapped_column(String(16), default="deadline")
    feedback_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SpecUpload(Base):
    """A spec version made current from the browser (autograder/staff_specs.py)."""

    __tablename__ = "spec_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    spec_hash: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkerHeartbeat(Base):
    """A grading worker's latest sign of life (worker/heartbeat.py), one row per worker
    process, rewritten every ``worker_heartbeat_seconds``: ``/healthz`` and
    ``autograder health`` read it, so the API never has to talk to workers."""

    __tablename__ = "worker_heartbeats"

    # "host:pid" of the worker's main process (worker/jobs.worker_id).
    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(String(200), default="")
    sandbox_backend: Mapped[str] = mapped_column(String(32), default="")
    # "ok", or why the backend cannot start boxes here.
    sandbox_status: Mapped[str] = mapped_column(Text, default="")
    gpus: Mapped[list[Any]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
