"""The staff pages in a real browser (fixtures in conftest.py): a TA reads an assignment's
statistics, histogram and roster, exports the gradebook and re-grades the assignment
through a real worker; an instructor uploads a broken spec and reads its mistakes.

Screenshots: tests/artifacts/screenshots/staff-*.png."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from autograder.models import Role
from autograder.settings import PROJECT_ROOT
from tests.browser.conftest import (
    PASSWORD,
    allow_http_errors,
    answer_dialogs,
    assignment_row,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.slow

SLUG = "hw1-1"
REFERENCE = PROJECT_ROOT / "reference_solutions" / SLUG
SCORES = {"s01": 100.0, "s02": 95.0, "s03": 72.5, "s04": 55.0, "s05": 30.0, "s06": 100.0}
HOSTILE_LOG = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def add_user(db, name: str, role: Role, full_name: str = ""):  # type: ignore[no-untyped-def]
    from autograder.passwords import hash_password
    from autograder.tokens import create_user

    user, _ = create_user(db, name, role)
    user.password_hash = hash_password(PASSWORD)
    user.full_name = full_name
    db.commit()
    return user


def graded_submission(db, name: str, score: float, minutes_ago: int):  # type: ignore[no-untyped-def]
    """A submission of hw1-1 with a graded current run, as the worker would store it."""
    from sqlalchemy import select

    from autograder.models import Assignment, GradingRun, RunState, Submission, utcnow
    from autograder.storage import store_bytes

    assignment = db.scalar(select(Assignment).where(Assignment.slug == SLUG))
    user = add_user(db, name, Role.student, full_name=f"学生 {name}")
    blob = store_bytes((REFERENCE / "numpy_basics.py").read_bytes(), 200_000)
    when = utcnow() - timedelta(minutes=minutes_ago)
    submission = Submission(
        user=user,
        assignment=assignment,
        received_at=when,
        files=[{"name": "numpy_basics.py", "sha256": blob.sha256, "size": blob.size}],
    )
    run = GradingRun(
        submission=submission,
        spec_hash=assignment.spec_hash,
        queue="cpu",
        state=RunState.graded,
        seed=secrets.randbits(62),
        score=score,
        raw_score=score,
        max_score=100.0,
        attempts=1,
        started_at=when,
        finished_at=when + timedelta(seconds=3),
        log=HOSTILE_LOG,
        timings={"stage": 0.01, "sandbox": 0.05, "student_code": 0.2, "score": 0.003},
        resources={"peak_memory_bytes": 52_428_800, "cpu_seconds": 0.4},
        outcomes=[
            {"question": "q1", "check": "softmax", "title": "softmax", "points": 100,
             "earned": score, "passed": score == 100, "message": "<b>not bold</b>",
             "hidden": False, "details": {}},
        ],
    )  # fmt: skip
    db.add_all([submission, run])
    db.commit()
    return submission


@pytest.fixture
def course(site, db):  # type: ignore[no-untyped-def]
    ids = {
        name: graded_submission(db, name, score, 60 - i).id
        for i, (name, score) in enumerate(SCORES.items())
    }
    add_user(db, "ta1", Role.ta)
    add_user(db, "prof", Role.instructor)
    return site, ids


def test_ta_reads_the_dashboard_and_exports_the_gradebook(course, page):
    from playwright.sync_api import expect

    site, ids = course
    sign_in(page, site.base, "ta1")
    page.goto(f"{site.base}/staff")
    row = assignment_row(page, SLUG, staff=True)
    expect(row.locator("td").nth(2)).to_have_text("6")  # submitted
    screenshot(page, "staff-dashboard")
    row.get_by_role("link").click()
    page.wait_for_url(f"{site.base}/staff/assignments/{SLUG}")

    bars = page.locator("#histogram rect.bar")
    expect(bars).to_have_count(10)
    counts = [int(bars.nth(i).get_attribute("data-count")) for i in range(10)]
    assert counts == [0, 0, 0, 1, 0, 1, 0, 1, 0, 3]  # 30 | 55 | 72.5 | 95, 100, 100
    expect(page.locator("#histogram rect.bar.pass")).to_have_count(4)  # from 60 on
    expect(page.locator("#mean")).to_have_text("75.42")
    expect(page.locator("#median")).to_have_text("83.75")
    expect(page.locator("#pass-rate")).to_contain_text("66.7% (4 of 6")
    expect(page.locator("#count-submitted")).to_have_text("6")

    roster = page.locator("#roster-rows tr")
    expect(roster).to_have_count(7)  # six students and student1, who never submitted
    page.get_by_role("button", name="Best").click()  # numbers sort highest first
    expect(roster.first.locator("td").nth(3)).to_have_text("100")
    expect(roster.last.locator("td").first).to_have_text("student1")  # no score: last
    page.get_by_role("button", name="Best").click()  # lowest first now
    expect(roster.first.locator("td").nth(3)).to_have_text("30")
    expect(roster.last.locator("td").first).to_have_text("student1")  # still last
    page.select_option("#roster-show", "failing")
    expect(roster).to_have_count(3)  # s04, s05, and student1 without a score
    page.select_option("#roster-show", "all")
    page.fill("#roster-filter", "s03")
    expect(roster).to_have_count(1)
    expect(roster.first.locator("td").nth(1)).to_have_text("学生 s03")
    page.fill("#roster-filter", "")
    screenshot(page, "staff-assignment")

    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename == f"gradebook-{SLUG}.csv"
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == 7 and len({r["student_id"] for r in rows}) == 7
    assert {r["student_id"]: r["counted"] for r in rows}["s03"] == "72.5"
    assert {r["student_id"]: r["name"] for r in rows}["s03"] == "学生 s03"

    page.goto(f"{site.base}/staff/submissions/{ids['s03']}")
    run = page.locator("details.run").first
    expect(run.locator("summary")).to_contain_text("graded · 72.5 / 100 · counted")
    expect(run.locator("pre.log")).to_have_text(HOSTILE_LOG)  # shown as text
    assert run.locator("pre.log *").count() == 0
    expect(run.locator("table.outcomes")).to_contain_text("<b>not bold</b>")
    expect(run).to_contain_text("peak_memory_bytes")
    expect(run).to_contain_text("student_code")
    link = page.locator("#files a")
    expect(link).to_have_text("numpy_basics.py")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    screenshot(page, "staff-submission")
    with page.expect_download() as info:
        link.click()
    assert info.value.suggested_filename == "s03_numpy_basics.py"
    assert Path(info.value.path()).read_bytes() == (REFERENCE / "numpy_basics.py").read_bytes()


def test_instructor_uploads_a_broken_spec_and_sees_its_line(course, page, tmp_path):
    from playwright.sync_api import expect

    site, _ = course
    allow_http_errors(page, 422)
    text = (PROJECT_ROOT / "grading_specs" / "hw1-2.yaml").read_text()
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("points:"))
    lines[index] = lines[index].replace("points:", "pionts:")
    broken = tmp_path / "hw1-2.yaml"
    broken.write_text("\n".join(lines) + "\n")

    sign_in(page, site.base, "prof")
    page.goto(f"{site.base}/staff/specs")
    expect(page.locator("#spec-hw1-1")).to_contain_text("valid")
    expect(page.locator("#spec-hw1-1 table.versions tr.current")).to_have_count(1)
    page.set_input_files("#spec-file", str(broken))
    page.click("#spec-submit")
    expect(page.locator("#upload-status")).to_contain_text("problem")
    problem = page.locator("#spec-problems li", has_text="pionts")
    expect(problem).to_contain_text(f"hw1-2.yaml:{index + 1}")
    expect(problem).to_contain_text("unknown key 'pionts'; did you mean 'points'?")
    assert problem.get_attribute("data-line") == str(index + 1)
    screenshot(page, "staff-specs-error")

    page.set_input_files("#spec-file", str(PROJECT_ROOT / "grading_specs" / "hw1-2.yaml"))
    page.click("#spec-submit")
    expect(page.locator("#upload-status")).to_contain_text("already current")
    page.select_option("#release-hw1-1-scores", "scheduled")
    allow_http_errors(page, 422)
    page.click("#spec-hw1-1 form.release button")  # withheld until when? refused
    expect(page.locator("#release-hw1-1-now")).to_contain_text("scores withheld until when?")
    page.fill("#release-hw1-1-scores-at", "2030-01-01T20:00")
    page.click("#spec-hw1-1 form.release button")
    expect(page.locator("#release-hw1-1-now")).to_contain_text("Saved. Now students see scores: no")
    screenshot(page, "staff-specs")


def test_instructor_withdraws_and_publishes_again(course, page):
    """The state badge and buttons: withdrawing (after a confirmation) hides hw1-1 from
    a signed-in student at once, publishing it again brings it back; a TA has no buttons."""
    from playwright.sync_api import expect

    site, _ = course
    sign_in(page, site.base, "prof")
    page.goto(f"{site.base}/staff/specs")
    block = page.locator("#spec-hw1-1")
    expect(block.locator(".badge.state-published")).to_have_text("published")
    expect(block.locator(".origin")).to_contain_text("from file")
    other = page.context.browser.new_context()  # the student's own browser session
    student = other.new_page()
    sign_in(student, site.base, "student1")
    expect(assignment_row(student, SLUG)).to_have_count(1)

    answer_dialogs(page, False)  # cancelled: nothing changes
    block.get_by_role("button", name="Withdraw").click()
    expect(block.locator(".badge.state-published")).to_have_count(1)
    answer_dialogs(page, True)
    block.get_by_role("button", name="Withdraw").click()
    expect(block.locator(".badge.state-withdrawn")).to_have_text("withdrawn")
    student.reload()
    expect(assignment_row(student, SLUG)).to_have_count(0)
    screenshot(page, "staff-specs-withdrawn")

    answer_dialogs(page, True)
    block.get_by_role("button", name="Publish").click()
    expect(block.locator(".badge.state-published")).to_have_text("published")
    student.reload()
    expect(assignment_row(student, SLUG)).to_have_count(1)
    other.close()

    page.click("header form.signout button")
    sign_in(page, site.base, "ta1")
    page.goto(f"{site.base}/staff/specs")
    expect(page.locator("#spec-hw1-1 .badge.state-published")).to_have_count(1)
    expect(page.locator("#spec-hw1-1 .actions button")).to_have_count(0)


def test_ta_cannot_upload_and_student_cannot_enter(course, page):
    from playwright.sync_api import expect

    site, _ = course
    allow_http_errors(page, 403)
    sign_in(page, site.base, "ta1")
    page.goto(f"{site.base}/staff/specs")
    expect(page.locator("#spec-upload")).to_have_count(0)
    expect(page.locator("#release-hw1-1-scores")).to_be_disabled()
    page.click("header form.signout button")
    sign_in(page, site.base, "student1")
    response = page.goto(f"{site.base}/staff/assignments/{SLUG}")
    assert response is not None and response.status == 403


def test_ta_regrades_an_assignment_in_the_browser(site, configured, db, page, request):
    """Two real submissions graded by a real worker; the TA re-grades them, watches the
    progress and applies the (unchanged) scores."""
    from playwright.sync_api import expect

    from autograder.queueing import send_grade
    from tests.factories import submit_folder, wait_final
    from tests.sandboxed import require_sandbox

    require_sandbox(configured)
    request.getfixturevalue("worker")
    spec = PROJECT_ROOT / "grading_specs" / f"{SLUG}.yaml"
    for user in ("r1", "r2"):
        run = submit_folder(db, spec, REFERENCE, user=user)
        send_grade(run.id, run.queue)
        assert wait_final(run.id).score == 100
    add_user(db, "ta1", Role.ta)

    sign_in(page, site.base, "ta1")
    page.goto(f"{site.base}/staff/assignments/{SLUG}")
    expect(page.locator("#count-graded")).to_have_text("2")
    answer_dialogs(page, False)  # "Re-grade every submission ...?" Cancel: nothing starts
    page.click("#regrade-start")
    expect(page.locator("#regrade-start")).to_be_enabled()
    expect(page.locator("#regrade-state")).not_to_have_text("open")
    answer_dialogs(page, True)
    page.click("#regrade-start")
    expect(page.locator("#regrade-counts")).to_contain_text("2 of 2 done", timeout=180_000)
    expect(page.locator("#regrade-summary")).to_contain_text("2 unchanged")
    expect(page.locator("#regrade-rows tr")).to_have_count(2)
    page.check("#regrade-changed-only")  # both unchanged: nothing left to read
    expect(page.locator("#regrade-rows tr")).to_have_count(0)
    page.uncheck("#regrade-changed-only")
    expect(page.locator("#regrade-rows tr")).to_have_count(2)
    screenshot(page, "staff-regrade")
    answer_dialogs(page, True)  # "Apply the new scores?"
    page.click("#regrade-apply")
    expect(page.locator("#regrade-state")).to_have_text("applied")
    expect(page.locator("#status")).to_have_text("The new scores are applied.")
    expect(page.locator("#regrade-start")).to_be_enabled()
    assert re.search(r"2 graded", page.locator("#regrade-counts").inner_text())


def test_ta_previews_a_submission_as_its_student(course, page):
    """From the staff page of a submission to the student's own page, rendered by the
    student's page script from the student's view of the API, and back."""
    from playwright.sync_api import expect

    site, ids = course
    sign_in(page, site.base, "ta1")
    page.goto(f"{site.base}/staff/submissions/{ids['s03']}")
    page.locator("#preview-links").get_by_role("link", name="just before the deadline").click()
    page.wait_for_url(re.compile(r"/submissions/[^/]+\?as=student&moment=before$"))
    expect(page.locator("#preview")).to_contain_text("as the student sees it")
    expect(page.locator("#score")).to_contain_text("72.5")
    expect(page.locator("#state")).not_to_have_text("—")
    screenshot(page, "staff-preview-as-student")
    page.locator("#preview").get_by_role("link", name="back to the staff view").click()
    page.wait_for_url(f"{site.base}/staff/submissions/{ids['s03']}")
