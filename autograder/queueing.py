"""Sending grading jobs to the broker, by task name only (the API never imports the worker).

The broker is only a hint: a message that is lost is found again by the worker's
reconciler, which re-sends every queued run whose message is older than
``requeue_after_seconds``. So a failed send is logged, not fatal.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from celery import Celery

from autograder.settings import get_settings

log = logging.getLogger(__name__)

GRADE_TASK = "autograder.grade_run"
# One queue per resource class, and a lower-priority lane of each for re-grades. A worker
# lists its queues in priority order (``-Q cpu,cpu-low``): with the Redis transport's
# "priority" queue order it takes from cpu-low only while cpu is empty.
QUEUES = ("cpu", "gpu", "cpu-low", "gpu-low")
LOW_SUFFIX = "-low"


def low_lane(queue: str) -> str:
    """The lower-priority lane of ``queue`` (``cpu`` → ``cpu-low``)."""
    return queue if queue.endswith(LOW_SUFFIX) else queue + LOW_SUFFIX


def is_gpu_lane(queue: str) -> bool:
    return queue in ("gpu", "gpu" + LOW_SUFFIX)


def cpu_lane_of(queue: str) -> str:
    """Where a GPU job falls back to: ``gpu`` → ``cpu``, ``gpu-low`` → ``cpu-low``."""
    return "cpu" + LOW_SUFFIX if queue.endswith(LOW_SUFFIX) else "cpu"


def worker_queues(gpu: bool) -> str:
    """A worker's default queues, highest priority first: normal lanes before low ones."""
    return "cpu,gpu,cpu-low,gpu-low" if gpu else "cpu,cpu-low"


def configure(app: Celery) -> Celery:
    settings = get_settings()
    app.conf.update(
        broker_url=settings.effective_redis_url,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Well above the longest job (wall time x phases x attempts), see DESIGN.md.
        # "priority": a worker drains its queues in the order it lists them (normal lanes
        # before the -low lanes of re-grades) instead of round-robin.
        broker_transport_options={
            "visibility_timeout": 6 * 3600,
            "queue_order_strategy": "priority",
        },
        broker_connection_retry_on_startup=True,
        task_default_queue="cpu",
        worker_hijack_root_logger=False,
    )
    return app


@lru_cache(maxsize=1)
def client() -> Celery:
    return configure(Celery("autograder-client"))


def send_grade(run_id: int, queue: str, countdown: float | None = None) -> bool:
    """Ask a worker on ``queue`` to grade run ``run_id``. Returns False if the broker is down."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    try:
        client().send_task(GRADE_TASK, args=[run_id], queue=queue, retry=False, countdown=countdown)
        return True
    except Exception as exc:  # broker down: the reconciler re-sends later
        log.warning("could not enqueue run %s: %s", run_id, exc)
        return False
