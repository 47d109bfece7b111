"""Riding out a database restart inside the worker.

A Postgres restart (or a moment without connections) makes the worker's next statement
fail with OperationalError. The steps of a run's life that write (claim, phase, store,
release) retry such transient errors with growing back-off for up to
``settings.db_retry_seconds``, so a run carries on within seconds of the database being
back instead of waiting for its lease to expire. Errors that are not about the connection
(a constraint, a bug) are raised at once.

A retried write may already have been committed when the connection broke before the
answer came: each caller says how to recognise that (``done``), so a retry never does
the work twice nor reports a committed write as lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from autograder.db import database_unreachable

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY = 0.2
MAX_DELAY = 2.0


def retrying(
    what: str,
    attempt: Callable[[], T],
    *,
    seconds: float,
    done: Callable[[], T | None] | None = None,
) -> T:
    """``attempt()``, again after transient database errors (back-off 0.2 s doubling to
    2 s) until ``seconds`` have passed; then the last error is raised. ``done`` (checked
    before each retry) returns the result of an attempt that was committed after all, or
    None."""
    deadline = time.monotonic() + seconds
    delay = FIRST_DELAY
    tried = False
    while True:
        try:
            if tried and done is not None:
                found = done()
                if found is not None:
                    return found
            return attempt()
        except Exception as exc:
            if not database_unreachable(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: database unavailable (%s); retrying in %.1fs", what, exc, delay)
            tried = True
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
