"""The student's pages in a real browser (fixtures in conftest.py): sign in with a password,
upload through the form (the file picker and a dropped file), watch the grading live and
read the score; program output that looks like HTML stays text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.templating import size
from autograder.settings import PROJECT_ROOT
from autograder.specs.loader import load_spec_file
from tests.browser.conftest import STUDENT, assignment_row, screenshot, sign_in
from tests.sandboxed import require_sandbox

pytestmark = pytest.mark.slow

SLUG = "hw1-1"
REFERENCE = PROJECT_ROOT / "reference_solutions" / SLUG / "numpy_basics.py"
GRADING_TIMEOUT_MS = 180_000
# Drop a file on the drop zone the way a browser does: a drop event carrying a DataTransfer.
DROP_FILE = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, { type: "text/x-python" }));
  const zone = document.getElementById("drop-zone");
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true,
                                             cancelable: true }));
  }
}"""


def upload_through_the_form(page, base: str, file: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(f"{base}/assignments/{SLUG}/upload")
    page.set_input_files("#files", str(file))
    page.click("#submit")
    page.wait_for_url(re.compile(r"/submissions/[^/]+$"))
    whole = page.url.rsplit("/", 1)[1]
    heading = page.locator("h1 code")  # a short id to read, the whole one on hover
    expect(heading).to_have_text(whole[:8])
    expect(heading).to_have_attribute("title", whole)


def test_student_uploads_and_watches_the_grading(site, configured, page, request):
    """Sign in → list → upload form (a dropped file) → result page, which shows queued with
    its place in the queue and then, once a worker runs, the graded score and every
    check's outcome. No worker runs until the page has shown the queued state."""
    from playwright.sync_api import expect

    require_sandbox(configured)
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/?lang=en")
    row = assignment_row(page, SLUG)
    expect(row).to_contain_text("HW1-1: NumPy basics")
    expect(row).to_contain_text("100")
    expect(row.locator("td.best")).to_have_text("—")
    screenshot(page, "01-assignments")
    row.get_by_role("link", name=re.compile("Submit")).click()
    page.wait_for_url(f"{site.base}/assignments/{SLUG}/upload")

    page.evaluate(DROP_FILE, ["numpy_basics.py", REFERENCE.read_text()])
    expect(page.locator("#chosen-files li")).to_have_count(1)
    expect(page.locator("#chosen-files li code")).to_have_text("numpy_basics.py")
    expect(page.locator("tr[data-file='numpy_basics.py'] td.chosen")).to_contain_text("✓")
    screenshot(page, "02-upload-dropped")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/submissions/[^/]+$"))

    state = page.locator("#state")
    expect(state).to_contain_text("queued")
    expect(page.locator("#queue")).to_contain_text("next in line")
    expect(page.locator("#status")).to_contain_text("this page updates itself")
    expect(page.locator("#score")).to_have_text("—")
    screenshot(page, "03-submission-queued")

    request.getfixturevalue("worker")  # now a worker starts and grades it
    expect(state).to_contain_text("graded", timeout=GRADING_TIMEOUT_MS)
    expect(page.locator("#score")).to_have_text("100 / 100")
    expect(page.locator("#status")).to_have_text("Done.")
    expect(page.locator("#failure")).to_be_hidden()
    expect(page.locator("#queue")).to_be_hidden()

    checks = page.locator("#outcomes tr.check")
    expect(checks.first).to_be_visible()
    rows = checks.all()
    assert len(rows) >= 5
    for tr in rows:
        cells = tr.locator("td")
        expect(cells).to_have_count(5)
        expect(cells.nth(3)).to_have_text("passed")
        expect(cells.nth(3)).to_have_class("pass")
        earned, points = cells.nth(2).inner_text().split(" / ")
        assert float(earned) == float(points) > 0
    earned_total = sum(float(tr.locator("td").nth(2).inner_text().split(" / ")[0]) for tr in rows)
    assert earned_total == pytest.approx(100)
    questions = page.locator("#outcomes tr.question").all()
    assert questions and sum(
        float(q.locator("td").nth(2).inner_text().split(" / ")[0]) for q in questions
    ) == pytest.approx(100)

    seen = page.evaluate("window.__states")
    assert seen and "queued" in seen[0] and "graded" in seen[-1], seen
    screenshot(page, "04-submission-graded")

    page.goto(f"{site.base}/")  # the list now shows the best and latest score
    row = assignment_row(page, SLUG)
    expect(row.locator("td.best")).to_have_text("100 / 100")
    expect(row.locator("td.latest")).to_have_text("100 / 100")
    screenshot(page, "05-assignments-scored")


def test_upload_with_the_file_picker(site, configured, worker, page, tmp_path):
    """The file picker path, and output that looks like HTML shown as text."""
    from playwright.sync_api import expect

    require_sandbox(configured)
    payloads = [
        "<script>window.__pwned=1</script>",
        '<img src=x onerror="window.__pwned=2">',
    ]
    hostile = tmp_path / "upload" / "numpy_basics.py"
    hostile.parent.mkdir()
    hostile.write_text(REFERENCE.read_text() + "".join(f"\nprint({p!r})" for p in payloads) + "\n")

    sign_in(page, site.base, STUDENT)
    upload_through_the_form(page, site.base, hostile)
    expect(page.locator("#state")).to_contain_text("graded", timeout=GRADING_TIMEOUT_MS)
    expect(page.locator("#score")).to_have_text("100 / 100")

    log = page.locator("#log")
    for payload in payloads:
        expect(log).to_contain_text(payload)
    assert log.locator("*").count() == 0  # text only: no element was parsed out of it
    assert page.locator("img").count() == 0
    page.wait_for_timeout(500)  # an <img onerror> would have fired by now
    assert page.evaluate("typeof window.__pwned") == "undefined"
    screenshot(page, "06-submission-hostile-output")


def test_upload_page_shows_the_required_file_and_its_cap(site, page):
    from playwright.sync_api import expect

    spec = load_spec_file(PROJECT_ROOT / "grading_specs" / f"{SLUG}.yaml").spec
    [required] = spec.files
    assert required.name == "numpy_basics.py"

    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/assignments/{SLUG}/upload")
    expect(page).to_have_title(re.compile(SLUG))
    row = page.locator("table.files tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("code.file-name")).to_have_text("numpy_basics.py")
    expect(row.locator("td").nth(1)).to_have_text(size(required.max_bytes))
    expect(row.locator("td").nth(1)).to_contain_text(f"{required.max_bytes} bytes")
    expect(page.locator("#files")).to_have_attribute("type", "file")
    expect(page.locator("#files")).to_have_attribute("multiple", "")
    screenshot(page, "00-upload")


def test_student_downloads_the_starter_and_reads_the_handout(site, page):
    """The upload page offers the starter (a zip of the skeleton and both handouts) and each
    handout; the download is the shipped starter, byte for byte."""
    import io
    import zipfile

    from playwright.sync_api import expect

    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/assignments/{SLUG}/upload?lang=zh")
    starter = page.locator("#starter")
    expect(starter).to_contain_text("下载起始代码")
    with page.expect_download() as info:
        starter.locator("a[download]").click()
    download = info.value
    assert download.suggested_filename == f"{SLUG}-starter.zip"
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    shipped = PROJECT_ROOT / "starters" / SLUG
    assert sorted(archive.namelist()) == sorted(f"{SLUG}/{p.name}" for p in shipped.iterdir())
    for path in shipped.iterdir():
        assert archive.read(f"{SLUG}/{path.name}") == path.read_bytes()
    starter.get_by_role("link", name="作业说明（中文）").click()
    expect(page.locator("body")).to_contain_text(
        (shipped / "README.zh.md").read_text().splitlines()[0]
    )


def test_the_api_docs_work_offline(site, page):
    """/docs renders every operation from files the service serves itself: this machine
    reaches no CDN (any request that failed would be reported by the page fixture)."""
    from playwright.sync_api import expect

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{site.base}/docs")
    upload = page.locator(
        ".opblock-summary-path", has_text="/api/v1/assignments/{slug}/submissions"
    )
    expect(upload.first).to_be_visible(timeout=20_000)
    assert all(url.startswith((site.base, f"blob:{site.base}")) for url in requests), requests
    screenshot(page, "api-docs")


def test_an_oversize_file_is_flagged_before_upload(site, page, tmp_path):
    """A file over its limit is marked when chosen and refused before anything is sent."""
    from playwright.sync_api import expect

    spec = load_spec_file(PROJECT_ROOT / "grading_specs" / f"{SLUG}.yaml").spec
    limit = next(f.max_bytes for f in spec.files if f.name == REFERENCE.name)
    big = tmp_path / REFERENCE.name
    big.write_text("x = 1\n" * (limit // 6 + 10))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/assignments/{SLUG}/upload?lang=en")
    page.set_input_files("#files", str(big))
    cell = page.locator(f'tr[data-file="{REFERENCE.name}"] td.chosen')
    expect(cell).to_contain_text("too large")
    expect(cell).to_have_class(re.compile(r"\bfail\b"))
    page.click("#submit")
    expect(page.locator("#status")).to_contain_text(f"{size(limit).split(' (')[0]}")
    expect(page.locator("#status")).to_contain_text("more than its limit")
    assert not [p for p in posts if "/submissions" in p], posts


def test_a_notebook_is_handed_in_for_the_module(site, configured, worker, page, tmp_path):
    """numpy_basics.ipynb chosen for numpy_basics.py: the row takes it, the page says what
    a notebook becomes, and the reference's cells, uploaded through the form, earn full
    marks."""
    from playwright.sync_api import expect

    from tests.test_notebooks import reference_as_notebook

    require_sandbox(configured)
    notebook = tmp_path / "numpy_basics.ipynb"
    notebook.write_bytes(reference_as_notebook())
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/assignments/{SLUG}/upload?lang=en")
    expect(page.locator("main")).to_contain_text("A Jupyter notebook is accepted")
    page.set_input_files("#files", str(notebook))
    cell = page.locator(f'tr[data-file="{REFERENCE.name}"] td.chosen')
    expect(cell).to_contain_text("✓")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/submissions/[^/]+$"))
    expect(page.locator("#state")).to_contain_text("graded", timeout=GRADING_TIMEOUT_MS)
    expect(page.locator("#score")).to_have_text("100 / 100")


def test_titles_in_the_readers_language(site, db, page):
    """The result page names the question and the check by the spec's titles: Chinese on
    the Chinese page (title_zh), English on the English one, never by their ids."""
    from playwright.sync_api import expect

    from autograder.models import GradingRun
    from tests.browser.test_staff_pages import graded_submission

    mine = graded_submission(db, "s01", 100, 5)
    run = db.query(GradingRun).filter_by(submission_id=mine.id).one()
    titles = {
        "message": "row 2 does not sum to 1\nHint: sum over axis=-1",
        "hint_zh": "在 axis=-1 上求和",
        "title": "softmax over the last axis",
        "title_zh": "对最后一维做 softmax",
        "question_title": "Softmax and one-hot",
        "question_title_zh": "Softmax 与 one-hot",
    }
    run.outcomes = [{**run.outcomes[0], **titles}]
    db.commit()
    sign_in(page, site.base, "s01")
    page.goto(f"{site.base}/submissions/{mine.id}?lang=zh")
    table = page.locator("#outcomes")
    expect(table).to_contain_text("Softmax 与 one-hot")
    expect(table).to_contain_text("对最后一维做 softmax")
    expect(table).to_contain_text("提示：在 axis=-1 上求和")
    assert "Hint:" not in table.inner_text()
    page.goto(f"{site.base}/submissions/{mine.id}?lang=en")
    expect(table).to_contain_text("Softmax and one-hot")
    expect(table).to_contain_text("softmax over the last axis")
    expect(table).to_contain_text("Hint: sum over axis=-1")
    assert "q1" not in table.inner_text()
    # and the assignment's description, on its upload page
    spec = load_spec_file(PROJECT_ROOT / "grading_specs" / f"{SLUG}.yaml").spec
    page.goto(f"{site.base}/assignments/{SLUG}/upload?lang=zh")
    expect(page.locator("p.description")).to_have_text(spec.description_zh)
    page.goto(f"{site.base}/assignments/{SLUG}/upload?lang=en")
    expect(page.locator("p.description")).to_have_text(spec.description)


def test_a_refused_upload_is_said_in_the_pages_language(site, page, tmp_path):
    """The server's refusal, shown by the upload page in Chinese on the Chinese page."""
    from playwright.sync_api import expect

    from tests.browser.conftest import allow_http_errors

    allow_http_errors(page, 400)
    bad = tmp_path / "numpy_basics.py"
    bad.write_bytes(b"x = '\xff\xfe'\n")
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/assignments/{SLUG}/upload?lang=zh")
    page.set_input_files("#files", str(bad))
    page.click("#submit")
    expect(page.locator("#status")).to_contain_text("'numpy_basics.py' 不是 UTF-8 文本")
