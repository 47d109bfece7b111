"""The student's pages in a real browser: Debian's headless Chromium driven by Playwright
against the real API server, Celery worker, sandbox, Postgres and Redis.

No browser is ever downloaded: Playwright launches /usr/bin/chromium (scripts/setup.sh
installs it). Screenshots of the main pages go to tests/artifacts/screenshots/ (git-ignored)
for a reviewer to look at."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.templating import size
from autograder.assignments import sync_specs
from autograder.models import Role
from autograder.settings import PROJECT_ROOT
from autograder.specs.loader import load_spec_file
from autograder.tokens import create_user
from tests.sandboxed import require_sandbox

pytestmark = pytest.mark.slow

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
SLUG = "hw1-1"
REFERENCE = PROJECT_ROOT / "reference_solutions" / SLUG / "numpy_basics.py"
GRADING_TIMEOUT_MS = 180_000
# Record every text the page writes into the state field, from the first poll on, so the
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


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"required test service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[object]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium, or make setup)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed: {exc}")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def page(playwright_driver, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh Chromium profile per test; fails the test on any script error or console
    error (a Content-Security-Policy violation is reported as one)."""
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
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    yield page
    context.close()
    assert not problems, problems


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def site(configured, db, api_server):  # type: ignore[no-untyped-def]
    """The real API server with the shipped specs loaded and a student's token."""
    report = sync_specs(db, configured.specs_dir)
    assert not report.errors, report.errors
    _, token = create_user(db, "student1", Role.student)
    db.commit()
    return api_server.url, token


def upload_through_the_form(page, base: str, token: str, file: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{base}/assignments/{SLUG}/upload")
    page.fill("#token", token)
    page.set_input_files("#files", str(file))
    page.click("#submit")
    page.wait_for_url(re.compile(r"/submissions/[^/]+$"))
    expect(page.locator("h1 code")).to_have_text(page.url.rsplit("/", 1)[1])


def test_student_uploads_and_watches_the_grading(site, configured, page, request):
    """List → upload form → result page, which shows queued and then, once a worker
    runs, the graded score and every check's outcome. No worker runs until the page has
    shown the queued state, so that state is seen for certain."""
    from playwright.sync_api import expect

    require_sandbox(configured)
    base, token = site

    page.goto(f"{base}/")
    row = page.locator("table.assignments tbody tr", has_text=SLUG)
    expect(row).to_contain_text("HW1-1: NumPy basics")
    expect(row).to_contain_text("100")
    screenshot(page, "01-assignments")
    row.get_by_role("link", name=re.compile("Submit")).click()
    page.wait_for_url(f"{base}/assignments/{SLUG}/upload")

    expect(page.locator("#token")).to_have_value("")
    page.fill("#token", token)
    page.set_input_files("#files", str(REFERENCE))
    screenshot(page, "02-upload-filled")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/submissions/[^/]+$"))

    state = page.locator("#state")
    expect(state).to_contain_text("queued")
    expect(page.locator("#status")).to_contain_text("Grading, this page updates itself")
    expect(page.locator("#score")).to_have_text("—")
    expect(page.locator("#assignment")).to_have_text(SLUG)
    screenshot(page, "03-submission-queued")

    request.getfixturevalue("worker")  # now a worker starts and grades it
    expect(state).to_contain_text("graded", timeout=GRADING_TIMEOUT_MS)
    expect(page.locator("#score")).to_have_text("100 / 100")
    expect(page.locator("#status")).to_have_text("Done. 完成。")
    expect(page.locator("#failure")).to_be_hidden()
    expect(page.locator("#token-form")).to_be_hidden()

    outcomes = page.locator("#outcomes tr")
    expect(outcomes.first).to_be_visible()
    rows = outcomes.all()
    assert len(rows) >= 5
    for tr in rows:
        cells = tr.locator("td")
        expect(cells).to_have_count(5)
        expect(cells.nth(3)).to_have_text("passed 通过")
        expect(cells.nth(3)).to_have_class("pass")
        earned, points = cells.nth(2).inner_text().split(" / ")
        assert float(earned) == float(points) > 0
    earned_total = sum(float(tr.locator("td").nth(2).inner_text().split(" / ")[0]) for tr in rows)
    assert earned_total == pytest.approx(100)

    seen = page.evaluate("window.__states")
    assert seen and "queued" in seen[0] and "graded" in seen[-1], seen
    screenshot(page, "04-submission-graded")

    # The token is kept for the tab: a reload shows the result again without asking.
    page.reload()
    expect(page.locator("#score")).to_have_text("100 / 100")
    expect(page.locator("#token-form")).to_be_hidden()


def test_program_output_is_shown_as_text_not_run(site, configured, worker, page, tmp_path):
    from playwright.sync_api import expect

    require_sandbox(configured)
    base, token = site
    payloads = [
        "<script>window.__pwned=1</script>",
        '<img src=x onerror="window.__pwned=2">',
    ]
    hostile = tmp_path / "upload" / "numpy_basics.py"
    hostile.parent.mkdir()
    hostile.write_text(REFERENCE.read_text() + "".join(f"\nprint({p!r})" for p in payloads) + "\n")

    upload_through_the_form(page, base, token, hostile)
    expect(page.locator("#state")).to_contain_text("graded", timeout=GRADING_TIMEOUT_MS)
    expect(page.locator("#score")).to_have_text("100 / 100")

    log = page.locator("#log")
    for payload in payloads:
        expect(log).to_contain_text(payload)
    assert log.locator("*").count() == 0  # text only: no element was parsed out of it
    assert page.locator("img").count() == 0
    page.wait_for_timeout(500)  # an <img onerror> would have fired by now
    assert page.evaluate("typeof window.__pwned") == "undefined"
    screenshot(page, "05-submission-hostile-output")


def test_upload_page_shows_the_required_file_and_its_cap(site, page):
    from playwright.sync_api import expect

    base, _ = site
    spec = load_spec_file(PROJECT_ROOT / "grading_specs" / f"{SLUG}.yaml").spec
    [required] = spec.files
    assert required.name == "numpy_basics.py"

    page.goto(f"{base}/assignments/{SLUG}/upload")
    expect(page).to_have_title(re.compile(SLUG))
    row = page.locator("table.files tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("code.file-name")).to_have_text("numpy_basics.py")
    expect(row.locator("td").nth(1)).to_have_text(size(required.max_bytes))
    expect(row.locator("td").nth(1)).to_contain_text(f"{required.max_bytes} bytes")
    expect(page.locator("#token")).to_have_attribute("type", "password")
    expect(page.locator("#files")).to_have_attribute("type", "file")
    screenshot(page, "00-upload")
