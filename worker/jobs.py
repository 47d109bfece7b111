"""The job lifecycle around the pipeline: claim with a lease, grade, store, or retry.

The database is the truth and the broker only a hint:
- ``claim`` is a compare-and-set: only a queued run, or a running one whose lease has
  expired, with attempts left, can be taken; a duplicate delivery finds nothing to take.
- a heartbeat renews the lease while the sandbox runs;
- ``store`` is fenced by the lease owner: a worker that lost its lease cannot overwrite;
- a student failure is a grade with a message; an infrastructure failure puts the run
  back in the queue (or, with no attempts left, marks it ``failed_infra``: never a zero);
- when a run ends, the next run of the same student on the same lane, held back for
  fairness, is sent (autograder/fairness.py);
- every sandbox started for the run is counted into ``resources["sandbox_starts"]``
  (summed over attempts), which ``/metrics`` adds up.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update

from autograder.assignments import spec_for
from autograder.db import session_scope
from autograder.fairness import send_next_after
from autograder.grading.failures import Failure, FailureCode, GradingError
from autograder.grading.report import GradeReport
from autograder.late_policy import assess
from autograder.logs import bind_log_context, log_context
from autograder.models import GradingRun, RunState, Submission, utcnow
from autograder.queueing import is_gpu_lane, send_grade
from autograder.regrades import apply_if_automatic
from autograder.settings import Settings, get_settings
from autograder.specs.schema import Spec
from autograder.storage import path_for
from worker import housekeeping
from worker.artifacts import metrics
from worker.checks.registry import KINDS as CALL_KINDS
from worker.cpus import Ledger
from worker.db_retry import retrying
from worker.gpus import assign_gpu
from worker.pipeline import JobContext, grade
from worker.sandbox import Backend, get_backend

log = logging.getLogger(__name__)
LOG_CAP_CHARS = 64 * 1024


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def process(run_id: int) -> str:
    """Grade run ``run_id`` if it can be claimed; return what happened (for logs and tests)."""
    owner = worker_id()
    with log_context(run_id=run_id, worker=owner):
        outcome = _process(run_id, owner)
        log.info("run %s: %s", run_id, outcome)
    if outcome in ("stored", "failed-infra"):  # the run ended: the student's next one may go
        send_next_after(run_id)
    return outcome


class CountingBackend:
    """The sandbox backend, counting the boxes started through it (``run`` calls)."""

    def __init__(self, backend: Backend):
        self._backend = backend
        self.starts = 0

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.starts += 1
        return self._backend.run(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def _process(run_id: int, owner: str) -> str:
    settings = get_settings()
    if not claim(run_id, owner, settings.lease_seconds, settings.max_attempts):
        return "skipped"
    heartbeat = Heartbeat(run_id, owner, settings.lease_seconds)
    heartbeat.start()
    backend = CountingBackend(get_backend(settings))
    try:
        report = execute(run_id, settings, owner, backend)
    except GradingError as exc:
        log.warning("run %s: %s error %s: %s", run_id, exc.kind, exc.code, exc)
        return release(run_id, owner, exc.failure, settings.max_attempts, starts=backend.starts)
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            # The job's scratch filled up (a box's own space is sized apart): ours.
            log.warning("run %s: job scratch full: %s", run_id, exc)
            failure = Failure(
                code=FailureCode.SCRATCH_FULL,
                values={"folder": str(settings.path("jobs"))},
                detail=str(exc),
            )
        else:  # a bug of ours: retried, never charged to the student
            log.exception("run %s: internal error", run_id)
            failure = Failure(code=FailureCode.INTERNAL, detail=f"{type(exc).__name__}: {exc}")
        return release(run_id, owner, failure, settings.max_attempts, starts=backend.starts)
    finally:
        heartbeat.stop()
    return "stored" if store(run_id, owner, report, starts=backend.starts) else "lost-lease"


def _db_seconds() -> float:
    return get_settings().db_retry_seconds


def _run_state(run_id: int) -> tuple[Any, Any, Any]:
    """(state, lease owner, failure kind) of the run, as committed."""
    with session_scope() as session:
        run = session.get(GradingRun, run_id)
        if run is None:
            return None, None, None
        return RunState(run.state), run.lease_owner, run.failure_kind


def claim(run_id: int, owner: str, lease_seconds: int, max_attempts: int) -> bool:
    def committed() -> bool | None:
        state, holder, _ = _run_state(run_id)
        return True if state == RunState.running and holder == owner else None

    return retrying(
        f"run {run_id}: claim",
        lambda: _claim(run_id, owner, lease_seconds, max_attempts),
        seconds=_db_seconds(),
        done=committed,
    )


def _claim(run_id: int, owner: str, lease_seconds: int, max_attempts: int) -> bool:
    now = utcnow()
    with session_scope() as session:
        result = session.execute(
            update(GradingRun)
            .where(
                GradingRun.id == run_id,
                GradingRun.attempts < max_attempts,
                or_(
                    GradingRun.state == RunState.queued,
                    (GradingRun.state == RunState.running) & (GradingRun.lease_expires_at < now),
                ),
            )
            .values(
                state=RunState.running,
                lease_owner=owner,
                attempts=GradingRun.attempts + 1,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                started_at=now,
                phase="staging",
            )
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount == 1  # an UPDATE's result


def _owned(run_id: int, owner: str) -> Any:
    return (
        (GradingRun.id == run_id)
        & (GradingRun.lease_owner == owner)
        & (GradingRun.state == RunState.running)
    )


def set_phase(run_id: int, owner: str, phase: str) -> None:
    def attempt() -> None:
        with session_scope() as session:
            session.execute(
                update(GradingRun)
                .where(_owned(run_id, owner))
                .values(phase=phase)
                .execution_options(synchronize_session=False)
            )

    retrying(f"run {run_id}: phase", attempt, seconds=_db_seconds())


class ProgressWriter:
    """Stores a training phase's latest epochs on the run, at most every 2 seconds."""

    MIN_INTERVAL = 2.0
    MAX_EPOCHS = 200

    def __init__(self, run_id: int, owner: str):
        self.run_id, self.owner = run_id, owner
        self.last = 0.0

    def __call__(
        self,
        check: str,
        phase: str,
        lines: list[dict[str, Any]],
        total: int | None = None,
        final: bool = False,
    ) -> None:
        """``final``: the phase has ended; stored whatever the interval, so that the run
        keeps its last epoch."""
        now = time.monotonic()
        if now - self.last < self.MIN_INTERVAL and not final:
            return
        self.last = now
        epochs = [metrics(line) for line in lines[-self.MAX_EPOCHS :]]
        progress: dict[str, Any] = {"check": check[:64], "phase": phase[:16], "epochs": epochs}
        if total is not None and 0 < total <= 100_000:
            progress["epochs_total"] = total
        try:
            with session_scope() as session:
                session.execute(
                    update(GradingRun)
                    .where(_owned(self.run_id, self.owner))
                    .values(progress=progress, phase=phase[:16])
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # progress is a courtesy: never fail a grading over it
            log.warning("run %s: progress update failed", self.run_id, exc_info=True)


def threads_per_job(settings: Settings) -> int:
    """This worker's cores shared among the jobs it runs at once."""
    cores = len(os.sched_getaffinity(0))
    return max(1, cores // effective_concurrency(settings))


def effective_concurrency(settings: Settings) -> int:
    """Jobs at once: the setting, or (0) as many as this worker has cores."""
    return settings.worker_concurrency or len(os.sched_getaffinity(0))


def boxes_at_once(spec: Spec) -> int:
    """Call-based checks run the student's box beside the reference's: two at a time."""
    return 2 if any(c.kind in CALL_KINDS for _, c in spec.checks()) else 1


CORES_WAIT_SECONDS = 3600


def execute(
    run_id: int, settings: Settings, owner: str, backend: Backend | None = None
) -> GradeReport:
    with session_scope() as session:
        run = session.get(GradingRun, run_id)
        assert run is not None
        submission: Submission = run.submission
        loaded = spec_for(session, submission.assignment, run.spec_hash)
        files = list(submission.files)
        seed = run.seed
        queue = run.queue
        slug = submission.assignment.slug
        received_at = submission.received_at
        bind_log_context(submission_id=submission.id, assignment=slug)
    gpu = assign_gpu(settings, loaded.spec, run_id)
    if (
        loaded.spec.resources.device == "gpu"
        and gpu is None
        and not (not is_gpu_lane(queue) and loaded.spec.resources.cpu_fallback)
    ):
        raise GradingError(FailureCode.NO_GPU)
    jobs = settings.path("jobs")
    jobs.mkdir(parents=True, exist_ok=True)
    # Named for this worker (its main process) so that, were it killed, the next worker
    # on this jobs folder removes it (worker/housekeeping.py).
    prefix = f"{housekeeping.scratch_prefix('run')}{run_id}-"
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=jobs))
    work.chmod(0o711)  # the sandbox uid binds the staged job from inside: traverse only
    fetch_started = time.monotonic()
    try:
        upload = work / "upload"
        upload.mkdir()
        for f in files:
            blob = path_for(f["sha256"])
            if not blob.is_file():
                raise GradingError(FailureCode.FILE_LOST, name=f["name"])
            shutil.copyfile(blob, upload / f["name"])
        # Shown as waiting until the job holds its cores and memory (worker/cpus.py), not
        # as running: a student's 0.08 s job once read "running your code" for 2 minutes.
        set_phase(run_id, owner, "waiting")
        fetch = time.monotonic() - fetch_started
        spec = loaded.spec
        want = min(spec.resources.threads, threads_per_job(settings))
        memory = spec.resources.memory_mb * boxes_at_once(spec)
        waited = time.monotonic()
        ledger = Ledger(settings.sandbox_slot_dir, total_memory_mb=settings.host_memory_mb)
        key = f"run-{run_id}-{owner}"
        try:
            grant = ledger.acquire(key, want, memory, CORES_WAIT_SECONDS)
        except TimeoutError as exc:
            raise GradingError(FailureCode.NO_CORES, str(exc)) from exc
        try:
            waited = time.monotonic() - waited
            set_phase(run_id, owner, "running")
            report = grade(
                JobContext(
                    loaded=loaded,
                    submission_dir=upload,
                    reference_dir=settings.reference_dir / slug,
                    seed=seed,
                    backend=backend if backend is not None else get_backend(settings),
                    settings=settings,
                    work_dir=work / "job",
                    on_progress=ProgressWriter(run_id, owner),
                    gpu=gpu,
                    cores=grant.cores,
                )
            )
        finally:
            ledger.release(key)
        report.timings["fetch"] = round(fetch, 4)
        report.timings["cores_wait"] = round(waited, 4)
        lateness = assess(received_at, loaded.spec.deadline, loaded.spec.late_policy)
        report.extra["late_penalty"] = lateness.penalty_fraction
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _prior_starts(session: Any, run_id: int) -> int:
    """Sandbox starts recorded by this run's earlier attempts."""
    resources = session.scalar(select(GradingRun.resources).where(GradingRun.id == run_id))
    try:
        return int((resources or {}).get("sandbox_starts", 0))
    except (TypeError, ValueError):
        return 0


