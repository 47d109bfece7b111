"""Accounts in a real browser (fixtures in conftest.py): signing in and out, another
student's submission, CSRF, the sign-in rate limit, the language switch, API tokens and
the instructor's roster import."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder.models import Role
from tests.api.conftest import submission_for
from tests.browser.conftest import (
    PASSWORD,
    STUDENT,
    allow_http_errors,
    answer_dialogs,
    assignment_row,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.slow

POST_JSON = """async ([url, csrf]) => {
  const headers = { "Content-Type": "application/json" };
  if (csrf) headers["X-CSRF-Token"] = document.body.dataset.csrf;
  const response = await fetch(url, { method: "POST", headers, body: "{}" });
  return response.status;
}"""
POST_FORM = """async ([url, field]) => {
  const body = new URLSearchParams({ label: "from a script" });
  if (field) body.set("csrf_token", document.body.dataset.csrf);
  const response = await fetch(url, { method: "POST", body, redirect: "manual" });
  return response.status;
}"""


def add_user(db, name: str, role: Role = Role.student, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    from autograder.passwords import hash_password
    from autograder.tokens import create_user

    user, _ = create_user(db, name, role)
    user.password_hash = hash_password(password)
    db.commit()
    return user


def test_sign_in_and_out(site, page):
    from playwright.sync_api import expect

    allow_http_errors(page, 401)
    page.goto(f"{site.base}/?lang=en")
    page.wait_for_url(re.compile(r"/login\?next="))
    screenshot(page, "10-sign-in")
    page.fill("#login", STUDENT)
    page.fill("#password", "wrong password")
    page.click("#sign-in")
    expect(page.locator("#login-problem")).to_have_text("Wrong student id, email or password.")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{site.base}/?lang=en")  # back where the visitor was going
    expect(page.locator("header a.who")).to_have_text("Student One")
    cookie = next(c for c in page.context.cookies() if c["name"] == "ag_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.click("header form.signout button")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(f"{site.base}/")
    page.wait_for_url(re.compile(r"/login\?next="))


def test_a_student_cannot_open_anothers_submission(site, db, page):
    from playwright.sync_api import expect

    other = add_user(db, "student2")
    theirs = submission_for(db, other, "hw1-1")
    allow_http_errors(page, 404)
    sign_in(page, site.base, STUDENT)

    response = page.goto(f"{site.base}/submissions/{theirs.id}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_contain_text("404")
    status = page.evaluate(
        "async (url) => (await fetch(url)).status", f"/api/v1/submissions/{theirs.id}"
    )
    assert status == 404
    mine = submission_for(db, site_user(db), "hw1-1")
    assert page.goto(f"{site.base}/submissions/{mine.id}").status == 200
    screenshot(page, "11-another-students-submission")


def site_user(db):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from autograder.models import User

    return db.scalar(select(User).where(User.name == STUDENT))


def test_changes_without_the_csrf_token_are_refused(site, page):
    from playwright.sync_api import expect

    allow_http_errors(page, 403)
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/account")
    assert page.evaluate(POST_JSON, ["/api/v1/me/tokens", False]) == 403
    assert page.evaluate(POST_JSON, ["/api/v1/me/tokens", True]) == 201
    assert page.evaluate(POST_FORM, ["/account/tokens", False]) == 403
    assert page.evaluate(POST_FORM, ["/account/tokens", True]) == 200
    assert page.evaluate(POST_FORM, ["/logout", False]) == 403

    page.reload()
    expect(page.locator("#tokens tbody tr")).to_have_count(3)  # the site's, and two above
    page.fill("#label", "laptop")
    page.click("#create-token")
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("ag_")
    expect(page.locator("#tokens tbody tr").first).to_contain_text("laptop")
    screenshot(page, "12-account-new-token")
    status = page.evaluate(
        "async (t) => (await fetch('/api/v1/me', {credentials: 'omit', "
        "headers: {Authorization: 'Bearer ' + t}})).status",
        token,
    )
    assert status == 200
    revoke = page.locator("#tokens tbody tr", has_text="laptop").locator("button.danger")
    answer_dialogs(page, False)  # "Revoke this token?" Cancel: it stays
    revoke.click()
    expect(page.locator("#tokens tbody tr", has_text="laptop")).to_have_count(1)
    answer_dialogs(page, True)
    revoke.click()
    expect(page.locator("#account-notice")).to_be_visible()
    expect(page.locator("#tokens tbody tr", has_text="laptop")).to_have_count(0)


def test_sign_in_is_rate_limited(site, page):
    from playwright.sync_api import expect

    allow_http_errors(page, 401, 429)
    for _ in range(5):
        page.goto(f"{site.base}/login")
        page.fill("#login", STUDENT)
        page.fill("#password", "a wrong guess")
        page.click("#sign-in")
        expect(page.locator("#login-problem")).to_be_visible()
    page.goto(f"{site.base}/login")
    page.fill("#login", STUDENT)
    page.fill("#password", PASSWORD)  # even the right password waits now
    with page.expect_response(lambda r: r.url.endswith("/login") and r.status == 429) as info:
        page.click("#sign-in")
    assert int(info.value.headers["retry-after"]) > 0
    expect(page.locator("#error-message")).to_contain_text("too many failed sign-ins")
    screenshot(page, "13-sign-in-rate-limited")


def test_language_switch_shows_chinese(site, db, page):
    from playwright.sync_api import expect

    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/?lang=en")
    expect(page.locator("h1")).to_have_text("Assignments")
    page.click("#lang-zh")
    expect(page.locator("h1")).to_have_text("作业列表")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    row = assignment_row(page, "hw1-1")
    expect(row.get_by_role("link", name="提交")).to_be_visible()
    screenshot(page, "14-assignments-zh")
    page.goto(f"{site.base}/assignments/hw1-1/upload")  # the choice is remembered
    headings = page.locator("h2")
    expect(headings.first).to_have_text("起始代码与作业说明")  # the starter, then the files
    expect(headings.nth(1)).to_have_text("需要提交的文件")
    screenshot(page, "15-upload-zh")
    mine = submission_for(db, site_user(db), "hw1-1")
    page.goto(f"{site.base}/submissions/{mine.id}")
    expect(page.locator("#state")).to_have_text("排队中")
    expect(page.locator("#queue")).to_contain_text("下一个即开始评分")
    screenshot(page, "16-submission-queued-zh")


def test_instructor_imports_the_roster(site, db, page, tmp_path):
    from playwright.sync_api import expect

    add_user(db, "prof", Role.instructor)
    allow_http_errors(page, 400)
    sign_in(page, site.base, "prof")
    page.goto(f"{site.base}/roster?lang=en")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "student_id,name,email,role\n2023001,张三,zhangsan@example.edu.cn,student\n"
        "2023002,李四,not-an-email,student\n2023001,王五,wangwu@example.edu.cn,teacher\n"
    )
    page.set_input_files("#roster-file", str(bad))
    page.click("#roster-submit")
    errors = page.locator("#roster-errors li")
    expect(errors).to_have_count(3)
    expect(errors.nth(0)).to_contain_text("line 3: email 'not-an-email'")
    expect(page.locator("#roster-result")).to_be_hidden()

    good = tmp_path / "roster.csv"
    good.write_text(
        "student_id,name,email,role\n2023001,张三,zhangsan@example.edu.cn,student\n"
        "ta01,李四,lisi@example.edu.cn,ta\n"
    )
    page.set_input_files("#roster-file", str(good))
    page.click("#roster-submit")
    rows = page.locator("#roster-users tr")
    expect(rows).to_have_count(2)
    initial = rows.nth(0).locator("td").nth(5).inner_text()
    assert len(initial) >= 12
    screenshot(page, "17-roster-imported")
    with page.expect_download() as info:  # the passwords as CSV, made in the browser
        page.click("#roster-download")
    assert info.value.suggested_filename == "initial-passwords.csv"
    csv_text = Path(info.value.path()).read_bytes().decode("utf-8-sig")
    lines = csv_text.splitlines()
    assert lines[0] == "name,full_name,email,role,initial_password"
    assert len(lines) == 3 and any(line.endswith("," + initial) for line in lines[1:])
    assert any(line.startswith("2023001,张三,zhangsan@example.edu.cn,student,") for line in lines)

    page.click("header form.signout button")
    sign_in(page, site.base, "zhangsan@example.edu.cn", initial)
    page.wait_for_url(f"{site.base}/account")  # an initial password must be changed first
    expect(page.locator("#must-change")).to_be_visible()
    page.goto(f"{site.base}/")
    page.wait_for_url(f"{site.base}/account")
    page.fill("#current_password", initial)
    page.fill("#new_password", "my own password")
    page.fill("#confirm_password", "my own password")
    page.click("#password-form button")
    expect(page.locator("#account-notice")).to_be_visible()
    page.goto(f"{site.base}/")
    expect(page.locator("header a.who")).to_have_text("张三")
