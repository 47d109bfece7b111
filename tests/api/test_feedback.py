"""What a student sees of a run, per feedback level (constructed objects, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from autograder.feedback import OUTCOME_KEYS, feedback_level, student_view
from autograder.grading.failures import Failure, FailureCode
from autograder.models import GradingRun, RunState
from autograder.specs.loader import load_spec_text
from autograder.specs.schema import Spec
from tests.api.conftest import spec_source

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
VISIBLE = {
    "question": "q1",
    "question_title": "Arithmetic",
    "question_title_zh": "算术",
    "check": "add",
    "title": "adds two numbers",
    "title_zh": "两数相加",
    "points": 2.0,
    "earned": 2.0,
    "passed": True,
    "message": "all 5 cases match",
    "message_zh": "全部 5 个用例一致",
    "hint_zh": "",
    "hidden": False,
    "details": {"cases": 5},
}
HIDDEN = {
    "question": "q1",
    "question_title": "Arithmetic",
    "question_title_zh": "算术",
    "check": "secret",
    "title": "secret cases",
    "title_zh": "隐藏用例",
    "points": 3.0,
    "earned": 1.5,
    "passed": False,
    "message": "case 3: expected 7, got 8\nHint: add them",
    "message_zh": "用例 3：应为 7，得到 8\n提示：把它们相加",
    "hint_zh": "把它们相加",
    "hidden": True,
    "details": {"input": [3, 4]},
}


def spec(level: str, deadline: datetime | None = NOW + timedelta(days=1)) -> Spec:
    feedback = {"before_deadline": level, "after_deadline": "full"}
    return load_spec_text(spec_source(deadline, feedback=feedback), "hw-test", "t.yaml").spec


def graded_run(**changes: Any) -> GradingRun:
    fields: dict[str, Any] = {
        "state": RunState.graded,
        "phase": "score",
        "score": 3.5,
        "raw_score": 3.5,
        "max_score": 5.0,
        "late_penalty": 0.0,
        "outcomes": [VISIBLE, HIDDEN],
        "log": "<script>alert('hi')</script>\n",
        "log_truncated": False,
        "seed": 12345,
        "lease_owner": "worker-1",
    }
    fields.update(changes)
    return GradingRun(**fields)


def by_check(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["check"]: o for o in view["outcomes"]}


def test_visible_checks_always_show_everything():
    for level in ("full", "summary", "score_only", "none"):
        view = student_view(graded_run(), spec(level), NOW)
        assert by_check(view)["add"] == VISIBLE, level


def test_full_shows_hidden_checks_entirely():
    view = student_view(graded_run(), spec("full"), NOW)
    assert by_check(view)["secret"] == HIDDEN
    assert view["score"] == 3.5 and view["max_score"] == 5.0


def test_summary_hides_message_and_details():
    hidden = by_check(student_view(graded_run(), spec("summary"), NOW))["secret"]
    assert set(hidden) == set(OUTCOME_KEYS)
    assert hidden["message"] is None and hidden["details"] is None
    assert hidden["hint_zh"] is None  # the hint is part of the message it withholds
    assert hidden["message_zh"] is None
    assert (hidden["title"], hidden["points"], hidden["earned"], hidden["passed"]) == (
        "secret cases",
        3.0,
        1.5,
        False,
    )


def test_score_only_shows_points_and_earned():
    view = student_view(graded_run(), spec("score_only"), NOW)
    hidden = by_check(view)["secret"]
    assert {k for k, v in hidden.items() if v is not None} == {
        "question",
        "question_title",  # what the question is called is no secret
        "question_title_zh",
        "check",
        "points",
        "earned",
        "hidden",
    }
    assert hidden["title"] is None and hidden["passed"] is None and hidden["message"] is None
    assert hidden["title_zh"] is None and hidden["hint_zh"] is None
    assert hidden["message_zh"] is None
    assert view["score"] == 3.5


def test_none_omits_hidden_checks_and_counts_only_visible_points():
    view = student_view(graded_run(), spec("none"), NOW)
    assert [o["check"] for o in view["outcomes"]] == ["add"]
    assert view["score"] == 2.0 and view["max_score"] == 2.0 and view["raw_score"] is None
    assert "secret" not in repr(view) and "expected 7" not in repr(view)


def test_the_after_deadline_level_applies_from_the_deadline_on():
    hidden_spec = spec("none")
    assert hidden_spec.deadline is not None
    assert feedback_level(hidden_spec, hidden_spec.deadline - timedelta(seconds=1)) == "none"
    assert feedback_level(hidden_spec, hidden_spec.deadline) == "full"
    later = student_view(graded_run(), hidden_spec, hidden_spec.deadline + timedelta(hours=1))
    assert by_check(later)["secret"] == HIDDEN


def test_no_deadline_uses_the_after_deadline_level():
    assert feedback_level(spec("none", deadline=None), NOW) == "full"


def test_staff_see_hidden_checks_before_the_deadline():
    view = student_view(graded_run(), spec("none"), NOW, reveal_all=True)
    assert by_check(view)["secret"] == HIDDEN and view["feedback_level"] == "full"


def test_own_output_is_shown_but_not_the_seed_or_lease():
    view = student_view(graded_run(log_truncated=True), spec("summary"), NOW)
    assert view["log"] == "<script>alert('hi')</script>\n" and view["log_truncated"] is True
    assert "12345" not in repr(view) and "worker-1" not in repr(view)


def test_student_failures_are_shown_as_they_are():
    run = graded_run(
        state=RunState.failed_student,
        score=0.0,
        outcomes=[],
        failure_kind="submission:import-error",
        failure_message="ZeroDivisionError: division by zero (hw.py, line 2)",
    )
    view = student_view(run, spec("summary"), NOW)
    assert view["failure_kind"] == "submission:import-error"
    assert "ZeroDivisionError" in view["failure_message"]
    # Stored before failures were kept whole: its English words only.
    assert view["failure_messages"] == {"en": view["failure_message"]}


def test_student_failures_come_in_each_language():
    failure = Failure(code=FailureCode.MEMORY, values={"memory_mb": 256})
    run = graded_run(
        state=RunState.failed_student,
        failure_kind=failure.code,
        failure_message=failure.message(),
        failure=failure.stored(),
    )
    view = student_view(run, spec("summary"), NOW)
    assert view["failure_message"] == failure.message()
    assert view["failure_messages"]["en"] == failure.message()
    assert "256 MB" in view["failure_messages"]["zh"] and "内存" in view["failure_messages"]["zh"]
    assert view["failure_titles"] == {"en": "Out of memory", "zh": "超出内存限制"}


def test_an_instructors_failure_is_not_the_students():
    """A reference solution that fails: never detailed to the student, never scored."""
    failure = Failure(code=FailureCode.REFERENCE_FAILED, detail="KeyError in solution.py")
    run = graded_run(
        state=RunState.failed_infra,
        score=None,
        outcomes=[],
        failure_kind=failure.code,
        failure_message=failure.message(),
        failure=failure.stored(),
    )
    view = student_view(run, spec("full"), NOW)
    assert view["failure_kind"] == "infra" and "not your fault" in view["failure_message"]
    assert view["failure_titles"]["en"] == "A problem of the grading system"
    assert "solution.py" not in str(view) and "reference" not in str(view)


@pytest.mark.parametrize(
    ("state", "words"),
    [(RunState.failed_infra, "not your fault"), (RunState.queued, "being retried")],
)
def test_infrastructure_failures_are_never_detailed_or_scored(state: RunState, words: str):
    run = graded_run(
        state=state,
        score=0.0 if state == RunState.failed_infra else None,
        outcomes=[],
        failure_kind="infra:sandbox-unavailable",
        failure_message="bwrap: setting up uid map: Permission denied (/srv/secret/path)",
    )
    view = student_view(run, spec("full"), NOW)
    assert view["failure_kind"] == "infra"
    assert words in view["failure_message"] and "bwrap" not in view["failure_message"]
    assert view["score"] is None


def test_a_queued_run_has_no_score_yet():
    run = GradingRun(state=RunState.queued, outcomes=[], log="", seed=1)
    view = student_view(run, spec("none"), NOW)
    assert view["state"] == "queued" and view["outcomes"] == []
    assert view["score"] is None and view["late_penalty"] == 0.0
