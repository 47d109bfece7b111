"""The gradebook CSV: one row per student, UTF-8 with a BOM, and no cell a spreadsheet
would run as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from autograder.gradebook import safe_cell
from tests.staff.conftest import SLUG, bearer

HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_cells_are_quoted(text):
    assert safe_cell(text) == "'" + text


def test_plain_cells_are_kept():
    assert safe_cell("张三") == "张三"
    assert safe_cell(3.5) == "3.5" and safe_cell(4.0) == "4" and safe_cell(None) == ""
    assert safe_cell("a=b") == "a=b"  # only a leading character makes a formula


def rows_of(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["x-content-type-options"] == "nosniff"
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_assignment_gradebook(staff_client, people, graded):
    for name in HOSTILE:
        graded(name, 1.0, full_name=name)
    graded("s2023001", 2.0, full_name="张三")
    graded("s2023001", 4.5, full_name="张三", late_days=1)
    graded("s2023001", 3.0)
    response = staff_client.get(
        f"/api/v1/staff/assignments/{SLUG}/gradebook.csv", headers=bearer(people.ta)
    )
    assert response.headers["content-disposition"] == f'attachment; filename="gradebook-{SLUG}.csv"'
    rows = rows_of(response)
    ids = [r["student_id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(HOSTILE) + 2  # + s001, who never submitted
    zhang = next(r for r in rows if r["student_id"] == "s2023001")
    assert zhang["name"] == "张三"
    assert (zhang["counted"], zhang["best"], zhang["latest"]) == ("4.5", "4.5", "3")
    assert (zhang["attempts"], zhang["late_days"], zhang["max_points"]) == ("3", "1", "5")
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    quoted = {r["student_id"] for r in rows if r["student_id"].startswith("'")}
    assert quoted == {"'" + name for name in HOSTILE}


def test_course_gradebook_has_a_column_per_assignment(staff_client, db, people, graded):
    from autograder.assignments import upsert_assignment
    from autograder.specs.loader import load_spec_text
    from tests.api.conftest import spec_source

    upsert_assignment(db, load_spec_text(spec_source(), "hw-two", "hw-two.yaml"))
    db.commit()
    graded("ann", 4.0)
    graded("ann", 5.0)
    response = staff_client.get("/api/v1/staff/gradebook.csv", headers=bearer(people.ta))
    rows = rows_of(response)
    assert list(rows[0]) == ["student_id", "name", "email", "hw-test (/5)", "hw-two (/5)", "total"]
    ann = next(r for r in rows if r["student_id"] == "ann")
    assert (ann["hw-test (/5)"], ann["hw-two (/5)"], ann["total"]) == ("5", "", "5")
    assert [r["student_id"] for r in rows] == sorted({"ann", "s001"})
