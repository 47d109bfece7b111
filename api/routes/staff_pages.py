"""The staff's pages: the dashboard, an assignment's statistics, roster and re-grades, one
submission in full, and the instructors' specs and release settings.

The pages are shells: their scripts (/static/staff_*.js) read the same JSON API that
/docs documents (/api/v1/staff/...), with the session cookie and its CSRF token, and
write only text and DOM nodes (no innerHTML). A student gets 403, a visitor the sign-in
page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, StaffUser
from api.lookups import assignment_by_slug
from api.templating import render
from autograder.models import Role, Submission
from autograder.refusals import NotFound

router = APIRouter(include_in_schema=False)


@router.get("/staff", response_class=HTMLResponse)
def dashboard(request: Request, _: StaffUser) -> HTMLResponse:
    return render(request, "staff_index.html", {})


@router.get("/staff/assignments/{slug}", response_class=HTMLResponse)
def assignment_page(slug: str, request: Request, _: StaffUser, session: SessionDep) -> HTMLResponse:
    assignment = assignment_by_slug(session, slug, any_state=True)
    return render(request, "staff_assignment.html", {"assignment": assignment})


@router.get("/staff/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(
    submission_id: str, request: Request, _: StaffUser, session: SessionDep
) -> HTMLResponse:
    if session.get(Submission, submission_id) is None:
        raise NotFound(f"no submission {submission_id!r}", f"没有编号为 {submission_id!r} 的提交")
    return render(request, "staff_submission.html", {"submission_id": submission_id})


@router.get("/staff/specs", response_class=HTMLResponse)
def specs_page(request: Request, user: StaffUser) -> HTMLResponse:
    return render(request, "staff_specs.html", {"can_edit": user.role == Role.instructor})
