"""``GET /metrics``: Prometheus metrics from the database (autograder/metrics.py).

Protected: with ``AUTOGRADER_METRICS_TOKEN`` set, every request needs
``Authorization: Bearer <token>``; without it, only requests from localhost (127.0.0.1,
::1) are answered, anything else gets 403. Not in the OpenAPI description (it is for
Prometheus, not for API clients). Behind a reverse proxy on the same host every
request comes from localhost: set a token there, or do not route /metrics.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.deps import SessionDep, SettingsDep
from autograder import metrics

router = APIRouter(tags=["health"])
LOCALHOST = frozenset({"127.0.0.1", "::1", "localhost"})


def allowed(request: Request, token: str) -> tuple[bool, int, str]:
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)
        return ok, 401, "a valid metrics bearer token is required\n"
    host = request.client.host if request.client else ""
    return host in LOCALHOST, 403, "metrics are served to localhost only (or set a token)\n"


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def get_metrics(request: Request, session: SessionDep, settings: SettingsDep) -> PlainTextResponse:
    """Prometheus text format 0.0.4: queue depth, runs by state, grading time histogram,
    failures by kind, sandbox starts, workers seen."""
    ok, status, message = allowed(request, settings.metrics_token)
    if not ok:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return PlainTextResponse(message, status_code=status, headers=headers)
    return PlainTextResponse(metrics.render(session), media_type=metrics.CONTENT_TYPE)
