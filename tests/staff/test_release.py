"""Release settings: the student's view withholds scores until their release, and hidden
checks switch feedback level at the instructor's time instead of the deadline."""

from __future__ import annotations

from datetime import timedelta

from autograder.feedback import student_view
from autograder.models import GradingRun, utcnow
from autograder.staff_release import ReleasePolicy
from tests.api.conftest import base_spec
from tests.staff.conftest import SLUG, bearer

OUTCOMES = [
    {"question": "q1", "check": "add", "points": 2, "earned": 2, "passed": True,
     "message": "ok", "hidden": False},
    {"question": "q1", "check": "secret", "points": 3, "earned": 1, "passed": False,
     "message": "2 of 5 cases wrong", "hidden": True},
]  # fmt: skip


def release(client, token: str, **body):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/staff/assignments/{SLUG}/release", json=body, headers=bearer(token))


def scored(db, graded):  # type: ignore[no-untyped-def]
    submission = graded("s001", 3.0)
    run = db.get(GradingRun, submission.runs[0].id)
    run.outcomes = OUTCOMES
    db.commit()
    return submission.id


def test_scores_withheld_until_released(staff_client, db, people, graded):
    submission_id = scored(db, graded)
    url = f"/api/v1/submissions/{submission_id}"
    later = (utcnow() + timedelta(days=2)).isoformat()
    response = release(staff_client, people.instructor, scores_mode="scheduled",
                       scores_released_at=later)  # fmt: skip
    assert response.status_code == 200 and response.json()["scores_visible_now"] is False

    seen = staff_client.get(url, headers=bearer(people.student)).json()
    assert seen["state"] == "graded"
    assert seen["score"] is None and seen["raw_score"] is None and seen["outcomes"] == []
    assert seen["scores_released"] is False and "released on" in seen["release_note"]
    listed = staff_client.get("/api/v1/me/submissions", headers=bearer(people.student)).json()
    assert [s["score"] for s in listed] == [None]
    staff = staff_client.get(url, headers=bearer(people.ta)).json()
    assert staff["score"] == 3.0 and staff["scores_released"] is True

    earlier = (utcnow() - timedelta(minutes=1)).isoformat()
    release(staff_client, people.instructor, scores_mode="scheduled", scores_released_at=earlier)
    seen = staff_client.get(url, headers=bearer(people.student)).json()
    assert seen["score"] == 3.0 and len(seen["outcomes"]) == 2 and seen["release_note"] is None


def test_withheld_without_a_date_is_refused(staff_client, db, people, graded):
    """'Withheld until' with no time would withhold for ever: refused, nothing changes."""
    submission_id = scored(db, graded)
    response = release(staff_client, people.instructor, scores_mode="scheduled")
    assert response.status_code == 422
    assert "scores withheld until when?" in str(response.json()["detail"])
    response = release(staff_client, people.instructor, feedback_mode="scheduled")
    assert response.status_code == 422
    assert "hidden checks switch when?" in str(response.json()["detail"])
    seen = staff_client.get(
        f"/api/v1/submissions/{submission_id}", headers=bearer(people.student)
    ).json()
    assert seen["score"] == 3.0 and seen["release_note"] is None


def test_hidden_feedback_follows_the_release_time(staff_client, db, people, graded):
    submission_id = scored(db, graded)
    url = f"/api/v1/submissions/{submission_id}"

    def secret() -> dict:
        outcomes = staff_client.get(url, headers=bearer(people.student)).json()["outcomes"]
        return next(o for o in outcomes if o["check"] == "secret")

    assert secret()["message"] == "2 of 5 cases wrong"  # no deadline: after_deadline (full)
    later = (utcnow() + timedelta(days=1)).isoformat()
    response = release(staff_client, people.instructor, feedback_mode="scheduled",
                       feedback_released_at=later)  # fmt: skip
    assert response.json()["feedback_level_now"] == "summary"
    assert secret()["message"] is None and secret()["passed"] is False  # summary level
    past = (utcnow() - timedelta(seconds=5)).isoformat()
    response = release(staff_client, people.instructor, feedback_mode="scheduled",
                       feedback_released_at=past)  # fmt: skip
    assert response.json()["feedback_level_now"] == "full"
    assert secret()["message"] == "2 of 5 cases wrong"


def test_release_times_need_a_time_zone(staff_client, people, assignment):
    response = release(staff_client, people.instructor, scores_mode="scheduled",
                       scores_released_at="2030-01-01T10:00:00")  # fmt: skip
    assert response.status_code == 422


def test_policy_is_pure():
    from autograder.specs.schema import Spec

    spec = Spec.model_validate(base_spec())
    run = GradingRun(outcomes=OUTCOMES, score=3.0, raw_score=3.0, max_score=5.0, log="")
    now = utcnow()
    held = ReleasePolicy(scores_mode="scheduled", scores_released_at=now + timedelta(hours=1))
    assert student_view(run, spec, now, release=held)["score"] is None
    assert student_view(run, spec, now, release=held, reveal_all=True)["score"] == 3.0
    assert student_view(run, spec, now + timedelta(hours=2), release=held)["score"] == 3.0
