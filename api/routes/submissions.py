"""Submissions: upload one, read its result, list mine."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query
from sqlalchemy import select

from api.deps import BaseUrl, CurrentUser, SessionDep, SettingsDep
from api.lookups import assignment_by_slug, current_spec, visible_submission
from api.schemas import ErrorOut, SubmissionCreatedOut, SubmissionOut, SubmissionSummaryOut
from api.submission_views import submission_view, summary_of
from api.upload_form import OPENAPI_BODY, UploadParts
from autograder import submissions
from autograder.db import session_scope
from autograder.feedback import PreviewMoment
from autograder.logs import bind_log_context
from autograder.models import Assignment, GradingRun, Role, RunState, Submission, utcnow
from autograder.refusals import Forbidden
from autograder.specs.loader import LoadedSpec
from autograder.uploads import collect_files

router = APIRouter(prefix="/api/v1", tags=["submissions"])
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadTarget:
    assignment: Assignment
    loaded: LoadedSpec
    received_at: datetime


def upload_target(slug: str, user: CurrentUser, session: SessionDep) -> UploadTarget:
    """Refuse early (token, assignment, cut-off, quota, a full queue) before reading the
    files. The time of receipt is now, however long the body then takes to arrive."""
    received_at = utcnow()
    assignment = assignment_by_slug(session, slug)
    loaded = current_spec(session, assignment)
    submissions.check_accepting(session, user, assignment, loaded.spec, received_at)
    submissions.check_capacity(session, loaded.spec)
    session.commit()  # end the read transaction: do not hold a connection during the upload
    return UploadTarget(assignment, loaded, received_at)


Target = Annotated[UploadTarget, Depends(upload_target)]


def enqueue_after_response(run_id: int) -> None:
    with session_scope() as session:
        run = session.get(GradingRun, run_id)
        if run is not None and run.state == RunState.queued and run.enqueued_at is None:
            submissions.enqueue_run(session, run)


@router.post(
    "/assignments/{slug}/submissions",
    status_code=202,
    response_model=SubmissionCreatedOut,
    openapi_extra=OPENAPI_BODY,
    responses={
        code: {"model": ErrorOut, "description": what}
        for code, what in [
            (400, "unexpected, duplicate or non-UTF-8 file; bad zip"),
            (401, "missing, invalid or revoked token"),
            (403, "past the hard cut-off"),
            (404, "no such assignment"),
            (413, "a file, the request, or the number of files over the limit"),
            (422, "a required file is missing"),
            (429, "over the submission quota (see Retry-After)"),
            (503, "the grading queue is full: nothing stored, try again (see Retry-After)"),
        ]
    },
)
def create_submission(
    user: CurrentUser,
    target: Target,  # before `parts`: refusals come before the body is read
    parts: UploadParts,
    session: SessionDep,
    settings: SettingsDep,
    base: BaseUrl,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Upload the assignment's required files (several `files` parts, or one .zip).

    Grading starts in the background: poll `url` for the result."""
    files = collect_files(
        parts,
        target.loaded.spec,
        max_total_bytes=settings.max_upload_bytes,
        max_files=settings.max_upload_files,
    )
    submission = submissions.create_submission(
        session, user, target.assignment, target.loaded, files, target.received_at
    )
    session.commit()
    run_id = submission.runs[-1].id
    bind_log_context(
        submission_id=submission.id,
        run_id=run_id,
        assignment=target.assignment.slug,
        user=user.name,
    )
    log.info("submission accepted (%d files)", len(files))
    background.add_task(enqueue_after_response, run_id)
    return {
        "id": submission.id,
        "url": f"{base}/api/v1/submissions/{submission.id}",
        "page_url": f"{base}/submissions/{submission.id}",
        "state": RunState.queued.value,
        "is_late": submission.is_late,
        "late_days": submission.late_days,
        "notes": [note for f in files if (note := notebook_note(f))],
    }


def notebook_note(stored: dict[str, Any]) -> str | None:
    """What became of a notebook handed in for a module (None: not one)."""
    notebook = stored.get("notebook")
    if not notebook:
        return None
    note = (
        f"{notebook['name']}: its {notebook['cells']} code cells, in order, are graded as "
        f"{stored['name']} (saved outputs are ignored)"
    )
    if notebook["removed"]:
        note += "; left out, as IPython syntax rather than Python: " + "; ".join(
            notebook["removed"]
        )
    return note


@router.get(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
def get_submission(
    submission_id: str,
    user: CurrentUser,
    session: SessionDep,
    as_student: Annotated[
        bool, Query(description="Staff: exactly what the submission's student sees.")
    ] = False,
    moment: Annotated[
        PreviewMoment,
        Query(
            description="Staff, with as_student: the student's view now, or just before or "
            "just after the deadline (or the scheduled feedback release)."
        ),
    ] = "now",
) -> dict[str, Any]:
    """One submission's result: state, score, per-check feedback, your program's output."""
    if moment != "now" and (user.role == Role.student or not as_student):
        raise Forbidden("only staff previewing a student's view may ask for another moment")
    submission = visible_submission(session, user, submission_id)
    return submission_view(
        session, submission, user, utcnow(), as_student=as_student, moment=moment
    )


@router.get(
    "/me/submissions",
    response_model=list[SubmissionSummaryOut],
    responses={401: {"model": ErrorOut}},
)
def my_submissions(
    user: CurrentUser,
    session: SessionDep,
    base: BaseUrl,
    assignment: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Your submissions, newest first (optionally of one assignment)."""
    query = select(Submission).where(Submission.user_id == user.id)
    if assignment is not None:
        query = query.where(Submission.assignment_id == assignment_by_slug(session, assignment).id)
    query = query.order_by(Submission.received_at.desc()).limit(max(1, min(limit, 500)))
    now = utcnow()
    return [
        summary_of(submission_view(session, submission, user, now), base)
        for submission in session.scalars(query)
    ]