def no_nul(value: Any) -> Any:
    """``value`` with every NUL character replaced by U+FFFD, through lists and dicts.

    Postgres text cannot hold NUL: a student who prints one (or whose error message holds
    one) made ``store`` fail again and again, so the run ended ``failed_infra``: never
    graded and never charged to the quota, for as many uploads as the student liked."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [no_nul(v) for v in value]
    if isinstance(value, dict):
        return {no_nul(k): no_nul(v) for k, v in value.items()}
    return value


def store(run_id: int, owner: str, report: GradeReport, starts: int = 0) -> bool:
    """Store the report (only while this worker holds the run's lease); retried through a
    database restart. A retry that finds the run already ended with this worker as its
    last owner knows the earlier attempt was committed."""

    def committed() -> bool | None:
        state, holder, _ = _run_state(run_id)
        return True if state == RunState(report.state) and holder == owner else None

    return retrying(
        f"run {run_id}: store",
        lambda: _store(run_id, owner, report, starts),
        seconds=_db_seconds(),
        done=committed,
    )


def _store(run_id: int, owner: str, report: GradeReport, starts: int = 0) -> bool:
    penalty = float(report.extra.get("late_penalty", 0.0))
    log_text = no_nul(report.log[:LOG_CAP_CHARS])
    with session_scope() as session:
        resources = dict(report.resources)
        resources["sandbox_starts"] = _prior_starts(session, run_id) + starts
        result = session.execute(
            update(GradingRun)
            .where(_owned(run_id, owner))
            .values(
                state=RunState(report.state),
                finished_at=utcnow(),
                phase=None,
                lease_expires_at=None,
                raw_score=report.raw_score,
                score=round(report.raw_score * (1 - penalty), 6),
                max_score=report.max_score,
                late_penalty=penalty,
                outcomes=no_nul([o.model_dump() for o in report.outcomes]),
                log=log_text,
                log_truncated=report.log_truncated or len(report.log) > LOG_CAP_CHARS,
                timings=report.timings,
                resources=resources,
                failure_kind=report.failure_kind,
                failure_message=no_nul(report.failure_message),
                failure=no_nul(report.failure.stored()) if report.failure else None,
            )
            .execution_options(synchronize_session=False)
        )
        stored = cast(CursorResult[Any], result).rowcount == 1  # an UPDATE's result
        if stored:  # a one-submission re-grade becomes current with its grade, atomically
            apply_if_automatic(session, run_id)
        return stored


def release(run_id: int, owner: str, failure: Failure, max_attempts: int, starts: int = 0) -> str:
    """Give the run back after a failure that is not the student's. Ours (``infra:*``: no
    sandbox, full scratch, a lost file, ...) is retried with growing back-off (5 s, 10 s,
    20 s, ... at most ``INFRA_BACKOFF_CAP``) for ``AUTOGRADER_INFRA_RETRY_SECONDS`` from its
    first such failure, whatever the attempts (an attempt ours ended is given back), then
    while attempts are left; after that the run fails as ours. The instructor's
    (``spec:*``: a broken reference solution) fails it at once, as retrying would fail the
    same way. Neither is charged. Itself retried through a database restart."""
    code, message, whole = failure.code, failure.message(), no_nul(failure.stored())
    budget = get_settings().infra_retry_seconds

    def committed() -> tuple[str, str | None, float] | None:
        with session_scope() as session:
            run = session.get(GradingRun, run_id)
            if run is None or run.lease_owner is not None or run.failure_kind != code:
                return None
            if run.state == RunState.failed_infra:
                return "failed-infra", None, 0
            if run.state == RunState.queued:
                return "retry", run.queue, backoff(int((run.resources or {}).get(RETRIES, 1)))
            return None

    outcome, queue, countdown = retrying(
        f"run {run_id}: release",
        lambda: _release(run_id, owner, code, message, whole, max_attempts, starts, budget),
        seconds=_db_seconds(),
        done=committed,
    )
    if outcome == "retry" and queue is not None:
        send_grade(run_id, queue, countdown=countdown)
    return outcome


# How a run's infrastructure retries are counted, in its resources.
RETRIES, FAILING_SINCE = "infra_retries", "infra_failing_since"
INFRA_BACKOFF_CAP = 120.0


def backoff(retries: int) -> float:
    """Seconds before the ``retries``-th retry of a run our side failed: 5, 10, 20, ..."""
    return min(INFRA_BACKOFF_CAP, 5.0 * 2.0 ** max(0, retries - 1))


def _release(
    run_id: int,
    owner: str,
    code: FailureCode,
    message: str,
    whole: dict[str, Any],
    max_attempts: int,
    starts: int,
    budget: float,
) -> tuple[str, str | None, float]:
    now = utcnow()
    with session_scope() as session:
        run = session.scalar(select(GradingRun).where(_owned(run_id, owner)))
        if run is None:
            return "lost-lease", None, 0
        resources = dict(run.resources or {})
        if starts:
            resources["sandbox_starts"] = int(resources.get("sandbox_starts", 0)) + starts
        within_budget = False
        if code.retried:
            since = datetime.fromisoformat(resources.setdefault(FAILING_SINCE, now.isoformat()))
            resources[RETRIES] = int(resources.get(RETRIES, 0)) + 1
            within_budget = (now - since).total_seconds() < budget
        run.resources = resources
        run.failure_kind, run.failure_message = code, no_nul(message[:4000])
        run.failure = whole
        run.lease_owner = run.lease_expires_at = run.phase = None
        if not code.retried or (run.attempts >= max_attempts and not within_budget):
            run.state = RunState.failed_infra
            run.finished_at = now
            return "failed-infra", None, 0
        if run.attempts >= max_attempts:
            run.attempts = max_attempts - 1  # ours ended it: not counted against the run
        countdown = backoff(resources[RETRIES])
        run.state = RunState.queued
        # When it is due: the reconciler re-sends a queued run only once this is stale.
        run.enqueued_at = now + timedelta(seconds=countdown)
        return "retry", run.queue, countdown


class Heartbeat(threading.Thread):
    """Renews the lease every third of its length while the run is graded."""

    def __init__(self, run_id: int, owner: str, lease_seconds: int):
        super().__init__(daemon=True)
        self.run_id, self.owner, self.lease = run_id, owner, lease_seconds
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.lease / 3):
            try:
                with session_scope() as session:
                    session.execute(
                        update(GradingRun)
                        .where(_owned(self.run_id, self.owner))
                        .values(lease_expires_at=utcnow() + timedelta(seconds=self.lease))
                        .execution_options(synchronize_session=False)
                    )
            except Exception:  # the database may be briefly down: try again next beat
                log.warning("run %s: lease renewal failed", self.run_id, exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
