"""What a student may see of a grading run.

Visible checks (``hidden: false``) always show every field. What hidden checks show is the
spec's feedback level: ``before_deadline`` while ``now`` is before the deadline, else
``after_deadline`` (no deadline: ``after_deadline``). Withheld fields are None.

============  ===================================================  =========================
level         a hidden check's outcome shows                       score shown
============  ===================================================  =========================
full          everything: title, passed, message, details too      the run's score
summary       question, check, title, points, earned, passed       the run's score
score_only    question, check, points, earned                      the run's score
none          nothing: hidden checks are left out of the list      visible checks only:
                                                                   score = their earned sum,
                                                                   max_score = their points,
                                                                   raw_score withheld
============  ===================================================  =========================

Release settings (autograder/staff_release.py) may move the switch between the two
levels from the deadline to an instructor's release time, and may withhold scores: then
``score``, ``raw_score`` and ``outcomes`` are withheld (None and an empty list), and
``scores_released`` is False with ``release_note`` saying when they come. The state,
the student's own failure and program output are still shown.

Failures: a student's own failure (their exception, timeout, wrong output) is shown with
its kind and message. Ours (``failed_infra``, or a run re-queued after an ``infra:*``
failure) shows only that the grading system had a problem that is not their fault. The
student's own program output (``run.log``, capped by the worker) is always shown. Never
shown: the seed, the lease, attempts, resources.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Literal

from autograder.grading.failures import NOT_YOURS_TITLE, Failure, FailureKind
from autograder.grading.outcomes import FIELDS, CheckOutcome, read_outcomes
from autograder.models import GradingRun, RunState
from autograder.specs.schema import FeedbackLevel, Spec
from autograder.staff_release import DEFAULT, ReleasePolicy

OUTCOME_KEYS = FIELDS  # a stored outcome row, autograder/grading/outcomes.py
_SHOWN: dict[str, frozenset[str]] = {
    "full": frozenset(OUTCOME_KEYS),
    "summary": frozenset(
        {
            "question",
            "question_title",
            "question_title_zh",
            "check",
            "title",
            "title_zh",
            "points",
            "earned",
            "passed",
            "hidden",
        }
    ),
    "score_only": frozenset(
        {"question", "question_title", "question_title_zh", "check", "points", "earned", "hidden"}
    ),
}
log = logging.getLogger(__name__)
INFRA_KIND = "infra"
INFRA_RETRYING = (
    "The grading system had a problem (not your fault); your submission is being retried. "
    "评分系统出现问题（不是你的错），正在重试。"
)
INFRA_FAILED = (
    "The grading system had a problem (not your fault, and not counted against your quota); "
    "the course staff will re-grade it. "
    "评分系统出现问题（不是你的错，不计入提交次数），助教会重新评分。"
)


def feedback_level(spec: Spec, now: datetime, release: ReleasePolicy = DEFAULT) -> FeedbackLevel:
    scheduled, switch = release.feedback_switch(spec.deadline)
    if (scheduled and switch is None) or (switch is not None and now < switch):
        return spec.feedback.before_deadline
    return spec.feedback.after_deadline


PreviewMoment = Literal["now", "before", "after"]


def preview_time(
    spec: Spec, release: ReleasePolicy, moment: PreviewMoment, now: datetime
) -> datetime:
    """The time at which staff preview a student's view: now, or just before / just after
    feedback switches from the before-deadline level to the after-deadline one (the
    deadline, or the instructor's scheduled release). Without such a moment (no deadline,
    or a release not scheduled yet) every preview is of now."""
    if moment == "now":
        return now
    _, switch = release.feedback_switch(spec.deadline)
    if switch is None:
        return now
    second = timedelta(seconds=1)
    return switch - second if moment == "before" else max(switch + second, now)


def student_view(
    run: GradingRun,
    spec: Spec,
    now: datetime,
    *,
    reveal_all: bool = False,
    release: ReleasePolicy = DEFAULT,
) -> dict[str, Any]:
    """The run as its student may see it now; ``reveal_all`` (staff) shows hidden checks fully
    and scores before their release."""
    level: FeedbackLevel = "full" if reveal_all else feedback_level(spec, now, release)
    outcomes = [_outcome_view(o, level) for o in read_outcomes(run.outcomes, run.id)]
    view: dict[str, Any] = {
        "state": str(run.state) if run.state is not None else RunState.queued.value,
        "phase": run.phase,
        "progress": run.progress or {},
        "score": run.score,
        "max_score": run.max_score,
        "raw_score": run.raw_score,
        "late_penalty": run.late_penalty or 0.0,
        "feedback_level": level,
        "outcomes": [o for o in outcomes if o is not None],
        "log": run.log or "",
        "log_truncated": bool(run.log_truncated),
        "queued_at": run.queued_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        **_failure_view(run),
    }
    if level == "none":
        view.update(_visible_only_score(view["score"], spec, view["outcomes"]))
    released = reveal_all or release.scores_visible(now)
    view["scores_released"] = released
    view["release_note"] = None if released else release.withheld_message()
    if not released:
        view.update(score=None, raw_score=None, outcomes=[])
    return view


def _outcome_view(outcome: CheckOutcome, level: FeedbackLevel) -> dict[str, Any] | None:
    row = outcome.model_dump()
    if not outcome.hidden:
        return row
    if level == "none":
        return None
    shown = _SHOWN[level]
    return {key: (row[key] if key in shown else None) for key in OUTCOME_KEYS} | {"hidden": True}


def _failure_view(run: GradingRun) -> dict[str, Any]:
    """The student's own failure with its words in each language of the catalogue; ours or
    the instructor's only as "not your fault" (retrying, or failed and to be re-graded)."""
    not_yours = {"failure_kind": INFRA_KIND, "failure_titles": NOT_YOURS_TITLE}
    if run.state == RunState.failed_infra:
        return not_yours | {"failure_message": INFRA_FAILED, "score": None}
    failure = run_failure(run)
    if failure is not None and failure.kind is not FailureKind.student:
        return not_yours | {"failure_message": INFRA_RETRYING}
    view: dict[str, Any] = {
        "failure_kind": run.failure_kind,
        "failure_message": run.failure_message,
    }
    if failure is not None:
        view["failure_messages"] = failure.messages()
        view["failure_titles"] = failure.titles()
    return view


def run_failure(run: GradingRun) -> Failure | None:
    """A run's failure, typed (None: none, or a superseded run's note); a stored value that
    is not a failure is logged and read as none rather than breaking the page."""
    try:
        return Failure.read(run.failure, run.failure_kind, run.failure_message)
    except ValueError:
        log.warning("run %s: stored failure is not one: %r", run.id, run.failure_kind)
        return None


def _visible_only_score(
    score: float | None, spec: Spec, visible: list[dict[str, Any]]
) -> dict[str, Any]:
    visible_max = sum(check.points for _, check in spec.checks() if not check.hidden)
    if score is None:
        return {"score": None, "max_score": visible_max, "raw_score": None}
    earned = sum(float(o.get("earned") or 0.0) for o in visible)
    return {"score": earned, "max_score": visible_max, "raw_score": None}
