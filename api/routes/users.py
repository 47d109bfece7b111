"""Users: the instructor imports the class roster (CSV) and hands out initial passwords."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.account_schemas import RosterErrorOut, RosterImportOut
from api.deps import InstructorUser, SessionDep
from api.schemas import ErrorOut
from autograder import roster
from autograder.refusals import BadUpload, RosterInvalid, TooLarge

router = APIRouter(prefix="/api/v1/users", tags=["users"])

OPENAPI_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "student_id,name,email,role\n"
                "202330001,张三,zhangsan@example.edu.cn,student\n",
            }
        },
    }
}


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the roster is larger than {limit} bytes", f"名单文件超过 {limit} 字节")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the roster is larger than {limit} bytes", f"名单文件超过 {limit} 字节")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/import",
    response_model=RosterImportOut,
    openapi_extra=OPENAPI_CSV_BODY,
    responses={
        400: {"model": RosterErrorOut, "description": "problems in the file, by line"},
        401: {"model": ErrorOut},
        403: {"model": ErrorOut, "description": "not an instructor, or no CSRF token"},
        413: {"model": ErrorOut},
    },
)
async def import_users(
    request: Request,
    user: InstructorUser,
    session: SessionDep,
    reset_passwords: bool = False,
) -> dict[str, Any]:
    """Create or update users from a CSV roster (`student_id,name,email,role`), sent as the
    request body (`Content-Type: text/csv`). New users get an initial password, shown in
    this response only; with `reset_passwords` existing users get a new one too. Nothing is
    imported if any line has a problem."""
    if not request.headers.get("content-type", "").lower().startswith("text/csv"):
        raise BadUpload(
            "send the roster as the request body with Content-Type: text/csv",
            "请将名单作为请求体发送，并设置 Content-Type: text/csv",
        )
    data = await read_capped(request, roster.MAX_BYTES)
    # Hashing initial passwords takes a while: not on the event loop.
    return await run_in_threadpool(import_csv, session, data, reset_passwords)


def import_csv(session: Session, data: bytes, reset_passwords: bool) -> dict[str, Any]:
    try:
        rows = roster.parse_roster(roster.decode(data))
        imported = roster.import_roster(session, rows, reset_passwords=reset_passwords)
    except roster.RosterError as exc:
        session.rollback()
        n = len(exc.errors)
        raise RosterInvalid(
            f"the roster has {n} problem(s)", exc.errors, f"名单中有 {n} 处问题", exc.errors_zh
        ) from exc
    session.commit()
    users = [
        {
            "line": item.row.line,
            "name": item.user.name,
            "full_name": item.user.full_name,
            "email": item.user.email,
            "role": item.user.role.value,
            "created": item.created,
            "initial_password": item.initial_password,
        }
        for item in imported
    ]
    created = sum(1 for item in imported if item.created)
    return {"created": created, "updated": len(imported) - created, "users": users}
