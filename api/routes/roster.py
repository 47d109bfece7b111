"""The instructor's roster page: upload the class list as CSV (the script sends it to
``POST /api/v1/users/import``) and read back each user's one-time initial password."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import InstructorUser
from api.templating import render
from autograder.roster import COLUMNS

router = APIRouter(include_in_schema=False)


@router.get("/roster", response_class=HTMLResponse)
def roster_page(request: Request, user: InstructorUser) -> HTMLResponse:
    context = {"columns": ",".join(COLUMNS), "api_url": "/api/v1/users/import"}
    return render(request, "roster.html", context)
