"""Liveness for load balancers and the TA: can we reach the database and the broker?"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SessionDep
from api.schemas import HealthOut
from autograder import queueing

router = APIRouter(tags=["health"])


def _problem(exc: Exception) -> str:
    first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    return f"unreachable: {type(exc).__name__}: {first_line[:200]}"


def database_status(session: SessionDep) -> str:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:
        return _problem(exc)
    return "ok"


def broker_status() -> str:
    try:
        with queueing.client().connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=3)
    except Exception as exc:
        return _problem(exc)
    return "ok"


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
def healthz(session: SessionDep) -> JSONResponse:
    """200 while the database answers (a broker outage only delays grading); else 503."""
    database = database_status(session)
    body = HealthOut(
        status="ok" if database == "ok" else "error", database=database, broker=broker_status()
    )
    return JSONResponse(body.model_dump(), status_code=200 if database == "ok" else 503)
