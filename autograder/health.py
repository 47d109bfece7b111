"""What ``GET /healthz`` and ``autograder health`` report: the database, the broker, and
the workers seen lately (from their heartbeat rows, worker/heartbeat.py) with their
sandbox backend and GPUs.

``status`` is "error" only when the database cannot be reached (the HTTP answer is then
503); everything else that is wrong (broker down, no worker seen, a worker whose sandbox
cannot start, no worker for the GPU queue while GPU runs wait) makes ``degraded`` true
and is named in ``problems``: uploads are still accepted and graded later.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from autograder import queueing
from autograder.models import GradingRun, RunState, WorkerHeartbeat, utcnow
from autograder.settings import get_settings

SEEN_INTERVALS = 3  # a worker is "seen" if it beat within this many heartbeat intervals


def problem(exc: Exception) -> str:
    first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    return f"unreachable: {type(exc).__name__}: {first_line[:200]}"


def database_status(session: Session) -> str:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:
        return problem(exc)
    return "ok"


def broker_status() -> str:
    try:
        with queueing.client().connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=3)
    except Exception as exc:
        return problem(exc)
    return "ok"


def workers_seen(session: Session) -> list[dict[str, Any]]:
    interval = max(1, get_settings().worker_heartbeat_seconds)
    since = utcnow() - timedelta(seconds=SEEN_INTERVALS * interval)
    rows = session.scalars(
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.seen_at >= since)
        .order_by(WorkerHeartbeat.host, WorkerHeartbeat.pid)
    )
    return [
        {
            "worker": row.worker,
            "host": row.host,
            "pid": row.pid,
            "queues": [q for q in row.queues.split(",") if q],
            "sandbox_backend": row.sandbox_backend,
            "sandbox": row.sandbox_status,
            "gpus": list(row.gpus or []),
            "started_at": row.started_at.isoformat(),
            "seen_at": row.seen_at.isoformat(),
        }
        for row in rows
    ]


def report(session: Session) -> dict[str, Any]:
    database = database_status(session)
    broker = broker_status()
    body: dict[str, Any] = {
        "status": "ok" if database == "ok" else "error",
        "database": database,
        "broker": broker,
        "workers": [],
        "degraded": False,
        "problems": [],
    }
    problems: list[str] = []
    if broker != "ok":
        problems.append(f"broker {broker}: uploads are kept and graded when it is back")
    if database == "ok":
        try:
            workers = workers_seen(session)
            body["workers"] = workers
            problems += _worker_problems(session, workers)
        except Exception as exc:  # an old schema, a query that failed: say so, stay up
            session.rollback()
            problems.append(f"workers unknown: {problem(exc)}")
    else:
        problems.append(f"database {database}")
    body["problems"] = problems
    body["degraded"] = bool(problems)
    return body


def _worker_problems(session: Session, workers: list[dict[str, Any]]) -> list[str]:
    problems = []
    if not workers:
        problems.append("no grading worker seen lately: uploads wait in the queue")
    for worker in workers:
        if worker["sandbox"] != "ok":
            problems.append(f"worker {worker['worker']}: sandbox {worker['sandbox']}")
    consumed = {q for w in workers if w["sandbox"] == "ok" for q in w["queues"]}
    waiting = session.execute(
        select(GradingRun.queue, func.count())
        .where(GradingRun.state == RunState.queued)
        .group_by(GradingRun.queue)
    ).all()
    for queue, count in waiting:
        if workers and queue not in consumed:
            problems.append(f"{count} run(s) queued on {queue!r} and no worker takes that queue")
    gpu_workers = [w for w in workers if any(queueing.is_gpu_lane(q) for q in w["queues"])]
    for worker in gpu_workers:
        if not worker["gpus"]:
            problems.append(f"worker {worker['worker']} takes GPU queues but sees no GPU")
    return problems


def render(body: dict[str, Any]) -> str:
    """The report as text for a terminal (``autograder health``)."""
    lines = [
        f"status:   {body['status']}" + (" (degraded)" if body["degraded"] else ""),
        f"database: {body['database']}",
        f"broker:   {body['broker']}",
        f"workers:  {len(body['workers'])} seen lately",
    ]
    for w in body["workers"]:
        gpus = ",".join(str(g) for g in w["gpus"]) or "none"
        lines.append(
            f"  {w['worker']}  queues={','.join(w['queues'])}  "
            f"sandbox={w['sandbox_backend']}:{w['sandbox']}  gpus={gpus}  seen={w['seen_at']}"
        )
    if body["problems"]:
        lines.append("problems:")
        lines += [f"  - {p}" for p in body["problems"]]
    return "\n".join(lines)
