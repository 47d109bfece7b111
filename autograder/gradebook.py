"""The roster of an assignment and the gradebook CSV.

Per student: the number of attempts, the best and the latest score, and the *counted*
score, by the spec's ``counted`` policy: the best score (the default) or the latest
graded submission's (each submission's score already has its late penalty). Scores
are those of each submission's current run (autograder/staff_runs.py); a submission
still grading, or failed on our side, has no score yet and counts for nothing.

CSV files are UTF-8 with a byte-order mark (Excel then reads Chinese names correctly),
one row per student, and every cell that a spreadsheet would read as a formula (starting
with ``= + - @``, a tab or a carriage return) is prefixed with a single quote.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from autograder.assignments import spec_for
from autograder.models import Assignment, GradingRun, Role, RunState, Submission, User
from autograder.staff_runs import current_scores_of

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


@dataclass
class RosterRow:
    user_id: int
    student: str
    full_name: str
    email: str
    role: str
    attempts: int = 0
    best: float | None = None
    best_submission: str | None = None
    latest: float | None = None
    latest_state: str | None = None
    latest_submission: str | None = None
    counted: float | None = None
    counted_submission: str | None = None
    late_days: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def roster(session: Session, assignment: Assignment) -> list[RosterRow]:
    """One row per student (every user with the student role, and anyone else who
    submitted), by login name."""
    rows: dict[int, RosterRow] = {}
    for user_id, name, full_name, email, role in session.execute(_people(assignment)):
        rows[user_id] = RosterRow(
            user_id=user_id,
            student=name,
            full_name=full_name or "",
            email=email or "",
            role=str(role),
        )
    policy = spec_for(session, assignment).spec.counted
    for submission_id, user_id, late_days, state, score in session.execute(
        current_scores_of(assignment.id)
    ):
        _fold(rows[user_id], submission_id, late_days, state, score, policy)
    return sorted(rows.values(), key=lambda r: r.student)


def _people(assignment: Assignment) -> Select[int, str, str, str | None, Role]:
    """The roster's people: (id, name, full name, email, role) of every student and of
    anyone else who submitted to ``assignment``."""
    submitted = select(Submission.user_id).where(Submission.assignment_id == assignment.id)
    return select(User.id, User.name, User.full_name, User.email, User.role).where(
        or_(User.role == Role.student, User.id.in_(submitted))
    )


def _add(row: RosterRow, submission: Submission, run: GradingRun, policy: str) -> None:
    """Fold one submission (oldest first) into its student's row. A submission superseded
    by a newer upload before it ran was never graded: not an attempt, not the latest."""
    _fold(row, submission.id, submission.late_days, run.state, run.score, policy)


def _fold(  # noqa: PLR0913 - one submission's five fields, read straight from a row
    row: RosterRow,
    submission_id: str,
    late_days: int,
    state: RunState,
    score: float | None,
    policy: str,
) -> None:
    """``_add`` on the fields themselves (the roster reads them as plain rows)."""
    if state == RunState.superseded:
        return
    row.attempts += 1
    row.latest, row.latest_state = score, str(state)
    row.latest_submission = submission_id
    if score is None:
        return
    better = row.best is None or score > row.best
    if better:
        row.best, row.best_submission = score, submission_id
    if better or policy == "latest":
        row.counted, row.counted_submission = score, submission_id
        row.late_days = late_days


# --------------------------------------------------------------------------- CSV


def safe_cell(value: object) -> str:
    """A cell as text that no spreadsheet evaluates: numbers plainly, formulas quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int | float):
        text = number(value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def number(value: float) -> str:
    text = f"{round(float(value), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def to_csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return BOM + out.getvalue()


ASSIGNMENT_HEADER = [
    "student_id",
    "name",
    "email",
    "counted",
    "best",
    "latest",
    "max_points",
    "attempts",
    "late_days",
    "counted_submission",
]


def assignment_csv(rows: list[RosterRow], max_points: float) -> str:
    """One assignment's gradebook: every column of the roster."""
    return to_csv(
        ASSIGNMENT_HEADER,
        [
            [
                r.student,
                r.full_name,
                r.email,
                r.counted,
                r.best,
                r.latest,
                max_points,
                r.attempts,
                r.late_days,
                r.counted_submission,
            ]
            for r in rows
        ],
    )


def course_csv(columns: list[tuple[str, float, list[RosterRow]]]) -> str:
    """Every assignment side by side: the counted score per (slug, max points, roster),
    and the total of counted scores."""
    people: dict[int, RosterRow] = {}
    counted: dict[tuple[int, str], float | None] = {}
    for slug, _, rows in columns:
        for r in rows:
            people.setdefault(r.user_id, r)
            counted[(r.user_id, slug)] = r.counted
    header = ["student_id", "name", "email"]
    header += [f"{slug} (/{number(max_points)})" for slug, max_points, _ in columns]
    header.append("total")
    body: list[list[object]] = []
    for person in sorted(people.values(), key=lambda r: r.student):
        scores = [counted.get((person.user_id, slug)) for slug, _, _ in columns]
        total = sum(s for s in scores if s is not None)
        body.append([person.student, person.full_name, person.email, *scores, total])
    return to_csv(header, body)
