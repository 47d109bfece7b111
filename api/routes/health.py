"""Liveness for load balancers and the TA: the database, the broker, the workers (their
heartbeats: sandbox backend and GPUs). See autograder/health.py."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import SessionDep
from api.schemas import HealthOut
from autograder import health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
def healthz(session: SessionDep) -> JSONResponse:
    """200 while the database answers (a broker outage or no worker only delays grading:
    ``degraded`` is then true and ``problems`` says what); else 503."""
    body = HealthOut.model_validate(health.report(session))
    status = 200 if body.status == "ok" else 503
    return JSONResponse(body.model_dump(mode="json"), status_code=status)
