"""Submission storage full (a real tmpfs filled to its last block): the upload is refused
with 507 and a message that says it is ours and to send it again, nothing is stored, and
once there is room again the same upload is accepted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from autograder.models import Submission
from tests.api.conftest import auth, good_files
from tests.conftest import reset_caches


@pytest.fixture
def full_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (make test runs as root)")
    folder = tmp_path / "storage"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True)
    try:  # unmounted whatever happens (a mount left behind outlives the test run)
        with open(folder / "filler", "wb", buffering=0) as fh:
            try:
                while fh.write(b"\0" * 4096):
                    pass
            except OSError:
                pass
        monkeypatch.setenv("AUTOGRADER_STORAGE_DIR", str(folder))
        reset_caches()
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_storage_refuses_with_507_and_keeps_nothing(
    client, db, make_assignment, make_user, full_storage
):
    make_assignment()
    _, token = make_user()
    before = sorted(p.name for p in full_storage.rglob("*"))
    response = client.post(
        "/api/v1/assignments/hw-test/submissions", files=good_files(), headers=auth(token)
    )
    assert response.status_code == 507, response.text
    body = response.json()
    assert body["code"] == "upload:storage-full"
    assert "not your fault" in body["detail"] and "again later" in body["detail"]
    assert response.headers["retry-after"] == "300"
    assert db.scalar(select(func.count()).select_from(Submission)) == 0
    assert sorted(p.name for p in full_storage.rglob("*")) == before  # no partial file
    (full_storage / "filler").unlink()  # room again: the same upload goes through
    again = client.post(
        "/api/v1/assignments/hw-test/submissions", files=good_files(), headers=auth(token)
    )
    assert again.status_code == 202, again.text
