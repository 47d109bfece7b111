"""The class roster from a CSV file: ``student_id,name,email,role``, one person a line.

Strict: the header must name exactly these four columns (in any order); every row must
have four fields, a student id of letters, digits, ``.``, ``_`` or ``-``, a name, an email
address, and a role of ``student``, ``ta`` or ``instructor``; ids and emails appear once.
Every problem is reported with its line number, and nothing is imported unless all lines
are good. UTF-8 (with or without the BOM that spreadsheet programs write).

Imported users sign in with their student id (or email). A new user gets a random initial
password, returned once for the instructor to hand out, which the pages ask them to
change at first sign-in; existing users keep theirs unless ``reset_passwords``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autograder.accounts import get_or_create_user
from autograder.grading.said import Said, say
from autograder.models import Role, User
from autograder.passwords import hash_initial_password, initial_password
from autograder.web_sessions import end_all_sessions

COLUMNS = ("student_id", "name", "email", "role")
MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000
MAX_ERRORS = 50
_STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RosterError(ValueError):
    """The roster cannot be imported; ``errors`` lists each problem as 'line N: ...', and
    ``errors_zh`` the same in Chinese."""

    def __init__(self, problems: list[Said]):
        errors = [p.en for p in problems]
        self.errors = errors
        self.errors_zh = [p.zh for p in problems]
        shown = errors[:MAX_ERRORS]
        more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__("\n".join(shown) + more)


@dataclass(frozen=True)
class RosterRow:
    line: int
    student_id: str
    name: str
    email: str
    role: Role


@dataclass(frozen=True)
class ImportedUser:
    row: RosterRow
    user: User
    created: bool
    initial_password: str | None


def decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise RosterError([say("roster.too_large", kib=MAX_BYTES // 1024)])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RosterError([say("roster.not_utf8", line=line)]) from exc


def parse_roster(text: str) -> list[RosterRow]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True)
    errors: list[Said] = []
    rows: list[RosterRow] = []
    order: list[str] | None = None
    first_seen: dict[tuple[str, str], int] = {}
    start = 1
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not any(f.strip() for f in fields):
                continue
            if order is None:
                order = _header(fields, line, errors)
                if order is None:
                    break
                continue
            values = dict(zip(order, fields, strict=False))
            row = _row(values, len(fields), line, errors)
            repeated = _duplicate(values, line, first_seen, errors)
            if row is not None and not repeated:
                rows.append(row)
            if len(rows) > MAX_ROWS:
                errors.append(say("roster.too_many", line=line, max_rows=MAX_ROWS))
                break
    except csv.Error as exc:
        errors.append(say("roster.csv_error", line=start, error=str(exc)))  # where it begins
    if order is None and not errors:
        errors.append(say("roster.empty", columns=",".join(COLUMNS)))
    if errors:
        raise RosterError(errors)
    return rows


def _header(fields: list[str], line: int, errors: list[Said]) -> list[str] | None:
    names = [f.strip().lower() for f in fields]
    if sorted(names) != sorted(COLUMNS):
        got = ",".join(f.strip() for f in fields)
        errors.append(say("roster.header", line=line, columns=",".join(COLUMNS), got=got))
        return None
    return names


def _row(values: dict[str, str], count: int, line: int, errors: list[Said]) -> RosterRow | None:
    if count != len(COLUMNS):
        errors.append(say("roster.fields", line=line, expected=len(COLUMNS), got=count))
        return None
    sid, name = values["student_id"].strip(), values["name"].strip()
    email, role = values["email"].strip().lower(), values["role"].strip().lower()
    problems = []
    if not _STUDENT_ID.fullmatch(sid):
        problems.append(say("roster.bad_student_id", line=line, value=repr(sid)))
    if not name or len(name) > 200 or _CONTROL.search(name):
        problems.append(say("roster.bad_name", line=line, value=repr(name)))
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        problems.append(say("roster.bad_email", line=line, value=repr(email)))
    if role not in {r.value for r in Role}:
        roles = ", ".join(r.value for r in Role)
        problems.append(say("roster.bad_role", line=line, value=repr(role), roles=roles))
    errors.extend(problems)
    return None if problems else RosterRow(line, sid, name, email, Role(role))


def _duplicate(
    values: dict[str, str], line: int, first_seen: dict[tuple[str, str], int], errors: list[Said]
) -> bool:
    found = False
    for column in ("student_id", "email"):
        value = values.get(column, "").strip()
        value = value.lower() if column == "email" else value
        if not value:
            continue
        earlier = first_seen.setdefault((column, value), line)
        if earlier != line:
            errors.append(
                say("roster.repeated", line=line, column=column, value=repr(value), earlier=earlier)
            )
            found = True
    return found


def import_roster(
    session: Session, rows: list[RosterRow], *, reset_passwords: bool = False
) -> list[ImportedUser]:
    """Create or update every row's user (nothing is written if one conflicts); the caller
    commits."""
    _check_emails_free(session, rows)
    imported = []
    for row in rows:
        user, created = get_or_create_user(session, row.student_id, row.role)
        user.full_name, user.email = row.name, row.email
        password = None
        if created or reset_passwords:
            password = initial_password()
            user.password_hash = hash_initial_password(password)
            user.must_change_password = True
            if not created:
                end_all_sessions(session, user)
        imported.append(ImportedUser(row, user, created, password))
    session.flush()
    return imported


def _check_emails_free(session: Session, rows: list[RosterRow]) -> None:
    by_email = {row.email: row for row in rows}
    taken = session.execute(
        select(User.name, func.lower(User.email)).where(func.lower(User.email).in_(by_email))
    ).all()
    errors = [
        say("roster.email_taken", line=by_email[email].line, value=repr(email), owner=repr(name))
        for name, email in taken
        if by_email[email].student_id != name
    ]
    if errors:
        raise RosterError(sorted(errors, key=lambda e: int(e.en.split()[1].rstrip(":"))))
