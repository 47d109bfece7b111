"""The embedded Redis that ``autograder serve`` starts when no AUTOGRADER_REDIS_URL is set.

It needs no system service, only Debian's redis-server binary (scripts/setup.sh installs
it), which it starts as its own child; so these tests always run.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from kombu import Connection, Queue

from autograder.embedded import EmbeddedRedis, ping, redis_executable, start_embedded_redis
from autograder.settings import Settings


@pytest.fixture
def home() -> Iterator[Path]:
    # Not tmp_path: a unix socket path must stay under 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="ag-emb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server(home: Path) -> Iterator[EmbeddedRedis]:
    started = start_embedded_redis(Settings(home=home, redis_url=""))
    yield started
    started.stop()


def _processes_using(path: Path) -> list[int]:
    """Pids of live processes whose command line mentions ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if os.fsencode(path) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_binary_is_debians_redis_server() -> None:
    exe = redis_executable(Settings())
    assert exe == Path(shutil.which("redis-server") or "")
    assert os.access(exe, os.X_OK)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("Redis server v="), version.stdout


def test_starts_on_a_private_unix_socket_only(server: EmbeddedRedis, home: Path) -> None:
    settings = Settings(home=home, redis_url="")
    assert server.socket_path == settings.embedded_redis_socket
    assert server.url == settings.effective_redis_url
    assert server.url.startswith("redis+socket://")
    assert stat.S_ISSOCK(server.socket_path.stat().st_mode)
    assert stat.S_IMODE(server.socket_path.parent.stat().st_mode) == 0o700
    assert ping(server.socket_path)

    client = redis.Redis(unix_socket_path=str(server.socket_path))
    try:
        assert client.ping() is True
        assert client.config_get("port") == {"port": "0"}  # no TCP listener
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
    finally:
        client.close()


def test_a_running_server_is_reused_and_left_running(server: EmbeddedRedis, home: Path) -> None:
    again = start_embedded_redis(Settings(home=home, redis_url=""))
    assert again.reused
    again.stop()
    assert server.proc is not None and server.proc.poll() is None
    assert ping(server.socket_path)


def test_a_stale_socket_file_is_replaced(home: Path) -> None:
    settings = Settings(home=home, redis_url="")
    settings.embedded_redis_socket.parent.mkdir(parents=True)
    settings.embedded_redis_socket.write_text("stale")
    started = start_embedded_redis(settings)
    try:
        assert not started.reused
        assert ping(started.socket_path)
    finally:
        started.stop()


def test_kombu_message_round_trips(server: EmbeddedRedis) -> None:
    with Connection(server.url) as conn:
        queue = conn.SimpleQueue("roundtrip")
        try:
            queue.put({"run_id": 7}, serializer="json")
            message = queue.get(timeout=5)
            assert message.payload == {"run_id": 7}
            message.ack()
        finally:
            queue.close()


def test_the_grading_client_enqueues_over_the_socket(
    server: EmbeddedRedis, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's real enqueue path, configured by settings alone, reaches the embedded broker."""
    from tests.conftest import reset_caches

    monkeypatch.setenv("AUTOGRADER_HOME", str(home))
    monkeypatch.setenv("AUTOGRADER_REDIS_URL", "")
    reset_caches()
    try:
        from autograder import queueing

        assert queueing.send_grade(41, "cpu") is True
        with (
            Connection(server.url) as conn,
            conn.SimpleQueue(Queue("cpu", routing_key="cpu")) as queue,
        ):
            message = queue.get(timeout=5)
            assert message.headers["task"] == queueing.GRADE_TASK
            assert message.payload[0] == [41]
            message.ack()
    finally:
        reset_caches()


def test_a_celery_task_round_trips_through_a_worker(server: EmbeddedRedis) -> None:
    app = Celery("embedded-test", broker=server.url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
    )
    received: list[int] = []
    done = threading.Event()

    @app.task(name="tests.embedded.echo")
    def echo(value: int) -> None:
        received.append(value)
        done.set()

    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        app.send_task("tests.embedded.echo", args=[42])
        assert done.wait(15), "the task never reached the worker"
    assert received == [42]


def test_stops_cleanly(home: Path) -> None:
    started = start_embedded_redis(Settings(home=home, redis_url=""))
    assert started.proc is not None
    pid = started.proc.pid
    assert pid in _processes_using(started.socket_path)
    started.stop()
    assert started.proc.returncode is not None
    assert not ping(started.socket_path)
    assert not started.socket_path.exists()
    assert _processes_using(started.socket_path) == []
    started.stop()  # idempotent


def test_the_binary_is_chosen_by_setting_else_path(tmp_path, monkeypatch):
    """AUTOGRADER_REDIS_SERVER names the binary; else redis-server on PATH; with neither,
    or a setting that is not an executable file, the error says what to do."""
    from autograder import embedded

    server = tmp_path / "redis-server"
    server.write_text("#!/bin/sh\n")
    server.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert embedded.redis_executable(Settings()) == server
    other = tmp_path / "bin" / "my-redis"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    assert embedded.redis_executable(Settings(redis_server=other)) == other
    with pytest.raises(embedded.EmbeddedRedisError, match="not an executable file"):
        embedded.redis_executable(Settings(redis_server=tmp_path / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(embedded.EmbeddedRedisError, match="AUTOGRADER_REDIS_URL"):
        embedded.redis_executable(Settings())
