"""Every way an upload is refused, each with a message that names the problem."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autograder.models import GradingRun, RunState, utcnow
from autograder.tokens import revoke_tokens
from tests.api.conftest import HW, WEIGHTS, auth, good_files, parts
from tests.conftest import reset_caches

URL = "/api/v1/assignments/hw-test/submissions"


@pytest.fixture
def token(make_assignment, make_user) -> str:  # type: ignore[no-untyped-def]
    make_assignment()
    return make_user()[1]


def refused(response, status: int, *words: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    for word in words:
        assert word in body["detail"], (word, body)
    return body


# --------------------------------------------------------------------------- 401 / 404


def test_missing_token(client, token):
    response = client.post(URL, files=good_files())
    refused(response, 401, "token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_and_revoked_tokens(client, db, make_assignment, make_user):
    make_assignment()
    user, token = make_user()
    response = client.post(URL, files=good_files(), headers=auth("ag_not-a-real-token"))
    refused(response, 401, "invalid")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post(URL, files=good_files(), headers=auth(token)).status_code == 202
    revoke_tokens(db, user)
    db.commit()
    refused(client.post(URL, files=good_files(), headers=auth(token)), 401, "revoked")


def test_token_is_checked_before_the_body_is_read(client, token):
    response = client.post(
        URL, content=b"not multipart", headers={"Content-Type": "multipart/form-data"}
    )
    assert response.status_code == 401


def test_unknown_assignment(client, token):
    response = client.post(
        "/api/v1/assignments/no-such-hw/submissions", files=good_files(), headers=auth(token)
    )
    refused(response, 404, "no-such-hw")


# --------------------------------------------------------------------------- 400 / 422


def test_unexpected_file_names_itself_and_the_expected_ones(client, token):
    response = client.post(
        URL, files=good_files() + parts(("notes.txt", b"hi")), headers=auth(token)
    )
    body = refused(response, 400, "'notes.txt'", "hw.py", "weights.npy")
    assert body["code"] == "upload:unexpected-file"


def test_client_paths_are_reduced_to_their_basename(client, db, token):
    from autograder.models import Submission

    response = client.post(
        URL,
        files=parts(("../../outside/hw.py", HW), ("C:\\Users\\me\\weights.npy", WEIGHTS)),
        headers=auth(token),
    )
    assert response.status_code == 202, response.text
    names = [f["name"] for f in db.get(Submission, response.json()["id"]).files]
    assert names == ["hw.py", "weights.npy"]
    refused(
        client.post(URL, files=parts(("../../etc/passwd", b"x")), headers=auth(token)),
        400,
        "'passwd'",
    )


def test_missing_file_is_named(client, token):
    response = client.post(URL, files=parts(("hw.py", HW)), headers=auth(token))
    body = refused(response, 422, "'weights.npy'")
    assert body["code"] == "upload:missing-file"


def test_no_files_at_all(client, token):
    refused(client.post(URL, files={"other": ("x", b"")}, headers=auth(token)), 400, "'other'")
    response = client.post(URL, data={}, headers=auth(token))
    refused(response, 400, "multipart")


def test_same_file_twice(client, token):
    response = client.post(URL, files=good_files() + parts(("hw.py", HW)), headers=auth(token))
    refused(response, 400, "'hw.py'", "more than once")


def test_python_file_must_be_utf8(client, token):
    gbk = "# 作业\nx = 1\n".encode("gbk")
    response = client.post(
        URL, files=parts(("hw.py", gbk), ("weights.npy", WEIGHTS)), headers=auth(token)
    )
    body = refused(response, 400, "'hw.py'", "UTF-8", "offset 2")
    assert body["code"] == "upload:not-utf8"


def test_binary_files_need_not_be_utf8(client, token):
    response = client.post(
        URL, files=parts(("hw.py", HW), ("weights.npy", b"\xff\xfe" * 10)), headers=auth(token)
    )
    assert response.status_code == 202


# --------------------------------------------------------------------------- 413


def test_file_over_its_own_limit(client, token):
    response = client.post(
        URL, files=parts(("hw.py", b"#" * 2001), ("weights.npy", WEIGHTS)), headers=auth(token)
    )
    body = refused(response, 413, "'hw.py'", "2000 bytes")
    assert body["code"] == "upload:too-large"


def test_exactly_the_limit_is_fine(client, token):
    response = client.post(
        URL, files=parts(("hw.py", b"#" * 2000), ("weights.npy", WEIGHTS)), headers=auth(token)
    )
    assert response.status_code == 202


@pytest.fixture
def small_limits(configured, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUTOGRADER_MAX_UPLOAD_BYTES", "5000")
    monkeypatch.setenv("AUTOGRADER_MAX_UPLOAD_FILES", "3")
    reset_caches()


def test_files_together_over_the_request_limit(client, token, small_limits):
    response = client.post(
        URL,
        files=parts(("hw.py", b"#" * 1500), ("weights.npy", b"w" * 3900)),
        headers=auth(token),
    )
    refused(response, 413, "5000 bytes", "together")


def test_request_body_over_the_limit_is_refused_before_reading(client, token, small_limits):
    response = client.post(
        URL, files=parts(("hw.py", HW), ("weights.npy", b"w" * 200_000)), headers=auth(token)
    )
    refused(response, 413, "5000 bytes in total")


def test_chunked_body_over_the_limit_is_cut_off(client, token, small_limits):
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="hw.py"'
    body = f"{head}\r\n\r\n".encode() + b"#" * 300_000 + f"\r\n--{boundary}--\r\n".encode()

    def chunks():  # no Content-Length: the server must count
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = client.post(
        URL,
        content=chunks(),
        headers=auth(token) | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    refused(response, 413, "5000 bytes in total")


def test_too_many_files(client, token, small_limits):
    many = good_files() + parts(("a.py", b""), ("b.py", b""))
    body = refused(client.post(URL, files=many, headers=auth(token)), 413, "too many files", "3")
    assert body["code"] == "upload:too-large"


# --------------------------------------------------------------------------- 403 / 429 / late


def test_past_the_cutoff(client, make_assignment, make_user):
    deadline = utcnow() - timedelta(days=5)
    make_assignment(deadline=deadline)
    _, token = make_user()
    body = refused(
        client.post(URL, files=good_files(), headers=auth(token)), 403, "deadline", "cut-off"
    )
    assert deadline.strftime("%Y-%m-%dT%H:%M") in body["detail"]
    assert (deadline + timedelta(days=2, minutes=10)).strftime("%Y-%m-%dT%H:%M") in body["detail"]


def test_late_but_before_the_cutoff(client, db, make_assignment, make_user):
    from autograder.models import Submission

    make_assignment(deadline=utcnow() - timedelta(hours=30))
    _, token = make_user()
    response = client.post(URL, files=good_files(), headers=auth(token))
    assert response.status_code == 202, response.text
    assert response.json()["is_late"] is True and response.json()["late_days"] == 2
    submission = db.get(Submission, response.json()["id"])
    assert submission.is_late and submission.late_days == 2


def test_daily_quota(client, db, make_assignment, make_user):
    make_assignment(quota={"per_day": 2})
    _, token = make_user()
    first = client.post(URL, files=good_files(), headers=auth(token))
    assert first.status_code == 202
    assert client.post(URL, files=good_files(), headers=auth(token)).status_code == 202
    response = client.post(URL, files=good_files(), headers=auth(token))
    body = refused(response, 429, "daily quota", "2 of 2")
    assert body["code"] == "upload:quota"
    assert 86000 < int(response.headers["Retry-After"]) <= 86400

    # A run that failed on our side is not charged to the student.
    run = db.query(GradingRun).filter_by(submission_id=first.json()["id"]).one()
    run.state = RunState.failed_infra
    db.commit()
    assert client.post(URL, files=good_files(), headers=auth(token)).status_code == 202


def test_quota_is_per_student(client, make_assignment, make_user):
    make_assignment(quota={"per_day": 1})
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    assert client.post(URL, files=good_files(), headers=auth(alice)).status_code == 202
    assert client.post(URL, files=good_files(), headers=auth(bob)).status_code == 202
    assert client.post(URL, files=good_files(), headers=auth(alice)).status_code == 429


def test_total_quota(client, make_assignment, make_user):
    make_assignment(quota={"total": 1})
    _, token = make_user()
    assert client.post(URL, files=good_files(), headers=auth(token)).status_code == 202
    refused(client.post(URL, files=good_files(), headers=auth(token)), 429, "1 of 1")


# --------------------------------------------------------------------------- broker down


def test_broker_down_still_accepts_the_submission(
    client, db, make_assignment, make_user, monkeypatch
):
    from tests.services import free_port

    make_assignment()
    _, token = make_user()
    monkeypatch.setenv("AUTOGRADER_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    reset_caches()
    response = client.post(URL, files=good_files(), headers=auth(token))
    assert response.status_code == 202, response.text
    db.expire_all()
    run = db.query(GradingRun).filter_by(submission_id=response.json()["id"]).one()
    assert run.state == RunState.queued and run.enqueued_at is None


# --------------------------------------------------------------------------- both languages


@pytest.mark.parametrize(
    ("files", "status", "zh"),
    [
        (lambda: parts(("hw.py", HW), ("weights.npy", WEIGHTS), ("notes.txt", b"x")), 400,
         "不需要的文件 'notes.txt'"),
        (lambda: parts(("hw.py", HW)), 422, "缺少必需的文件 'weights.npy'"),
        (lambda: parts(("hw.py", HW), ("hw.py", HW), ("weights.npy", WEIGHTS)), 400,
         "文件 'hw.py' 被发送了不止一次"),
        (lambda: parts(("hw.py", b"\xff\xfe"), ("weights.npy", WEIGHTS)), 400,
         "'hw.py' 不是 UTF-8 文本"),
        (lambda: parts(("sub.zip", b"PK\x03\x04 not a zip")), 400, "不是可读取的 zip 压缩包"),
        (lambda: parts(("hw.ipynb", b"{"), ("weights.npy", WEIGHTS)), 400, "'hw.ipynb' 不是笔记本"),
    ],
    ids=["unexpected", "missing", "twice", "not-utf8", "bad-zip", "bad-notebook"],
)  # fmt: skip
def test_an_upload_refusal_is_said_in_english_and_chinese(client, token, files, status, zh):
    """Each refusal of a student's upload carries its message in both languages (pages in
    Chinese show the Chinese one); the English stays in detail, as before."""
    body = refused(client.post(URL, files=files(), headers=auth(token)), status)
    assert body["messages"]["en"] == body["detail"]
    assert zh in body["messages"]["zh"], body


def test_a_quota_refusal_is_said_in_chinese_too(client, make_assignment, make_user):
    make_assignment(quota={"total": 1})
    _, token = make_user()
    assert client.post(URL, files=good_files(), headers=auth(token)).status_code == 202
    body = refused(client.post(URL, files=good_files(), headers=auth(token)), 429, "quota")
    assert "已达到提交次数上限" in body["messages"]["zh"]
