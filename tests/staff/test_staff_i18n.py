"""The staff pages and the staff API's refusals in English and Chinese: every key the staff
templates and scripts use is in the catalogue, a staff page in Chinese keeps no English of
its own (only data: slugs, names, ids, code), and a refusal on a staff path answers its
message in both languages. The browser half: tests/browser/test_staff_pages.py."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from typing import get_args

from api.i18n import catalogue
from api.templating import STATIC_DIR, TEMPLATES_DIR
from autograder import regrades
from autograder.models import AssignmentState, RunState
from autograder.specs.schema import FeedbackLevel
from tests.staff.conftest import SLUG, bearer

STAFF_TEMPLATES = sorted(TEMPLATES_DIR.glob("staff_*.html"))
STAFF_SCRIPTS = sorted(STATIC_DIR.glob("staff_*.js"))
ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")
# Words a Chinese staff page may show in Latin letters: names of things that are not
# translated (file formats, programs, protocols), beside the page's data.
LATIN_ALLOWED = {"API", "CSV", "JavaScript", "SHA", "slug", "yaml", "api", "staff", "docs"}


def test_staff_templates_and_scripts_use_only_known_keys():
    keys = set(catalogue())
    used = 0
    for template in STAFF_TEMPLATES:
        source = template.read_text()
        for key in re.findall(r"\bt\('([a-z_.0-9]+)'\s*[,)]", source):
            assert key in keys, (template.name, key)
            used += 1
    for script in STAFF_SCRIPTS:
        source = script.read_text()
        for key in re.findall(r'\bt\("([a-z_]+)"\s*[,)]', source):
            assert f"js.{key}" in keys, (script.name, key)
            used += 1
        # named("staff_run_", state): a key for every value the API may send
        for prefix in re.findall(r'\bnamed\("([a-z_]+)"', source):
            assert any(k.startswith(f"js.{prefix}") for k in keys), (script.name, prefix)
    assert used > 150


def test_every_staff_template_string_comes_from_the_catalogue():
    """No text between tags and no label attribute is written in a staff template itself."""
    for template in STAFF_TEMPLATES:
        source = re.sub(r"\{[{%#].*?[}%#]\}", " ", template.read_text(), flags=re.S)
        source = re.sub(r"<code[^>]*>.*?</code>", " ", source, flags=re.S)
        texts = re.findall(r">([^<]+)<", source)
        texts += re.findall(rf'\b(?:{"|".join(ATTRIBUTES)})="([^"]*)"', source)
        leftovers = [t.strip() for t in texts if re.search(r"[A-Za-z]{2,}", t)]
        assert leftovers in ([], ["SHA-256"]), (template.name, leftovers)


def test_values_the_api_names_keep_their_english_and_have_chinese():
    """A state or level shown by name: the English text is the value itself (as before),
    the Chinese a translation."""
    entries = catalogue()
    groups = {
        "js.staff_run_": [s.value for s in RunState],
        "js.staff_state_": [s.value for s in AssignmentState],
        "js.staff_batch_": [regrades.OPEN, regrades.APPLIED, regrades.DISCARDED],
        "js.staff_change_": list(regrades.CHANGES),
        "js.staff_level_": list(get_args(FeedbackLevel)),
    }
    for prefix, values in groups.items():
        for value in values:
            entry = entries[prefix + value]
            assert entry["en"] == value and re.search(r"[\u4e00-\u9fff]", entry["zh"]), value


class _Visible(HTMLParser):
    """The text a reader sees (not in <script>, <style> or <code>) and label attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code"):
            self.skip += 1
        self.texts += [value or "" for name, value in attrs if name in ATTRIBUTES]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(data.strip())


