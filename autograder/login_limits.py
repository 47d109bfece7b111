"""Sign-in rate limiting, counted in the database so every API process agrees.

A failed sign-in is one ``LoginFailure`` row (the account name as typed, lower-cased, and
the client address). Within ``login_window_seconds``, more than
``login_max_failures_per_account`` failures for one account name, or more than
``login_max_failures_per_ip`` from one address, refuse further attempts (even with the
right password) until the oldest counted failure leaves the window. A successful sign-in
clears its account's failures but not its address's.

Every attempt is counted as a failure before its password is checked (``reserve_attempt``),
in one locked step with the check (DESIGN rule 12): checking first and recording after the
slow password hash let 20 simultaneous guesses all be tried against a limit of 5. A
sign-in that succeeds then clears its reservation with its account's other failures.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, text
from sqlalchemy.orm import Session

from autograder.db import write_lock
from autograder.models import LoginFailure, utcnow
from autograder.refusals import TooManyAttempts
from autograder.settings import Settings

MAX_ACCOUNT_LENGTH = 254
# pg_advisory_xact_lock(class, key) classes: one per kind of key, so that an account name
# and an address never share a lock.
LOCK_ACCOUNT, LOCK_ADDRESS = 0x61675F61, 0x61675F69


def account_key(login: str) -> str:
    return login.strip().lower()[:MAX_ACCOUNT_LENGTH]


def reserve_attempt(session: Session, settings: Settings, login: str, client_ip: str) -> None:
    """Refuse this sign-in (TooManyAttempts), or count it as failed before its password is
    checked; both under ``_lock_attempts``. Commit before checking the password, so that
    concurrent attempts count this one."""
    _lock_attempts(session, account_key(login), client_ip)
    check_allowed(session, settings, login, client_ip)
    record_failure(session, settings, login, client_ip)


def _lock_attempts(session: Session, account: str, client_ip: str) -> None:
    """Serialise, until commit, sign-ins that share this account name or this address.
    Postgres: transaction-scoped advisory locks on a hash of each key, the account's
    always first, so no two sign-ins wait on each other in a cycle (a hash collision only
    makes two unrelated sign-ins wait a few milliseconds). SQLite: the write lock."""
    write_lock(session)
    if session.get_bind().dialect.name != "postgresql":
        return
    for lock_class, key in ((LOCK_ACCOUNT, account), (LOCK_ADDRESS, client_ip)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:class, hashtext(:key))"),
            {"class": lock_class, "key": key},
        )


def check_allowed(session: Session, settings: Settings, login: str, client_ip: str) -> None:
    """Raise TooManyAttempts (with seconds to wait) if this sign-in may not be tried now."""
    now = utcnow()
    since = now - timedelta(seconds=settings.login_window_seconds)
    for condition, limit in (
        (LoginFailure.account == account_key(login), settings.login_max_failures_per_account),
        (LoginFailure.client_ip == client_ip, settings.login_max_failures_per_ip),
    ):
        wait = _wait_seconds(session, condition, limit, since, now, settings)
        if wait:
            minutes = max(1, math.ceil(wait / 60))
            raise TooManyAttempts(
                f"too many failed sign-ins; try again in {minutes} minute(s)", retry_after=wait
            )


def _wait_seconds(
    session: Session,
    condition: ColumnElement[bool],
    limit: int,
    since: datetime,
    now: datetime,
    settings: Settings,
) -> int:
    recent = select(LoginFailure.at).where(condition, LoginFailure.at > since)
    count = session.scalar(select(func.count()).select_from(recent.subquery())) or 0
    if count < limit:
        return 0
    # The attempt becomes possible once all but limit-1 of the counted failures are old.
    ordered = session.scalars(recent.order_by(LoginFailure.at.desc()).limit(limit)).all()
    frees_at = ordered[-1] + timedelta(seconds=settings.login_window_seconds)
    return max(1, math.ceil((frees_at - now).total_seconds()))


def record_failure(session: Session, settings: Settings, login: str, client_ip: str) -> None:
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.login_window_seconds)
    session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))
    session.add(LoginFailure(account=account_key(login), client_ip=client_ip[:64], at=now))


def record_success(session: Session, login: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.account == account_key(login)))
