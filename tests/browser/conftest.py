"""Shared browser fixtures: Debian's headless Chromium driven by Playwright against the real
API server (and, where a test asks for it, the real worker and sandbox).

No browser is ever downloaded: Playwright launches /usr/bin/chromium (scripts/setup.sh
installs it). Screenshots go to tests/artifacts/screenshots/ (git-ignored).

Fixture map:
- ``playwright_driver`` (session): the Playwright driver, or a skip (a failure under
  ``AUTOGRADER_TEST_REQUIRE_SERVICES=1``) when Chromium or Playwright is missing.
- ``page`` (function): a fresh Chromium profile; the test fails on any script error,
  console error (a CSP violation is one), dialog, or HTTP response >= 400 that the test did
  not announce with ``allow_http_errors(page, 404, ...)``.
- ``site`` (function): ``Site(base, token)``: the real API server with the shipped specs
  loaded and a student ``student1`` (password ``PASSWORD``, API token ``token``).
Helpers: ``screenshot(page, name)``, ``sign_in(page, base, login, password)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE = os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1"
SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts" / "screenshots"
PASSWORD = "student password 1"
STUDENT = "student1"
# Record every text the page writes into the state field, from the first poll on, so a
# test can tell which states the page went through (not only the last one).
RECORD_STATES = """
document.addEventListener("DOMContentLoaded", () => {
  const node = document.getElementById("state");
  if (!node) return;
  window.__states = [];
  new MutationObserver(() => window.__states.push(node.textContent))
    .observe(node, { childList: true, characterData: true, subtree: true });
});
"""
_allowed_statuses: dict[int, set[int]] = {}


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"required test service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium, or make setup)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed: {exc}")
    with sync_playwright() as driver:
        yield driver


def allow_http_errors(page, *statuses: int) -> None:  # type: ignore[no-untyped-def]
    """Tell the ``page`` fixture that responses with these statuses are expected."""
    _allowed_statuses.setdefault(id(page), set()).update(statuses)


_dialog_answers: dict[int, list[bool]] = {}


def answer_dialogs(page, *answers: bool) -> None:  # type: ignore[no-untyped-def]
    """The next confirmation dialogs the page opens are expected: answer them in this
    order (True: OK, False: Cancel). Any other dialog is a problem."""
    _dialog_answers.setdefault(id(page), []).extend(answers)


def _on_dialog(page, dialog, problems: list[str]) -> None:  # type: ignore[no-untyped-def]
    answers = _dialog_answers.get(id(page)) or []
    if not answers:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()
        return
    if answers.pop(0):
        dialog.accept()
    else:
        dialog.dismiss()


@pytest.fixture
def page(playwright_driver, tmp_path: Path):  # type: ignore[no-untyped-def]
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(20_000)
    context.add_init_script(RECORD_STATES)
    page = context.pages[0] if context.pages else context.new_page()
    allowed = _allowed_statuses.setdefault(id(page), set())
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 and r.status not in allowed
            else None
        ),
    )
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and not _is_allowed_status_message(msg.text, allowed)
            else None
        ),
    )
    page.on("dialog", lambda dialog: _on_dialog(page, dialog, problems))
    yield page
    context.close()
    _allowed_statuses.pop(id(page), None)
    unused = _dialog_answers.pop(id(page), [])
    assert not problems, problems
    assert not unused, f"{len(unused)} expected dialog(s) never opened"


def _is_allowed_status_message(text: str, allowed: set[int]) -> bool:
    """Chromium logs 'Failed to load resource: ... status of 404' for every error response."""
    return "Failed to load resource" in text and any(f"status of {s}" in text for s in allowed)


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, login: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the form and wait until the sign-in page is left."""
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("#sign-in")
    page.wait_for_function("!location.pathname.startsWith('/login')")


@dataclass(frozen=True)
class Site:
    base: str
    token: str


@pytest.fixture
def site(configured, db, api_server) -> Site:  # type: ignore[no-untyped-def]
    """The real API server with the shipped specs loaded and a student with a password."""
    from autograder.assignments import sync_specs
    from autograder.models import Role
    from autograder.passwords import hash_password
    from autograder.tokens import create_user

    report = sync_specs(db, configured.specs_dir)
    assert not report.errors, report.errors
    user, token = create_user(db, STUDENT, Role.student)
    user.full_name = "Student One"
    user.password_hash = hash_password(PASSWORD)
    db.commit()
    return Site(api_server.url, token)


def assignment_row(page, slug: str, *, staff: bool = False):  # type: ignore[no-untyped-def]
    """The row of assignment ``slug`` in the students' list (or the staff's), found by its
    link: matching the row's text would also find a slug that begins with this one
    (hw1-1 and hw1-1-script)."""
    if staff:
        link = page.locator(f'a[href="/staff/assignments/{slug}"]')
        return page.locator("#assignments tr").filter(has=link)
    link = page.locator(f'a[href="/assignments/{slug}/upload"]')
    return page.locator("table.assignments tbody tr").filter(has=link)
