"""Every page usable on a phone (390 x 844 CSS pixels): nothing wider than the screen, so
no page scrolls sideways; wide tables become stacked rows. Student pages and staff pages,
in English and in Chinese."""

from __future__ import annotations

import pytest

from autograder.models import Role
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_staff_pages import add_user, graded_submission

pytestmark = pytest.mark.slow

WIDTH = 390
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const node of document.querySelectorAll("body *")) {
    const box = node.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 1 || box.left < -1)) {
      const classes = typeof node.className === "string" ? node.className.split(" ") : [];
      const name = node.tagName.toLowerCase() + (node.id ? "#" + node.id : "");
      wide.push(`${name}${classes.map((c) => "." + c).join("")}` +
                ` [${Math.round(box.left)}, ${Math.round(box.right)}]`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""


def fits(page, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    page.wait_for_load_state("networkidle")
    found = page.evaluate(OVERFLOW)
    screenshot(page, f"phone-{name}")
    if found["scroll"] <= found["width"]:
        return []
    return [f"{name}: {found['scroll']} px wide on a {found['width']} px screen: {found['wide']}"]


def test_every_page_fits_a_phone(site, db, page):
    page.set_viewport_size({"width": WIDTH, "height": 844})
    mine = graded_submission(db, "s01", 72.5, 5)
    add_user(db, "ta1", Role.ta)
    add_user(db, "prof", Role.instructor)
    problems: list[str] = []
    sign_in(page, site.base, "s01")
    for lang in ("en", "zh"):
        for path, name in (
            (f"/?lang={lang}", "assignments"),
            ("/assignments/hw1-1/upload", "upload"),
            (f"/submissions/{mine.id}", "result"),
            ("/account", "account"),
        ):
            page.goto(site.base + path)
            problems += fits(page, f"{name}-{lang}")
    page.context.clear_cookies()
    sign_in(page, site.base, "prof")
    for path, name in (
        ("/staff", "staff-dashboard"),
        ("/staff/assignments/hw1-1", "staff-assignment"),
        (f"/staff/submissions/{mine.id}", "staff-submission"),
        ("/staff/specs", "staff-specs"),
        ("/roster", "roster"),
    ):
        page.goto(site.base + path)
        problems += fits(page, name)
    page.context.clear_cookies()
    page.goto(site.base + "/login")
    problems += fits(page, "login")
    assert not problems, "\n".join(problems)
