"""The worker's heartbeat: a row in ``worker_heartbeats`` rewritten every
``worker_heartbeat_seconds`` by a thread of the worker's main process.

It records the host, pid, the queues it consumes, whether its sandbox backend can start
boxes here (``check()``: "ok" or the reason) and the GPUs it hands to jobs, so that the
API's ``/healthz`` and ``autograder health`` report workers without talking to them.
A worker that stops beating simply ages out of the report; its row is overwritten by the
next worker with the same host and pid, and rows older than a day are deleted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import delete

from autograder.db import session_scope
from autograder.models import WorkerHeartbeat, utcnow
from autograder.settings import Settings, get_settings

log = logging.getLogger(__name__)
FORGET_AFTER = timedelta(days=1)


def sandbox_status(settings: Settings) -> str:
    from worker.sandbox import get_backend

    try:
        backend = get_backend(settings)
        backend.check()
        check_reachable = getattr(backend, "check_reachable", None)
        if check_reachable is not None:
            check_reachable()
    except Exception as exc:  # SandboxUnavailable, or anything else: report, never crash
        return f"unavailable: {exc}"[:2000]
    return "ok"


def beat(queues: str, started_at: datetime | None = None) -> None:
    """Write this process's heartbeat row now."""
    from worker.gpus import worker_gpus
    from worker.jobs import worker_id

    settings = get_settings()
    now = utcnow()
    gpus: list[int] | list[str]
    try:
        gpus = worker_gpus(settings)
    except Exception as exc:
        gpus = [f"error: {exc}"]
    values = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "queues": queues[:200],
        "sandbox_backend": settings.sandbox,
        "sandbox_status": sandbox_status(settings),
        "gpus": gpus,
        "seen_at": now,
    }
    with session_scope() as session:
        row = session.get(WorkerHeartbeat, worker_id())
        if row is None:
            row = WorkerHeartbeat(worker=worker_id(), started_at=started_at or now)
            session.add(row)
        for key, value in values.items():
            setattr(row, key, value)
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - FORGET_AFTER))


def start_heartbeat(queues: str) -> threading.Thread:
    interval = max(1, get_settings().worker_heartbeat_seconds)
    started_at = utcnow()

    def loop() -> None:
        while True:
            try:
                beat(queues, started_at)
            except Exception:  # the database may be down: report again next time
                log.warning("worker heartbeat failed", exc_info=True)
            threading.Event().wait(interval)

    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    return thread
