"""Log lines, as text (the default) or one JSON object per line (``AUTOGRADER_LOG_FORMAT=json``).

A JSON line carries ``time``, ``level``, ``logger``, ``message`` (and ``exception`` with
the traceback), and the job it is about where known: ``submission_id``, ``run_id``,
``assignment``, ``worker`` (``host:pid``) and ``user``. Those come from a context
variable that the upload path (api/routes/submissions.py) and the worker
(worker/jobs.py) bind while they work on a job, or from ``extra=`` of one call.

Where it is switched on: ``create_app`` (every API process), the Celery worker's logging
set-up (worker/celery_app.py), and ``autograder serve``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

CONTEXT_KEYS = ("submission_id", "run_id", "assignment", "worker", "user")
_context: ContextVar[dict[str, Any] | None] = ContextVar("autograder_log_context", default=None)
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def bind_log_context(**fields: Any) -> None:
    """Add ``fields`` to what this thread's (this task's) log lines carry."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """``fields`` on every log line inside the block, then what was there before."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    return dict(_context.get() or {})


class JsonFormatter(logging.Formatter):
    """One JSON object per record; never raises on odd values (``default=str``)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current_context()
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is None:
                value = context.get(key)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def json_enabled() -> bool:
    from autograder.settings import get_settings

    return get_settings().log_format == "json"


def use_json(handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())


def configure_logging(level: int = logging.INFO, *, text_default: bool = False) -> None:
    """Idempotent. JSON: a stderr handler on the root logger (unless it has one), and every
    handler of the root and uvicorn loggers formats JSON. Text: nothing changes, except
    that with ``text_default`` an unconfigured root logger gets the classic one-line
    format (``autograder serve``)."""
    root = logging.getLogger()
    if json_enabled():
        if not root.handlers:
            root.addHandler(logging.StreamHandler())
        if root.level == logging.NOTSET or root.level > level:
            root.setLevel(level)
        use_json(root.handlers)
        for name in UVICORN_LOGGERS:
            use_json(logging.getLogger(name).handlers)
    elif text_default and not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
