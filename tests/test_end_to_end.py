"""End to end over HTTP: upload with curl's protocol, a real API server and worker, the
sandbox, Postgres and Redis. The shipped homework must earn what they deserve."""

from __future__ import annotations

import time

import httpx
import pytest

from autograder.assignments import sync_specs
from autograder.models import Role
from autograder.settings import PROJECT_ROOT
from autograder.tokens import create_user
from tests.sandboxed import require_sandbox

pytestmark = pytest.mark.slow
HOMEWORK = ["hw1-1", "hw1-2", "hw1-3", "hw2-2"]


@pytest.fixture
def mnist_env(configured, monkeypatch):
    """The service's data folder holds the prepared MNIST (before the worker starts)."""
    from tests.sandboxed import prepared_mnist

    monkeypatch.setenv("AUTOGRADER_DATA_DIR", str(prepared_mnist()))


@pytest.fixture
def service(configured, mnist_env, db, api_server, worker):
    require_sandbox(configured)
    report = sync_specs(db, configured.specs_dir)
    assert not report.errors, report.errors
    _, token = create_user(db, "student1", Role.student)
    db.commit()
    return api_server.url, {"Authorization": f"Bearer {token}"}


def upload(base, headers, slug, folder, names=None):
    """Every file of the spec that ``folder`` has (code and, for hw2-2, trained weights)."""
    from autograder.specs.loader import load_spec_file

    spec = load_spec_file(PROJECT_ROOT / "grading_specs" / f"{slug}.yaml").spec
    present = [folder / f.name for f in spec.files if (folder / f.name).is_file()]
    files = [
        ("files", (p.name, p.read_bytes(), "application/octet-stream"))
        for p in present
        if names is None or p.name in names
    ]
    return httpx.post(
        f"{base}/api/v1/assignments/{slug}/submissions", files=files, headers=headers, timeout=30
    )


def wait_result(base, headers, url, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(
            url if url.startswith("http") else base + url, headers=headers, timeout=10
        ).json()
        if body["state"] in ("graded", "failed_student", "failed_infra"):
            return body
        time.sleep(0.3)
    raise TimeoutError(url)


@pytest.mark.parametrize("slug", HOMEWORK)
def test_reference_earns_full_marks_and_starter_zero(service, slug):
    base, headers = service
    ref = upload(base, headers, slug, PROJECT_ROOT / "reference_solutions" / slug)
    assert ref.status_code == 202, ref.text
    starter = upload(base, headers, slug, PROJECT_ROOT / "starters" / slug)
    assert starter.status_code == 202, starter.text
    ref_result = wait_result(base, headers, ref.json()["url"])
    assert ref_result["state"] == "graded"
    assert ref_result["score"] == ref_result["max_score"] > 0
    starter_result = wait_result(base, headers, starter.json()["url"])
    assert starter_result["score"] == 0
    visible = [o for o in starter_result["outcomes"] if o.get("message")]
    assert visible and all(o["earned"] == 0 for o in visible)
    # Each says what to do: implement the function, or (hw2-2) upload trained weights.
    assert all(
        "NotImplementedError" in o["message"] or "no weights uploaded" in o["message"]
        for o in visible
    )


def test_broken_file_gets_a_clear_message(service, tmp_path):
    base, headers = service
    broken = tmp_path / "numpy_basics.py"
    broken.write_text("import numpy as np\n\ndef softmax(z)\n    return z\n")
    response = upload(base, headers, "hw1-1", tmp_path)
    assert response.status_code == 202
    result = wait_result(base, headers, response.json()["url"])
    assert result["state"] == "failed_student"
    assert result["score"] == 0
    assert "SyntaxError" in result["failure_message"]
    assert "line 3" in result["failure_message"]


def test_program_output_is_returned_as_text(service, tmp_path):
    base, headers = service
    source = (PROJECT_ROOT / "reference_solutions" / "hw1-1" / "numpy_basics.py").read_text()
    (tmp_path / "numpy_basics.py").write_text(
        source + "\nprint('<script>alert(1)</script> hello from the student')\n"
    )
    response = upload(base, headers, "hw1-1", tmp_path)
    result = wait_result(base, headers, response.json()["url"])
    assert result["score"] == result["max_score"]
    assert "<script>alert(1)</script> hello from the student" in result["log"]
