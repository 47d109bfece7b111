"""``autograder serve``: the whole service on one machine, in one command.

It prepares the state directory, starts an embedded Redis unless ``AUTOGRADER_REDIS_URL``
is set, migrates the database (SQLite under HOME unless ``AUTOGRADER_DATABASE_URL`` is
set), loads the grading specs, starts one Celery worker as a child process (restarted
if it dies) and serves the API with uvicorn in this process until SIGINT or SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.engine import make_url

from autograder.datasets import ensure_datasets
from autograder.embedded import EmbeddedRedis, die_with_parent, start_embedded_redis
from autograder.queueing import worker_queues
from autograder.settings import PROJECT_ROOT, Settings, get_settings

log = logging.getLogger("autograder.serve")

WORKER_GRACE_SECONDS = 10.0
WORKER_CHECK_SECONDS = 1.0
WORKER_MAX_BACKOFF_SECONDS = 30.0
# A worker that ran at least this long before dying is restarted at once.
WORKER_HEALTHY_SECONDS = 30.0


class ServiceStop(BaseException):
    """Raised in the main thread by SIGTERM, so cleanup runs in ``finally`` blocks."""


def run_service() -> None:
    settings = get_settings()
    _configure_logging()
    prepare_dirs(settings)
    signal.signal(signal.SIGTERM, _raise_stop)
    broker: EmbeddedRedis | None = None
    worker: WorkerProcess | None = None
    try:
        broker = start_broker(settings)
        migrate_database(settings)
        load_specs(settings)
        ensure_datasets(settings)
        refuse_unreachable_folders(settings)
        worker = WorkerProcess(worker_command(settings), dict(os.environ))
        worker.start()
        serve_http(settings, broker)
    except (KeyboardInterrupt, ServiceStop):
        pass
    finally:
        _shutdown(worker, broker)


def _configure_logging() -> None:
    from autograder.logs import configure_logging

    configure_logging(text_default=True)  # text, or JSON lines (AUTOGRADER_LOG_FORMAT)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _raise_stop(signum: int, _frame: object) -> None:
    raise ServiceStop(signum)


def _shutdown(worker: WorkerProcess | None, broker: EmbeddedRedis | None) -> None:
    """Stop the worker before the broker it is connected to; further signals are ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log.info("shutting down")
    if worker is not None:
        worker.stop()
    if broker is not None:
        broker.stop()
    log.info("stopped")


# --------------------------------------------------------------------------- steps


def prepare_dirs(settings: Settings) -> None:
    """Create HOME (mode 0711: the sandbox uids may traverse it, not list it) and its dirs."""
    if not settings.home.exists():
        settings.home.mkdir(parents=True)
        settings.home.chmod(0o711)
    for name in ("storage", "data", "jobs"):
        settings.path(name).mkdir(parents=True, exist_ok=True)
    make_jobs_reachable(settings)


def make_jobs_reachable(settings: Settings) -> None:
    """Every directory above the jobs dir must be traversable by the sandbox uids.

    They bind their job directory from inside the sandbox; otherwise every run fails as
    an infrastructure error. HOME and what lies inside it are ours, so we add o+x (not
    o+r: traverse, never list). A directory above HOME is the user's: we only say so.
    """
    jobs = settings.path("jobs").resolve()
    home = settings.home.resolve()
    for directory in [jobs, *jobs.parents]:
        mode = directory.stat().st_mode
        if mode & stat.S_IXOTH:
            continue
        if directory.is_relative_to(home):
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            continue
        raise SystemExit(
            f"the sandbox uids cannot reach the jobs directory {jobs}: {directory} is not "
            f"traversable by others (mode {stat.filemode(mode)}). Run `chmod o+x {directory}`, "
            "or set AUTOGRADER_HOME (or AUTOGRADER_JOBS_DIR) to a path below world-traversable "
            "directories, such as /srv or /tmp."
        )


def refuse_unreachable_folders(settings: Settings) -> None:
    """The sandbox uids must reach every folder a box binds (the Pythons, the runners, the
    jobs folder, the prepared datasets), or every grading fails: say which and how to fix
    it now, instead of starting a service that cannot grade."""
    if settings.sandbox != "bwrap" or os.geteuid() != 0:
        return  # docker boxes bind as the engine; a non-root worker is refused anyway
    from worker.sandbox import SandboxUnreachable, get_backend

    try:
        # A BwrapBackend (sandbox == "bwrap"), which Backend does not describe.
        get_backend(settings).check_reachable()  # type: ignore[attr-defined]
    except SandboxUnreachable as exc:
        raise SystemExit(f"autograder serve cannot start: {exc}") from None


def start_broker(settings: Settings) -> EmbeddedRedis | None:
    if settings.redis_url:
        log.info("broker: %s", _redact(settings.redis_url))
        return None
    broker = start_embedded_redis(settings)
    log.info("broker: embedded Redis at %s", broker.url)
    return broker


def migrate_database(settings: Settings) -> None:
    from autograder.migrate import upgrade

    log.info("database: %s", _redact(settings.effective_database_url))
    upgrade()


