"""The students' pages: their assignments with best and latest scores, an upload page per
assignment, and a submission's result, which updates itself while it is graded.

Every page needs a signed-in user (a GET without one is sent to /login). The pages share
their data with the JSON API (api/standings.py, api/submission_views.py); the scripts in
/static call the API with the session cookie and its CSRF token, and write only text."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from api.deps import BaseUrl, CurrentAuth, SessionDep
from api.lookups import assignment_by_slug, current_spec, visible_submission
from api.routes.assignments import starter_links
from api.standings import my_assignments
from api.submission_views import submission_view, summary_of
from api.templating import render
from autograder import late_policy
from autograder.models import Role, Submission, utcnow

router = APIRouter(include_in_schema=False)


def must_change_password(auth: CurrentAuth) -> bool:
    """A roster user signed in with an initial password: send them to /account first."""
    return auth.method == "session" and auth.user.must_change_password


@router.get("/", response_class=HTMLResponse)
def index(request: Request, auth: CurrentAuth, session: SessionDep, base: BaseUrl) -> Response:
    if must_change_password(auth):
        return RedirectResponse("/account", status_code=303)
    rows = my_assignments(session, auth.user, base, utcnow())
    for row in rows:
        row["spec"] = current_spec(session, assignment_by_slug(session, row["slug"])).spec
    return render(request, "index.html", {"assignments": rows})


@router.get("/assignments/{slug}/upload", response_class=HTMLResponse)
def upload_page(
    slug: str, request: Request, auth: CurrentAuth, session: SessionDep, base: BaseUrl
) -> Response:
    if must_change_password(auth):
        return RedirectResponse("/account", status_code=303)
    assignment = assignment_by_slug(session, slug)
    loaded = current_spec(session, assignment)
    spec = loaded.spec
    now = utcnow()
    mine = session.scalars(
        select(Submission)
        .where(Submission.user_id == auth.user.id, Submission.assignment_id == assignment.id)
        .order_by(Submission.received_at.desc())
        .limit(50)
    )
    context = {
        "loaded": loaded,
        "spec": spec,
        "closes_at": late_policy.closes_at(spec.deadline, spec.late_policy),
        "api_url": f"/api/v1/assignments/{slug}/submissions",
        "notebook_ok": any(f.name.endswith(".py") for f in spec.files),
        "starter": starter_links(loaded.slug, ""),
        "submissions": [
            summary_of(submission_view(session, s, auth.user, now), base) for s in mine
        ],
    }
    return render(request, "upload.html", context)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(
    submission_id: str, request: Request, auth: CurrentAuth, session: SessionDep
) -> Response:
    submission = visible_submission(session, auth.user, submission_id)  # another's: 404
    api_url = f"/api/v1/submissions/{submission.id}"
    # Staff see a submission's page exactly as its student does with ?as=student, now or
    # just before or after the deadline (&moment=before|after); students' own pages ignore it.
    preview = None
    if auth.user.role != Role.student and request.query_params.get("as") == "student":
        preview = request.query_params.get("moment", "now")
        if preview not in ("now", "before", "after"):
            preview = "now"
        api_url += f"?as_student=true&moment={preview}"
    context = {
        "submission_id": submission.id,
        "slug": submission.assignment.slug,
        "api_url": api_url,
        "preview": preview,
        "page_url": f"/submissions/{submission.id}",
    }
    return render(request, "submission.html", context)
