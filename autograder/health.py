"""What ``GET /healthz`` and ``autograder health`` report: the database, the broker, the
workers seen lately (from their heartbeat rows, worker/heartbeat.py) with their sandbox
backend and GPUs, the runs held by workers that are gone, and the free disk space of the
folders the service writes.

``status`` is "error" only when the database cannot be reached (the HTTP answer is then
503); everything else that is wrong (broker down, no worker seen, a worker lost, runs held
by a lost worker, a worker whose sandbox cannot start, no worker for the GPU queue while
GPU runs wait, a folder low on disk) makes ``degraded`` true and is named in
``problems``: uploads are still accepted and graded later.

A worker is *lost* once its heartbeat is one interval late (no beat for two intervals), or
at once when it ran on this host and its process is gone. Heartbeats name the worker's
main process; runs are leased by its pool children (``host:pid`` too), so a running run is
held by a lost worker when its lessee is a process of this host that is gone, when no
worker of its host is alive, or when its lease has expired (the reconciler sends it again).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from autograder import liveness, queueing
from autograder.models import GradingRun, RunState, WorkerHeartbeat, utcnow
from autograder.settings import Settings, get_settings

SEEN_INTERVALS = 3  # a worker is "seen" if it beat within this many heartbeat intervals
LATE_INTERVALS = 2  # ... and lost once it has not beaten for this many


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
    late = utcnow() - timedelta(seconds=LATE_INTERVALS * interval)
    return [
        {
            "worker": row.worker,
            "host": row.host,
            "pid": row.pid,
            "state": "lost" if row.seen_at < late or liveness.gone(row.host, row.pid) else "alive",
            "queues": [q for q in row.queues.split(",") if q],
            "sandbox_backend": row.sandbox_backend,
            "sandbox": row.sandbox_status,
            "gpus": list(row.gpus or []),
            "started_at": row.started_at.isoformat(),
            "seen_at": row.seen_at.isoformat(),
        }
        for row in rows
    ]


def runs_held_by_lost_workers(
    session: Session, workers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Running runs whose lessee is gone (see the module's docstring)."""
    alive_hosts = {w["host"] for w in workers if w["state"] == "alive"}
    now = utcnow()
    held = []
    for run in session.scalars(select(GradingRun).where(GradingRun.state == RunState.running)):
        owner = run.lease_owner or ""
        host, _, pid = owner.rpartition(":")
        why = None
        if run.lease_expires_at is not None and run.lease_expires_at < now:
            why = "its lease expired"
        elif host and pid.isdigit() and liveness.gone(host, int(pid)):
            why = "its process is gone"
        elif host and host not in alive_hosts:
            why = "no worker of its host is alive"
        if why:
            held.append(
                {
                    "run": run.id,
                    "submission": run.submission_id,
                    "lease_owner": owner,
                    "lease_expires_at": (
                        run.lease_expires_at.isoformat() if run.lease_expires_at else None
                    ),
                    "why": why,
                }
            )
    return held


