"""Re-grades: new runs graded beside the current ones, then applied or discarded.

The database is the truth and the worker's lifecycle is unchanged: a re-grade only adds
ordinary queued ``GradingRun`` rows (claimed with a lease, stored fenced, re-sent by the
reconciler like any other). What is special is that they are created *not current*:

- **one assignment** (``scope="assignment"``): every submission gets a run in the
  lower-priority lane of its queue (``cpu-low``/``gpu-low``), so students' new uploads
  are always graded first. When every run is final, staff read the before/after report
  and ``apply`` it (each graded run becomes its submission's current run, all in one
  transaction) or ``discard`` it (nothing changes; runs not yet started are dropped).
- **one submission** (``scope="submission"``): one run in the normal lane, applied by the
  worker in the same transaction that stores its grade (``apply_if_automatic``), so a
  TA who re-grades one submission sees the new result without a second step. A run that
  fails on our side (``failed_infra``) is never applied.

A re-grade grades by the assignment's current spec version, with the job seed of
(submission, spec version): unchanged spec, same generated inputs as before, so a change
of score comes from the code or the spec, not from luck.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from autograder import queueing
from autograder.models import (
    Assignment,
    GradingRun,
    RegradeBatch,
    RunState,
    Submission,
    User,
    utcnow,
)
from autograder.refusals import Conflict, NotFound
from autograder.specs.schema import Spec
from autograder.staff_runs import current_run
from autograder.submissions import enqueue_run, job_seed, queue_for

OPEN, APPLIED, DISCARDED = "open", "applied", "discarded"
_DECIDED_ZH = {APPLIED: "采用", DISCARDED: "放弃"}  # for the refusal "已被采用"
# A re-grade's run that may become current: it has a grade (a student failure is one).
APPLICABLE = (RunState.graded, RunState.failed_student)
CHANGES = ("up", "down", "same", "pending", "failed")


def start_for_assignment(
    session: Session, assignment: Assignment, spec: Spec, user: User | None
) -> RegradeBatch:
    """A batch re-grading every submission of ``assignment`` in the low lane (not
    committed). One open assignment-wide batch at a time: apply or discard it first."""
    busy = session.scalar(
        select(RegradeBatch.id).where(
            RegradeBatch.assignment_id == assignment.id,
            RegradeBatch.scope == "assignment",
            RegradeBatch.state == OPEN,
        )
    )
    if busy is not None:
        raise Conflict(
            f"re-grade {busy} of {assignment.slug} is still open: apply or discard it",
            f"{assignment.slug} 的重新评分 {busy} 尚未结束：请先采用或放弃它",
        )
    submissions = session.scalars(
        select(Submission)
        .where(Submission.assignment_id == assignment.id)
        .order_by(Submission.received_at)
        .options(selectinload(Submission.runs))  # every run in one more query, not one each
    ).all()
    # A submission superseded by a newer upload before it ran was never meant to be graded.
    submissions = [s for s in submissions if current_run(s).state != RunState.superseded]
    if not submissions:
        raise Conflict(
            f"{assignment.slug} has no submissions to re-grade",
            f"{assignment.slug} 没有可重新评分的提交",
        )
    lane = queueing.low_lane(queue_for(spec))
    return _batch(session, assignment, user, "assignment", submissions, lane)


def start_for_submission(
    session: Session, submission: Submission, spec: Spec, user: User | None
) -> RegradeBatch:
    """A batch of one run in the normal lane, applied when graded (not committed)."""
    return _batch(session, submission.assignment, user, "submission", [submission], queue_for(spec))


def _batch(
    session: Session,
    assignment: Assignment,
    user: User | None,
    scope: str,
    submissions: Sequence[Submission],
    queue: str,
) -> RegradeBatch:
    batch = RegradeBatch(
        assignment_id=assignment.id,
        spec_hash=assignment.spec_hash,
        scope=scope,
        auto_apply=scope == "submission",
        state=OPEN,
        created_by=user.id if user else None,
        created_at=utcnow(),
    )
    session.add(batch)
    session.flush()
    for submission in submissions:
        session.add(
            GradingRun(
                submission_id=submission.id,
                spec_hash=assignment.spec_hash,
                queue=queue,
                state=RunState.queued,
                seed=job_seed(submission.id, assignment.spec_hash),
                queued_at=utcnow(),
                batch_id=batch.id,
                is_current=False,
            )
        )
    session.flush()
    return batch


def enqueue(session: Session, batch: RegradeBatch) -> int:
    """Send the batch's queued runs to the broker (after the commit that made them).
    A run that cannot be sent stays queued for the reconciler.

    The batch may be discarded while this runs (its queued runs deleted by another
    request): each run is read again just before it is sent, and one that is gone,
    claimed or already sent is skipped (``enqueue_run`` records the sending only on a run
    still queued)."""
    ids = [run.id for run in batch.runs if run.state == RunState.queued and run.enqueued_at is None]
    sent = 0
    for run_id in ids:
        run = session.get(GradingRun, run_id, populate_existing=True)
        if run is None or run.state != RunState.queued or run.enqueued_at is not None:
            session.commit()  # ends the read's transaction, as enqueue_run's commit would
            continue
        sent += enqueue_run(session, run)
    return sent


def get_batch(session: Session, batch_id: int, *, lock: bool = False) -> RegradeBatch:
    query = select(RegradeBatch).where(RegradeBatch.id == batch_id)
    batch = session.scalar(query.with_for_update() if lock else query)
    if batch is None:
        raise NotFound(f"no re-grade {batch_id}", f"没有编号为 {batch_id} 的重新评分")
    return batch


def progress(batch: RegradeBatch) -> dict[str, int]:
    """Counts of the batch's runs by state, with ``total`` and ``done`` (final)."""
    counts = Counter(str(run.state) for run in batch.runs)
    out = {state.value: counts.get(state.value, 0) for state in RunState}
    out["total"] = len(batch.runs)
    out["done"] = sum(out[s.value] for s in RunState if s.is_final)
    return out


