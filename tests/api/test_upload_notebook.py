"""A notebook uploaded for the module an assignment asks for (hw.ipynb for hw.py): stored
as the module its code cells make, the upload's answer saying so; a broken notebook refused
with what is wrong, nothing stored."""

from __future__ import annotations

import nbformat
from sqlalchemy import func, select

from autograder import storage
from autograder.models import Submission
from tests.api.conftest import WEIGHTS, auth

URL = "/api/v1/assignments/hw-test/submissions"


def as_notebook(*cells: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell) for cell in cells]
    return nbformat.writes(nb).encode("utf-8")


def test_a_notebook_is_taken_for_its_module(client, db, make_assignment, make_user):
    make_assignment()
    _, token = make_user("alice")
    data = as_notebook("%load_ext autoreload", "def add(a, b):\n    return a + b")
    response = client.post(
        URL,
        files=[("files", ("hw.ipynb", data, "application/x-ipynb+json")),
               ("files", ("weights.npy", WEIGHTS, "application/octet-stream"))],
        headers=auth(token),
    )  # fmt: skip
    assert response.status_code == 202, response.text
    [note] = response.json()["notes"]
    assert note.startswith("hw.ipynb: its 2 code cells, in order, are graded as hw.py")
    assert "cell 1, line 1: %load_ext autoreload" in note
    submission = db.get(Submission, response.json()["id"])
    assert [f["name"] for f in submission.files] == ["hw.py", "weights.npy"]
    module = storage.path_for(submission.files[0]["sha256"]).read_text()
    assert "def add(a, b):" in module
    assert "\npass  # %load_ext autoreload\n" in module  # left out, its line kept


def test_a_broken_notebook_is_refused_and_nothing_is_stored(client, db, make_assignment, make_user):
    make_assignment()
    _, token = make_user("alice")
    response = client.post(
        URL,
        files=[("files", ("hw.ipynb", b'{"cells": [', "application/x-ipynb+json")),
               ("files", ("weights.npy", WEIGHTS, "application/octet-stream"))],
        headers=auth(token),
    )  # fmt: skip
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "upload:bad-notebook"
    assert "'hw.ipynb' is not a notebook: not valid JSON" in body["detail"]
    assert db.scalar(select(func.count()).select_from(Submission)) == 0
