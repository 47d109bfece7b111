"""Real service processes for tests: a Celery worker (and its log) started like production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUIET = ("--without-gossip", "--without-mingle", "--without-heartbeat")


class WorkerProcess:
    """``autograder worker`` as a real process (a Celery worker with its prefork pool)."""

    def __init__(
        self,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        concurrency: int = 2,
        queues: str = "cpu,gpu,cpu-low,gpu-low",
        events: bool = False,
    ):
        """``events``: with Celery's gossip, mingle and heartbeat on, as production runs
        (more broker channels, each to be closed and restored on a connection loss)."""
        self.events = events
        self.log_path = log_path
        self.env = {**os.environ, **(extra_env or {})}
        self.concurrency = concurrency
        self.queues = queues
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        name = f"test-{uuid.uuid4().hex[:6]}@localhost"
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder.cli",
                "worker",
                "-Q",
                self.queues,
                "-c",
                str(self.concurrency),
                "-n",
                name,
                *(() if self.events else QUIET),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"ready." in self.log_path.read_bytes():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """kill -9 of the whole worker (main process and pool children)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


class ApiServer:
    """uvicorn serving the real app on a free port, as `autograder serve` does."""

    def __init__(self, log_path: Path, port: int, workers: int = 1):
        """``workers`` > 1: that many uvicorn processes behind one socket, as a deployment
        with several API processes has (requests then really run in parallel)."""
        self.log_path, self.port, self.workers = log_path, port, workers
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        from tests.services import wait_port

        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self._log_start = self._log.tell()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *(["--workers", str(self.workers)] if self.workers > 1 else []),
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port, timeout)
        self._wait_started(timeout)

    def _wait_started(self, timeout: float) -> None:
        """The port answers as soon as uvicorn binds it; wait until every worker process
        has started the app too."""
        deadline = time.monotonic() + timeout
        while self._started() < self.workers:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"API server exited early:\n{self.log_path.read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"API server not started after {timeout}s")
            time.sleep(0.1)

    def _started(self) -> int:
        log = self.log_path.read_bytes()[self._log_start :]
        return log.count(b"Application startup complete")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()