def disk_space(settings: Settings, session: Session | None = None) -> list[dict[str, Any]]:
    """Free space of each folder the service writes; ``low`` below the configured floor
    (or a tenth of a small file system, e.g. a container's 64 MB /dev/shm). The database's:
    SQLite's folder, or a Postgres server's data directory when the server tells it
    (``SHOW data_directory`` needs a superuser or pg_read_all_settings) and it is on this
    host; a remote server's disk is its own host's to watch."""
    folders = {
        "storage": settings.path("storage"),
        "job scratch": settings.path("jobs"),
        "datasets": settings.path("data"),
    }
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        folders["database"] = Path(url.removeprefix("sqlite:///")).parent
    elif session is not None and url.startswith("postgresql"):
        data_directory = _postgres_data_directory(session)
        if data_directory is not None:
            folders["database"] = data_directory
    found = []
    for name, folder in folders.items():
        probe = Path(folder)
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent  # not made yet: the file system it will be on
        try:
            usage = shutil.disk_usage(probe)
        except OSError as exc:
            found.append({"folder": name, "path": str(folder), "error": str(exc), "low": True})
            continue
        floor = min(settings.disk_low_mb * 2**20, usage.total // 10)
        found.append(
            {
                "folder": name,
                "path": str(folder),
                "free_mb": usage.free // 2**20,
                "total_mb": usage.total // 2**20,
                "low": usage.free < floor,
            }
        )
    return found


def _postgres_data_directory(session: Session) -> Path | None:
    """The server's data directory when it is on this host and we may ask (None else)."""
    try:
        found = session.execute(text("SHOW data_directory")).scalar()
    except Exception:  # not allowed to read it: a managed or a locked-down server
        session.rollback()
        return None
    path = Path(str(found)) if found else None
    return path if path is not None and path.is_dir() else None


def report(session: Session) -> dict[str, Any]:
    database = database_status(session)
    broker = broker_status()
    body: dict[str, Any] = {
        "status": "ok" if database == "ok" else "error",
        "database": database,
        "broker": broker,
        "workers": [],
        "runs_held_by_lost_workers": [],
        "disk": [],
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
            held = runs_held_by_lost_workers(session, workers)
            body["runs_held_by_lost_workers"] = held
            for run in held:
                problems.append(
                    f"run {run['run']} is held by {run['lease_owner']}, which is lost "
                    f"({run['why']}): it is graded again once its lease ends"
                )
        except Exception as exc:  # an old schema, a query that failed: say so, stay up
            session.rollback()
            problems.append(f"workers unknown: {problem(exc)}")
    else:
        problems.append(f"database {database}")
    body["disk"] = disk_space(get_settings(), session if database == "ok" else None)
    for entry in body["disk"]:
        if entry["low"]:
            free = entry.get("error") or f"{entry['free_mb']} MB free of {entry['total_mb']} MB"
            problems.append(f"{entry['folder']} ({entry['path']}) is low on disk: {free}")
    body["problems"] = problems
    body["degraded"] = bool(problems)
    return body


def _worker_problems(session: Session, workers: list[dict[str, Any]]) -> list[str]:
    problems = []
    alive = [w for w in workers if w["state"] == "alive"]
    if not alive:
        problems.append("no grading worker seen lately: uploads wait in the queue")
    for worker in workers:
        if worker["state"] == "lost":
            problems.append(
                f"worker {worker['worker']} is lost (last heartbeat {worker['seen_at']})"
            )
        elif worker["sandbox"] != "ok":
            problems.append(f"worker {worker['worker']}: sandbox {worker['sandbox']}")
    consumed = {q for w in alive if w["sandbox"] == "ok" for q in w["queues"]}
    waiting = session.execute(
        select(GradingRun.queue, func.count())
        .where(GradingRun.state == RunState.queued)
        .group_by(GradingRun.queue)
    ).all()
    for queue, count in waiting:
        if workers and queue not in consumed:
            problems.append(f"{count} run(s) queued on {queue!r} and no worker takes that queue")
    gpu_workers = [w for w in alive if any(queueing.is_gpu_lane(q) for q in w["queues"])]
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
            f"  {w['worker']}  {w['state']}  queues={','.join(w['queues'])}  "
            f"sandbox={w['sandbox_backend']}:{w['sandbox']}  gpus={gpus}  seen={w['seen_at']}"
        )
    for run in body.get("runs_held_by_lost_workers", []):
        lines.append(f"  run {run['run']} held by {run['lease_owner']}: {run['why']}")
    for d in body.get("disk", []):
        free = d.get("error") or f"{d['free_mb']} of {d['total_mb']} MB free"
        lines.append(f"disk:     {d['folder']} {d['path']}: {free}" + ("  LOW" if d["low"] else ""))
    if body["problems"]:
        lines.append("problems:")
        lines += [f"  - {p}" for p in body["problems"]]
    return "\n".join(lines)
