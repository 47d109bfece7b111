"""Reading assignments, the health check, and the OpenAPI description."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.conftest import auth
from tests.conftest import reset_caches
from tests.services import free_port

DEADLINE = datetime(2030, 6, 1, 15, 59, tzinfo=UTC)


def test_list_assignments(client, make_assignment, make_user):
    make_assignment("hw-b", deadline=DEADLINE)
    make_assignment("hw-a")
    _, token = make_user()
    assert client.get("/api/v1/assignments").status_code == 401
    listed = client.get("/api/v1/assignments", headers=auth(token)).json()
    assert [a["slug"] for a in listed] == ["hw-b", "hw-a"]  # by deadline, none last
    first = listed[0]
    assert first["title"] == "Test homework" and first["title_zh"] == "测试作业"
    assert datetime.fromisoformat(first["deadline"]) == DEADLINE
    assert first["late_policy"]["grace_minutes"] == 10
    assert first["late_policy"]["penalty_per_day"] == 0.25
    assert datetime.fromisoformat(first["late_policy"]["closes_at"]) > DEADLINE
    assert first["files"] == [
        {"name": "hw.py", "max_bytes": 2000},
        {"name": "weights.npy", "max_bytes": 4000},
    ]
    assert first["max_points"] == 5 and first["device"] == "cpu"
    assert first["upload_page"].endswith("/assignments/hw-b/upload")


def test_one_assignment_shows_checks_but_not_their_inputs(client, make_assignment, make_user):
    make_assignment(deadline=DEADLINE)
    _, token = make_user()
    detail = client.get("/api/v1/assignments/hw-test", headers=auth(token)).json()
    assert detail["quota"] == {"per_day": None, "total": None}
    [question] = detail["questions"]
    assert question["id"] == "q1" and question["points"] == 5
    assert question["checks"] == [
        {
            "id": "add",
            "kind": "function",
            "title": "adds two numbers",
            "points": 2,
            "hidden": False,
        },
        {"id": "secret", "kind": "function", "title": "secret cases", "points": 3, "hidden": True},
    ]
    assert "args" not in str(detail) and 'function": "add' not in str(detail)


def test_unknown_assignment_is_404(client, make_user):
    _, token = make_user()
    response = client.get("/api/v1/assignments/nope", headers=auth(token))
    assert response.status_code == 404 and "'nope'" in response.json()["detail"]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("ok", "ok", "ok")
    # No worker runs in this test: degraded, not down (tests/test_observability.py).
    assert body["workers"] == [] and body["degraded"] is True


def test_healthz_with_the_broker_down(client, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    reset_caches()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"].startswith("unreachable: ")


def test_healthz_with_the_database_down(client, monkeypatch):
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    monkeypatch.setenv("AUTOGRADER_DATABASE_URL", closed)
    reset_caches()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["database"].startswith("unreachable: ")


def test_openapi_describes_every_endpoint(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    upload = paths["/api/v1/assignments/{slug}/submissions"]["post"]
    assert upload["tags"] == ["submissions"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"202", "400", "401", "403", "404", "413", "422", "429"} <= set(upload["responses"])
    for path, methods in paths.items():
        for method, operation in methods.items():
            assert operation.get("tags"), (path, method)
            responses = operation["responses"]
            if "204" in responses:
                continue  # no content
            ok = responses.get("200") or responses.get("201") or responses.get("202")
            content = ok["content"]
            if "application/json" not in content:  # a file download: says its media type
                downloads = {"text/csv", "application/octet-stream", "application/zip"}
                assert set(content) & (downloads | {"text/markdown"}), (path, method)
                continue
            assert "$ref" in str(content["application/json"]["schema"]), (path, method)
    assert "/" not in paths and "/assignments/{slug}/upload" not in paths  # pages stay out
    assert "/login" not in paths and "/account" not in paths
    assert client.get("/docs").status_code == 200
