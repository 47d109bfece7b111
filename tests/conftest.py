"""Shared fixtures: real Postgres, real Redis, settings pointing at them, a migrated database.

Fixture map (use these names in every test module):
- ``postgres`` (session): a throwaway Postgres 15 cluster.
- ``redis_server`` (session): a throwaway redis-server.
- ``configured`` (function): AUTOGRADER_* env pointing at a fresh Postgres database, the
  session Redis (a fresh db number is not needed: queues are drained per test) and a
  fresh state directory under tmp_path; migrated with Alembic; returns the Settings.
  A module that must also run on the embedded SQLite overrides it with a parametrized
  fixture built on ``configure_service`` (tests/test_limit_races.py).
- ``db`` (function): a SQLAlchemy session on that database.
- ``api_server`` (function): uvicorn serving the real app over HTTP on a free port.
- ``worker`` (function): a real Celery worker process (prefork, 2 children) on that
  database and Redis, with a fast reconciler; stopped (SIGKILL of its group) afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services

REQUIRE = os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parent.parent


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"required test service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[services.Postgres]:
    reason = services.postgres_available()
    if reason:
        _unavailable(reason)
    pg = services.start_postgres()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.Redis]:
    reason = services.redis_available()
    if reason:
        _unavailable(reason)
    server = services.start_redis()
    yield server
    server.stop()


def reset_caches() -> None:
    """Forget cached settings, engines and broker clients after the environment changed."""
    from autograder import db, queueing, settings

    settings.get_settings.cache_clear()
    db.engine_for.cache_clear()
    queueing.client.cache_clear()


def configure_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, redis_url: str
):  # type: ignore[no-untyped-def]
    """Point AUTOGRADER_* at ``database_url`` ("": the embedded SQLite file under HOME) and
    ``redis_url``, with a fresh state directory under tmp_path; migrate; yield the Settings."""
    from autograder.migrate import upgrade
    from autograder.settings import get_settings

    home = tmp_path / "home"
    home.mkdir()
    jobs = Path("/tmp") / f"ag-jobs-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AUTOGRADER_HOME", str(home))
    monkeypatch.setenv("AUTOGRADER_DATABASE_URL", database_url)
    monkeypatch.setenv("AUTOGRADER_REDIS_URL", redis_url)
    monkeypatch.setenv("AUTOGRADER_JOBS_DIR", str(jobs))
    monkeypatch.setenv("AUTOGRADER_SECRET_KEY", "test-secret-" + uuid.uuid4().hex)
    reset_caches()
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    upgrade()
    yield get_settings()
    reset_caches()


@pytest.fixture
def configured(
    tmp_path: Path,
    postgres: services.Postgres,
    redis_server: services.Redis,
    monkeypatch: pytest.MonkeyPatch,
):  # type: ignore[no-untyped-def]
    url = postgres.create_database("t_" + uuid.uuid4().hex[:12])
    yield from configure_service(monkeypatch, tmp_path, url, redis_server.url)


@pytest.fixture
def db(configured):  # type: ignore[no-untyped-def]
    from autograder.db import session_factory

    session = session_factory()()
    yield session
    session.close()


@pytest.fixture
def worker(configured, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.processes import WorkerProcess

    proc = WorkerProcess(
        tmp_path / "worker.log",
        {
            "AUTOGRADER_RECONCILE_SECONDS": "1",
            "AUTOGRADER_REQUEUE_AFTER_SECONDS": "3",
            "AUTOGRADER_LEASE_SECONDS": "15",
        },
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def api_server(configured, tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.processes import ApiServer
    from tests.services import free_port

    server = ApiServer(tmp_path / "api.log", free_port())
    server.start()
    yield server
    server.stop()
