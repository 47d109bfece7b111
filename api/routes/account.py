"""The account page: who you are, your password, your API tokens (shown once, revocable,
regenerable). Plain HTML forms, each carrying the session's CSRF token; the same actions
exist in the JSON API (api/routes/me.py) and share autograder/tokens.py and accounts.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import CsrfProtected, CurrentAuth, SessionDep
from api.i18n import language_of, message
from api.templating import render
from autograder.accounts import PasswordRefused, change_password
from autograder.models import User
from autograder.refusals import NotFound
from autograder.tokens import new_token, owned_token, regenerate_token, revoke_token, tokens_of

router = APIRouter(include_in_schema=False)


def account_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    new_token_text: str = "",
    notice: str = "",
    problem: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "tokens": tokens_of(session, user),
        "new_token": new_token_text,
        "notice": notice,
        "problem": problem,
        "api_base": str(request.base_url).rstrip("/"),
    }
    return render(request, "account.html", context, status_code=status_code)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, auth: CurrentAuth, session: SessionDep, done: str = "") -> Response:
    lang = language_of(request)
    notice = message(lang, f"account.done.{done}") if done in ("password", "revoked") else ""
    return account_page(request, session, auth.user, notice=notice)


@router.post("/account/password", response_class=HTMLResponse)
def account_password(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    current_password: Annotated[str, Form(max_length=1024)],
    new_password: Annotated[str, Form(max_length=1024)],
    confirm_password: Annotated[str, Form(max_length=1024)],
) -> Response:
    lang = language_of(request)
    try:
        if new_password != confirm_password:
            raise PasswordRefused("password.mismatch", "the two new passwords differ")
        change_password(session, auth.user, current_password, new_password, keep=auth.web_session)
    except PasswordRefused as exc:
        session.rollback()
        problem = message(lang, exc.key) + (f" ({exc})" if exc.key == "password.weak" else "")
        return account_page(request, session, auth.user, problem=problem, status_code=400)
    session.commit()
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/account/tokens", response_class=HTMLResponse)
def account_new_token(
    request: Request,
    user: CsrfProtected,
    session: SessionDep,
    label: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    token, _ = new_token(session, user, label.strip())
    session.commit()
    return account_page(request, session, user, new_token_text=token)


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke_token(token_id: int, user: CsrfProtected, session: SessionDep) -> Response:
    row = owned_token(session, user, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    revoke_token(row)
    session.commit()
    return RedirectResponse("/account?done=revoked", status_code=303)


@router.post("/account/tokens/{token_id}/regenerate", response_class=HTMLResponse)
def account_regenerate_token(
    token_id: int, request: Request, user: CsrfProtected, session: SessionDep
) -> Response:
    row = owned_token(session, user, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    token, _ = regenerate_token(session, row)
    session.commit()
    return account_page(request, session, user, new_token_text=token)
