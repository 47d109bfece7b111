"""Roles on every route: each route of the app that is not on the public list refuses an
anonymous request, whatever its path parameters; staff and instructor routes refuse a
student; and a student reaches only their own submissions."""

from __future__ import annotations

import re
from collections.abc import Iterator

from starlette.routing import Mount

from api.app import create_app
from autograder.models import Role
from tests.api.conftest import PASSWORD, auth, sign_in, submission_for

PUBLIC = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/docs/assets/swagger-ui-bundle.js"),
    ("GET", "/healthz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/favicon.ico"),  # a redirect to /static/favicon.svg
}
# Protected otherwise than by signing in: /metrics answers localhost or its bearer token
# (AUTOGRADER_METRICS_TOKEN), tested in tests/test_observability.py.
OWN_PROTECTION = {("GET", "/metrics")}
# Paths only staff may use, and those only an instructor may use (prefixes).
STAFF_ONLY = ("/api/v1/staff", "/staff")
INSTRUCTOR_ONLY = ("/api/v1/users", "/roster")


def routes(container: object) -> Iterator[tuple[str, str]]:
    """(method, path) of every endpoint, walking FastAPI's included routers."""
    for route in getattr(container, "routes", []):
        if isinstance(route, Mount):
            continue  # /static
        if hasattr(route, "original_router"):
            yield from routes(route.original_router)
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, route.path


def concrete(path: str) -> str:
    """A request path for a route path: every parameter gets a harmless value."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_is_listed():
    found = set(routes(create_app()))
    assert ("GET", "/api/v1/submissions/{submission_id}") in found
    assert ("POST", "/logout") in found and ("GET", "/login") in found
    assert len(found) > 20


def test_every_non_public_route_refuses_anonymous_requests(client):
    checked = 0
    for method, path in sorted(set(routes(client.app))):
        if (method, path) in PUBLIC or (method, path) in OWN_PROTECTION:
            continue
        response = client.request(method, concrete(path), json={}, follow_redirects=False)
        if method == "GET" and not path.startswith("/api/"):
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login?next="), (method, path)
        else:
            assert response.status_code == 401, (method, path, response.status_code)
        checked += 1
    assert checked > 15


def test_public_routes_answer_without_signing_in(client):
    for method, path in PUBLIC:
        if method == "GET":
            assert client.get(path).status_code == 200, path


def test_staff_and_instructor_routes_refuse_a_student(client, make_user):
    _, student = make_user("stu")
    _, ta = make_user("ta1", Role.ta)
    checked = 0
    for method, path in sorted(set(routes(client.app))):
        who = [student] if path.startswith(STAFF_ONLY) else []
        who += [student, ta] if path.startswith(INSTRUCTOR_ONLY) else []
        for token in who:
            response = client.request(
                method, concrete(path), json={}, headers=auth(token), follow_redirects=False
            )
            assert response.status_code == 403, (method, path, response.status_code)
            if path.startswith("/api/") and path.startswith(INSTRUCTOR_ONLY):
                assert response.json()["detail"] == "only an instructor may do this"
            checked += 1
    assert checked >= 3


def test_a_student_sees_only_their_own_submissions(client, make_assignment, make_user, db):
    make_assignment()
    alice, alice_token = make_user("alice", password=PASSWORD)
    bob, bob_token = make_user("bob")
    _, ta_token = make_user("ta1", Role.ta)
    hers = submission_for(db, alice)
    his = submission_for(db, bob)
    api = "/api/v1/submissions/{}"
    assert client.get(api.format(hers.id), headers=auth(alice_token)).status_code == 200
    refused = client.get(api.format(his.id), headers=auth(alice_token))
    assert refused.status_code == 404 and refused.json()["code"] == "not-found"
    missing = client.get(api.format("0" * 32), headers=auth(alice_token))
    assert missing.json()["detail"].replace("0" * 32, his.id) == refused.json()["detail"]
    assert client.get(api.format(his.id), headers=auth(ta_token)).status_code == 200
    mine = client.get("/api/v1/me/submissions", headers=auth(bob_token)).json()
    assert [s["id"] for s in mine] == [his.id]
    sign_in(client, "alice")  # the page answers the same
    assert client.get(f"/submissions/{his.id}").status_code == 404
    assert client.get(f"/submissions/{hers.id}").status_code == 200
