"""The one place that maps refusals to HTTP: status, headers, and a JSON or HTML body.

API paths answer ``{"detail": message, "code": stable code}``; pages answer an HTML page
with the same message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from api.templating import render
from autograder.refusals import (
    BadUpload,
    MissingFile,
    NotFound,
    QuotaExceeded,
    Refused,
    TooLarge,
    Unauthorized,
    UploadsClosed,
)

STATUS: dict[type[Refused], int] = {
    Unauthorized: 401,
    NotFound: 404,
    BadUpload: 400,
    MissingFile: 422,
    TooLarge: 413,
    UploadsClosed: 403,
    QuotaExceeded: 429,
}


def status_for(exc: Refused) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def headers_for(exc: Refused) -> dict[str, str]:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, QuotaExceeded) and exc.retry_after is not None:
        return {"Retry-After": str(exc.retry_after)}
    return {}


async def refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    status = status_for(exc)
    if request.url.path.startswith("/api/"):
        body = {"detail": exc.message, "code": exc.code}
        return JSONResponse(body, status_code=status, headers=headers_for(exc))
    context = {"status": status, "message": exc.message}
    return render(request, "error.html", context, status_code=status)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refused, refused_handler)
