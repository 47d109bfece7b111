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


def issue_token(session: Session, user: User) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=hash_token(token), prefix=token[:10]))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    return row.user if row else None


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
