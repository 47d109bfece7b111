"""The FastAPI application: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
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


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) with its files served here, from the static files of the
    fastapi-offline package, so that the page works where no CDN can be reached, as on
    this project's machines. (No /redoc: ReDoc's page loads its logo from its CDN.)"""
    from importlib.resources import files

    from fastapi.openapi.docs import (
        get_swagger_ui_html,
        get_swagger_ui_oauth2_redirect_html,
    )

    assets = files("fastapi_offline") / "static"
    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs-assets")
    openapi = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{app.title} · API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            oauth2_redirect_url="/docs/oauth2-redirect",
            # No badge from validator.swagger.io: nothing on the page leaves the service.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def docs_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def create_app() -> FastAPI:
    configure_logging()  # AUTOGRADER_LOG_FORMAT=json: JSON lines (autograder/logs.py)
    app = FastAPI(
        title="Autograder",
        summary="Deep-learning homework autograder",
        description=DESCRIPTION,
        version="0.1.0",
        openapi_tags=TAGS,
        docs_url=None,  # served below from swagger-ui-bundle, not from a CDN
        redoc_url=None,
    )
    errors.install(app)
    for module in (health, assignments, submissions, me, users, pages, auth, account, roster):
        app.include_router(module.router)
    app.include_router(metrics_router)
    for staff_router in STAFF_ROUTERS:
        app.include_router(staff_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    install_docs(app)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        """Browsers ask for it on pages that are not HTML (a handout shown as text)."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    return app
