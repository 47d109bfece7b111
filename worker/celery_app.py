"""The Celery app of the grading workers (``celery -A worker.celery_app:app worker``).

Policy lives here and in autograder/queueing.py: JSON only, ack late, reject on worker
loss, prefetch 1, a visibility timeout well above the longest job, ids as arguments.
"""

from __future__ import annotations

import logging
import os
import warnings

from celery import Celery, signals
from kombu import Queue

from autograder.queueing import QUEUES, configure

# The worker must be root: it mounts each sandbox's sized tmpfs, creates its cgroups and
# drops to a per-slot uid. Student code never runs as root (see worker/sandbox/bwrap.py),
# so Celery's warning about running as root is expected here, not a risk it describes.
warnings.filterwarnings("ignore", message="You're running the worker with superuser")

app = configure(Celery("autograder"))
app.conf.task_queues = tuple(Queue(name) for name in QUEUES)  # cpu, gpu and their -low lanes
app.conf.include = ["worker.tasks"]

log = logging.getLogger(__name__)


@signals.worker_init.connect
def _on_worker_init(**_: object) -> None:
    """The main worker process starts: note our pid as the owner of our sandboxes and
    clean up what a dead worker left behind (its cgroups and mounts)."""
    from autograder.settings import get_settings
    from worker import housekeeping

    housekeeping.OWNER_PID = os.getpid()
    lower_priority(get_settings().worker_nice)
    removed = housekeeping.remove_stale_boxes(get_settings())
    if removed:
        log.warning("removed %d sandbox(es) left by a dead worker", removed)


def lower_priority(nice: int) -> None:
    """Run the worker, its pool children and their boxes below the API's priority
    (inherited by every process started from here; a warm box is set to it when its
    job starts)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


@signals.worker_process_init.connect
def _on_child_init(**_: object) -> None:
    """A forked pool child must not share the parent's database connections."""
    from autograder import db

    db.engine_for.cache_clear()


@signals.worker_process_shutdown.connect
def _on_child_shutdown(**_: object) -> None:
    """A pool child ends: remove its warm sandboxes now rather than at the next start."""
    from worker.sandbox.pool import close_shared_pool

    close_shared_pool()


@signals.worker_shutdown.connect
def _on_worker_shutdown(**_: object) -> None:
    """The main process ends (its pool children are gone): remove every box still named
    for it. A child stopped by a signal does not always get to remove its warm boxes;
    they would otherwise wait for the next worker on this jobs folder."""
    from autograder.settings import get_settings
    from worker import housekeeping

    if housekeeping.OWNER_PID == os.getpid():
        housekeeping.remove_stale_boxes(get_settings(), also_owner=os.getpid())


@signals.worker_ready.connect
def _on_worker_ready(**_: object) -> None:
    from worker.heartbeat import start_heartbeat
    from worker.reconciler import start_reconciler

    start_reconciler()
    start_heartbeat(",".join(app.amqp.queues.consume_from or ()))


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _on_logging_ready(logger: logging.Logger | None = None, **_: object) -> None:
    """``AUTOGRADER_LOG_FORMAT=json``: Celery's handlers write JSON lines (autograder/logs.py)."""
    from autograder.logs import json_enabled, use_json

    if logger is not None and json_enabled():
        use_json(logger.handlers)
