"""The message catalogue covers every key the templates and scripts use, in both languages,
and the reader's language choice is followed and remembered."""

from __future__ import annotations

import re

from api.i18n import catalogue, message
from api.templating import STATIC_DIR, TEMPLATES_DIR
from tests.api.conftest import PASSWORD, sign_in

# The student pages and the shared layout use the catalogue (staff pages may not).
TEMPLATES = ["base", "error", "login", "account", "index", "upload", "submission", "roster"]
SCRIPTS = ["common", "upload", "submission", "chart", "roster"]


def test_every_key_has_english_and_chinese():
    for key, entry in catalogue().items():
        assert set(entry) == {"en", "zh"}, key
        assert entry["en"].strip() and entry["zh"].strip(), key
        assert re.findall(r"\{\w+\}", entry["en"]) == re.findall(r"\{\w+\}", entry["zh"]), key
        words = re.sub(r"\{\w+\}", "", entry["en"])
        if re.search(r"[A-Za-z]{3,}", words) and key != "nav.api":
            assert re.search(r"[\u4e00-\u9fff]", entry["zh"]), key  # really translated


def test_templates_and_scripts_use_only_known_keys():
    keys = set(catalogue())
    for name in TEMPLATES:
        source = (TEMPLATES_DIR / f"{name}.html").read_text()
        for key in re.findall(r"\bt\('([a-z_.0-9]+)'\s*[,)]", source):
            assert key in keys, (name, key)
        for prefix in re.findall(r"\bt\('([a-z_.]+\.)' ~", source):  # t('state.' ~ s.state)
            assert any(k.startswith(prefix) for k in keys), (name, prefix)
    for name in SCRIPTS:
        source = (STATIC_DIR / f"{name}.js").read_text()
        for key in re.findall(r'\bt\("([a-z_]+)"\s*[,)]', source):
            assert f"js.{key}" in keys, (name, key)
    for state in ("queued", "running", "graded", "failed_student", "failed_infra"):
        assert f"state.{state}" in keys and f"js.state_{state}" in keys
    for status in (400, 401, 403, 404, 413, 422, 429):
        assert f"status.{status}" in keys


def test_placeholders_are_filled():
    assert message("zh", "index.submissions", n=3) == "已提交 3 次"
    assert message("en", "upload.title", slug="hw1-1") == "Submit hw1-1"


def test_the_language_is_chosen_and_remembered(client, make_user):
    make_user("alice", password=PASSWORD)
    sign_in(client, "alice")
    assert "<h1>Assignments</h1>" in client.get("/").text
    chinese = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "<h1>作业列表</h1>" in chinese.text and 'lang="zh-CN"' in chinese.text
    switched = client.get("/?lang=zh")
    assert "ag_lang=zh" in switched.headers["set-cookie"]
    assert "<h1>我的账号</h1>" in client.get("/account").text  # the cookie is kept
    back = client.get("/account?lang=en")
    assert "<h1>Your account</h1>" in back.text
    assert 'href="/account?lang=zh"' in back.text  # the switch links to this page
    assert "<h1>Your account</h1>" in client.get("/account?lang=xx").text  # unknown: ignored
