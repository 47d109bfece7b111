"""Staff open any submission exactly as its student sees it, now or just before or after
the deadline: the same feedback levels, hidden checks and withheld scores; a student can
ask for no other moment than now."""

from __future__ import annotations

from datetime import timedelta

from autograder.models import Role, RunState, utcnow
from tests.api.conftest import PASSWORD, auth, sign_in, submission_for

VISIBLE = {
    "question": "q1",
    "check": "add",
    "title": "adds two numbers",
    "points": 2.0,
    "earned": 2.0,
    "passed": True,
    "message": "all 5 cases match",
    "hidden": False,
    "details": {"cases": 5},
}
HIDDEN = VISIBLE | {
    "check": "secret",
    "title": "secret cases",
    "points": 3.0,
    "earned": 1.5,
    "passed": False,
    "message": "case 3: expected 7, got 8",
    "hidden": True,
}


def graded(db, make_assignment, make_user):  # type: ignore[no-untyped-def]
    """hw-test due tomorrow: hidden checks summarised before the deadline, in full after."""
    make_assignment(
        deadline=utcnow() + timedelta(days=1),
        feedback={"before_deadline": "summary", "after_deadline": "full"},
    )
    student, student_token = make_user("stu", password=PASSWORD)
    _, ta_token = make_user("ta1", Role.ta, password=PASSWORD)
    submission = submission_for(
        db,
        student,
        state=RunState.graded,
        score=3.5,
        raw_score=3.5,
        max_score=5.0,
        outcomes=[VISIBLE, HIDDEN],
        log="their output\n",
    )
    return submission.id, student_token, ta_token


def hidden_of(view: dict) -> dict:  # type: ignore[type-arg]
    return next(o for o in view["outcomes"] if o["check"] == "secret")


def test_staff_preview_is_exactly_the_students_view(client, db, make_assignment, make_user):
    sid, student_token, ta_token = graded(db, make_assignment, make_user)
    url = f"/api/v1/submissions/{sid}"
    own = client.get(url, headers=auth(student_token)).json()
    staff = client.get(url, headers=auth(ta_token)).json()
    preview = client.get(f"{url}?as_student=true", headers=auth(ta_token)).json()
    assert hidden_of(own)["message"] is None  # before the deadline: summary
    assert hidden_of(staff)["message"] == HIDDEN["message"]  # staff see everything
    assert preview == own


def test_staff_preview_before_and_after_the_deadline(client, db, make_assignment, make_user):
    sid, _, ta_token = graded(db, make_assignment, make_user)
    url = f"/api/v1/submissions/{sid}?as_student=true&moment="
    before = client.get(url + "before", headers=auth(ta_token)).json()
    after = client.get(url + "after", headers=auth(ta_token)).json()
    assert before["feedback_level"] == "summary" and hidden_of(before)["message"] is None
    assert after["feedback_level"] == "full"
    assert hidden_of(after)["message"] == HIDDEN["message"]


def test_a_student_cannot_ask_for_another_moment(client, db, make_assignment, make_user):
    sid, student_token, ta_token = graded(db, make_assignment, make_user)
    url = f"/api/v1/submissions/{sid}"
    for query in ("?as_student=true&moment=after", "?moment=after"):
        response = client.get(url + query, headers=auth(student_token))
        assert response.status_code == 403, query
        assert "only staff" in response.json()["detail"]
    # Staff must say whose view: another moment of the staff view means nothing.
    assert client.get(url + "?moment=after", headers=auth(ta_token)).status_code == 403
    # as_student alone changes nothing for the student.
    same = client.get(url + "?as_student=true", headers=auth(student_token)).json()
    assert same == client.get(url, headers=auth(student_token)).json()


def test_the_page_previews_for_staff_only(client, db, make_assignment, make_user):
    sid, _, _ = graded(db, make_assignment, make_user)
    sign_in(client, "ta1")
    page = client.get(f"/submissions/{sid}?as=student&moment=before").text
    assert f'data-api="/api/v1/submissions/{sid}?as_student=true&amp;moment=before"' in page
    assert 'id="preview"' in page
    staff_page = client.get(f"/staff/submissions/{sid}").text
    assert f'href="/submissions/{sid}?as=student&amp;moment=after"' in staff_page
    client.cookies.clear()
    sign_in(client, "stu")
    own = client.get(f"/submissions/{sid}?as=student&moment=after").text
    assert f'data-api="/api/v1/submissions/{sid}"' in own and 'id="preview"' not in own
