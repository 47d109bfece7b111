"""The FastAPI application: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.routes import assignments, health, pages, submissions
from api.templating import STATIC_DIR

DESCRIPTION = """
Upload homework, get it graded in a sandbox, read the feedback.

Authenticate with your API token: `Authorization: Bearer ag_...`. For example:

    curl -H "Authorization: Bearer $TOKEN" -F files=@numpy_basics.py \\
         https://HOST/api/v1/assignments/hw1/submissions
"""

TAGS = [
    {"name": "assignments", "description": "What to hand in, by when, for how many points."},
    {"name": "submissions", "description": "Upload a submission and read its result."},
    {"name": "health", "description": "Is the service able to accept and grade work?"},
]


def create_app() -> FastAPI:
    app = FastAPI(
        title="Autograder",
        summary="Deep-learning homework autograder",
        description=DESCRIPTION,
        version="0.1.0",
        openapi_tags=TAGS,
    )
    errors.install(app)
    for module in (health, assignments, submissions, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
