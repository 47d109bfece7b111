"""Load the specs directory into the database: one row per slug, one version per content hash."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from autograder.models import Assignment, AssignmentState, SpecVersion, utcnow
from autograder.specs.loader import LoadedSpec, SpecError, load_spec_text, load_specs_dir


@dataclass
class SyncReport:
    loaded: list[str]
    changed: list[str]
    errors: list[SpecError]


def sync_specs(session: Session, directory: Path) -> SyncReport:
    from autograder.staff_specs import upload_supersedes_file

    specs, errors = load_specs_dir(directory)
    changed: list[str] = []
    for loaded in specs:
        if upload_supersedes_file(session, loaded):
            continue  # uploaded from the browser after this file: the upload stays current
        if upsert_assignment(session, loaded):
            changed.append(loaded.slug)
    return SyncReport([s.slug for s in specs], changed, errors)


def upsert_assignment(
    session: Session,
    loaded: LoadedSpec,
    *,
    state_if_new: AssignmentState = AssignmentState.published,
    origin: str | None = None,
) -> bool:
    """Insert or update the assignment; return True when its spec content changed. A new
    one starts in ``state_if_new``; an existing one keeps its state (a withdrawn homework
    stays withdrawn when its file is loaded again). ``origin``: where this version came
    from (default, when the content changed: the spec's file)."""
    row = session.scalar(select(Assignment).where(Assignment.slug == loaded.slug))
    if row is None:
        row = Assignment(
            slug=loaded.slug, title=loaded.spec.title, spec_hash="", state=state_if_new
        )
        session.add(row)
    changed = row.spec_hash != loaded.spec_hash
    row.title = loaded.spec.title
    row.deadline = loaded.spec.deadline
    row.spec_hash = loaded.spec_hash
    if origin is not None or changed or not row.origin:
        row.origin = (origin or f"file {loaded.path}")[:500]
    if row.state == AssignmentState.published:
        row.checked_hash = loaded.spec_hash  # live: whoever made it live vetted it
    row.loaded_at = utcnow()
    session.flush()
    exists = session.scalar(
        select(SpecVersion).where(
            SpecVersion.assignment_id == row.id, SpecVersion.spec_hash == loaded.spec_hash
        )
    )
    if exists is None:
        session.add(
            SpecVersion(assignment_id=row.id, spec_hash=loaded.spec_hash, source=loaded.source)
        )
    return changed


_PARSED: dict[tuple[str, str], LoadedSpec] = {}
_PARSED_MAX = 64


def spec_for(session: Session, assignment: Assignment, spec_hash: str | None = None) -> LoadedSpec:
    """The spec of ``assignment`` at ``spec_hash`` (default: current), from the stored text.

    A version's text never changes (its hash is of its content), so what was parsed and
    validated once is kept: a worker grading a rush of one homework parses it once."""
    wanted = spec_hash or assignment.spec_hash
    cached = _PARSED.get((assignment.slug, wanted))
    if cached is not None:
        return cached
    version = session.scalar(
        select(SpecVersion).where(
            SpecVersion.assignment_id == assignment.id, SpecVersion.spec_hash == wanted
        )
    )
    if version is None:
        raise LookupError(f"no stored spec {wanted[:12]} for {assignment.slug}")
    name = f"{assignment.slug}.yaml@{wanted[:12]}"
    loaded = load_spec_text(version.source, assignment.slug, name)
    if loaded.spec_hash == wanted:  # only a text that is what its hash says
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[(assignment.slug, wanted)] = loaded
    return loaded
