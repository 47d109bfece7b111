"""Re-grades of a whole assignment: start one (lower-priority lane), follow its progress,
read the before/after report, then apply or discard it (autograder/regrades.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks
from sqlalchemy import select

from api.deps import BaseUrl, CsrfProtected, SessionDep, StaffUser
from api.lookups import assignment_by_slug, current_spec
from api.routes.staff_schemas import BatchOut, ReportOut
from api.schemas import ErrorOut
from autograder import regrades
from autograder.db import session_scope
from autograder.models import RegradeBatch

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in"},
    403: {"model": ErrorOut, "description": "not a TA or an instructor"},
    404: {"model": ErrorOut},
}
CONFLICT: dict[int | str, dict[str, Any]] = ERRORS | {
    409: {"model": ErrorOut, "description": "not now: still grading, or already decided"}
}


def batch_out(batch: RegradeBatch, base: str) -> dict[str, Any]:
    return {
        "id": batch.id,
        "assignment": batch.assignment.slug,
        "scope": batch.scope,
        "auto_apply": batch.auto_apply,
        "state": batch.state,
        "spec_hash": batch.spec_hash,
        "created_at": batch.created_at,
        "decided_at": batch.decided_at,
        "progress": regrades.progress(batch),
        "url": f"{base}/api/v1/staff/regrades/{batch.id}",
    }


def enqueue_later(batch_id: int) -> None:
    """After the response: send the batch's runs (the reconciler covers a broker outage)."""
    with session_scope() as session:
        regrades.enqueue(session, regrades.get_batch(session, batch_id))


@router.post(
    "/assignments/{slug}/regrades", status_code=202, response_model=BatchOut, responses=CONFLICT
)
def start_regrade(
    slug: str,
    user: StaffUser,
    _: CsrfProtected,
    session: SessionDep,
    base: BaseUrl,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Re-grade every submission of the assignment by its current spec, in the
    lower-priority lane (cpu-low, gpu-low): new uploads are always graded first. Nothing
    changes for students until the batch is applied."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    spec = current_spec(session, assignment).spec
    batch = regrades.start_for_assignment(session, assignment, spec, user)
    session.commit()
    background.add_task(enqueue_later, batch.id)
    return batch_out(batch, base)


@router.get("/assignments/{slug}/regrades", response_model=list[BatchOut], responses=ERRORS)
def list_regrades(
    slug: str, _: StaffUser, session: SessionDep, base: BaseUrl
) -> list[dict[str, Any]]:
    """The assignment's re-grades, newest first."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    query = (
        select(RegradeBatch)
        .where(RegradeBatch.assignment_id == assignment.id)
        .order_by(RegradeBatch.id.desc())
        .limit(50)
    )
    return [batch_out(batch, base) for batch in session.scalars(query)]


@router.get("/regrades/{batch_id}", response_model=BatchOut, responses=ERRORS)
def get_regrade(batch_id: int, _: StaffUser, session: SessionDep, base: BaseUrl) -> dict[str, Any]:
    """The batch and its progress: its runs counted by state."""
    return batch_out(regrades.get_batch(session, batch_id), base)


@router.get("/regrades/{batch_id}/report", response_model=ReportOut, responses=ERRORS)
def get_report(batch_id: int, _: StaffUser, session: SessionDep, base: BaseUrl) -> dict[str, Any]:
    """Before and after per submission: the current score, the re-grade's, the change."""
    batch = regrades.get_batch(session, batch_id)
    return regrades.report(batch) | {"batch": batch_out(batch, base)}


@router.post("/regrades/{batch_id}/apply", response_model=BatchOut, responses=CONFLICT)
def apply_regrade(
    batch_id: int, user: StaffUser, _: CsrfProtected, session: SessionDep, base: BaseUrl
) -> dict[str, Any]:
    """Make every graded run of the batch current, in one transaction (409 while any is
    still grading). Runs that failed on our side are left out."""
    batch = regrades.apply(session, batch_id, user)
    session.commit()
    return batch_out(batch, base)


@router.post("/regrades/{batch_id}/discard", response_model=BatchOut, responses=CONFLICT)
def discard_regrade(
    batch_id: int, user: StaffUser, _: CsrfProtected, session: SessionDep, base: BaseUrl
) -> dict[str, Any]:
    """Keep the current scores; runs not started yet are dropped."""
    batch = regrades.discard(session, batch_id, user)
    session.commit()
    return batch_out(batch, base)
