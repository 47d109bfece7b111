"""HTML rendering: Jinja2 with autoescape, and the security headers every page carries.

Pages hold no inline script or style: the Content-Security-Policy allows only this
site's own files (``/static``) and requests to this site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from api import i18n
from autograder.clock import course_time
from autograder.settings import get_settings

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def size(value: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if value >= factor:
            return f"{value / factor:.1f} {unit} ({value} bytes)"
    return f"{value} bytes"


def num(value: float | None) -> str:
    """A score as people write it: at most two decimals, no trailing zeros (100, 97.5)."""
    if value is None:
        return "—"
    return f"{round(float(value), 2) + 0.0:.2f}".rstrip("0").rstrip(".")


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
SHORT_ID = 8


def short_id(value: str) -> str:
    """A submission's id as people read it: its first 8 hex digits (4 billion to one
    against two of a course's submissions sharing them); the whole id stays in links."""
    return str(value)[:SHORT_ID]


_env.filters["when"] = course_time  # in the course's time zone (autograder/clock.py)
_env.filters["size"] = size
_env.filters["num"] = num
_env.filters["short_id"] = short_id
templates = Jinja2Templates(env=_env)


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page in the request's language, with who is signed in and their CSRF token."""
    lang = i18n.language_of(request)
    auth = getattr(request.state, "auth", None)
    page = {
        "lang": lang,
        "t": i18n.translator(lang),
        "has_message": i18n.has_message,
        "js_messages": i18n.script_messages(lang),
        "language_links": i18n.language_links(request),
        "auth": auth,
        "user": auth.user if auth is not None else None,
        "csrf_token": auth.csrf_token if auth is not None else "",
        "course_timezone": get_settings().course_timezone,
    }
    response = templates.TemplateResponse(
        request,
        name,
        page | context,
        status_code=status_code,
        headers=PAGE_HEADERS | (headers or {}),
    )
    i18n.remember_choice(request, response)
    return response
