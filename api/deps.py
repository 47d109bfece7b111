"""Request dependencies as `Annotated` aliases.

Who is asking (every route that is not public uses one of these):

==================  ==========================================================================
alias               gives
==================  ==========================================================================
``CurrentUser``     the signed-in ``User``: an API token (``Authorization: Bearer ag_...``)
                    or a browser session cookie. 401 without either. A cookie-authenticated
                    request that changes something (POST, PUT, PATCH, DELETE) must also carry
                    the session's CSRF token, or it is refused with 403 (``auth:csrf``).
``CsrfProtected``   the same ``User``, named for routes that change state, so the intent shows
                    in the signature (``CurrentUser`` already checks the token; both can be
                    used in one route, FastAPI runs the check once).
``StaffUser``       a TA or an instructor, else 403 (``require_role(Role.ta, Role.instructor)``)
``InstructorUser``  an instructor, else 403
``CurrentAuth``     the ``Auth`` behind ``CurrentUser``: the user, how they authenticated
                    (``"token"`` or ``"session"``) and the ``WebSession`` row if any
``OptionalAuth``    ``Auth`` or None (public pages that greet a signed-in user)
==================  ==========================================================================

API tokens are not cookies: a browser never sends them by itself, so Bearer requests need
no CSRF token. Where both are present the Bearer token decides. Pages read the CSRF token
from ``request.state.auth.csrf_token`` (templates get it as ``csrf_token``); scripts send it
in the ``X-CSRF-Token`` header, HTML forms in a hidden ``csrf_token`` field (urlencoded
forms only: a multipart upload sends the header).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from autograder.db import session_factory
from autograder.models import Role, User, WebSession, utcnow
from autograder.refusals import CsrfFailed, Forbidden, Unauthorized
from autograder.settings import Settings, get_settings
from autograder.tokens import token_row
from autograder.web_sessions import csrf_matches, find_session

SESSION_COOKIE = "ag_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# An urlencoded form bigger than this is not read for its CSRF field (send the header).
CSRF_FORM_MAX_BYTES = 64 * 1024
TOKEN_USE_RECORD_EVERY = timedelta(minutes=5)


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
    description="Your API token (ag_...), from your account page or the course staff: "
    "`Authorization: Bearer <token>`.",
)
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The browser's session after signing in at /login. Requests that change "
    f"something must also send the session's CSRF token in the {CSRF_HEADER} header.",
)


@dataclass(frozen=True)
class Auth:
    user: User
    method: Literal["token", "session"]
    web_session: WebSession | None = None

    @property
    def csrf_token(self) -> str:
        return self.web_session.csrf_token if self.web_session is not None else ""


def optional_auth(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> Auth | None:
    """Who sent this request, if anyone; a bad Bearer token is refused even with a cookie."""
    auth: Auth | None = None
    if credentials is not None:
        row = token_row(session, credentials.credentials)
        if row is None:
            raise Unauthorized("invalid or revoked API token", "API 令牌无效或已被撤销")
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > TOKEN_USE_RECORD_EVERY:
            row.last_used_at = now
            session.commit()
        auth = Auth(row.user, "token")
    elif cookie:
        web = find_session(session, cookie)
        if web is not None:
            auth = Auth(web.user, "session", web)
    request.state.auth = auth
    return auth


OptionalAuth = Annotated[Auth | None, Depends(optional_auth)]


async def current_auth(request: Request, auth: OptionalAuth) -> Auth:
    if auth is None:
        raise Unauthorized(
            "sign in at /login, or send your API token: 'Authorization: Bearer <your token>'",
            "请在 /login 登录，或发送你的 API 令牌：'Authorization: Bearer <你的令牌>'",
        )
    if auth.web_session is not None and request.method not in SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER) or await _form_field(request)
        if not csrf_matches(auth.web_session, presented):
            raise CsrfFailed(
                "this request lacks the page's CSRF token (reload the page and try again)",
                "此请求缺少页面的 CSRF 令牌（请重新加载页面后再试）",
            )
    return auth


async def _form_field(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "").lower()
    declared = request.headers.get("content-length", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    if not declared.isdigit() or int(declared) > CSRF_FORM_MAX_BYTES:
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


CurrentAuth = Annotated[Auth, Depends(current_auth)]


def current_user(auth: CurrentAuth) -> User:
    return auth.user


CurrentUser = Annotated[User, Depends(current_user)]
CsrfProtected = Annotated[User, Depends(current_user)]


ROLE_NAMES = {"instructor": "an instructor", "ta": "a TA", "student": "a student"}
ROLE_NAMES_ZH = {"instructor": "教师", "ta": "助教", "student": "学生"}


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency: the current user if their role is one of ``roles``, else 403."""
    allowed = frozenset(roles)

    async def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            names = " or ".join(ROLE_NAMES.get(r.value, r.value) for r in sorted(allowed))
            names_zh = "或".join(ROLE_NAMES_ZH.get(r.value, r.value) for r in sorted(allowed))
            raise Forbidden(f"only {names} may do this", f"只有{names_zh}可以执行此操作")
        return user

    dependency.__name__ = "require_" + "_or_".join(sorted(r.value for r in allowed))
    return dependency


StaffUser = Annotated[User, Depends(require_role(Role.ta, Role.instructor))]
InstructorUser = Annotated[User, Depends(require_role(Role.instructor))]


def is_staff(user: User) -> bool:
    return user.role in (Role.ta, Role.instructor)


def base_url(request: Request, settings: SettingsDep) -> str:
    """Where clients reach us: the configured public URL, else what this request used."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


BaseUrl = Annotated[str, Depends(base_url)]


def client_ip(request: Request) -> str:
    """The peer's address (uvicorn puts the forwarded one here only for trusted proxies)."""
    return request.client.host if request.client else "unknown"
