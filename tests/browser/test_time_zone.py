"""Times in one zone: the course's (AUTOGRADER_COURSE_TIMEZONE, Asia/Shanghai by default),
written the same way on the student pages (from the server) and the staff pages (from the
browser), whatever the browser's own time zone; date inputs say their zone and mean times
in it. The browser here runs in New York."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autograder.models import Role
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, assignment_row, sign_in
from tests.browser.test_staff_pages import add_user, graded_submission

pytestmark = pytest.mark.slow


@pytest.fixture
def new_york_page(playwright_driver, tmp_path: Path):  # type: ignore[no-untyped-def]
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        timezone_id="America/New_York",
    )
    context.set_default_timeout(20_000)
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert not errors, errors


def test_every_page_shows_times_in_the_course_zone(site, db, new_york_page):
    from playwright.sync_api import expect

    from autograder.settings import PROJECT_ROOT
    from autograder.specs.loader import load_spec_file

    page = new_york_page
    deadline = load_spec_file(PROJECT_ROOT / "grading_specs" / "hw1-1.yaml").spec.deadline
    assert deadline is not None
    local = deadline.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    shown = local.strftime("%Y-%m-%d %H:%M UTC+0800")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"

    mine = graded_submission(db, "s01", 72.5, 5)
    add_user(db, "ta1", Role.ta)
    sign_in(page, site.base, "s01")
    page.goto(f"{site.base}/?lang=en")
    row = assignment_row(page, "hw1-1")
    expect(row).to_contain_text(shown)  # written by the server
    page.goto(f"{site.base}/submissions/{mine.id}")
    received = mine.received_at.replace(tzinfo=UTC).astimezone(local.tzinfo)
    expect(page.locator("#received")).to_have_text(received.strftime("%Y-%m-%d %H:%M UTC+0800"))

    page.context.clear_cookies()
    sign_in(page, site.base, "ta1")
    page.goto(f"{site.base}/staff")
    expect(assignment_row(page, "hw1-1", staff=True)).to_contain_text(shown)  # by JS


def test_a_release_time_is_a_time_in_the_course_zone(site, db, new_york_page):
    from playwright.sync_api import expect

    page = new_york_page
    add_user(db, "prof", Role.instructor)
    sign_in(page, site.base, "prof")
    page.goto(f"{site.base}/staff/specs")
    field = page.locator("#release-hw1-1-scores-at")
    expect(field).to_have_attribute("aria-label", re.compile(r"Asia/Shanghai, UTC\+0800"))
    expect(page.locator("#spec-hw1-1 small.zone").first).to_have_text("Asia/Shanghai, UTC+0800")
    page.select_option("#release-hw1-1-scores", "scheduled")
    field.fill("2030-01-01T20:00")
    page.click("#spec-hw1-1 form.release button")
    expect(page.locator("#release-hw1-1-now")).to_contain_text("Saved.")
    from sqlalchemy import select

    from autograder.models import Assignment, ReleaseSetting

    db.expire_all()
    assignment = db.scalar(select(Assignment).where(Assignment.slug == "hw1-1"))
    setting = db.scalar(select(ReleaseSetting).where(ReleaseSetting.assignment_id == assignment.id))
    saved = setting.scores_released_at.replace(tzinfo=UTC)
    assert saved == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    page.reload()
    expect(field).to_have_value("2030-01-01T20:00")
