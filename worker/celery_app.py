"""The Celery app of the grading workers (``celery -A worker.celery_app:app worker``).

Policy lives here and in autograder/queueing.py: JSON only, ack late, reject on worker
loss, prefetch 1, a visibility timeout well above the longest job, ids as arguments.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import TYPE_CHECKING

from celery import Celery, signals
from kombu.entity import Queue  # kombu's own Queue (the package exports it lazily)

from autograder.queueing import QUEUES, configure
from worker import broker

if TYPE_CHECKING:
    from autograder.settings import Settings

# Survive a broker restart at any moment (kombu's restore on a closed connection used to
# end the worker): see worker/broker.py.
broker.register()

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
    refuse_unreachable_folders(get_settings())
    boxes, folders = housekeeping.sweep(get_settings())
    if boxes or folders:
        log.warning(
            "removed %d sandbox(es) and %d scratch folder(s) left by dead workers", boxes, folders
        )


def refuse_unreachable_folders(settings: Settings) -> None:
    """A worker whose boxes could not start (a folder they bind is out of the sandbox uids'
    reach) does not start: it would take jobs and fail every one of them."""
    from worker.sandbox import SandboxUnreachable, get_backend

    backend = get_backend(settings)
    check = getattr(backend, "check_reachable", None)
    if check is None:
        return
    try:
        check()
    except SandboxUnreachable as exc:
        log.critical("the worker cannot start: %s", exc)
        logging.shutdown()
        os._exit(78)  # EX_CONFIG: an administrator must fix the folder first


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

    if os.getpid() == housekeeping.OWNER_PID:
        housekeeping.remove_stale_boxes(get_settings(), also_owner=os.getpid())


@signals.worker_ready.connect
def _on_worker_ready(**_: object) -> None:
    from autograder.settings import get_settings
    from worker import housekeeping
    from worker.heartbeat import start_heartbeat
    from worker.reconciler import start_reconciler

    start_reconciler()
    housekeeping.start_periodic(get_settings())  # boxes and scratch folders of dead workers
    start_heartbeat(",".join(app.amqp.queues.consume_from or ()))


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _on_logging_ready(logger: logging.Logger | None = None, **_: object) -> None:
    """``AUTOGRADER_LOG_FORMAT=json``: Celery's handlers write JSON lines (autograder/logs.py)."""
    from autograder.logs import json_enabled, use_json

    if logger is not None and json_enabled():
        use_json(logger.handlers)
