"""Request dependencies as `Annotated` aliases: SessionDep, SettingsDep, CurrentUser, BaseUrl."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from autograder.db import session_factory
from autograder.models import User
from autograder.refusals import Unauthorized
from autograder.settings import Settings, get_settings
from autograder.tokens import user_for_token


def get_session() -> Iterator[Session]:
    """One session per request; the route commits what it means to keep."""
    session = session_factory()()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="Your API token (ag_...), from the course staff: `Authorization: Bearer <token>`.",
)


def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized(
            "missing API token: send the header 'Authorization: Bearer <your token>'"
        )
    user = user_for_token(session, credentials.credentials)
    if user is None:
        raise Unauthorized("invalid or revoked API token")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def base_url(request: Request, settings: SettingsDep) -> str:
    """Where clients reach us: the configured public URL, else what this request used."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


BaseUrl = Annotated[str, Depends(base_url)]
