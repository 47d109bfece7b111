"""Optional files (``required: false``): accepted when sent, not needed otherwise."""

from __future__ import annotations

from autograder.models import Submission
from tests.api.conftest import HW, WEIGHTS, auth, base_spec, parts

URL = "/api/v1/assignments/hw-opt/submissions"


def optional_weights() -> list[dict]:
    files = base_spec()["files"]
    files[1]["required"] = False
    return files


def test_optional_file_may_be_left_out(client, db, make_assignment, make_user):
    make_assignment("hw-opt", files=optional_weights())
    token = make_user()[1]
    response = client.post(URL, files=parts(("hw.py", HW)), headers=auth(token))
    assert response.status_code == 202, response.text
    submission = db.get(Submission, response.json()["id"])
    assert [f["name"] for f in submission.files] == ["hw.py"]


def test_optional_file_is_kept_when_sent(client, db, make_assignment, make_user):
    make_assignment("hw-opt", files=optional_weights())
    token = make_user()[1]
    response = client.post(
        URL, files=parts(("hw.py", HW), ("weights.npy", WEIGHTS)), headers=auth(token)
    )
    assert response.status_code == 202, response.text
    submission = db.get(Submission, response.json()["id"])
    assert [f["name"] for f in submission.files] == ["hw.py", "weights.npy"]