def visible_texts(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    return parser.texts


def english_left(html: str, data: list[str]) -> list[str]:
    """Texts of a Chinese page that are still English: a staff message's English, or a
    Latin word that is neither the page's data nor an allowed name."""
    english = {
        entry["en"]
        for key, entry in catalogue().items()
        if key.startswith("staff.") and entry["en"] != entry["zh"]
    }
    found = []
    for text in visible_texts(html):
        if text in ("English",):  # the language switch names each language in itself
            continue
        if text in english or any(len(e) > 12 and e in text for e in english):
            found.append(text)
            continue
        rest = text
        for item in data:
            rest = rest.replace(item, " ")
        words = set(re.findall(r"[A-Za-z]{2,}", rest)) - LATIN_ALLOWED
        if words:
            found.append(f"{text!r}: {sorted(words)}")
    return found


def test_each_staff_page_in_chinese_keeps_no_english(staff_client, people, graded, assignment):
    submission = graded("s001", 2.0)
    pages = {
        "/staff": [],
        f"/staff/assignments/{SLUG}": [SLUG, assignment.title],
        f"/staff/submissions/{submission.id}": [submission.id, submission.id[:8]],
        "/staff/specs": [],
    }
    for token, who in ((people.ta, "ta1"), (people.instructor, "prof")):  # prof: upload form
        for path, page_data in pages.items():
            data = [who, *page_data]
            response = staff_client.get(f"{path}?lang=zh", headers=bearer(token))
            assert response.status_code == 200, path
            html = response.text
            assert '<html lang="zh-CN">' in html, path
            assert f'href="{path}?lang=en"' in html, path  # the switch back, to this page
            assert english_left(html, data) == [], path
            # the scripts get the staff messages in Chinese
            scripts = json.loads(unescape(re.search(r'data-messages="([^"]*)"', html)[1]))
            assert scripts["staff_confirm_apply"] == "采用新成绩？学生将立即看到。", path
            english = staff_client.get(f"{path}?lang=en", headers=bearer(token)).text
            assert '<html lang="en">' in english and english_left(english, data), path


def test_the_english_staff_pages_are_unchanged(staff_client, people, assignment):
    html = staff_client.get(f"/staff/assignments/{SLUG}?lang=en", headers=bearer(people.ta)).text
    for text in [
        "<h2>Roster</h2>",
        '<option value="failing">below the pass mark</option>',
        "the spec says <code>counted: latest</code>). Pass: at least 60% of the maximum.",
        '<button type="button" id="regrade-start">Re-grade all submissions</button>',
    ]:
        assert text in html
    specs = staff_client.get("/staff/specs?lang=en", headers=bearer(people.instructor)).text
    assert "a <strong>draft</strong> that students do not see" in specs
    assert "<em>Reload from file</em> makes it current when it differs." in specs


def test_a_regrade_conflict_answers_in_both_languages(staff_client, people, graded):
    graded("ann", 2.0)
    url = f"/api/v1/staff/assignments/{SLUG}/regrades"
    first = staff_client.post(url, headers=bearer(people.ta))
    assert first.status_code == 202, first.text
    again = staff_client.post(url, headers=bearer(people.ta))
    assert again.status_code == 409
    body = again.json()
    batch = first.json()["id"]
    english = f"re-grade {batch} of {SLUG} is still open: apply or discard it"
    assert body["detail"] == english  # as before
    assert body["messages"] == {
        "en": english,
        "zh": f"{SLUG} 的重新评分 {batch} 尚未结束：请先采用或放弃它",
    }
    discarded = staff_client.post(
        f"/api/v1/staff/regrades/{batch}/discard", headers=bearer(people.ta)
    )
    assert discarded.status_code == 200, discarded.text
    twice = staff_client.post(f"/api/v1/staff/regrades/{batch}/discard", headers=bearer(people.ta))
    assert twice.status_code == 409
    assert twice.json()["messages"]["zh"] == f"重新评分 {batch} 已被放弃"


def test_staff_not_found_answers_in_both_languages(staff_client, people, graded):
    submission = graded("ann", 2.0)
    for url, english, chinese in [
        ("/api/v1/staff/submissions/nope", "no submission 'nope'", "没有编号为 'nope' 的提交"),
        ("/api/v1/staff/regrades/999999", "no re-grade 999999", "没有编号为 999999 的重新评分"),
        (
            f"/api/v1/staff/submissions/{submission.id}/files/x.py",
            f"submission {submission.id} has no file 'x.py'",
            f"提交 {submission.id} 中没有文件 'x.py'",
        ),
    ]:
        response = staff_client.get(url, headers=bearer(people.ta))
        assert response.status_code == 404, url
        body = response.json()
        assert body["detail"] == english and body["code"] == "not-found", url
        assert body["messages"] == {"en": english, "zh": chinese}, url
    page = staff_client.get("/staff/submissions/nope?lang=zh", headers=bearer(people.ta))
    assert page.status_code == 404 and "没有编号为 &#39;nope&#39; 的提交" in page.text


def test_a_rejected_spec_and_a_bad_roster_answer_in_both_languages(staff_client, people):
    spec = staff_client.post(
        "/api/v1/staff/specs",
        headers=bearer(people.instructor),
        files={"file": ("hw-x.yaml", b"title: [unclosed\n", "application/x-yaml")},
    )
    assert spec.status_code == 422, spec.text
    body = spec.json()
    assert body["messages"]["en"] == body["detail"] and "nothing was changed" in body["detail"]
    assert "未作任何更改" in body["messages"]["zh"]
    roster = staff_client.post(
        "/api/v1/users/import",
        headers=bearer(people.instructor) | {"Content-Type": "application/json"},
        content=b"{}",
    )
    assert roster.status_code == 400
    assert roster.json()["messages"] == {
        "en": "send the roster as the request body with Content-Type: text/csv",
        "zh": "请将名单作为请求体发送，并设置 Content-Type: text/csv",
    }
    bad = staff_client.post(
        "/api/v1/users/import",
        headers=bearer(people.instructor) | {"Content-Type": "text/csv"},
        content=b"who,what\n1,2\n",
    )
    assert bad.status_code == 400 and bad.json()["code"] == "roster:invalid"
    assert re.fullmatch(r"名单中有 \d+ 处问题", bad.json()["messages"]["zh"])


def test_a_bad_rosters_lines_are_listed_in_both_languages(staff_client, people):
    bad = staff_client.post(
        "/api/v1/users/import",
        headers=bearer(people.instructor) | {"Content-Type": "text/csv"},
        content=b"student_id,name,email,role\n1,Ann,ann@x.edu,teacher\n1,Bob,not-an-email,student\n",
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["errors"] == [
        "line 2: role 'teacher' must be one of student, ta, instructor",
        "line 3: email 'not-an-email' is not an email address",
        "line 3: student_id '1' already appears on line 2",
    ]
    assert body["errors_zh"] == [
        "第 2 行：role 'teacher' 必须是 student, ta, instructor 之一",
        "第 3 行：email 'not-an-email' 不是电子邮件地址",
        "第 3 行：student_id '1' 已在第 2 行出现过",
    ]


def test_who_may_do_what_is_refused_in_both_languages(staff_client, people, assignment):
    nobody = staff_client.get("/api/v1/staff/assignments")
    assert nobody.status_code == 401
    assert "请在 /login 登录" in nobody.json()["messages"]["zh"]
    revoked = staff_client.get("/api/v1/staff/assignments", headers={"Authorization": "Bearer x"})
    assert revoked.json()["messages"]["zh"] == "API 令牌无效或已被撤销"
    student = staff_client.get("/api/v1/staff/assignments", headers=bearer(people.student))
    assert student.status_code == 403
    assert student.json()["messages"] == {
        "en": "only an instructor or a TA may do this",
        "zh": "只有教师或助教可以执行此操作",
    }
    unknown = staff_client.get("/api/v1/assignments/nope", headers=bearer(people.student))
    assert unknown.status_code == 404
    assert unknown.json()["messages"] == {"en": "no assignment 'nope'", "zh": "没有作业 'nope'"}


def test_a_refused_publish_answers_in_both_languages(staff_client, people, assignment, db):
    assignment.checked_hash = None  # a version the publish checks never passed
    db.commit()
    url = f"/api/v1/staff/assignments/{SLUG}/state"
    unchecked = staff_client.put(
        url, headers=bearer(people.instructor), json={"state": "published"}
    )
    assert unchecked.status_code == 409, unchecked.text
    body = unchecked.json()
    assert (
        body["messages"]["en"] == body["detail"] and "has not passed the publish" in body["detail"]
    )
    assert "尚未通过发布检查" in body["messages"]["zh"]