def report(batch: RegradeBatch) -> dict[str, Any]:
    """Before and after, per submission. Frozen into the batch when it is decided, so the
    report of an applied batch still shows what it replaced."""
    if batch.state != OPEN and batch.report:
        return dict(batch.report)
    rows = [_row(run) for run in batch.runs]
    summary = Counter(row["change"] for row in rows)
    return {"rows": rows, "summary": {k: summary.get(k, 0) for k in CHANGES}}


def _row(run: GradingRun) -> dict[str, Any]:
    submission = run.submission
    before = current_run(submission)
    if before.id == run.id:  # an applied one-submission re-grade: compare with the last
        earlier = [r for r in submission.runs if r.id != run.id and r.id < run.id]
        before = earlier[-1] if earlier else run
    return {
        "submission_id": submission.id,
        "student": submission.user.name,
        "received_at": submission.received_at.isoformat(),
        "before": _side(before),
        "after": _side(run),
        "delta": _delta(before, run),
        "change": _change(before, run),
    }


def _side(run: GradingRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "state": str(run.state),
        "score": run.score,
        "max_score": run.max_score,
        "spec_hash": run.spec_hash,
    }


def _delta(before: GradingRun, after: GradingRun) -> float | None:
    if before.score is None or after.score is None or after.state not in APPLICABLE:
        return None
    return round(after.score - before.score, 6)


def _change(before: GradingRun, after: GradingRun) -> str:
    if not RunState(after.state).is_final:
        return "pending"
    if after.state not in APPLICABLE:
        return "failed"
    delta = _delta(before, after)
    if delta is None or abs(delta) > 1e-9:
        return "up" if delta is None or delta > 0 else "down"
    return "same"


def apply(session: Session, batch_id: int, user: User | None) -> RegradeBatch:
    """Make each graded run of the batch its submission's current run, atomically (not
    committed). Refused until every run is final; runs failed on our side are skipped."""
    batch = get_batch(session, batch_id, lock=True)
    _require_open(batch)
    pending = [run.id for run in batch.runs if not RunState(run.state).is_final]
    if pending:
        raise Conflict(
            f"re-grade {batch.id} is still grading {len(pending)} submission(s)",
            f"重新评分 {batch.id} 仍有 {len(pending)} 份提交正在评分",
        )
    frozen = report(batch)
    _make_current(session, [run for run in batch.runs if run.state in APPLICABLE])
    _decide(batch, APPLIED, user, frozen)
    return batch


def discard(session: Session, batch_id: int, user: User | None) -> RegradeBatch:
    """Leave every current run as it is; runs no worker has claimed yet are dropped (a
    worker that receives their message finds nothing to claim). Not committed."""
    batch = get_batch(session, batch_id, lock=True)
    _require_open(batch)
    frozen = report(batch)
    session.execute(
        delete(GradingRun)
        .where(GradingRun.batch_id == batch.id, GradingRun.state == RunState.queued)
        .execution_options(synchronize_session=False)
    )
    session.expire(batch, ["runs"])
    _decide(batch, DISCARDED, user, frozen)
    return batch


def apply_if_automatic(session: Session, run_id: int) -> bool:
    """Called by the worker in the transaction that stores ``run_id``'s grade: apply a
    one-submission re-grade at once. Returns True when it did."""
    batch = session.scalar(
        select(RegradeBatch)
        .join(GradingRun, GradingRun.batch_id == RegradeBatch.id)
        .where(
            GradingRun.id == run_id,
            RegradeBatch.auto_apply.is_(True),
            RegradeBatch.state == OPEN,
        )
        .with_for_update(of=RegradeBatch)
    )
    if batch is None:
        return False
    run = session.get(GradingRun, run_id, populate_existing=True)
    if run is None or run.state not in APPLICABLE:
        return False
    frozen = report(batch)
    _make_current(session, [run])
    _decide(batch, APPLIED, None, frozen, decided_by=batch.created_by)
    return True


def _require_open(batch: RegradeBatch) -> None:
    if batch.state != OPEN:
        decided = _DECIDED_ZH.get(batch.state, batch.state)
        raise Conflict(
            f"re-grade {batch.id} was already {batch.state}",
            f"重新评分 {batch.id} 已被{decided}",
        )


def _make_current(session: Session, runs: list[GradingRun]) -> None:
    """Two statements, in this order, so the one-current-run index holds after each."""
    if not runs:
        return
    session.execute(
        update(GradingRun)
        .where(
            GradingRun.submission_id.in_([run.submission_id for run in runs]),
            GradingRun.is_current.is_(True),
        )
        .values(is_current=False)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(GradingRun)
        .where(GradingRun.id.in_([run.id for run in runs]))
        .values(is_current=True)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def _decide(
    batch: RegradeBatch,
    state: str,
    user: User | None,
    frozen: dict[str, Any],
    decided_by: int | None = None,
) -> None:
    batch.state = state
    batch.report = frozen
    batch.decided_at = utcnow()
    batch.decided_by = user.id if user else decided_by
