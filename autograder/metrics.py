"""Prometheus metrics, all read from the database (the truth) at each scrape by a custom
collector of ``prometheus_client``, which writes the text exposition format 0.0.4. Every
number is one aggregate query: the histogram's buckets are counted in SQL, never by
loading the finished runs.

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

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session

from autograder.health import workers_seen
from autograder.models import GradingRun, RunState
from autograder.queueing import QUEUES

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
TIMED_STATES = (RunState.graded, RunState.failed_student, RunState.failed_infra)


def _seconds(dialect: str) -> ColumnElement[float]:
    """A run's claim-to-result time in seconds, in SQL (never negative)."""
    raw: ColumnElement[Any]
    if dialect == "postgresql":
        raw = func.extract("epoch", GradingRun.finished_at - GradingRun.started_at)
    else:  # SQLite: datetimes are text, julianday() reads them
        days = func.julianday(GradingRun.finished_at) - func.julianday(GradingRun.started_at)
        raw = days * literal(86400.0)
    return case((raw < 0, literal(0.0)), else_=raw)


def _durations(session: Session) -> HistogramMetricFamily:
    """Per lane: how many finished runs took at most each bucket's seconds, counted by
    the database (one row per lane, whatever the number of runs)."""
    dialect = session.get_bind().dialect.name
    timed = (
        select(GradingRun.queue.label("queue"), _seconds(dialect).label("seconds"))
        .where(
            GradingRun.state.in_(TIMED_STATES),
            GradingRun.started_at.is_not(None),
            GradingRun.finished_at.is_not(None),
        )
        .subquery()
    )
    columns = [func.sum(case((timed.c.seconds <= bound, 1), else_=0)) for bound in BUCKETS]
    rows = session.execute(
        select(timed.c.queue, func.count(), func.sum(timed.c.seconds), *columns).group_by(
            timed.c.queue
        )
    ).all()
    family = HistogramMetricFamily(
        "autograder_grading_seconds",
        "Wall time of finished runs (last attempt), from claim to stored result.",
        labels=["queue"],
    )
    for queue, count, total, *within in sorted(rows, key=lambda row: str(row[0])):
        buckets = [(str(bound), float(n or 0)) for bound, n in zip(BUCKETS, within, strict=True)]
        buckets.append(("+Inf", float(count)))
        family.add_metric([queue], buckets, sum_value=round(float(total or 0.0), 6))
    return family


class DatabaseCollector(Collector):
    """Every metric of the module docstring, read from ``session`` when collected."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        session = self.session
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
        queues = sorted(set(QUEUES) | {q for _, q in by_state_queue})

        depth = GaugeMetricFamily(
            "autograder_queue_depth",
            "Runs queued in the database per lane (held for fair order included).",
            labels=["queue"],
        )
        for queue in queues:
            depth.add_metric([queue], by_state_queue.get((RunState.queued.value, queue), 0))
        yield depth

        runs = GaugeMetricFamily(
            "autograder_runs", "Grading runs by state and lane.", labels=["state", "queue"]
        )
        for state in RunState:
            for queue in queues:
                runs.add_metric([state.value, queue], by_state_queue.get((state.value, queue), 0))
        yield runs

        yield _durations(session)

        failures = CounterMetricFamily(
            "autograder_failures",
            "Failed runs: failed_student by failure kind, failed_infra by infrastructure code.",
            labels=["state", "kind"],
        )
        for state, kind, count in session.execute(
            select(GradingRun.state, GradingRun.failure_kind, func.count())
            .where(GradingRun.state.in_((RunState.failed_student, RunState.failed_infra)))
            .group_by(GradingRun.state, GradingRun.failure_kind)
            .order_by(GradingRun.state, GradingRun.failure_kind)
        ).all():
            failures.add_metric([str(state), kind or "unknown"], count)
        yield failures

        starts = session.scalar(
            select(func.coalesce(func.sum(GradingRun.resources["sandbox_starts"].as_integer()), 0))
        )
        yield CounterMetricFamily(
            "autograder_sandbox_starts",
            "Sandboxes started by the workers for grading runs (every attempt).",
            value=int(starts or 0),
        )

        yield GaugeMetricFamily(
            "autograder_workers_seen",
            "Workers whose heartbeat was seen lately.",
            value=len(workers_seen(session)),
        )


def render(session: Session) -> str:
    """The exposition of every metric, read now (a registry per scrape: nothing global)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(session))
    return generate_latest(registry).decode("utf-8")
