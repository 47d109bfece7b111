"""``autograder users ...``: accounts from the command line.

``users add NAME`` prints a new API token alone on the last line (so that
``TOKEN=$(autograder users add alice | tail -n 1)`` works); ``--password`` also asks for a
password to sign in to the pages with. ``users import ROSTER.csv`` creates or updates
everyone in a class roster and prints, as CSV on stdout, each user with a one-time
initial password (blank for existing users, who keep theirs unless
``--reset-passwords``); the users are asked to choose their own at first sign-in.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

ROLES = click.Choice(["student", "ta", "instructor"])


@click.group()
def users() -> None:
    """Manage users, their passwords and their API tokens."""


@users.command("add")
@click.option("--role", type=ROLES, default="student")
@click.option(
    "--password",
    "ask_password",
    is_flag=True,
    help="Also set a password for the web pages (asked for twice, not echoed).",
)
@click.option("--full-name", default=None, help="The person's name, shown on the pages.")
@click.argument("name")
def users_add(role: str, ask_password: bool, full_name: str | None, name: str) -> None:
    """Create a user (or reuse one) and print a new API token alone on the last line."""
    from autograder.accounts import PasswordRefused, set_password
    from autograder.db import session_scope
    from autograder.migrate import upgrade
    from autograder.models import Role
    from autograder.tokens import create_user

    password = _ask_password() if ask_password else None
    upgrade()
    with session_scope() as session:
        user, token = create_user(session, name, Role(role))
        if full_name is not None:
            user.full_name = full_name
        if password is not None:
            try:
                set_password(session, user, password)
            except PasswordRefused as exc:
                raise click.ClickException(str(exc)) from exc
        note = " and a password" if password is not None else ""
        click.echo(f"user {user.name} ({user.role.value}){note}; API token (shown once):", err=True)
    click.echo(token)


@users.command("set-password")
@click.argument("name")
def users_set_password(name: str) -> None:
    """Set a user's password (asked for twice); their browser sessions are signed out."""
    from sqlalchemy import select

    from autograder.accounts import PasswordRefused, set_password
    from autograder.db import session_scope
    from autograder.migrate import upgrade
    from autograder.models import User

    password = _ask_password()
    upgrade()
    with session_scope() as session:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise click.ClickException(f"no user {name!r}")
        try:
            set_password(session, user, password)
        except PasswordRefused as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {name} set", err=True)


@users.command("import")
@click.argument("roster_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--reset-passwords", is_flag=True, help="Give existing users a new initial password too."
)
def users_import(roster_file: Path, reset_passwords: bool) -> None:
    """Import a roster CSV (student_id,name,email,role); print each user with a one-time
    initial password as CSV. Nothing is imported if any line has a problem."""
    from autograder import roster
    from autograder.db import session_scope
    from autograder.migrate import upgrade

    try:
        rows = roster.parse_roster(roster.decode(roster_file.read_bytes()))
    except roster.RosterError as exc:
        raise click.ClickException(f"{roster_file}: nothing imported:\n{exc}") from exc
    upgrade()
    with session_scope() as session:
        try:
            imported = roster.import_roster(session, rows, reset_passwords=reset_passwords)
        except roster.RosterError as exc:
            raise click.ClickException(f"{roster_file}: nothing imported:\n{exc}") from exc
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow([*roster.COLUMNS, "initial_password"])
        for item in imported:
            row = item.row
            out.writerow(
                [row.student_id, row.name, row.email, row.role.value, item.initial_password or ""]
            )
        created = sum(1 for item in imported if item.created)
    click.echo(
        f"{created} user(s) created, {len(imported) - created} updated; initial passwords are "
        "shown only here (users choose their own at first sign-in)",
        err=True,
    )


def _ask_password() -> str:
    from autograder.passwords import WeakPassword, check_new_password

    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_new_password(password)
    except WeakPassword as exc:
        raise click.ClickException(str(exc)) from exc
    return password
