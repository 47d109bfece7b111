"""Engine and session factory; one owner of each session (a request, a task, a command)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from autograder.settings import get_settings


def make_engine(url: str) -> Engine:
    """SQLite keeps the driver's own transaction handling (``write_lock`` says why)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the API read while a worker process writes.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute(f"PRAGMA synchronous={get_settings().sqlite_synchronous}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def database_unreachable(exc: BaseException) -> bool:
    """A transient database error: a lost or refused connection, a server shutting down
    or restarting, a busy SQLite file. Worth retrying (worker/db_retry.py) or answering
    503 with Retry-After (api/errors.py); any other database error is a real one."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(getattr(exc, "connection_invalidated", False))


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    settings = get_settings()
    if settings.effective_database_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    return engine_for(settings.effective_database_url)


def session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def write_lock(session: Session) -> None:
    """On SQLite, make this session's transaction the database's writer now, so that what
    it reads next stays true until it commits (DESIGN rule 12); on Postgres do nothing:
    there the caller locks the rows it decides on (``SELECT ... FOR UPDATE``).

    SQLite has no row locks (``FOR UPDATE`` compiles to a plain SELECT), and the driver's
    default transaction handling, which we keep, runs a SELECT outside any transaction and
    opens one (``BEGIN``) only at the first INSERT, UPDATE or DELETE. Two uploads could
    both count the quota, then both insert. ``BEGIN IMMEDIATE`` takes the write lock first:
    another writer waits for it (busy_timeout), then reads what this one committed.
    Readers go on (WAL). The driver opens a transaction only for a write, and a write holds
    the lock until commit, so a session already in one holds it already.

    Not SQLAlchemy's recipe of switching the driver's handling off and emitting BEGIN from
    a "begin" listener for every transaction: a plain (deferred) BEGIN makes every
    read-then-write transaction (a token's last use, a worker's claim, a heartbeat) fail
    at once with "database is locked" when another process wrote since its first read, as
    busy_timeout does not apply there; ``BEGIN IMMEDIATE`` everywhere would serialise every
    request, reads included. Only the transactions that check a limit and then write pay.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
