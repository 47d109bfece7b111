"""Fixtures for the API tests: a small spec written here (not grading_specs/), users with
tokens, the app behind TestClient, and the same app behind a real uvicorn server."""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import redis
import uvicorn
import yaml
from fastapi.testclient import TestClient

from tests import services

HW = b"def add(a, b):\n    return a + b  # \xe4\xbd\xa0\xe5\xa5\xbd\n"
WEIGHTS = b"\x93NUMPY fake weights \x00\x01\x02" * 10


def base_spec() -> dict[str, Any]:
    return {
        "title": "Test homework",
        "title_zh": "测试作业",
        "late_policy": {"grace_minutes": 10, "penalty_per_day": 0.25, "cutoff_days": 2},
        "files": [
            {"name": "hw.py", "max_bytes": 2000},
            {"name": "weights.npy", "max_bytes": 4000},
        ],
        "feedback": {"before_deadline": "summary", "after_deadline": "full"},
        "questions": [
            {
                "id": "q1",
                "title": "Adding",
                "checks": [
                    {
                        "id": "add",
                        "kind": "function",
                        "title": "adds two numbers",
                        "module": "hw",
                        "function": "add",
                        "points": 2,
                        "args": [{"value": 1}, {"value": 2}],
                    },
                    {
                        "id": "secret",
                        "kind": "function",
                        "title": "secret cases",
                        "module": "hw",
                        "function": "add",
                        "points": 3,
                        "hidden": True,
                        "args": [{"int": {"low": 0, "high": 9}}, {"int": {"low": 0, "high": 9}}],
                    },
                ],
            }
        ],
    }


def spec_source(deadline: datetime | None = None, **changes: Any) -> str:
    """YAML text of the test spec; ``changes`` replace top-level keys."""
    data = copy.deepcopy(base_spec())
    if deadline is not None:
        data["deadline"] = deadline.isoformat()
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.fixture
def make_assignment(db):  # type: ignore[no-untyped-def]
    from autograder.assignments import upsert_assignment
    from autograder.specs.loader import load_spec_text

    def make(slug: str = "hw-test", deadline: datetime | None = None, **changes: Any):  # type: ignore[no-untyped-def]
        loaded = load_spec_text(spec_source(deadline, **changes), slug, f"{slug}.yaml")
        upsert_assignment(db, loaded)
        db.commit()
        return loaded

    return make


@pytest.fixture
def make_user(db) -> Callable[..., tuple[Any, str]]:  # type: ignore[no-untyped-def]
    """A user with a fresh API token; with ``password`` also one to sign in with."""
    from autograder.models import Role
    from autograder.passwords import hash_password
    from autograder.tokens import create_user

    def make(
        name: str = "alice", role: Role = Role.student, password: str | None = None, **fields: Any
    ) -> tuple[Any, str]:
        user, token = create_user(db, name, role)
        if password is not None:
            user.password_hash = hash_password(password)
        for key, value in fields.items():
            setattr(user, key, value)
        db.commit()
        return user, token

    return make


PASSWORD = "correct horse battery"


def login_form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the sign-in form"
    return match.group(1)


def page_csrf(html: str) -> str:
    """The session's CSRF token, as a signed-in page carries it (``<body data-csrf>``)."""
    match = re.search(r'data-csrf="([^"]*)"', html)
    assert match and match.group(1), "the page carries no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, login: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the form; returns the session's CSRF token."""
    token = login_form_token(client.get("/login").text)
    response = client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return page_csrf(client.get("/account").text)


@pytest.fixture
def client(configured) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    from api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def live_server(configured) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app served by a real uvicorn on a free port, in a thread of this process."""
    from api.app import create_app

    port = services.free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    services.wait_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def broker(configured) -> Iterator[redis.Redis]:  # type: ignore[no-untyped-def]
    connection = redis.Redis.from_url(configured.redis_url)
    yield connection
    connection.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


Parts = list[tuple[str, tuple[str, bytes, str]]]


def parts(*files: tuple[str, bytes]) -> Parts:
    """Multipart parts for httpx: one ``files`` part per (client file name, content)."""
    return [("files", (name, content, "application/octet-stream")) for name, content in files]


def good_files() -> Parts:
    return parts(("hw.py", HW), ("weights.npy", WEIGHTS))


def submission_for(db, user, slug: str = "hw-test", **run_fields: Any):  # type: ignore[no-untyped-def]
    """A submission row of ``user`` with one run (queued unless ``run_fields`` say otherwise),
    made directly in the database: no files are stored and nothing is sent to a worker."""
    from sqlalchemy import select

    from autograder.models import Assignment, GradingRun, Submission

    assignment = db.scalar(select(Assignment).where(Assignment.slug == slug))
    submission = Submission(user=user, assignment=assignment, files=[])
    db.add(submission)
    db.flush()
    fields = {"spec_hash": assignment.spec_hash, "queue": "cpu", "seed": 1} | run_fields
    db.add(GradingRun(submission=submission, **fields))
    db.commit()
    return submission
