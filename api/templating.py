"""HTML rendering: Jinja2 with autoescape, and the security headers every page carries.

Pages hold no inline script or style: the Content-Security-Policy allows only this
site's own files (``/static``) and requests to this site."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

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


def when(value: datetime | None) -> str:
    """A deadline as people read it, in the time zone it was written in."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M ") + (value.strftime("UTC%z") if value.tzinfo else "")


def size(value: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if value >= factor:
            return f"{value / factor:.1f} {unit} ({value} bytes)"
    return f"{value} bytes"


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_env.filters["when"] = when
_env.filters["size"] = size
templates = Jinja2Templates(env=_env)


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=PAGE_HEADERS
    )
