"""Rows for integration tests, made the way the service makes them (real storage, real specs)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from sqlalchemy.orm import Session

from autograder.assignments import upsert_assignment
from autograder.db import session_scope
from autograder.models import GradingRun, Role, RunState, Submission
from autograder.specs.loader import load_spec_file
from autograder.storage import store_bytes
from autograder.tokens import create_user


def submit_folder(
    session: Session, spec_path: Path, folder: Path, user: str = "alice"
) -> GradingRun:
    """Store the spec's files from ``folder`` and create a queued run (not yet sent)."""
    loaded = load_spec_file(spec_path)
    upsert_assignment(session, loaded)
    from sqlalchemy import select

    from autograder.models import Assignment

    assignment = session.scalar(select(Assignment).where(Assignment.slug == loaded.slug))
    student, _ = create_user(session, user, Role.student)
    files = []
    for f in loaded.spec.files:
        if not f.required and not (folder / f.name).is_file():
            continue
        blob = store_bytes((folder / f.name).read_bytes(), f.max_bytes)
        files.append({"name": f.name, "sha256": blob.sha256, "size": blob.size})
    submission = Submission(user=student, assignment=assignment, files=files)
    session.add(submission)
    session.flush()
    run = GradingRun(
        submission=submission, spec_hash=loaded.spec_hash, queue="cpu", seed=secrets.randbits(62)
    )
    session.add(run)
    session.commit()
    return run


def wait_final(run_id: int, timeout: float = 120) -> GradingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as session:
            run = session.get(GradingRun, run_id)
            assert run is not None
            if RunState(run.state).is_final:
                session.expunge(run)
                return run
        time.sleep(0.2)
    raise TimeoutError(f"run {run_id} not final after {timeout}s")
