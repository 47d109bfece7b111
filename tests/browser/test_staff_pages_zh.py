"""The staff pages in Chinese in a real browser: the dashboard, an assignment and a
submission read by a TA who chose 中文 with the language switch; headings, table headers and
what the scripts write are Chinese, a check's message is its Chinese one, and no script
error occurs (the ``page`` fixture fails on any). English: tests/browser/test_staff_pages.py.

Screenshots: tests/artifacts/screenshots/staff-zh-*.png."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_staff_pages import SLUG, course  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_ta_reads_the_staff_pages_in_chinese(course, db, page):  # noqa: F811
    from playwright.sync_api import expect
    from sqlalchemy import select

    from autograder.models import GradingRun

    site, ids = course
    run = db.scalar(select(GradingRun).where(GradingRun.submission_id == ids["s03"]))
    run.outcomes = [
        outcome
        | {
            "message_zh": "输出与参考答案不符",
            "title_zh": "softmax 函数",
            "question_title_zh": "第一题",
        }
        for outcome in run.outcomes
    ]
    db.commit()

    sign_in(page, site.base, "ta1")
    page.goto(f"{site.base}/staff")
    page.click("#lang-zh")  # the language switch, as a reader would
    page.wait_for_url(f"{site.base}/staff?lang=zh")
    assert page.get_attribute("html", "lang") == "zh-CN"
    expect(page.locator("h1")).to_have_text("教学管理概览")
    expect(page.locator("nav.staff-nav")).to_contain_text("评分规范与发布")
    heads = page.locator("table.staff-assignments thead th")
    expect(heads.first).to_have_text("作业")
    expect(heads.nth(1)).to_have_text("截止时间")
    row = page.locator("#assignments tr").filter(
        has=page.locator(f'a[href="/staff/assignments/{SLUG}"]')
    )
    expect(row.locator("td").nth(2)).to_have_text("6")
    expect(page.locator("#status")).to_have_text("")  # loaded: no 加载中… left
    screenshot(page, "staff-zh-dashboard")

    row.get_by_role("link").click()  # the cookie keeps the language
    page.wait_for_url(f"{site.base}/staff/assignments/{SLUG}")
    assert page.get_attribute("html", "lang") == "zh-CN"
    expect(page.locator("#roster-section h2")).to_have_text("名册")
    expect(page.locator("#regrade-section h2")).to_have_text("重新评分")
    for th in page.locator("#roster thead th").all():
        assert CJK.search(th.inner_text()), th.inner_text()
    for th in page.locator("table.submissions thead th").all():
        assert CJK.search(th.inner_text()), th.inner_text()
    expect(page.locator("#pass-rate")).to_contain_text("66.7%（及格 4 人 / 共 6 人")
    expect(page.locator("#histogram-caption")).to_contain_text("6 名学生计入成绩的分数")
    expect(page.locator("#roster-count")).to_have_text("显示 7 / 7 名")
    expect(page.locator("#submission-rows tr").first.locator("td").nth(2)).to_have_text("已评分")
    expect(page.locator("#histogram text.label")).to_have_text("计入成绩的分数")
    page.get_by_role("button", name="最高分").click()  # sorting works with Chinese labels
    expect(page.locator("#roster-rows tr").first.locator("td").nth(3)).to_have_text("100")
    screenshot(page, "staff-zh-assignment")

    page.goto(f"{site.base}/staff/submissions/{ids['s03']}")
    run_block = page.locator("details.run").first
    expect(run_block.locator("summary")).to_contain_text("已评分 · 72.5 / 100 · 计入成绩")
    outcomes = run_block.locator("table.outcomes")
    expect(outcomes.locator("thead th").first).to_have_text("题目")
    expect(outcomes.locator("tbody tr").first).to_contain_text("第一题")
    expect(outcomes.locator("tbody tr").first).to_contain_text("softmax 函数")
    expect(outcomes.locator("tbody tr").first).to_contain_text("输出与参考答案不符")
    expect(outcomes).not_to_contain_text("<b>not bold</b>")  # the English message is replaced
    expect(page.locator("#late")).to_have_text("按时提交")
    screenshot(page, "staff-zh-submission")
