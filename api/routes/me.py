"""You: your account, your API tokens, your assignments with your best and latest scores."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.account_schemas import (
    MeOut,
    MyAssignmentOut,
    PasswordIn,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
)
from api.deps import BaseUrl, CsrfProtected, CurrentAuth, CurrentUser, SessionDep
from api.schemas import ErrorOut
from api.standings import my_assignments
from autograder.accounts import PasswordRefused, change_password
from autograder.models import ApiToken, User, utcnow
from autograder.refusals import BadRequest, NotFound
from autograder.tokens import new_token, owned_token, regenerate_token, revoke_token, tokens_of

router = APIRouter(prefix="/api/v1/me", tags=["account"])
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in, or a bad token"},
    403: {"model": ErrorOut, "description": "a browser session without its CSRF token"},
}


def me_out(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "full_name": user.full_name,
        "email": user.email,
        "role": user.role.value,
        "has_password": user.password_hash is not None,
        "must_change_password": user.must_change_password,
    }


def token_out(row: ApiToken, token: str | None = None) -> dict[str, Any]:
    out = {
        "id": row.id,
        "prefix": row.prefix,
        "label": row.label,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
    }
    return out | ({"token": token} if token else {})


@router.get("", response_model=MeOut, responses=REFUSALS)
def get_me(user: CurrentUser) -> dict[str, Any]:
    """Who you are signed in as."""
    return me_out(user)


@router.get("/assignments", response_model=list[MyAssignmentOut], responses=REFUSALS)
def get_my_assignments(user: CurrentUser, session: SessionDep, base: BaseUrl) -> Any:
    """Every open assignment, by deadline, with your best and latest submission."""
    return my_assignments(session, user, base, utcnow())


@router.put("/password", status_code=204, responses=REFUSALS | {400: {"model": ErrorOut}})
def put_password(body: PasswordIn, auth: CurrentAuth, session: SessionDep) -> Response:
    """Change your password; your other browser sessions are signed out."""
    try:
        change_password(
            session, auth.user, body.current_password, body.new_password, keep=auth.web_session
        )
    except PasswordRefused as exc:
        raise BadRequest(str(exc)) from exc
    session.commit()
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenOut], responses=REFUSALS)
def list_tokens(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """Your live API tokens, newest first (by prefix: the tokens themselves are not kept)."""
    return [token_out(row) for row in tokens_of(session, user)]


@router.post("/tokens", status_code=201, response_model=TokenCreatedOut, responses=REFUSALS)
def create_token(user: CsrfProtected, session: SessionDep, body: TokenIn | None = None) -> Any:
    """A new API token, shown in this response only."""
    token, row = new_token(session, user, (body.label if body else "").strip())
    session.commit()
    return token_out(row, token)


@router.delete(
    "/tokens/{token_id}", status_code=204, responses=REFUSALS | {404: {"model": ErrorOut}}
)
def delete_token(token_id: int, user: CsrfProtected, session: SessionDep) -> Response:
    """Revoke one of your tokens (it stops working at once)."""
    row = owned_token(session, user, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    revoke_token(row)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/tokens/{token_id}/regenerate",
    response_model=TokenCreatedOut,
    responses=REFUSALS | {404: {"model": ErrorOut}},
)
def regenerate(token_id: int, user: CsrfProtected, session: SessionDep) -> Any:
    """Revoke one of your tokens and issue its replacement (same label), shown once."""
    row = owned_token(session, user, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    token, new_row = regenerate_token(session, row)
    session.commit()
    return token_out(new_row, token)
