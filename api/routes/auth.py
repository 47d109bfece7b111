"""Signing in and out of the pages: a password, then a session cookie.

The sign-in form itself is protected against login CSRF by a double-submit token (a
random value in a short-lived ``SameSite=Strict`` cookie that the form must repeat);
every later change is protected by the session's own CSRF token (see api/deps.py).
Attempts are rate-limited per account and per client address (autograder/login_limits.py).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import (
    CSRF_FIELD,
    SESSION_COOKIE,
    CurrentAuth,
    OptionalAuth,
    SessionDep,
    SettingsDep,
    client_ip,
)
from api.i18n import language_of, message
from api.templating import render
from autograder import login_limits
from autograder.models import User
from autograder.passwords import hash_password, needs_rehash, verify_password
from autograder.refusals import CsrfFailed
from autograder.settings import Settings
from autograder.web_sessions import end_session, start_session

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "ag_login_csrf"
LOGIN_CSRF_SECONDS = 2 * 3600
MAX_LOGIN_LENGTH = 254


def safe_next(target: str | None) -> str:
    r"""Only a path on this site: never another host (``//evil``, ``/\evil``, ``https:``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\") or len(target) > 2000:
        return "/"
    return target


def find_account(session: Session, login: str) -> User | None:
    login = login.strip()
    user = session.scalar(select(User).where(User.name == login))
    if user is None and "@" in login:
        user = session.scalar(select(User).where(func.lower(User.email) == login.lower()))
    return user


def login_page(
    request: Request,
    settings: Settings,
    *,
    next_url: str,
    login: str = "",
    problem: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    context = {"login_csrf": token, "next": next_url, "login": login, "problem": problem}
    response = render(request, "login.html", context, status_code=status_code, headers=headers)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_SECONDS,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, auth: OptionalAuth, settings: SettingsDep, next: str = "/"
) -> Response:
    if auth is not None and auth.web_session is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(request, settings, next_url=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: Annotated[str, Form(max_length=MAX_LOGIN_LENGTH)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        raise CsrfFailed("the sign-in form expired or came from another site: reload and retry")
    lang = language_of(request)
    address = client_ip(request)
    login_limits.reserve_attempt(session, settings, login, address)
    session.commit()  # counted as failed until the password proves otherwise
    user = find_account(session, login)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        problem = message(lang, "login.failed")
        return login_page(
            request,
            settings,
            next_url=safe_next(next),
            login=login,
            problem=problem,
            status_code=401,
        )
    login_limits.record_success(session, login)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password, check=False)  # re-hash, never refuse
    started = start_session(session, user, settings.session_seconds)
    session.commit()
    target = "/account" if user.must_change_password else safe_next(next)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        max_age=settings.session_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(auth: CurrentAuth, session: SessionDep, settings: SettingsDep) -> Response:
    """End this browser's session (its CSRF token was checked by CurrentAuth)."""
    if auth.web_session is not None:
        end_session(session, auth.web_session)
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies
    )
    return response
