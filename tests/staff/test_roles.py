"""Roles on every staff route: a student is refused (403), a visitor must sign in (401 or
the sign-in page), a TA reads everything but cannot change specs or releases, an
instructor can."""

from __future__ import annotations

import pytest

from tests.staff.conftest import SLUG, bearer

SPEC_FILE = ("file", ("hw-test.yaml", b"title: x\n", "application/x-yaml"))


def staff_routes(submission_id: str, batch_id: int, spec_hash: str) -> list[tuple[str, str]]:
    """Every staff route with real ids (GET and POST/PUT)."""
    return [
        ("GET", "/api/v1/staff/assignments"),
        ("GET", f"/api/v1/staff/assignments/{SLUG}"),
        ("GET", f"/api/v1/staff/assignments/{SLUG}/roster"),
        ("GET", f"/api/v1/staff/assignments/{SLUG}/submissions"),
        ("GET", f"/api/v1/staff/assignments/{SLUG}/gradebook.csv"),
        ("GET", "/api/v1/staff/gradebook.csv"),
        ("GET", f"/api/v1/staff/submissions/{submission_id}"),
        ("GET", f"/api/v1/staff/submissions/{submission_id}/files/hw.py"),
        ("POST", f"/api/v1/staff/submissions/{submission_id}/regrade"),
        ("POST", f"/api/v1/staff/assignments/{SLUG}/regrades"),
        ("GET", f"/api/v1/staff/assignments/{SLUG}/regrades"),
        ("GET", f"/api/v1/staff/regrades/{batch_id}"),
        ("GET", f"/api/v1/staff/regrades/{batch_id}/report"),
        ("POST", f"/api/v1/staff/regrades/{batch_id}/apply"),
        ("POST", f"/api/v1/staff/regrades/{batch_id}/discard"),
        ("GET", "/api/v1/staff/specs"),
        ("GET", f"/api/v1/staff/specs/{SLUG}/versions/{spec_hash}"),
        ("POST", "/api/v1/staff/specs"),
        ("GET", f"/api/v1/staff/assignments/{SLUG}/release"),
        ("PUT", f"/api/v1/staff/assignments/{SLUG}/release"),
        ("PUT", f"/api/v1/staff/assignments/{SLUG}/state"),
        ("POST", f"/api/v1/staff/specs/{SLUG}/reload"),
        ("GET", "/staff"),
        ("GET", f"/staff/assignments/{SLUG}"),
        ("GET", f"/staff/submissions/{submission_id}"),
        ("GET", "/staff/specs"),
    ]


@pytest.fixture
def world(db, people, assignment, graded):  # type: ignore[no-untyped-def]
    from autograder import regrades
    from autograder.storage import store_bytes

    submission = graded("s001", 4.0)
    blob = store_bytes(b"def add(a, b):\n    return a + b\n", 2000)
    submission.files = [{"name": "hw.py", "sha256": blob.sha256, "size": blob.size}]
    batch = regrades.start_for_assignment(db, assignment, _spec(db, assignment), None)
    db.commit()
    return submission.id, batch.id, assignment.spec_hash


def _spec(db, assignment):  # type: ignore[no-untyped-def]
    from autograder.assignments import spec_for

    return spec_for(db, assignment).spec


def call(client, method: str, path: str, token: str | None):  # type: ignore[no-untyped-def]
    headers = bearer(token) if token else {}
    if method == "PUT" and path.endswith("/state"):
        return client.put(path, json={"state": "published"}, headers=headers)
    if method == "PUT":
        return client.put(path, json={"scores_mode": "immediate"}, headers=headers)
    if method == "POST" and path.endswith("/specs"):
        return client.post(path, files=[SPEC_FILE], headers=headers)
    return client.request(method, path, headers=headers, follow_redirects=False)


