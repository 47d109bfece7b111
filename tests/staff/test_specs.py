"""Specs from the browser: validated with the CLI's messages, kept as a new current
version, listed with every version; the specs folder does not undo an upload."""

from __future__ import annotations

import shutil

from click.testing import CliRunner
from sqlalchemy import select

from autograder.cli import main
from autograder.settings import PROJECT_ROOT
from tests.staff.conftest import SLUG, bearer

SHIPPED = PROJECT_ROOT / "grading_specs" / "hw1-2.yaml"


def misspelt(text: str) -> tuple[str, int]:
    """The spec with its first ``points:`` misspelt; and that line's number."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("points:"))
    lines[index] = lines[index].replace("points:", "pionts:")
    return "\n".join(lines) + "\n", index + 1


def upload(client, token: str, name: str, text: str, slug: str | None = None):  # type: ignore[no-untyped-def]
    files = [("file", (name, text.encode(), "application/x-yaml"))]
    data = {"slug": slug} if slug else {}
    return client.post("/api/v1/staff/specs", files=files, data=data, headers=bearer(token))


def test_misspelt_key_gets_the_clis_message(staff_client, people, tmp_path, configured):
    text, line = misspelt(SHIPPED.read_text())
    response = upload(staff_client, people.instructor, "hw1-2.yaml", text)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "spec:invalid"
    problem = next(p for p in body["problems"] if p["code"] == "spec:unknown-key")
    assert problem["line"] == line and problem["file"] == "hw1-2.yaml"
    assert {p["code"] for p in body["problems"]} == {"spec:unknown-key", "spec:missing-key"}
    assert "unknown key 'pionts'; did you mean 'points'?" in problem["message"]
    assert problem["key_path"].endswith(".pionts")
    # the same words as the CLI, for the same file
    copy = tmp_path / "hw1-2.yaml"
    copy.write_text(text)
    cli = CliRunner().invoke(main, ["specs", "validate", str(copy)])
    for each in body["problems"]:
        assert each["text"].replace("hw1-2.yaml", str(copy), 1) in cli.output
    listed = staff_client.get("/api/v1/staff/specs", headers=bearer(people.ta)).json()
    assert "hw1-2" not in {e["slug"] for e in listed if e["versions"]}  # nothing was stored


def test_upload_makes_a_new_current_version(staff_client, db, people, assignment):
    from autograder.models import Assignment

    old_hash = assignment.spec_hash
    new_text = (
        staff_client.get(
            f"/api/v1/staff/specs/{SLUG}/versions/{old_hash}", headers=bearer(people.ta)
        ).json()["source"]
        + "\n# a comment makes a new version\n"
    )
    response = upload(staff_client, people.instructor, "anything.yaml", new_text, slug=SLUG)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["changed"] is True and body["slug"] == SLUG and body["spec_hash"] != old_hash
    assert body["state"] == "published" and body["warnings"] == []  # its bundle is whole
    db.expire_all()
    current = db.scalar(select(Assignment).where(Assignment.slug == SLUG))
    assert current.spec_hash == body["spec_hash"]
    listed = staff_client.get("/api/v1/staff/specs", headers=bearer(people.ta)).json()
    entry = next(e for e in listed if e["slug"] == SLUG)
    assert entry["valid"] and entry["current_hash"] == body["spec_hash"]
    versions = entry["versions"]
    assert [v["current"] for v in versions] == [True, False]
    assert versions[0]["origin"] == "upload" and versions[1]["origin"] == "file"
    again = upload(staff_client, people.instructor, f"{SLUG}.yaml", new_text)
    assert again.status_code == 201 and again.json()["changed"] is False


def test_a_ta_cannot_upload(staff_client, people, assignment):
    response = upload(staff_client, people.ta, "hw1-2.yaml", SHIPPED.read_text())
    assert response.status_code == 403


def test_not_utf8_and_bad_slug_are_problems(staff_client, people, configured):
    files = [("file", ("x.yaml", b"title: \xff\xfe\n", "application/x-yaml"))]
    response = staff_client.post(
        "/api/v1/staff/specs", files=files, headers=bearer(people.instructor)
    )
    assert response.status_code == 422
    assert "not UTF-8" in response.json()["problems"][0]["message"]
    response = upload(staff_client, people.instructor, "Bad Name.yaml", SHIPPED.read_text())
    assert response.status_code == 422
    assert response.json()["problems"][0]["code"] == "spec:bad-slug"


def test_reloading_the_specs_folder_keeps_an_upload(staff_client, db, people, configured, tmp_path):
    from autograder.assignments import sync_specs
    from autograder.models import Assignment

    folder = tmp_path / "specs"
    folder.mkdir()
    shutil.copy(SHIPPED, folder / "hw1-2.yaml")
    sync_specs(db, folder)
    db.commit()
    uploaded = SHIPPED.read_text() + "\n# uploaded\n"
    new_hash = upload(staff_client, people.instructor, "hw1-2.yaml", uploaded).json()["spec_hash"]

    def current() -> str:
        db.expire_all()
        return db.scalar(select(Assignment).where(Assignment.slug == "hw1-2")).spec_hash

    sync_specs(db, folder)  # as `autograder serve` does at start-up: the upload stays
    db.commit()
    assert current() == new_hash
    (folder / "hw1-2.yaml").write_text(SHIPPED.read_text() + "\n# edited on disk\n")
    report = sync_specs(db, folder)  # a file newer than the upload wins
    db.commit()
    assert report.changed == ["hw1-2"] and current() != new_hash


def test_invalid_file_in_the_specs_folder_is_listed(staff_client, people, configured, monkeypatch):
    folder = configured.home / "specs"
    folder.mkdir()
    text, line = misspelt(SHIPPED.read_text())
    (folder / "broken.yaml").write_text(text)
    monkeypatch.setenv("AUTOGRADER_SPECS_DIR", str(folder))
    from tests.conftest import reset_caches

    reset_caches()
    listed = staff_client.get("/api/v1/staff/specs", headers=bearer(people.ta)).json()
    entry = next(e for e in listed if e["slug"] == "broken")
    assert entry["valid"] is False and entry["versions"] == []
    assert line in {p["line"] for p in entry["problems"]}
    assert entry["file"]["problems"] == entry["problems"]
