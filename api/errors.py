"""The one place that maps refusals to HTTP: status, headers, and a JSON or HTML body.

API paths answer ``{"detail": message, "code": stable code}``; pages answer an HTML page
with the same message, except that a page asked for without signing in redirects to the
sign-in page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.templating import render
from autograder.refusals import (
    BadRequest,
    BadUpload,
    Conflict,
    Forbidden,
    MissingFile,
    NotFound,
    QueueFull,
    QuotaExceeded,
    Refused,
    TooLarge,
    TooManyAttempts,
    Unauthorized,
    UploadsClosed,
)

STATUS: dict[type[Refused], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    TooManyAttempts: 429,
    NotFound: 404,
    BadUpload: 400,
    BadRequest: 400,
    MissingFile: 422,
    TooLarge: 413,
    UploadsClosed: 403,
    QuotaExceeded: 429,
    QueueFull: 503,
    Conflict: 409,
}


def status_for(exc: Refused) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def headers_for(exc: Refused) -> dict[str, str]:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    limited = QuotaExceeded | TooManyAttempts | QueueFull
    if isinstance(exc, limited) and exc.retry_after is not None:
        return {"Retry-After": str(exc.retry_after)}
    return {}


async def refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    status = status_for(exc)
    if request.url.path.startswith("/api/"):
        body = {"detail": exc.message, "code": exc.code} | getattr(exc, "extra", {})
        return JSONResponse(body, status_code=status, headers=headers_for(exc))
    if isinstance(exc, Unauthorized) and request.method in ("GET", "HEAD"):
        return RedirectResponse(sign_in_url(request), status_code=303)
    context = {"status": status, "message": exc.message, "code": exc.code}
    return render(request, "error.html", context, status_code=status, headers=headers_for(exc))


def sign_in_url(request: Request) -> str:
    """The sign-in page, coming back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": here})


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refused, refused_handler)
