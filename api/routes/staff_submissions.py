"""One submission as staff see it: its files, every run with logs, phase timings, resource
use and spec version; and a re-grade of it alone."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks
from fastapi.responses import FileResponse

from api.deps import BaseUrl, CsrfProtected, SessionDep, StaffUser
from api.lookups import current_spec
from api.routes.staff_regrades import batch_out, enqueue_later
from api.routes.staff_schemas import BatchOut, StaffSubmissionOut
from api.schemas import ErrorOut
from autograder import regrades
from autograder.feedback import run_failure
from autograder.grading.outcomes import read_outcomes
from autograder.models import Assignment, GradingRun, Submission
from autograder.refusals import NotFound
from autograder.staff_runs import current_run
from autograder.storage import path_for

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in"},
    403: {"model": ErrorOut, "description": "not a TA or an instructor"},
    404: {"model": ErrorOut},
}
UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def submission_by_id(session: SessionDep, submission_id: str) -> Submission:
    row = session.get(Submission, submission_id)
    if row is None:
        raise NotFound(f"no submission {submission_id!r}", f"没有编号为 {submission_id!r} 的提交")
    return row


@router.get("/submissions/{submission_id}", response_model=StaffSubmissionOut, responses=ERRORS)
def get_submission(
    submission_id: str, _: StaffUser, session: SessionDep, base: BaseUrl
) -> dict[str, Any]:
    """Everything about one submission, every run included (oldest first)."""
    submission = submission_by_id(session, submission_id)
    current = current_run(submission)
    api = f"{base}/api/v1/staff/submissions/{submission.id}"
    return {
        "id": submission.id,
        "assignment": submission.assignment.slug,
        "student": submission.user.name,
        "full_name": getattr(submission.user, "full_name", "") or "",
        "received_at": submission.received_at,
        "is_late": submission.is_late,
        "late_days": submission.late_days,
        "files": [
            f | {"download_url": f"{api}/files/{quote(f['name'])}"} for f in submission.files
        ],
        "current_run": current.id,
        "runs": [run_view(run, current, submission.assignment) for run in submission.runs],
    }


def run_view(run: GradingRun, current: GradingRun, assignment: Assignment) -> dict[str, Any]:
    return {
        "id": run.id,
        "current": run.id == current.id,
        "batch_id": run.batch_id,
        "spec_hash": run.spec_hash,
        "spec_is_current": run.spec_hash == assignment.spec_hash,
        "queue": run.queue,
        "state": str(run.state),
        "attempts": run.attempts,
        "phase": run.phase,
        "queued_at": run.queued_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "score": run.score,
        "raw_score": run.raw_score,
        "max_score": run.max_score,
        "late_penalty": run.late_penalty or 0.0,
        "outcomes": [o.model_dump() for o in read_outcomes(run.outcomes, run.id)],
        "log": run.log or "",
        "log_truncated": bool(run.log_truncated),
        "timings": run.timings or {},
        "resources": run.resources or {},
        "failure_kind": run.failure_kind,
        "failure_message": run.failure_message,
        "failure_owner": _owner(run),
    }


def _owner(run: Any) -> str | None:
    failure = run_failure(run)
    return None if failure is None else str(failure.kind)


@router.get(
    "/submissions/{submission_id}/files/{name}",
    response_class=FileResponse,
    responses=ERRORS | {200: {"content": {"application/octet-stream": {}}}},
)
def download_file(submission_id: str, name: str, _: StaffUser, session: SessionDep) -> FileResponse:
    """One submitted file, as an attachment (never rendered by the browser)."""
    submission = submission_by_id(session, submission_id)
    entry = next((f for f in submission.files if f["name"] == name), None)
    if entry is None:
        raise NotFound(
            f"submission {submission_id} has no file {name!r}",
            f"提交 {submission_id} 中没有文件 {name!r}",
        )
    path = path_for(entry["sha256"])
    if not path.is_file():
        raise NotFound(f"the stored copy of {name!r} is missing", f"{name!r} 的存储副本已丢失")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(submission.user.name, name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )


def content_disposition(student: str, name: str) -> str:
    """``attachment`` with an ASCII-only file name (anything else becomes ``_``), and the
    exact UTF-8 name in ``filename*`` for browsers that read it."""
    plain = UNSAFE.sub("_", f"{student}_{name}").lstrip(".") or "file"
    exact = quote(f"{student}_{name}", safe="")
    return f"attachment; filename=\"{plain[:150]}\"; filename*=UTF-8''{exact}"


@router.post(
    "/submissions/{submission_id}/regrade",
    status_code=202,
    response_model=BatchOut,
    responses=ERRORS,
)
def regrade_submission(
    submission_id: str,
    user: StaffUser,
    _: CsrfProtected,
    session: SessionDep,
    base: BaseUrl,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Re-grade this submission alone, by the current spec, in the normal queue. The new
    run becomes current by itself once it has a grade (an infrastructure failure never
    does); poll the batch's url for its progress."""
    submission = submission_by_id(session, submission_id)
    spec = current_spec(session, submission.assignment).spec
    batch = regrades.start_for_submission(session, submission, spec, user)
    session.commit()
    background.add_task(enqueue_later, batch.id)
    return batch_out(batch, base)
