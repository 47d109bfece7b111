"""The TAs' dashboard API: assignments at a glance, statistics, roster, gradebook CSV.

Every route needs a TA or an instructor (403 for students, 401 without credentials)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.deps import BaseUrl, SessionDep, StaffUser
from api.lookups import active_assignments, assignment_by_slug, current_spec
from api.routes.staff_schemas import (
    AssignmentStatsOut,
    RosterOut,
    StaffAssignmentOut,
    SubmissionRowOut,
)
from api.schemas import ErrorOut
from autograder import gradebook, staff_stats
from autograder.models import RegradeBatch
from autograder.staff_runs import current_runs_of

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in"},
    403: {"model": ErrorOut, "description": "not a TA or an instructor"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = ERRORS | {404: {"model": ErrorOut}}
CSV_RESPONSE: dict[int | str, dict[str, Any]] = NOT_FOUND | {
    200: {"content": {"text/csv": {}}, "description": "UTF-8 with a byte-order mark"}
}


@router.get("/assignments", response_model=list[StaffAssignmentOut], responses=ERRORS)
def list_assignments(_: StaffUser, session: SessionDep, base: BaseUrl) -> list[dict[str, Any]]:
    """Every assignment (drafts and withdrawn ones too, with their state) and its
    submission counts."""
    out = []
    for assignment, loaded in active_assignments(session, any_state=True):
        open_batch = session.scalar(
            select(RegradeBatch.id).where(
                RegradeBatch.assignment_id == assignment.id,
                RegradeBatch.scope == "assignment",
                RegradeBatch.state == "open",
            )
        )
        out.append(
            {
                "slug": assignment.slug,
                "title": assignment.title,
                "state": assignment.state,
                "deadline": assignment.deadline,
                "max_points": loaded.spec.max_points,
                "spec_hash": assignment.spec_hash,
                "counts": staff_stats.submission_counts(session, assignment),
                "open_regrade": open_batch,
                "page_url": f"{base}/staff/assignments/{assignment.slug}",
            }
        )
    return out


@router.get("/assignments/{slug}", response_model=AssignmentStatsOut, responses=NOT_FOUND)
def assignment_stats(slug: str, _: StaffUser, session: SessionDep) -> dict[str, Any]:
    """Counts, mean, median, histogram and pass rate (see autograder/staff_stats.py)."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    spec = current_spec(session, assignment).spec
    rows = gradebook.roster(session, assignment)
    stats = staff_stats.assignment_stats(session, assignment, spec.max_points, rows)
    return stats | {"slug": slug, "title": assignment.title, "counted_policy": spec.counted}


@router.get("/assignments/{slug}/roster", response_model=RosterOut, responses=NOT_FOUND)
def roster(slug: str, _: StaffUser, session: SessionDep) -> dict[str, Any]:
    """One row per student: attempts, best, latest and counted score (by the spec's
    ``counted`` policy), late days."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    spec = current_spec(session, assignment).spec
    rows = [r.as_dict() for r in gradebook.roster(session, assignment)]
    return {
        "slug": slug,
        "max_points": spec.max_points,
        "counted_policy": spec.counted,
        "rows": rows,
    }


@router.get(
    "/assignments/{slug}/submissions",
    response_model=list[SubmissionRowOut],
    responses=NOT_FOUND,
)
def submissions(
    slug: str, _: StaffUser, session: SessionDep, base: BaseUrl
) -> list[dict[str, Any]]:
    """Every submission of the assignment, newest first, with its current run's result."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    rows = [
        {
            "id": submission.id,
            "student": submission.user.name,
            "received_at": submission.received_at,
            "is_late": submission.is_late,
            "late_days": submission.late_days,
            "state": str(run.state),
            "score": run.score,
            "max_score": run.max_score,
            "page_url": f"{base}/staff/submissions/{submission.id}",
        }
        for submission, run in session.execute(current_runs_of(assignment.id))
    ]
    return rows[::-1]


@router.get("/assignments/{slug}/gradebook.csv", response_class=Response, responses=CSV_RESPONSE)
def assignment_gradebook(slug: str, _: StaffUser, session: SessionDep) -> Response:
    """The assignment's gradebook: one row per student, safe to open in a spreadsheet."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    max_points = current_spec(session, assignment).spec.max_points
    text = gradebook.assignment_csv(gradebook.roster(session, assignment), max_points)
    return csv_response(text, f"gradebook-{slug}.csv")


@router.get("/gradebook.csv", response_class=Response, responses=CSV_RESPONSE)
def course_gradebook(_: StaffUser, session: SessionDep) -> Response:
    """Every open assignment's counted score side by side, and the total."""
    columns = [
        (assignment.slug, loaded.spec.max_points, gradebook.roster(session, assignment))
        for assignment, loaded in active_assignments(session, any_state=True)
    ]
    return csv_response(gradebook.course_csv(columns), "gradebook.csv")


def csv_response(text: str, filename: str) -> Response:
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
