"""Statistics on constructed data: counts by state, mean, median, histogram, pass rate."""

from __future__ import annotations

import pytest

from autograder.models import RunState
from autograder.staff_stats import score_summary
from tests.staff.conftest import SLUG, bearer


def test_score_summary_of_known_scores():
    summary = score_summary([0, 2.5, 3, 3, 5], max_points=5)
    assert summary["scored"] == 5
    assert summary["mean"] == pytest.approx(2.7)
    assert summary["median"] == 3
    assert summary["pass_threshold"] == 3  # 60% of 5
    assert summary["passed"] == 3 and summary["pass_rate"] == 0.6
    counts = [b["count"] for b in summary["histogram"]]
    # bins of 0.5: 0 → bin 0, 2.5 → bin 5, 3 → bin 6 (twice), 5 (the maximum) → the last bin
    assert counts == [1, 0, 0, 0, 0, 1, 2, 0, 0, 1]
    assert summary["histogram"][0] == {"low": 0, "high": 0.5, "count": 1}
    assert summary["histogram"][-1]["high"] == 5


def test_score_summary_without_scores():
    summary = score_summary([], max_points=10)
    assert summary["mean"] is None and summary["median"] is None
    assert summary["pass_rate"] is None and sum(b["count"] for b in summary["histogram"]) == 0


def test_assignment_statistics_over_the_api(staff_client, people, graded):
    # ann: 1 then 4 (best 4, passes); bob: 2 on time and 3 two days late (best 3 = 60%:
    # passes); cat: failed on our side only (no score); dan: a student failure (0).
    graded("ann", 1.0)
    graded("ann", 4.0)
    graded("bob", 2.0)
    graded("bob", 3.0, late_days=2)
    graded("cat", None)
    graded("dan", 0.0, state=RunState.failed_student)
    graded("eve", None, state=RunState.queued)
    response = staff_client.get(f"/api/v1/staff/assignments/{SLUG}", headers=bearer(people.ta))
    assert response.status_code == 200
    stats = response.json()
    assert stats["counts"] == {
        "submitted": 7,
        "students": 5,
        "graded": 4,
        "failed": 2,
        "failed_student": 1,
        "failed_infra": 1,
        "pending": 1,
        "late": 1,
    }
    # counted (best) per student with a score: ann 4, bob 3, dan 0
    assert stats["scored"] == 3
    assert stats["mean"] == pytest.approx(7 / 3, abs=1e-4)
    assert stats["median"] == 3
    assert stats["passed"] == 2 and stats["pass_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert [b["count"] for b in stats["histogram"]] == [1, 0, 0, 0, 0, 0, 1, 0, 1, 0]
    assert stats["counted_policy"] == "best"


def test_roster_rows(staff_client, people, graded):
    graded("ann", 4.0, full_name="Ann Lee")
    graded("ann", 1.0)  # latest is worse than best
    graded("bob", 3.0, late_days=2)
    graded("bob", None)  # latest failed on our side
    response = staff_client.get(
        f"/api/v1/staff/assignments/{SLUG}/roster", headers=bearer(people.ta)
    )
    rows = {r["student"]: r for r in response.json()["rows"]}
    assert set(rows) == {"ann", "bob", "s001"}  # s001: a student without submissions
    ann, bob, nobody = rows["ann"], rows["bob"], rows["s001"]
    assert (ann["attempts"], ann["best"], ann["latest"], ann["counted"]) == (2, 4.0, 1.0, 4.0)
    assert ann["full_name"] == "Ann Lee"
    assert (bob["best"], bob["latest"], bob["latest_state"], bob["late_days"]) == (
        3.0,
        None,
        "failed_infra",
        2,
    )
    assert nobody["attempts"] == 0 and nobody["counted"] is None
    listing = staff_client.get(
        f"/api/v1/staff/assignments/{SLUG}/submissions", headers=bearer(people.ta)
    ).json()
    assert len(listing) == 4 and listing[0]["student"] == "bob"  # newest first
