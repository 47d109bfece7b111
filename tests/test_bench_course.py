"""bench/course.py's generated term, at a tiny size, on the test Postgres: its rows are
valid, and the gradebook, the dashboard's counts and /metrics read them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from autograder.db import get_engine
from autograder.grading.outcomes import read_outcomes
from autograder.models import GradingRun, RegradeBatch, Role, RunState, Submission, User
from bench.course import CourseSize, bench_user, fill, measured_student, parse_size


def test_parse_size():
    assert parse_size("300x13x15") == CourseSize(300, 13, 15)
    assert parse_size("3 x 2 x 2").submissions == 12
    for bad in ("300x13", "0x1x1", "axbxc"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_a_tiny_term_is_valid_and_counted(db):
    from api.lookups import active_assignments
    from autograder import gradebook, metrics, staff_stats

    bench_user(get_engine(), "bench-staff", "ta")
    report = fill(get_engine(), CourseSize(3, 2, 2), regrade_batches=1)
    assert (report.users, report.submissions, len(report.assignments)) == (3, 12, 2)
    assert report.batches == 2  # one applied, one discarded

    students = db.scalars(select(User).where(User.name.like("course-s%"))).all()
    assert len(students) == 3 and all(u.role == Role.student for u in students)
    submissions = db.scalars(select(Submission)).all()
    assert len(submissions) == 12
    runs = db.scalars(select(GradingRun)).all()
    assert len(runs) == report.runs
    for submission in submissions:
        current = [r for r in submission.runs if r.is_current]
        assert len(current) == 1, submission.id
        assert submission.files and all(f["sha256"] and f["size"] > 0 for f in submission.files)
    for run in runs:
        assert run.state.is_final
        if run.state in (RunState.graded, RunState.failed_student):
            outcomes = read_outcomes(run.outcomes, run.id)
            assert outcomes and len(outcomes) == len(run.outcomes)
            assert run.raw_score == pytest.approx(sum(o.earned for o in outcomes))
            assert run.max_score == pytest.approx(sum(o.points for o in outcomes))
            assert run.started_at and run.finished_at and run.finished_at >= run.started_at
        else:
            assert run.score is None and run.failure_kind
    applied = db.scalar(select(RegradeBatch).where(RegradeBatch.state == "applied"))
    assert applied is not None
    regraded = [r for r in runs if r.batch_id == applied.id]
    assert regraded and all(r.is_current for r in regraded)

    columns = [
        (a.slug, loaded.spec.max_points, gradebook.roster(db, a))
        for a, loaded in active_assignments(db, any_state=True)
        if a.slug in report.assignments
    ]
    assert len(columns) == 2
    for _, _, rows in columns:
        course_rows = [r for r in rows if r.student.startswith("course-s")]
        assert len(course_rows) == 3
        assert sum(r.attempts for r in course_rows) <= 6
    csv = gradebook.course_csv(columns)
    lines = csv.strip().splitlines()
    assert sum(line.startswith("course-s") for line in lines) == 3
    assert all(f"{slug} (/" in lines[0] for slug in report.assignments)

    for a, _ in active_assignments(db, any_state=True):
        if a.slug not in report.assignments:
            continue
        counts = staff_stats.submission_counts(db, a)
        total = db.scalar(
            select(func.count()).select_from(Submission).where(Submission.assignment_id == a.id)
        )
        superseded = db.scalar(
            select(func.count())
            .select_from(Submission)
            .join(GradingRun, GradingRun.submission_id == Submission.id)
            .where(
                Submission.assignment_id == a.id,
                GradingRun.is_current,
                GradingRun.state == RunState.superseded,
            )
        )
        assert counts["submitted"] == total - superseded
        assert counts["graded"] + counts["failed"] + counts["pending"] == counts["submitted"]
        assert counts["students"] <= 3

    text = metrics.render(db)
    assert "autograder_runs{" in text and "autograder_grading_seconds_bucket" in text
    student, submission_id = measured_student(get_engine(), report.assignments[0])
    assert student == "course-s0001" and db.get(Submission, submission_id) is not None
