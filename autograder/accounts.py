"""Account changes shared by the pages, the JSON API and the command line."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from autograder.models import Role, User, WebSession
from autograder.passwords import WeakPassword, hash_password, verify_password
from autograder.web_sessions import end_all_sessions


class PasswordRefused(ValueError):
    """Why a password change was refused, in words for the user (``key`` names the message)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def change_password(
    session: Session,
    user: User,
    current: str,
    new: str,
    keep: WebSession | None = None,
) -> None:
    """Set a new password after checking the current one; other sessions are signed out."""
    if not verify_password(user.password_hash, current):
        raise PasswordRefused("password.wrong_current", "the current password is wrong")
    if new == current:
        raise PasswordRefused("password.same", "the new password must differ from the current one")
    set_password(session, user, new, keep=keep)


def set_password(session: Session, user: User, new: str, *, keep: WebSession | None = None) -> None:
    try:
        user.password_hash = hash_password(new, login=user.name)
    except WeakPassword as exc:
        raise PasswordRefused("password.weak", str(exc)) from exc
    user.must_change_password = False
    end_all_sessions(session, user, keep=keep)


def get_or_create_user(session: Session, name: str, role: Role) -> tuple[User, bool]:
    """The user called ``name`` (its role set to ``role``), and whether it was created."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        user = User(name=name, role=role)
        session.add(user)
        session.flush()
        return user, True
    user.role = role
    return user, False
