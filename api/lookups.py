"""Finding rows for a request, refusing with NotFound the same way everywhere."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from autograder.assignments import spec_for
from autograder.models import Assignment, AssignmentState, Role, Submission, User
from autograder.refusals import NotFound
from autograder.specs.loader import LoadedSpec, SpecError

log = logging.getLogger(__name__)

# A spec hash names its content, so a parsed spec can be kept for as long as we like.
_SPEC_CACHE_SIZE = 256
_specs: dict[tuple[str, str], LoadedSpec] = {}


def active_assignments(
    session: Session, *, any_state: bool = False
) -> list[tuple[Assignment, LoadedSpec]]:
    """Every published assignment (``any_state``: drafts and withdrawn ones too, for staff)
    with a usable spec, by deadline (none last), then slug."""
    found: list[tuple[Assignment, LoadedSpec]] = []
    query = select(Assignment)
    if not any_state:
        query = query.where(Assignment.state == AssignmentState.published)
    for row in session.scalars(query):
        try:
            found.append((row, current_spec(session, row)))
        except NotFound:
            continue
    found.sort(key=lambda pair: (pair[0].deadline is None, pair[0].deadline or 0, pair[0].slug))
    return found


def assignment_by_slug(session: Session, slug: str, *, any_state: bool = False) -> Assignment:
    """A published assignment (``any_state``: a draft or a withdrawn one too, for staff);
    NotFound otherwise, the same for one that does not exist."""
    query = select(Assignment).where(Assignment.slug == slug)
    if not any_state:
        query = query.where(Assignment.state == AssignmentState.published)
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"no assignment {slug!r}", f"没有作业 {slug!r}")
    return row


def current_spec(session: Session, assignment: Assignment) -> LoadedSpec:
    key = (assignment.slug, assignment.spec_hash)
    if key not in _specs:
        try:
            loaded = spec_for(session, assignment)
        except (LookupError, SpecError) as exc:
            log.error("assignment %s has no usable spec: %s", assignment.slug, exc)
            raise NotFound(
                f"assignment {assignment.slug!r} is not available right now",
                f"作业 {assignment.slug!r} 暂时无法使用",
            ) from exc
        if len(_specs) >= _SPEC_CACHE_SIZE:
            _specs.clear()
        _specs[key] = loaded
    return _specs[key]


def visible_submission(session: Session, user: User, submission_id: str) -> Submission:
    """The submission if ``user`` may see it. Another student's is 'not found', not
    'forbidden', so ids cannot be probed."""
    row = session.get(Submission, submission_id)
    if row is None or (user.role == Role.student and row.user_id != user.id):
        raise NotFound(f"no submission {submission_id!r}", f"没有编号为 {submission_id!r} 的提交")
    return row
