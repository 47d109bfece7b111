"""An assignment's state from the staff side: a spec uploaded for a new slug is a draft
students never see, a withdrawn assignment disappears for students and keeps every
submission, only a checked version is published from the pages, a live assignment's new
version must find its whole bundle, and the file in grading_specs/ is reloaded on request.

The graded publish checks (``autograder assignments publish``) are in tests/test_publish.py.
"""

from __future__ import annotations

from sqlalchemy import select

from tests.api.conftest import spec_source
from tests.staff.conftest import SLUG, bearer


def upload(client, token: str, slug: str, text: str):  # type: ignore[no-untyped-def]
    files = [("file", (f"{slug}.yaml", text.encode(), "application/x-yaml"))]
    return client.post("/api/v1/staff/specs", files=files, headers=bearer(token))


def student_sees(client, people, slug: str) -> bool:  # type: ignore[no-untyped-def]
    listed = client.get("/api/v1/assignments", headers=bearer(people.student)).json()
    one = client.get(f"/api/v1/assignments/{slug}", headers=bearer(people.student))
    assert (slug in {a["slug"] for a in listed}) == (one.status_code == 200), one.text
    return one.status_code == 200


def set_state(client, token: str, slug: str, state: str):  # type: ignore[no-untyped-def]
    path = f"/api/v1/staff/assignments/{slug}/state"
    return client.put(path, json={"state": state}, headers=bearer(token))


def entry(client, people, slug: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    listed = client.get("/api/v1/staff/specs", headers=bearer(people.ta)).json()
    return next(e for e in listed if e["slug"] == slug)


def test_a_new_slug_uploaded_is_a_draft_students_never_see(staff_client, people, bundle):
    response = upload(staff_client, people.instructor, "new-hw", spec_source())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "draft"
    assert any("a draft" in w for w in body["warnings"])
    # no reference nor starter for new-hw in the bundle folders: said, not refused
    assert any("reference solution file" in w for w in body["warnings"]), body
    assert not student_sees(staff_client, people, "new-hw")
    submit = staff_client.post(
        "/api/v1/assignments/new-hw/submissions",
        files=[("files", ("hw.py", b"x = 1\n", "text/x-python"))],
        headers=bearer(people.student),
    )
    assert submit.status_code == 404
    shown = entry(staff_client, people, "new-hw")
    assert shown["state"] == "draft" and shown["publishable"] is False
    assert shown["origin"] == "upload of new-hw.yaml by prof"
    # the pages publish only a version that passed `assignments publish`'s checks
    refused = set_state(staff_client, people.instructor, "new-hw", "published")
    assert refused.status_code == 409
    assert "autograder assignments publish" in refused.json()["detail"]
    assert not student_sees(staff_client, people, "new-hw")


def test_withdrawn_hides_it_from_students_and_keeps_every_submission(
    staff_client, people, assignment, graded
):
    submission = graded("s001", 4.0)
    assert student_sees(staff_client, people, SLUG)
    response = set_state(staff_client, people.instructor, SLUG, "withdrawn")
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"
    assert not student_sees(staff_client, people, SLUG)
    page = staff_client.get(f"/assignments/{SLUG}/upload", headers=bearer(people.student))
    assert page.status_code == 404
    kept = staff_client.get(
        f"/api/v1/staff/assignments/{SLUG}/submissions", headers=bearer(people.ta)
    ).json()
    assert [s["id"] for s in kept] == [submission.id]
    assert entry(staff_client, people, SLUG)["state"] == "withdrawn"
    back = set_state(staff_client, people.instructor, SLUG, "published")
    assert back.status_code == 200 and back.json()["state"] == "published"
    assert student_sees(staff_client, people, SLUG)
    draft = set_state(staff_client, people.instructor, SLUG, "draft")
    assert draft.status_code == 422  # not a state one changes to


def test_a_live_assignments_new_version_needs_its_whole_bundle(
    staff_client, db, people, assignment, bundle
):
    from autograder.models import Assignment

    starter = bundle / "starters" / SLUG
    (starter / "README.zh.md").unlink()
    response = upload(staff_client, people.instructor, SLUG, spec_source() + "\n# v2\n")
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert {p["code"] for p in problems} == {"spec:bundle-incomplete"}
    assert "README.zh.md" in problems[0]["message"]
    assert "published, so this version would be live at once" in problems[0]["message"]
    db.expire_all()
    row = db.scalar(select(Assignment).where(Assignment.slug == SLUG))
    assert row.spec_hash == assignment.spec_hash  # nothing changed
    (starter / "README.zh.md").write_text("测试作业", encoding="utf-8")
    again = upload(staff_client, people.instructor, SLUG, spec_source() + "\n# v2\n")
    assert again.status_code == 201 and again.json()["state"] == "published"


def test_reload_from_file_makes_the_edited_file_current(
    staff_client, db, people, assignment, configured, monkeypatch
):
    from autograder.models import Assignment
    from tests.conftest import reset_caches

    folder = configured.home / "specs"
    folder.mkdir()
    monkeypatch.setenv("AUTOGRADER_SPECS_DIR", str(folder))
    reset_caches()
    path = f"/api/v1/staff/specs/{SLUG}/reload"
    missing = staff_client.post(path, headers=bearer(people.instructor))
    assert missing.status_code == 404 and str(folder / f"{SLUG}.yaml") in missing.text
    (folder / f"{SLUG}.yaml").write_text(spec_source() + "\n# edited on disk\n")
    shown = entry(staff_client, people, SLUG)
    assert shown["file"]["state"] == "differs"  # reported, not silently ignored
    response = staff_client.post(path, headers=bearer(people.instructor))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True and body["state"] == "published"
    db.expire_all()
    row = db.scalar(select(Assignment).where(Assignment.slug == SLUG))
    assert row.spec_hash == body["spec_hash"] == shown["file"]["hash"]
    shown = entry(staff_client, people, SLUG)
    assert shown["file"]["state"] == "same"
    assert shown["origin"] == f"file {folder / f'{SLUG}.yaml'} (reloaded by prof)"
    assert [v["origin"] for v in shown["versions"]] == ["file", "file"]
    (folder / f"{SLUG}.yaml").write_text("title: [broken\n")
    broken = staff_client.post(path, headers=bearer(people.instructor))
    assert broken.status_code == 422
    problem = broken.json()["problems"][0]
    assert problem["file"] == f"{SLUG}.yaml" and problem["line"] is not None
