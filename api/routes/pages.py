"""Plain HTML pages for students: the list of assignments, an upload form, a result page.

The pages carry no secrets: the token lives in the browser's sessionStorage and the
scripts in /static send it to the JSON API, which decides what the student may see."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep
from api.lookups import active_assignments, assignment_by_slug, current_spec
from api.templating import render
from autograder import late_policy

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep) -> HTMLResponse:
    rows = [
        {
            "slug": loaded.slug,
            "spec": loaded.spec,
            "closes_at": late_policy.closes_at(loaded.spec.deadline, loaded.spec.late_policy),
        }
        for _, loaded in active_assignments(session)
    ]
    return render(request, "index.html", {"assignments": rows})


@router.get("/assignments/{slug}/upload", response_class=HTMLResponse)
def upload_page(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    loaded = current_spec(session, assignment_by_slug(session, slug))
    spec = loaded.spec
    context = {
        "loaded": loaded,
        "spec": spec,
        "closes_at": late_policy.closes_at(spec.deadline, spec.late_policy),
        "api_url": f"/api/v1/assignments/{slug}/submissions",
    }
    return render(request, "upload.html", context)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(submission_id: str, request: Request) -> HTMLResponse:
    context = {
        "submission_id": submission_id,
        "api_url": f"/api/v1/submissions/{submission_id}",
    }
    return render(request, "submission.html", context)
