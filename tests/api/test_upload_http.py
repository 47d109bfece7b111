"""The upload → result flow over real HTTP (uvicorn on a port, httpx), with real Postgres
and a real Celery message on Redis."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import httpx
from sqlalchemy import select

from autograder import storage
from autograder.models import GradingRun, Role, Submission
from autograder.submissions import job_seed
from tests.api.conftest import HW, WEIGHTS, auth, good_files


def wait_for(condition, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_upload_then_read_the_result(live_server, db, broker, make_assignment, make_user):
    loaded = make_assignment()
    alice, token = make_user("alice")
    queued_before = broker.llen("cpu")

    with httpx.Client(base_url=live_server, timeout=30) as http:
        response = http.post(
            "/api/v1/assignments/hw-test/submissions", files=good_files(), headers=auth(token)
        )
        assert response.status_code == 202, response.text
        created = response.json()
        assert created["state"] == "queued"
        assert created["is_late"] is False and created["late_days"] == 0
        assert created["url"] == f"{live_server}/api/v1/submissions/{created['id']}"

        # The row, its run and the stored files.
        submission = db.get(Submission, created["id"])
        assert submission is not None and submission.user_id == alice.id
        assert [f["name"] for f in submission.files] == ["hw.py", "weights.npy"]
        for entry, content in zip(submission.files, (HW, WEIGHTS), strict=True):
            assert entry["sha256"] == hashlib.sha256(content).hexdigest()
            assert entry["size"] == len(content)
            assert storage.path_for(entry["sha256"]).read_bytes() == content
        run = db.scalars(select(GradingRun).where(GradingRun.submission_id == submission.id)).one()
        assert run.state == "queued" and run.queue == "cpu"
        assert run.spec_hash == loaded.spec_hash
        assert run.seed == job_seed(submission.id, loaded.spec_hash)
        assert 0 <= run.seed < 2**63

        # A Celery message really went to the "cpu" list on Redis, naming the run.
        wait_for(lambda: broker.llen("cpu") == queued_before + 1)
        message = json.loads(broker.lindex("cpu", 0))
        assert message["headers"]["task"] == "autograder.grade_run"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        assert args == [run.id]

        def enqueued_at():  # type: ignore[no-untyped-def]
            db.expire_all()
            return db.get(GradingRun, run.id).enqueued_at

        wait_for(enqueued_at)

        # The result, as the student sees it.
        result = http.get(created["url"], headers=auth(token))
        assert result.status_code == 200, result.text
        view = result.json()
        assert view["id"] == created["id"] and view["assignment"] == "hw-test"
        assert view["state"] == "queued" and view["outcomes"] == [] and view["score"] is None
        assert [f["name"] for f in view["files"]] == ["hw.py", "weights.npy"]
        assert "seed" not in view

        mine = http.get("/api/v1/me/submissions", headers=auth(token))
        assert [s["id"] for s in mine.json()] == [created["id"]]

        # Another student gets "not found", not "forbidden"; a TA may look.
        _, bob_token = make_user("bob")
        other = http.get(created["url"], headers=auth(bob_token))
        assert other.status_code == 404 and created["id"] in other.json()["detail"]
        assert http.get("/api/v1/me/submissions", headers=auth(bob_token)).json() == []
        _, ta_token = make_user("tina", Role.ta)
        assert http.get(created["url"], headers=auth(ta_token)).status_code == 200
        assert http.get(created["url"]).status_code == 401


def test_zip_upload_over_http(live_server, db, make_assignment, make_user):
    from tests.api.test_upload_zip import zip_of

    make_assignment()
    _, token = make_user()
    archive = zip_of({"my-hw/src/hw.py": HW, "my-hw/weights.npy": WEIGHTS, "README.md": b"hi"})
    response = httpx.post(
        f"{live_server}/api/v1/assignments/hw-test/submissions",
        files=[("files", ("submission.zip", archive, "application/zip"))],
        headers=auth(token),
        timeout=30,
    )
    assert response.status_code == 202, response.text
    submission = db.get(Submission, response.json()["id"])
    assert {f["name"]: f["sha256"] for f in submission.files} == {
        "hw.py": hashlib.sha256(HW).hexdigest(),
        "weights.npy": hashlib.sha256(WEIGHTS).hexdigest(),
    }
