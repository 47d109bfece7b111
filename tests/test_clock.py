"""Times in the course's zone (autograder/clock.py): the offset shown, naive values read as
UTC, another zone by setting, an unknown zone refused with a message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from autograder.clock import course_time
from autograder.settings import Settings
from tests.conftest import reset_caches


def test_default_zone_is_shanghai(monkeypatch):
    monkeypatch.delenv("AUTOGRADER_COURSE_TIMEZONE", raising=False)
    reset_caches()
    assert course_time(datetime(2026, 12, 1, 15, 59, tzinfo=UTC)) == "2026-12-01 23:59 UTC+0800"
    assert course_time(datetime(2026, 12, 1, 15, 59)) == "2026-12-01 23:59 UTC+0800"  # UTC
    assert course_time(None) == "—"


def test_another_zone_by_setting(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_COURSE_TIMEZONE", "Europe/Berlin")
    reset_caches()
    try:
        winter = course_time(datetime(2026, 12, 1, 15, 59, tzinfo=UTC))
        summer = course_time(datetime(2026, 7, 1, 15, 59, tzinfo=UTC))
        assert (winter, summer) == ("2026-12-01 16:59 UTC+0100", "2026-07-01 17:59 UTC+0200")
    finally:
        monkeypatch.delenv("AUTOGRADER_COURSE_TIMEZONE")
        reset_caches()


def test_an_unknown_zone_is_refused():
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Settings(course_timezone="Mars/Olympus")
