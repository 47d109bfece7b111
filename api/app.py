"""The FastAPI application: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.routes import account, assignments, auth, health, me, pages, roster, submissions, users
from api.routes.metrics import router as metrics_router
from api.routes.staff_dashboard import router as staff_dashboard_router
from api.routes.staff_pages import router as staff_pages_router
from api.routes.staff_regrades import router as staff_regrades_router
from api.routes.staff_specs import router as staff_specs_router
from api.routes.staff_submissions import router as staff_submissions_router
from api.templating import STATIC_DIR
from autograder.logs import configure_logging

DESCRIPTION = """
Upload homework, get it graded in a sandbox, read the feedback.

Authenticate with your API token: `Authorization: Bearer ag_...` (make one on your account
page, `/account`). The pages use the same API with their session cookie; a cookie-authenticated
request that changes something must also send the session's CSRF token in `X-CSRF-Token`.
For example:

    curl -H "Authorization: Bearer $TOKEN" -F files=@numpy_basics.py \\
         https://HOST/api/v1/assignments/hw1/submissions
"""

TAGS = [
    {"name": "assignments", "description": "What to hand in, by when, for how many points."},
    {"name": "submissions", "description": "Upload a submission and read its result."},
    {"name": "account", "description": "You: your account, API tokens, and your scores."},
    {"name": "users", "description": "Instructors: import the class roster."},
    {"name": "health", "description": "Is the service able to accept and grade work?"},
    {
        "name": "staff",
        "description": "TAs and instructors: statistics, roster, gradebook CSV, every "
        "submission's files and runs, re-grades.",
    },
    {
        "name": "instructors",
        "description": "Specs and their versions, spec uploads, release of scores and "
        "feedback (TAs may read, instructors change).",
    },
]
STAFF_ROUTERS = (
    staff_dashboard_router,
    staff_submissions_router,
    staff_regrades_router,
    staff_specs_router,
    staff_pages_router,
)


def create_app() -> FastAPI:
    configure_logging()  # AUTOGRADER_LOG_FORMAT=json: JSON lines (autograder/logs.py)
    app = FastAPI(
        title="Autograder",
        summary="Deep-learning homework autograder",
        description=DESCRIPTION,
        version="0.1.0",
        openapi_tags=TAGS,
    )
    errors.install(app)
    for module in (health, assignments, submissions, me, users, pages, auth, account, roster):
        app.include_router(module.router)
    app.include_router(metrics_router)
    for staff_router in STAFF_ROUTERS:
        app.include_router(staff_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