def load_specs(settings: Settings) -> None:
    """Sync the grading specs into the database; a broken spec is reported, not fatal."""
    from autograder.assignments import sync_specs
    from autograder.db import session_scope

    with session_scope() as session:
        report = sync_specs(session, settings.specs_dir)
    for slug in report.loaded:
        note = " (new or changed)" if slug in report.changed else ""
        print(f"loaded assignment {slug}{note}", flush=True)
    for error in report.errors:
        print(f"spec error:\n{error}", flush=True)
    if not report.loaded and not report.errors:
        print(f"no grading specs found in {settings.specs_dir}", flush=True)


def gpus_visible() -> bool:
    """True when an NVIDIA GPU is present (from the device files: no torch here)."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def worker_command(settings: Settings) -> list[str]:
    queues = settings.worker_queues or worker_queues(gpu=gpus_visible())
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.celery_app:app",
        "worker",
        "-Q",
        queues,
        "--concurrency",
        str(settings.worker_concurrency or len(os.sched_getaffinity(0))),
        "--loglevel",
        "INFO",
        "-n",
        f"embedded@{socket.gethostname()}",
    ]


def serve_http(settings: Settings, broker: EmbeddedRedis | None) -> None:
    """Run uvicorn in this thread until a signal; print the banner once it listens."""
    # JSON logs: uvicorn's loggers propagate to the root logger's JSON handler.
    extra: dict[str, Any] = {"log_config": None} if settings.log_format == "json" else {}
    config = uvicorn.Config(
        "api.app:create_app", factory=True, host=settings.host, port=settings.port, **extra
    )
    server = uvicorn.Server(config)
    threading.Thread(
        target=_banner_when_started, args=(server, settings, broker), daemon=True
    ).start()
    server.run()
    if not server.started:
        raise SystemExit(f"the API could not start on {settings.host}:{settings.port}")


# --------------------------------------------------------------------------- the banner


def _banner_when_started(
    server: uvicorn.Server, settings: Settings, broker: EmbeddedRedis | None
) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    print(banner(settings, broker), flush=True)


def banner(settings: Settings, broker: EmbeddedRedis | None) -> str:
    url = settings.base_url.rstrip("/")
    broker_text = f"embedded Redis at {broker.url}" if broker else _redact(settings.redis_url)
    line = "-" * 78
    return f"""
{line}
 The autograder is running at {url}
   API docs:  {url}/docs
   database:  {_redact(settings.effective_database_url)}
   broker:    {broker_text}

 Sign in to the pages: make a user with a password (asked for twice), then open {url}/
   .venv/bin/autograder users add --password --role student alice
   (a class roster: .venv/bin/autograder users import roster.csv)

 Or get a token for curl (it is printed on the last line):
   TOKEN=$(.venv/bin/autograder users add --role student alice | tail -n 1)

 Submit the hw1-1 reference solution, then fetch the URL the answer gives:
   curl -H "Authorization: Bearer $TOKEN" \\
        -F files=@reference_solutions/hw1-1/numpy_basics.py \\
        {url}/api/v1/assignments/hw1-1/submissions
   curl -H "Authorization: Bearer $TOKEN" <url>

 Stop with Ctrl-C.
{line}"""


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.rsplit("@", maxsplit=1)[-1] if "@" in url else url


# --------------------------------------------------------------------------- the worker


class WorkerProcess:
    """The one Celery worker child, restarted (with backoff) when it dies unexpectedly.

    It runs in its own session, so a terminal's Ctrl-C reaches only ``serve``, which then
    stops the worker before the broker. Stopping kills the whole process group after the
    grace period, because Celery's pool children can outlive a killed parent.
    """

    def __init__(self, command: list[str], env: dict[str, str]):
        self.command = command
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._backoff = 0.5
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="worker-watch", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        # die_with_parent ties the child to the thread that forks it: the main thread
        # or the watcher, both of which live until stop().
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - one prctl, before exec
        )
        self._started_at = time.monotonic()
        log.info("worker started (pid %d): %s", self.proc.pid, " ".join(self.command[2:]))

    def _watch(self) -> None:
        while not self._stopping.wait(WORKER_CHECK_SECONDS):
            proc = self.proc
            if proc is None or proc.poll() is None:
                continue
            delay = self._next_delay()
            log.warning(
                "worker (pid %d) exited unexpectedly with code %s; restarting in %.0fs",
                proc.pid,
                proc.returncode,
                delay,
            )
            _kill_group(proc.pid)  # pool children left behind
            if self._stopping.wait(delay):
                return
            with self._lock:
                if not self._stopping.is_set():
                    self._spawn()

    def _next_delay(self) -> float:
        """1 s after a healthy run; doubling (up to 30 s) while it keeps dying at once."""
        if time.monotonic() - self._started_at >= WORKER_HEALTHY_SECONDS:
            self._backoff = 1.0
        else:
            self._backoff = min(self._backoff * 2, WORKER_MAX_BACKOFF_SECONDS)
        return self._backoff

    def stop(self, grace: float = WORKER_GRACE_SECONDS) -> None:
        with self._lock:
            self._stopping.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            log.info("stopping worker (pid %d)", proc.pid)
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                log.warning("worker did not stop within %.0fs; killing it", grace)
        if proc is not None:
            _kill_group(proc.pid)
            proc.wait()
        if self._thread.is_alive():
            self._thread.join(WORKER_CHECK_SECONDS * 2)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
