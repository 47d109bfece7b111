"""Prometheus metrics, all read from the database (the truth), in the text exposition
format 0.0.4, written by hand (no client library needed: every number is a query).

==========================================  =========  ===================================
metric                                      type       labels / meaning
==========================================  =========  ===================================
autograder_queue_depth                      gauge      queue: runs queued on that lane
                                                       (held for fair order included)
autograder_runs                             gauge      state (and queue): runs by state
autograder_grading_seconds                  histogram  queue: started_at → finished_at of
                                                       runs that ended graded, failed_student
                                                       or failed_infra (last attempt)
autograder_failures_total                   counter    state=failed_student, kind=failure kind
                                                       (submission:timeout, ...); state=
                                                       failed_infra, kind=infra code
autograder_sandbox_starts_total             counter    boxes started by workers (each run's
                                                       resources.sandbox_starts, summed)
autograder_workers_seen                     gauge      workers with a recent heartbeat
==========================================  =========  ===================================
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autograder.health import workers_seen
from autograder.models import GradingRun, RunState
from autograder.queueing import QUEUES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
TIMED_STATES = (RunState.graded, RunState.failed_student, RunState.failed_infra)


def escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels(**pairs: object) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{key}="{escape(value)}"' for key, value in pairs.items()) + "}"


def number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **pairs: object) -> None:
        self.lines.append(f"{name}{labels(**pairs)} {number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def histogram(out: Exposition, name: str, series: dict[str, list[float]], label: str) -> None:
    for key in sorted(series):
        values = series[key]
        for bound in BUCKETS:
            count = sum(1 for v in values if v <= bound)
            out.sample(f"{name}_bucket", count, **{label: key, "le": number(bound)})
        out.sample(f"{name}_bucket", len(values), **{label: key, "le": "+Inf"})
        out.sample(f"{name}_sum", round(sum(values), 6), **{label: key})
        out.sample(f"{name}_count", len(values), **{label: key})


def _durations(session: Session) -> dict[str, list[float]]:
    series: dict[str, list[float]] = defaultdict(list)
    rows: Iterable[tuple[str, object, object]] = session.execute(
        select(GradingRun.queue, GradingRun.started_at, GradingRun.finished_at).where(
            GradingRun.state.in_(TIMED_STATES),
            GradingRun.started_at.is_not(None),
            GradingRun.finished_at.is_not(None),
        )
    ).all()
    for queue, started, finished in rows:
        # Both datetimes: the query keeps no NULL.
        seconds = (finished - started).total_seconds()  # type: ignore[operator]
        series[queue].append(max(0.0, seconds))
    return series


def render(session: Session) -> str:
    out = Exposition()

    by_state_queue = Counter(
        {
            (str(state), queue): count
            for state, queue, count in session.execute(
                select(GradingRun.state, GradingRun.queue, func.count()).group_by(
                    GradingRun.state, GradingRun.queue
                )
            ).all()
        }
    )

    out.family(
        "autograder_queue_depth",
        "gauge",
        "Runs queued in the database per lane (held for fair order included).",
    )
    queues = sorted(set(QUEUES) | {q for _, q in by_state_queue})
    for queue in queues:
        out.sample(
            "autograder_queue_depth",
            by_state_queue.get((RunState.queued.value, queue), 0),
            queue=queue,
        )

    out.family("autograder_runs", "gauge", "Grading runs by state and lane.")
    for state in RunState:
        for queue in queues:
            out.sample(
                "autograder_runs",
                by_state_queue.get((state.value, queue), 0),
                state=state.value,
                queue=queue,
            )

    out.family(
        "autograder_grading_seconds",
        "histogram",
        "Wall time of finished runs (last attempt), from claim to stored result.",
    )
    histogram(out, "autograder_grading_seconds", _durations(session), "queue")

    out.family(
        "autograder_failures_total",
        "counter",
        "Failed runs: failed_student by failure kind, failed_infra by infrastructure code.",
    )
    failures = session.execute(
        select(GradingRun.state, GradingRun.failure_kind, func.count())
        .where(GradingRun.state.in_((RunState.failed_student, RunState.failed_infra)))
        .group_by(GradingRun.state, GradingRun.failure_kind)
        .order_by(GradingRun.state, GradingRun.failure_kind)
    ).all()
    for state, kind, count in failures:
        out.sample("autograder_failures_total", count, state=str(state), kind=kind or "unknown")

    out.family(
        "autograder_sandbox_starts_total",
        "counter",
        "Sandboxes started by the workers for grading runs (every attempt).",
    )
    starts = session.scalar(
        select(func.coalesce(func.sum(GradingRun.resources["sandbox_starts"].as_integer()), 0))
    )
    out.sample("autograder_sandbox_starts_total", int(starts or 0))

    out.family("autograder_workers_seen", "gauge", "Workers whose heartbeat was seen lately.")
    out.sample("autograder_workers_seen", len(workers_seen(session)))
    return out.text()
