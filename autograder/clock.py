"""Times as people of the course read them: in its time zone (AUTOGRADER_COURSE_TIMEZONE),
with the offset, the same on every page and message ("2026-12-01 23:59 UTC+0800").
static/time.js writes them the same way in the browser."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from autograder.settings import get_settings


def course_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().course_timezone)


def course_time(value: datetime | None) -> str:
    """``value`` in the course's zone; a naive value is UTC (as the database keeps it)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(course_zone()).strftime("%Y-%m-%d %H:%M UTC%z")
