"""The roster import: strict CSV parsing with line numbers, creating and updating users,
the instructor-only API and the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from autograder.models import Role, User
from autograder.passwords import verify_password
from autograder.roster import RosterError, decode, import_roster, parse_roster
from tests.api.conftest import auth

HEADER = "student_id,name,email,role\n"
GOOD = HEADER + "2023001,张三,Zhang.San@example.edu.cn,student\nta01,李四,lisi@example.edu.cn,ta\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(RosterError) as caught:
        parse_roster(text)
    return caught.value.errors


def test_a_good_roster():
    rows = parse_roster("\ufeff" + GOOD.replace("\n", "\r\n") + "\n")  # BOM, CRLF, blank line
    assert [(r.line, r.student_id, r.name, r.email, r.role) for r in rows] == [
        (2, "2023001", "张三", "zhang.san@example.edu.cn", Role.student),
        (3, "ta01", "李四", "lisi@example.edu.cn", Role.ta),
    ]
    reordered = parse_roster("Email, Role ,student_id,name\na@b.cn,instructor,prof1,王老师\n")
    assert reordered[0].student_id == "prof1" and reordered[0].role == Role.instructor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["line 1: the file is empty"]),
        ("id,name,email,role\n", ["line 1: the header must name the columns"]),
        (HEADER + "1,a,a@b.cn,student,extra\n", ["line 2: expected 4 fields, got 5"]),
        (HEADER + "1,a,a@b.cn\n", ["line 2: expected 4 fields, got 3"]),
        (HEADER + "\n\n1,a,a@b.cn,pupil\n", ["line 4: role 'pupil' must be one of"]),
        (HEADER + "../x,a,a@b.cn,student\n", ["line 2: student_id '../x' must be"]),
        (HEADER + "1,,a@b.cn,student\n", ["line 2: name '' must be"]),
        (HEADER + "1,a,not-mail,student\n", ["line 2: email 'not-mail' is not an email"]),
        (
            HEADER + "1,a,a@b.cn,student\n2,b,A@B.cn,student\n1,c,c@b.cn,ta\n",
            [
                "line 3: email 'a@b.cn' already appears on line 2",
                "line 4: student_id '1' already appears on line 2",
            ],
        ),
        (HEADER + '1,"a\nb",a@b.cn,student\n2,c,bad,student\n', ["line 2: name", "line 4: email"]),
        (HEADER + '1,"unterminated,a@b.cn,student\n', ["line 2: unexpected end of data"]),
    ],
)
def test_problems_are_reported_with_line_numbers(text, expected):
    found = errors_of(text)
    assert len(found) == len(expected), found
    for message, start in zip(found, expected, strict=True):
        assert message.startswith(start), (message, start)


def test_every_problem_is_reported_at_once():
    text = HEADER + "1,a,a@b.cn,student\nbad id,b,b@b.cn,ta\n3,c,c,student\n4,d,d@b.cn,boss\n"
    assert [e.split(":")[0] for e in errors_of(text)] == ["line 3", "line 4", "line 5"]


def test_not_utf8_names_the_line():
    data = (HEADER + "1,a,a@b.cn,student\n2,").encode() + "王".encode("gbk") + b",b@b.cn,ta\n"
    with pytest.raises(RosterError, match="line 3: not UTF-8"):
        decode(data)


def test_import_creates_and_updates_users(db):
    created = import_roster(db, parse_roster(GOOD))
    db.commit()
    assert [i.created for i in created] == [True, True]
    zhang = db.scalar(select(User).where(User.name == "2023001"))
    assert zhang.full_name == "张三" and zhang.email == "zhang.san@example.edu.cn"
    assert zhang.must_change_password
    assert verify_password(zhang.password_hash, created[0].initial_password)

    again = import_roster(
        db, parse_roster(GOOD.replace("李四", "李四四").replace(",ta\n", ",instructor\n"))
    )
    db.commit()
    assert [(i.created, i.initial_password) for i in again] == [(False, None), (False, None)]
    assert verify_password(zhang.password_hash, created[0].initial_password)  # kept
    li = db.scalar(select(User).where(User.name == "ta01"))
    assert li.full_name == "李四四" and li.role == Role.instructor

    reset = import_roster(db, parse_roster(GOOD), reset_passwords=True)
    assert all(i.initial_password for i in reset)


def test_an_email_of_another_user_is_refused(db, make_user):
    make_user("someone", email="lisi@example.edu.cn")
    with pytest.raises(RosterError) as caught:
        import_roster(db, parse_roster(GOOD))
    assert caught.value.errors == [
        "line 3: email 'lisi@example.edu.cn' belongs to another user ('someone')"
    ]


def test_the_api_is_for_instructors(client, make_user):
    _, prof = make_user("prof", Role.instructor)
    _, ta = make_user("ta1", Role.ta)
    csv_headers = {"Content-Type": "text/csv"}
    url = "/api/v1/users/import"
    assert client.post(url, content=GOOD, headers=csv_headers | auth(ta)).status_code == 403
    response = client.post(url, content=GOOD.encode(), headers=csv_headers | auth(prof))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] == 2 and body["updated"] == 0
    assert [u["name"] for u in body["users"]] == ["2023001", "ta01"]
    assert all(len(u["initial_password"]) == 14 for u in body["users"])

    bad = client.post(url, content=HEADER + "x,y,z,w\n", headers=csv_headers | auth(prof))
    assert bad.status_code == 400 and bad.json()["code"] == "roster:invalid"
    assert [e.split(":")[0] for e in bad.json()["errors"]] == ["line 2", "line 2"]
    wrong_type = client.post(url, content=GOOD, headers=auth(prof))
    assert wrong_type.status_code == 400


def test_the_command_line_prints_initial_passwords(configured, tmp_path):
    from autograder.cli import main

    roster = tmp_path / "roster.csv"
    roster.write_text(GOOD, encoding="utf-8")
    result = CliRunner().invoke(main, ["users", "import", str(roster)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "student_id,name,email,role,initial_password"
    assert lines[1].startswith("2023001,张三,zhang.san@example.edu.cn,student,")
    assert len(lines[1].rsplit(",", 1)[1]) == 14
    assert "2 user(s) created" in result.stderr

    roster.write_text(HEADER + "1,a,a@b.cn,student\n2,b,b@b.cn,nobody\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["users", "import", str(roster)])
    assert result.exit_code == 1
    assert "nothing imported" in result.output and "line 3: role 'nobody'" in result.output


def test_users_add_with_a_password(configured, db):
    from autograder.cli import main

    result = CliRunner().invoke(
        main,
        ["users", "add", "--role", "ta", "--password", "ta2"],
        input="pass word 1\npass word 1\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1].startswith("ag_")
    user = db.scalar(select(User).where(User.name == "ta2"))
    assert user.role == Role.ta and verify_password(user.password_hash, "pass word 1")
