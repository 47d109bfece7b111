"""Specs for instructors: every stored version, its validation, and uploads from the browser.

**The database is the truth for the service.** An upload is validated by the one spec
loader (the same messages as ``autograder specs validate``), stored as a new
``SpecVersion`` and made current; nothing is written to ``grading_specs/``, which may
be read-only where the service runs (a container) and is the instructors' own working
copy under version control. The upload is remembered (``SpecUpload``) so that
``autograder serve`` re-loading the specs folder does not undo it: at start-up a file
becomes current only when its content is newer than the last upload (a content the
database had never seen before the upload). To make a file current again after an
upload, change it or upload it.

New submissions are graded by the current version at once; results graded by an older
version keep it (each run records its spec hash) until a re-grade.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from autograder.assignments import upsert_assignment
from autograder.grading.failures import FailureCode
from autograder.models import (
    Assignment,
    AssignmentState,
    SpecUpload,
    SpecVersion,
    User,
    utcnow,
)
from autograder.publishing import bundle_problems
from autograder.specs.loader import (
    LoadedSpec,
    SpecError,
    SpecProblem,
    load_spec_file,
    load_spec_text,
)

MAX_SPEC_BYTES = 1024 * 1024


def upload_spec(
    session: Session,
    slug: str,
    filename: str,
    data: bytes,
    user: User | None,
    reference: Path,
    starter: Path,
    *,
    reloaded_from: Path | None = None,
) -> tuple[LoadedSpec, bool, Assignment, list[str]]:
    """Validate ``data`` as the spec of ``slug`` (in ``reference`` and ``starter``: its
    reference solution and starter folders) and make it current (not committed).

    A spec for a new slug is stored as a draft, which students do not see, whatever its
    bundle lacks (returned as warnings). A new version of a published assignment is live at
    once, so it must find everything its bundle needs (autograder/publishing.py): else
    SpecError, nothing changed. Returns the spec, whether its content changed, the
    assignment and the warnings. Raises SpecError with every problem.

    ``reloaded_from``: ``data`` is the content of this file in the specs folder, made
    current on request ("reload from file"), not an upload."""
    loaded = load_spec_text(_decode(data, filename), slug, filename)
    problems = bundle_problems(loaded, reference, starter)
    existing = session.scalar(select(Assignment).where(Assignment.slug == slug))
    if problems and existing is not None and existing.state == AssignmentState.published:
        raise SpecError(
            [
                SpecProblem(
                    filename,
                    None,
                    "",
                    f"{p}; {slug} is published, so this version would be live at once",
                    FailureCode.SPEC_BUNDLE_INCOMPLETE,
                )
                for p in problems
            ]
        )
    who = user.name if user else "the CLI"
    origin = f"upload of {filename} by {who}"
    if reloaded_from is not None:
        origin = f"file {reloaded_from} (reloaded by {who})"
    changed = upsert_assignment(session, loaded, state_if_new=AssignmentState.draft, origin=origin)
    assignment = session.scalar(select(Assignment).where(Assignment.slug == slug))
    assert assignment is not None
    if reloaded_from is not None:
        return loaded, changed, assignment, problems
    session.add(
        SpecUpload(
            assignment_id=assignment.id,
            spec_hash=loaded.spec_hash,
            filename=filename[:200],
            uploaded_by=user.id if user else None,
            uploaded_at=utcnow(),
        )
    )
    session.flush()
    return loaded, changed, assignment, problems


def _decode(data: bytes, filename: str) -> str:
    if len(data) > MAX_SPEC_BYTES:
        message = f"a spec is at most {MAX_SPEC_BYTES} bytes (this one has {len(data)})"
        raise SpecError([SpecProblem(filename, None, "", message, FailureCode.SPEC_IO)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise SpecError([SpecProblem(filename, None, "", message, FailureCode.SPEC_IO)]) from None


def upload_supersedes_file(session: Session, loaded: LoadedSpec) -> bool:
    """True when the assignment's current spec was uploaded after the file's content was
    first seen: re-loading the specs folder then keeps the upload."""
    assignment = session.scalar(select(Assignment).where(Assignment.slug == loaded.slug))
    if assignment is None or assignment.spec_hash == loaded.spec_hash:
        return False
    upload = session.scalar(
        select(SpecUpload)
        .where(
            SpecUpload.assignment_id == assignment.id,
            SpecUpload.spec_hash == assignment.spec_hash,
        )
        .order_by(SpecUpload.uploaded_at.desc())
        .limit(1)
    )
    if upload is None:
        return False
    seen = session.scalar(
        select(SpecVersion.loaded_at).where(
            SpecVersion.assignment_id == assignment.id,
            SpecVersion.spec_hash == loaded.spec_hash,
        )
    )
    return seen is not None and seen <= upload.uploaded_at


# --------------------------------------------------------------------------- overview


def problems_of(source: str, slug: str, spec_hash: str) -> list[dict[str, Any]]:
    """The problems the loader finds in a stored version today (none: valid)."""
    return list(_problems_cached(source, slug, f"{slug}.yaml@{spec_hash[:12]}"))


@lru_cache(maxsize=256)
def _problems_cached(source: str, slug: str, filename: str) -> tuple[dict[str, Any], ...]:
    try:
        load_spec_text(source, slug, filename)
    except SpecError as exc:
        return tuple(problem_dict(p) for p in exc.problems)
    return ()


def problem_dict(problem: SpecProblem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "key_path": problem.key_path,
        "message": problem.message,
        "code": problem.code,
        "text": str(problem),
    }


def spec_overview(session: Session, specs_dir: Path, reference_dir: Path) -> list[dict[str, Any]]:
    """Every assignment with its versions (newest first), and every file in ``specs_dir``,
    including files that never loaded because they are invalid."""
    files = _files(specs_dir)
    out = []
    for assignment in session.scalars(select(Assignment).order_by(Assignment.slug)):
        out.append(_assignment_entry(session, assignment, files.pop(assignment.slug, None)))
        out[-1]["reference_solution"] = (reference_dir / assignment.slug).is_dir()
    for slug, file in sorted(files.items()):
        entry: dict[str, Any] = {"slug": slug, "title": None, "current_hash": None, "versions": []}
        entry |= {"state": None, "origin": "", "publishable": False}
        entry |= {"valid": False, "problems": file["problems"], "file": file}
        entry["reference_solution"] = (reference_dir / slug).is_dir()
        out.append(entry)
    return out


def _files(specs_dir: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(specs_dir).glob("*.yaml")):
        try:
            loaded = load_spec_file(path)
        except SpecError as exc:
            found[path.stem] = {
                "path": str(path),
                "hash": None,
                "problems": [problem_dict(p) for p in exc.problems],
            }
            continue
        found[path.stem] = {"path": str(path), "hash": loaded.spec_hash, "problems": []}
    return found


def _assignment_entry(
    session: Session, assignment: Assignment, file: dict[str, Any] | None
) -> dict[str, Any]:
    uploads = {
        u.spec_hash: u
        for u in session.scalars(
            select(SpecUpload)
            .where(SpecUpload.assignment_id == assignment.id)
            .order_by(SpecUpload.uploaded_at)
        )
    }
    versions = []
    for version in session.scalars(
        select(SpecVersion)
        .where(SpecVersion.assignment_id == assignment.id)
        .order_by(SpecVersion.loaded_at.desc(), SpecVersion.id.desc())
    ):
        upload = uploads.get(version.spec_hash)
        versions.append(
            {
                "spec_hash": version.spec_hash,
                "loaded_at": version.loaded_at,
                "current": version.spec_hash == assignment.spec_hash,
                "origin": "upload" if upload else "file",
                "uploaded_at": upload.uploaded_at if upload else None,
                "uploaded_by": upload.uploaded_by if upload else None,
                "problems": problems_of(version.source, assignment.slug, version.spec_hash),
            }
        )
    current = next((v for v in versions if v["current"]), None)
    problems = current["problems"] if current else []
    if file is not None:
        file = file | {"state": _file_state(file, assignment.spec_hash)}
    return {
        "slug": assignment.slug,
        "title": assignment.title,
        "state": assignment.state,
        "origin": assignment.origin,
        "publishable": assignment.checked_hash == assignment.spec_hash,
        "current_hash": assignment.spec_hash,
        "valid": current is not None and not problems,
        "problems": problems,
        "versions": versions,
        "file": file,
    }


def _file_state(file: dict[str, Any], current_hash: str) -> str:
    if file["problems"]:
        return "invalid"
    return "same" if file["hash"] == current_hash else "differs"
