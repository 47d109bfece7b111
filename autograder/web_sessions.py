"""Browser sessions stored on the server (one ``WebSession`` row each).

Why rows and not a signed cookie: signing out, a changed password or a changed role must
end a session at once, on every API process. With rows that is an UPDATE; a signed cookie
would need a revocation list consulted on every request anyway. The cookie holds a random
256-bit token; the row holds its SHA-256 and the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from autograder.models import User, WebSession, utcnow

MAX_TOKEN_LENGTH = 200


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; never stored
    row: WebSession


def start_session(session: Session, user: User, lifetime_seconds: int) -> NewSession:
    """Sign ``user`` in; expired rows of anyone are cleared on the way."""
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    row = WebSession(
        user=user,
        token_hash=_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime_seconds),
    )
    session.add(row)
    session.flush()
    return NewSession(token, row)


def find_session(session: Session, token: str, now: datetime | None = None) -> WebSession | None:
    """The live session of a cookie's token: not expired, not revoked."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
    moment = now or utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= moment:
        return None
    return row


def end_session(session: Session, row: WebSession) -> None:
    row.revoked_at = utcnow()


def end_all_sessions(session: Session, user: User, keep: WebSession | None = None) -> int:
    """Revoke every live session of ``user`` (but ``keep``), e.g. after a password change."""
    query = update(WebSession).where(WebSession.user_id == user.id, WebSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(WebSession.id != keep.id)
    result = session.execute(query.values(revoked_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def csrf_matches(row: WebSession, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(
        row.csrf_token.encode(), (presented or "").encode()
    )
