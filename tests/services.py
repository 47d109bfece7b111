"""Throwaway Postgres and Redis servers for the tests (real servers, never mocks).

``make test`` sets AUTOGRADER_TEST_REQUIRE_SERVICES=1 so a missing server is an error
there; elsewhere a test that needs one is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Postgres:
    root: Path
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        subprocess.run(
            [
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                name,
            ],
            check=True,
            capture_output=True,
        )
        return self.url(name)

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), *args],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        self._pg_ctl("-D", str(self.root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def postgres_available() -> str | None:
    """None when a throwaway cluster can be made here, else the reason why not."""
    if not (PG_BIN / "initdb").exists():
        return f"Postgres 15 binaries not found under {PG_BIN}"
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "starting a throwaway Postgres needs root (initdb runs as user postgres)"
    return None


def start_postgres() -> Postgres:
    root = Path(tempfile.mkdtemp(prefix="ag-pg-"))
    root.chmod(0o755)
    shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    pg = Postgres(root, port)
    pg._pg_ctl(
        "-D",
        str(data),
        "-l",
        str(root / "log"),
        "-w",
        "-o",
        f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200",
        "start",
    )
    return pg


@dataclass
class Redis:
    port: int
    proc: subprocess.Popen[bytes]
    # Where it keeps an append-only file (fsync on every write); None: no persistence.
    persist_dir: Path | None = None

    def argv(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.persist_dir)]
            if self.persist_dir is not None
            else ["--appendonly", "no"]
        )
        return ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""] + [
            *persistence
        ]

    def restart(self, down_seconds: float = 0.5, persist_dir: Path | None | bool = False) -> None:
        """kill -9, wait ``down_seconds``, start again on the same port; ``persist_dir``
        (a folder, or None for none) changes the persistence, False keeps it."""
        self.proc.kill()
        self.proc.wait()
        time.sleep(down_seconds)
        if persist_dir is not False:
            self.persist_dir = persist_dir  # type: ignore[assignment]
        self.proc = subprocess.Popen(
            self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def redis_available() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    return None


def start_redis() -> Redis:
    port = free_port()
    argv = Redis(port, None).argv()  # type: ignore[arg-type]  # the command line only
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return Redis(port, proc)
