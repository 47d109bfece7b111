"""The one place that maps refusals to HTTP: status, headers, and a JSON or HTML body.

API paths answer ``{"detail": message, "code": stable code}``; pages answer an HTML page
with the same message, except that a page asked for without signing in redirects to the
sign-in page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.templating import render
from autograder.db import database_unreachable
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
    StorageFull,
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
    StorageFull: 507,
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
    limited = QuotaExceeded | TooManyAttempts | QueueFull | StorageFull
    if isinstance(exc, limited) and exc.retry_after is not None:
        return {"Retry-After": str(exc.retry_after)}
    return {}


async def refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    status = status_for(exc)
    if request.url.path.startswith("/api/"):
        body = {"detail": exc.message, "code": exc.code} | getattr(exc, "extra", {})
        if exc.zh:
            body["messages"] = exc.messages
        return JSONResponse(body, status_code=status, headers=headers_for(exc))
    if isinstance(exc, Unauthorized) and request.method in ("GET", "HEAD"):
        return RedirectResponse(sign_in_url(request), status_code=303)
    context = {"status": status, "message": exc.message, "messages": exc.messages, "code": exc.code}
    return render(request, "error.html", context, status_code=status, headers=headers_for(exc))


def sign_in_url(request: Request) -> str:
    """The sign-in page, coming back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": here})


async def not_found_handler(request: Request, exc: Exception) -> Response:
    """A URL no route answers: a page for a browser (outside /api/), JSON for the rest."""
    assert isinstance(exc, StarletteHTTPException)
    wants_page = "text/html" in request.headers.get("accept", "")
    if exc.status_code != 404 or request.url.path.startswith("/api/") or not wants_page:
        return await http_exception_handler(request, exc)
    context = {"status": 404, "message": f"there is no page at {request.url.path}"}
    return render(request, "error.html", context, status_code=404)


DATABASE_RETRY_AFTER = 5  # seconds: a database restart takes about one


async def database_down_handler(request: Request, exc: Exception) -> Response:
    """The database cannot be reached (a restart, an outage): 503 with Retry-After, never
    a bare 500. Anything else the database says is a real error and stays one."""
    if not database_unreachable(exc):
        raise exc
    message = "The database is unavailable for a moment; nothing was stored. Try again shortly."
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if request.url.path.startswith("/api/"):
        body = {"detail": message, "code": "database-unavailable"}
        return JSONResponse(body, status_code=503, headers=headers)
    context = {"status": 503, "message": message, "code": "database-unavailable"}
    return render(request, "error.html", context, status_code=503, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refused, refused_handler)
    app.add_exception_handler(StarletteHTTPException, not_found_handler)
    app.add_exception_handler(DBAPIError, database_down_handler)
