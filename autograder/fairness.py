"""Fair order between students: at most one run per student per lane is in the broker.

A student's queued runs on one lane (``cpu``, ``gpu``, ``cpu-low``, ``gpu-low``) form a
*line*, oldest first (``queued_at``, then id). Only the head of a line may be sent, and
only while none of that student's runs on the lane is running. The others are *held*:
``queued`` in the database with ``enqueued_at`` NULL, and no message in the broker. So a
student who uploads ten times at the deadline has one message in the queue, behind the
other students' first submissions, and the next one goes out when the previous one ends.

Who sends a held run when it becomes the head:
- the worker, right after it stores (or finally fails) the previous run (``send_next``);
- the API, right after the upload, when the line was empty (``enqueue_run``);
- the reconciler (worker/reconciler.py), which re-sends only heads (``sendable``), every
  ``reconcile_seconds``: whatever the two above miss (a crash between commit and send,
  a race between them, a lost message) it finds.

Correct under duplicates: sending a head twice is harmless (the claim is a
compare-and-set), and a held run is never sent, so another student's turn is never
taken. Nothing here holds a lock across the send: the database decides again each time.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from autograder import queueing
from autograder.models import GradingRun, RunState, Submission, utcnow


def sendable() -> ColumnElement[bool]:
    """True for a queued run that heads its student's line on its lane with nothing of
    theirs running there. For a query over ``GradingRun`` joined to its ``Submission``."""
    other = aliased(GradingRun)
    other_submission = aliased(Submission)
    ahead = or_(
        other.state == RunState.running,
        and_(
            other.state == RunState.queued,
            or_(
                other.queued_at < GradingRun.queued_at,
                and_(other.queued_at == GradingRun.queued_at, other.id < GradingRun.id),
            ),
        ),
    )
    blocked = exists().where(
        other.submission_id == other_submission.id,
        other_submission.user_id == Submission.user_id,
        other.queue == GradingRun.queue,
        other.id != GradingRun.id,
        ahead,
    )
    return and_(GradingRun.state == RunState.queued, ~blocked)


def is_sendable(session: Session, run_id: int) -> bool:
    """``sendable()`` for one run, asked from the student's side: their own runs only
    (by the submissions' user index), not every queued run of the lane. In a deadline
    rush with a thousand runs queued, each upload asks this once."""
    row = session.execute(
        select(GradingRun.state, GradingRun.queue, GradingRun.queued_at, Submission.user_id)
        .join(Submission, Submission.id == GradingRun.submission_id)
        .where(GradingRun.id == run_id)
    ).one_or_none()
    if row is None or row.state != RunState.queued:
        return False
    theirs = select(Submission.id).where(Submission.user_id == row.user_id)
    ahead = session.scalar(
        select(GradingRun.id)
        .where(
            GradingRun.submission_id.in_(theirs),
            GradingRun.queue == row.queue,
            GradingRun.id != run_id,
            or_(
                GradingRun.state == RunState.running,
                and_(
                    GradingRun.state == RunState.queued,
                    or_(
                        GradingRun.queued_at < row.queued_at,
                        and_(GradingRun.queued_at == row.queued_at, GradingRun.id < run_id),
                    ),
                ),
            ),
        )
        .limit(1)
    )
    return ahead is None


def enqueue_run(session: Session, run: GradingRun) -> bool:
    """Send ``run`` if it heads its line (call after the commit that made it); record when
    it went and commit. A held run, or a broker outage, returns False and leaves
    ``enqueued_at`` NULL: the run is sent when its turn comes (``send_next``, reconciler)."""
    if not is_sendable(session, run.id):
        return False
    if not queueing.send_grade(run.id, run.queue):
        return False
    # Recorded only on a run still queued: one deleted meanwhile (a discarded re-grade)
    # matches no row instead of failing the flush (a worker that gets its message finds
    # nothing to claim).
    session.execute(
        update(GradingRun)
        .where(GradingRun.id == run.id, GradingRun.state == RunState.queued)
        .values(enqueued_at=utcnow())
    )
    session.commit()
    return True


def send_next(session: Session, user_id: int, queue: str) -> int | None:
    """After a run of ``user_id`` on ``queue`` ended: send the head of that line if it was
    held (not yet sent). Returns the id sent, or None. Commits."""
    head = session.scalar(
        select(GradingRun)
        .join(Submission, Submission.id == GradingRun.submission_id)
        .where(
            Submission.user_id == user_id,
            GradingRun.queue == queue,
            GradingRun.enqueued_at.is_(None),
            sendable(),
        )
        .order_by(GradingRun.queued_at, GradingRun.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=GradingRun)
    )
    if head is None:
        session.commit()
        return None
    sent = queueing.send_grade(head.id, head.queue)
    if sent:
        head.enqueued_at = utcnow()
    session.commit()
    return head.id if sent else None


def send_next_after(run_id: int) -> int | None:
    """``send_next`` for the line of run ``run_id`` (the worker calls it after a run ends).
    Never raises: the reconciler sends the head anyway if this fails."""
    import logging

    from autograder.db import session_scope

    try:
        with session_scope() as session:
            row = session.execute(
                select(Submission.user_id, GradingRun.queue)
                .join(Submission, Submission.id == GradingRun.submission_id)
                .where(GradingRun.id == run_id)
            ).first()
            if row is None:
                return None
            return send_next(session, row.user_id, row.queue)
    except Exception:
        logging.getLogger(__name__).warning(
            "run %s: could not send the next run of its line", run_id, exc_info=True
        )
        return None