def test_every_staff_route_is_listed_here(staff_client, world):
    """A new staff route must be added to staff_routes, so its roles are tested."""
    from api.app import STAFF_ROUTERS

    listed = {(m, p) for m, p in staff_routes(*world)}
    templates = {
        (method, route.path)
        for router in STAFF_ROUTERS
        for route in router.routes
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    assert all(p.startswith(("/api/v1/staff/", "/staff")) for _, p in templates)
    filled = {
        (m, p.format(slug=SLUG, submission_id=world[0], batch_id=world[1], spec_hash=world[2]))
        for m, p in {(m, t.replace("{name}", "hw.py")) for m, t in templates}
    }
    assert filled == listed


def test_a_student_is_refused_everywhere(staff_client, people, world):
    for method, path in staff_routes(*world):
        response = call(staff_client, method, path, people.student)
        assert response.status_code == 403, (method, path, response.status_code)
        if path.startswith("/api/"):
            assert response.json()["code"] == "auth:forbidden"


def test_a_visitor_must_sign_in(staff_client, world):
    for method, path in staff_routes(*world):
        response = call(staff_client, method, path, None)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path)
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login")


def test_a_ta_reads_everything(staff_client, people, world):
    for method, path in staff_routes(*world):
        if method != "GET":
            continue
        response = call(staff_client, method, path, people.ta)
        assert response.status_code == 200, (path, response.text[:300])


def test_a_ta_cannot_change_specs_or_releases(staff_client, people, world):
    writes = [(m, p) for m, p in staff_routes(*world) if m != "GET"]
    changes = [w for w in writes if "regrade" not in w[1]]
    assert len(changes) == 4  # an upload, a reload, a release, a state
    for method, path in changes:
        response = call(staff_client, method, path, people.ta)
        assert response.status_code == 403, (method, path)
        assert "instructor" in response.json()["detail"]


def test_an_instructor_changes_releases_and_specs(staff_client, people, world):
    path = f"/api/v1/staff/assignments/{SLUG}/release"
    assert call(staff_client, "PUT", path, people.instructor).status_code == 200
    path = f"/api/v1/staff/assignments/{SLUG}/state"
    assert call(staff_client, "PUT", path, people.instructor).json()["state"] == "published"
    response = call(staff_client, "POST", "/api/v1/staff/specs", people.instructor)
    assert response.status_code == 422  # reached validation: "title: x" is not a spec
    assert response.json()["code"] == "spec:invalid"


def test_a_ta_regrades_and_decides(staff_client, people, world):
    submission_id, batch_id, _ = world
    response = call(staff_client, "POST", f"/api/v1/staff/regrades/{batch_id}/discard", people.ta)
    assert response.status_code == 200 and response.json()["state"] == "discarded"
    path = f"/api/v1/staff/submissions/{submission_id}/regrade"
    response = call(staff_client, "POST", path, people.ta)
    assert response.status_code == 202 and response.json()["scope"] == "submission"


def test_unknown_ids_are_404_for_staff(staff_client, people, world):
    for path in [
        "/api/v1/staff/submissions/nope",
        "/api/v1/staff/assignments/nope/roster",
        "/api/v1/staff/regrades/999999",
        f"/api/v1/staff/submissions/{world[0]}/files/other.py",
        f"/api/v1/staff/specs/{SLUG}/versions/0000",
    ]:
        assert staff_client.get(path, headers=bearer(people.ta)).status_code == 404, path


def test_cookie_changes_need_the_csrf_token(staff_client, db, world):
    """A signed-in TA's browser: a POST without the page's CSRF token is refused."""
    from autograder.models import Role
    from autograder.passwords import hash_password
    from autograder.tokens import create_user
    from tests.api.conftest import PASSWORD, sign_in

    ta, _ = create_user(db, "ta2", Role.ta)
    ta.password_hash = hash_password(PASSWORD)
    db.commit()
    csrf = sign_in(staff_client, "ta2")
    path = f"/api/v1/staff/submissions/{world[0]}/regrade"
    refused = staff_client.post(path)
    assert refused.status_code == 403 and refused.json()["code"] == "auth:csrf"
    assert staff_client.post(path, headers={"X-CSRF-Token": csrf}).status_code == 202
    page = staff_client.get(f"/staff/assignments/{SLUG}")
    assert page.status_code == 200 and f'data-csrf="{csrf}"' in page.text
