"""API tokens: random, shown once, stored as SHA-256 (a fast hash suffices for 256-bit secrets)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from autograder.models import ApiToken, Role, User, utcnow

TOKEN_PREFIX = "ag_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, label: str = "") -> str:
    token, _ = new_token(session, user, label)
    return token


def new_token(session: Session, user: User, label: str = "") -> tuple[str, ApiToken]:
    """A fresh token for ``user``: the token itself (show it once) and its row."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=hash_token(token), prefix=token[:10], label=label[:100])
    session.add(row)
    session.flush()
    return token, row


def token_row(session: Session, token: str) -> ApiToken | None:
    """The live (not revoked) row of a presented token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )


def user_for_token(session: Session, token: str) -> User | None:
    row = token_row(session, token)
    return row.user if row else None


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's live tokens, newest first."""
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return list(session.scalars(query))


def owned_token(session: Session, user: User, token_id: int) -> ApiToken | None:
    """One of the user's live tokens by id (another user's is None, like a missing one)."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return None
    return row


def revoke_token(row: ApiToken) -> None:
    row.revoked_at = utcnow()


def regenerate_token(session: Session, row: ApiToken) -> tuple[str, ApiToken]:
    """Revoke ``row`` and issue its replacement with the same label."""
    revoke_token(row)
    return new_token(session, row.user, row.label)


def revoke_tokens(session: Session, user: User) -> int:
    count = 0
    for tok in user.tokens:
        if tok.revoked_at is None:
            tok.revoked_at = utcnow()
            count += 1
    return count


def create_user(session: Session, name: str, role: Role) -> tuple[User, str]:
    """Create a user (or reuse one of that name) and issue a fresh token."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        user = User(name=name, role=role)
        session.add(user)
    elif user.role != role:
        user.role = role
    session.flush()
    return user, issue_token(session, user)
