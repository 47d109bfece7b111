"""Fixtures for the staff tests: users of every role with tokens, an assignment, and
submissions with constructed results (rows written as the service writes them; the tests
that need real grading use the worker fixture instead).

Fixture map:
- ``staff_client``: the app behind TestClient.
- ``people``: tokens of a student, a TA and an instructor (``people.student`` ...).
- ``assignment``: the API tests' small spec (``hw-test``, 5 points) loaded as current and
  published, with a reference solution and a starter (files the spec names, the handouts)
  in folders of the test's own (``bundle``), since a new version of a published assignment
  must find its whole bundle.
- ``graded``: a function adding a submission with a graded current run.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import spec_source

SLUG = "hw-test"
MAX_POINTS = 5.0


@pytest.fixture
def staff_client(configured) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    from api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@dataclass
class People:
    student: str
    ta: str
    instructor: str
    student_id: int


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def people(db) -> People:  # type: ignore[no-untyped-def]
    from autograder.models import Role
    from autograder.tokens import create_user

    student, student_token = create_user(db, "s001", Role.student)
    _, ta_token = create_user(db, "ta1", Role.ta)
    _, instructor_token = create_user(db, "prof", Role.instructor)
    db.commit()
    return People(student_token, ta_token, instructor_token, student.id)


@pytest.fixture
def bundle(configured, monkeypatch, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Reference and starter folders of ``hw-test`` holding every file its spec names."""
    from autograder.specs.loader import load_spec_text
    from tests.conftest import reset_caches

    root = tmp_path_factory.mktemp("bundle")
    loaded = load_spec_text(spec_source(), SLUG, f"{SLUG}.yaml")
    for part in ("reference", "starters"):
        folder = root / part / SLUG
        folder.mkdir(parents=True)
        for f in loaded.spec.files:
            (folder / f.name).write_bytes(b"")
    (root / "starters" / SLUG / "README.md").write_text("hw-test", encoding="utf-8")
    (root / "starters" / SLUG / "README.zh.md").write_text("测试作业", encoding="utf-8")
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(root / "reference"))
    monkeypatch.setenv("AUTOGRADER_STARTERS_DIR", str(root / "starters"))
    reset_caches()
    return root


@pytest.fixture
def assignment(db, bundle):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from autograder.assignments import upsert_assignment
    from autograder.models import Assignment
    from autograder.specs.loader import load_spec_text

    loaded = load_spec_text(spec_source(), SLUG, f"{SLUG}.yaml")
    upsert_assignment(db, loaded)
    db.commit()
    return db.scalar(select(Assignment).where(Assignment.slug == SLUG))


@pytest.fixture
def graded(db, assignment) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    """``graded(user_name, score, **fields)``: a submission of ``assignment`` whose current
    run is final with ``score`` (None: failed on our side). Later calls are received later."""
    from sqlalchemy import select

    from autograder.models import GradingRun, Role, RunState, Submission, User, utcnow

    clock = {"t": utcnow() - timedelta(days=1)}

    def make(
        name: str,
        score: float | None,
        *,
        state: RunState | None = None,
        late_days: int = 0,
        full_name: str = "",
        received_at: datetime | None = None,
    ) -> Submission:
        user = db.scalar(select(User).where(User.name == name))
        if user is None:
            user = User(name=name, role=Role.student, full_name=full_name)
            db.add(user)
        clock["t"] += timedelta(minutes=1)
        submission = Submission(
            user=user,
            assignment_id=assignment.id,
            received_at=received_at or clock["t"],
            is_late=late_days > 0,
            late_days=late_days,
            files=[],
        )
        if state is None:
            state = RunState.graded if score is not None else RunState.failed_infra
        run = GradingRun(
            submission=submission,
            spec_hash=assignment.spec_hash,
            queue="cpu",
            state=state,
            seed=secrets.randbits(62),
            score=score,
            raw_score=score,
            max_score=MAX_POINTS,
            attempts=1,
            finished_at=clock["t"],
        )
        db.add_all([submission, run])
        db.commit()
        return submission

    return make
