"""Students get the starter: the skeleton and the handouts as a zip, each handout alone,
and links to them on the assignment's page (issue: instructors add whole assignments)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from tests.api.conftest import PASSWORD, auth, sign_in
from tests.conftest import reset_caches

SKELETON = "def add(a, b):\n    # TODO: return their sum\n    raise NotImplementedError\n"
HANDOUT_EN = "# Adding\n\nWrite `add(a, b)`.\n"
HANDOUT_ZH = "# 加法\n\n请实现 `add(a, b)`。\n"


@pytest.fixture
def starters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured) -> Path:  # type: ignore[no-untyped-def]
    """A starters folder holding hw-test's starter, with things that must stay out of it."""
    root = tmp_path / "starters"
    folder = root / "hw-test"
    (folder / "data").mkdir(parents=True)
    (folder / "hw.py").write_text(SKELETON)
    (folder / "README.md").write_text(HANDOUT_EN)
    (folder / "README.zh.md").write_text(HANDOUT_ZH)
    (folder / "data" / "example.txt").write_text("1 2 3\n")
    (folder / ".notes").write_text("instructor's private note")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "hw.cpython-311.pyc").write_bytes(b"\0" * 16)
    os.symlink("/etc/passwd", folder / "passwd")  # a link could name any host file
    os.symlink(str(tmp_path), folder / "up")
    monkeypatch.setenv("AUTOGRADER_STARTERS_DIR", str(root))
    reset_caches()
    return root


def test_the_starter_is_a_zip_of_the_skeleton_and_handouts(
    client, make_assignment, make_user, starters
):
    make_assignment()
    _, token = make_user()
    url = "/api/v1/assignments/hw-test/starter.zip"
    assert client.get(url).status_code == 401
    response = client.get(url, headers=auth(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="hw-test-starter.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [
        "hw-test/README.md",
        "hw-test/README.zh.md",
        "hw-test/hw.py",
        "hw-test/data/example.txt",
    ]  # no hidden file, no bytecode, no symlink (nor what it names)
    assert archive.read("hw-test/hw.py").decode() == SKELETON
    assert archive.read("hw-test/README.zh.md").decode() == HANDOUT_ZH
    assert b"root:" not in response.content
    # The same starter, the same bytes: a download can be compared or cached.
    assert client.get(url, headers=auth(token)).content == response.content


def test_each_handout_can_be_read_alone(client, make_assignment, make_user, starters):
    make_assignment()
    _, token = make_user()
    listed = client.get("/api/v1/assignments/hw-test", headers=auth(token)).json()
    assert listed["starter_url"].endswith("/api/v1/assignments/hw-test/starter.zip")
    assert set(listed["handouts"]) == {"en", "zh"}
    assert listed["handouts"]["zh"].endswith("/api/v1/assignments/hw-test/handout?lang=zh")
    for lang, text in (("en", HANDOUT_EN), ("zh", HANDOUT_ZH)):
        response = client.get(
            f"/api/v1/assignments/hw-test/handout?lang={lang}", headers=auth(token)
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/markdown")
        assert response.text == text
    bad = client.get("/api/v1/assignments/hw-test/handout?lang=fr", headers=auth(token))
    assert bad.status_code == 422


def test_without_a_starter_nothing_is_offered(client, make_assignment, make_user, starters):
    make_assignment("hw-other")
    _, token = make_user()
    listed = client.get("/api/v1/assignments/hw-other", headers=auth(token)).json()
    assert listed["starter_url"] is None and listed["handouts"] == {}
    response = client.get("/api/v1/assignments/hw-other/starter.zip", headers=auth(token))
    assert response.status_code == 404
    assert "has no starter" in response.json()["detail"]
    missing = client.get("/api/v1/assignments/nope/starter.zip", headers=auth(token))
    assert missing.status_code == 404 and "'nope'" in missing.json()["detail"]


def test_a_withdrawn_assignments_starter_is_not_served(
    client, db, make_assignment, make_user, starters
):
    from autograder.models import Assignment, AssignmentState

    make_assignment()
    _, token = make_user()
    row = db.query(Assignment).filter_by(slug="hw-test").one()
    row.state = AssignmentState.withdrawn
    db.commit()
    response = client.get("/api/v1/assignments/hw-test/starter.zip", headers=auth(token))
    assert response.status_code == 404


def test_the_upload_page_links_the_starter(client, make_assignment, make_user, starters):
    make_assignment()
    make_user("bob", password=PASSWORD)
    sign_in(client, "bob")
    page = client.get("/assignments/hw-test/upload").text
    assert 'href="/api/v1/assignments/hw-test/starter.zip"' in page
    assert 'href="/api/v1/assignments/hw-test/handout?lang=zh"' in page
    # The page's session cookie is enough to download (a student clicking the link).
    assert client.get("/api/v1/assignments/hw-test/starter.zip").status_code == 200
