# ruff: noqa: F811  (fixtures imported from tests/api/conftest.py are parameters here)
"""Observability: JSON logs, Prometheus /metrics, /healthz with worker heartbeats, and
``autograder health``. Real Postgres, Redis, API server and worker process."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from autograder.logs import JsonFormatter, log_context
from autograder.models import GradingRun, Role, RunState, WorkerHeartbeat, utcnow
from tests.api.conftest import auth, client, make_assignment, make_user, submission_for  # noqa: F401
from tests.conftest import ROOT, reset_caches

# --------------------------------------------------------------------------- helpers

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a text exposition; checks every line is a comment or a valid sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line == "" or re.match(r"^# (HELP|TYPE) \S+ .+", line), line
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, _, body, value = match.groups()
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', body or ""))
        samples[(name, labels)] = float(value.replace("+Inf", "inf"))
    return samples


def value(samples, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return samples[(name, frozenset(labels.items()))]


def json_lines(path: Path) -> list[dict]:
    out = []
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.strip()
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
    return out


# --------------------------------------------------------------------------- logs (unit)


def test_json_formatter_carries_the_job_context():
    record = logging.LogRecord("autograder.x", logging.INFO, __file__, 1, "graded %s", (7,), None)
    with log_context(run_id=7, submission_id="abc", assignment="hw1-1", worker="h:1"):
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "graded 7" and line["level"] == "INFO"
    assert line["logger"] == "autograder.x"
    assert (line["run_id"], line["submission_id"], line["assignment"], line["worker"]) == (
        7,
        "abc",
        "hw1-1",
        "h:1",
    )
    outside = json.loads(JsonFormatter().format(record))
    assert "run_id" not in outside  # the context ends with its block


# --------------------------------------------------------------------------- metrics (unit-ish)


@pytest.fixture
def metrics_token(configured, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUTOGRADER_METRICS_TOKEN", "s3cret-metrics")
    reset_caches()
    return "s3cret-metrics"


def test_metrics_need_the_token_when_one_is_set(metrics_token, client, make_assignment):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth("wrong")).status_code == 401
    response = client.get("/metrics", headers=auth(metrics_token))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


def test_metrics_refuse_other_hosts_without_a_token(client):
    response = client.get("/metrics")  # TestClient's client address is "testclient"
    assert response.status_code == 403
    assert "localhost" in response.text


def add_runs(db, alice) -> None:  # type: ignore[no-untyped-def]
    """Runs in every state that /metrics counts, three of them finished on the cpu lane
    (3 s, 700 s and 3 s from claim to result)."""
    now = utcnow()
    finished = {"started_at": now - timedelta(seconds=3), "finished_at": now}
    submission_for(db, alice)  # queued on cpu
    submission_for(db, alice, queue="cpu-low")
    submission_for(db, alice, queue="gpu")
    submission_for(db, alice, state=RunState.running, started_at=now)
    submission_for(
        db, alice, state=RunState.graded, score=1.0, resources={"sandbox_starts": 2}, **finished
    )
    submission_for(
        db,
        alice,
        state=RunState.failed_student,
        failure_kind="submission:timeout",
        resources={"sandbox_starts": 1},
        started_at=now - timedelta(seconds=700),
        finished_at=now,
    )
    submission_for(
        db,
        alice,
        state=RunState.failed_infra,
        failure_kind="infra:sandbox",
        resources={"sandbox_starts": 3},
        **finished,
    )
    submission_for(db, alice, state=RunState.superseded, failure_kind="superseded")


def check_metrics(text: str) -> None:
    """What /metrics must say about ``add_runs``' runs."""
    samples = parse(text)
    assert value(samples, "autograder_queue_depth", queue="cpu") == 1
    assert value(samples, "autograder_queue_depth", queue="cpu-low") == 1
    assert value(samples, "autograder_queue_depth", queue="gpu") == 1
    assert value(samples, "autograder_queue_depth", queue="gpu-low") == 0
    assert value(samples, "autograder_runs", state="running", queue="cpu") == 1
    assert value(samples, "autograder_runs", state="superseded", queue="cpu") == 1
    assert value(samples, "autograder_runs", state="graded", queue="cpu") == 1
    assert (
        value(
            samples,
            "autograder_failures_total",
            state="failed_student",
            kind="submission:timeout",
        )
        == 1
    )
    assert value(samples, "autograder_failures_total", state="failed_infra", kind="infra:sandbox")
    assert value(samples, "autograder_sandbox_starts_total") == 6
    assert value(samples, "autograder_workers_seen") == 0

    # The histogram: cumulative buckets, +Inf == _count, _sum of the durations.
    buckets = sorted(
        (float(dict(labels)["le"].replace("+Inf", "inf")), count)
        for (name, labels), count in samples.items()
        if name == "autograder_grading_seconds_bucket" and dict(labels)["queue"] == "cpu"
    )
    counts = [count for _, count in buckets]
    assert counts == sorted(counts), "buckets must be cumulative"
    assert dict(buckets)[2.0] == 0 and dict(buckets)[5.0] == 2 and dict(buckets)[600.0] == 2
    assert dict(buckets)[1800.0] == 3 and dict(buckets)[float("inf")] == 3
    assert value(samples, "autograder_grading_seconds_count", queue="cpu") == 3
    assert value(samples, "autograder_grading_seconds_sum", queue="cpu") == pytest.approx(706)
    assert "# TYPE autograder_grading_seconds histogram" in text


def test_metrics_from_the_database(metrics_token, client, db, make_assignment, make_user):
    make_assignment()
    alice, _ = make_user("alice")
    add_runs(db, alice)
    response = client.get("/metrics", headers=auth(metrics_token))
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    check_metrics(response.text)


def test_metrics_on_the_embedded_sqlite(tmp_path, monkeypatch, redis_server):  # type: ignore[no-untyped-def]
    """The same figures from SQLite, the embedded default (the histogram's buckets are
    counted in SQL, with each database's own date arithmetic)."""
    from autograder import metrics
    from autograder.assignments import upsert_assignment
    from autograder.db import session_factory
    from autograder.specs.loader import load_spec_text
    from autograder.tokens import create_user
    from tests.api.conftest import spec_source
    from tests.conftest import configure_service

    settings = configure_service(monkeypatch, tmp_path, "", redis_server.url)
    next(settings)
    db = session_factory()()
    try:
        assert db.get_bind().dialect.name == "sqlite"
        upsert_assignment(db, load_spec_text(spec_source(None), "hw-test", "hw-test.yaml"))
        alice, _ = create_user(db, "alice", Role.student)
        db.commit()
        add_runs(db, alice)
        check_metrics(metrics.render(db))
    finally:
        db.close()
        settings.close()


# --------------------------------------------------------------------------- health (no worker)


def test_healthz_is_degraded_without_workers_but_up(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["broker"] == "ok"
    assert body["workers"] == [] and body["degraded"] is True
    assert any("no grading worker" in p for p in body["problems"])


def test_healthz_reports_heartbeats(client, db):
    now = utcnow()
    db.add_all(
        [
            WorkerHeartbeat(
                worker="gpu-host:11",
                host="gpu-host",
                pid=11,
                queues="cpu,gpu,cpu-low,gpu-low",
                sandbox_backend="docker",
                sandbox_status="unavailable: docker daemon not running",
                gpus=[0, 1],
                started_at=now,
                seen_at=now,
            ),
            WorkerHeartbeat(
                worker="old-host:12",
                host="old-host",
                pid=12,
                queues="cpu",
                sandbox_backend="bwrap",
                sandbox_status="ok",
                gpus=[],
                started_at=now - timedelta(hours=2),
                seen_at=now - timedelta(hours=1),  # long gone: not reported
            ),
        ]
    )
    db.commit()
    body = client.get("/healthz").json()
    assert [w["worker"] for w in body["workers"]] == ["gpu-host:11"]
    (worker,) = body["workers"]
    assert worker["gpus"] == [0, 1] and worker["queues"] == ["cpu", "gpu", "cpu-low", "gpu-low"]
    assert worker["sandbox_backend"] == "docker"
    assert body["degraded"] is True
    assert any("docker daemon not running" in p for p in body["problems"])


def test_healthz_database_down_is_still_503(client, monkeypatch):
    from tests.services import free_port

    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    monkeypatch.setenv("AUTOGRADER_DATABASE_URL", closed)
    reset_caches()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["degraded"] is True
    assert body["database"].startswith("unreachable: ")


# --------------------------------------------------------------------------- with a real worker


@pytest.fixture
def json_env(configured, monkeypatch):  # type: ignore[no-untyped-def]
    """JSON logs, fast heartbeats and the test fixtures' reference solutions, set before
    the API server and the worker start (they read the environment)."""
    from tests.sandboxed import MINI_REFERENCE, require_sandbox

    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_LOG_FORMAT", "json")
    monkeypatch.setenv("AUTOGRADER_WORKER_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(MINI_REFERENCE.parent))
    reset_caches()
    return configured


@pytest.mark.slow
def test_graded_upload_shows_in_logs_metrics_and_health(json_env, db, api_server, worker):
    from autograder.assignments import upsert_assignment
    from autograder.specs.loader import load_spec_file
    from autograder.tokens import create_user
    from tests.factories import wait_final
    from tests.sandboxed import MINI_REFERENCE, MINI_SPEC

    upsert_assignment(db, load_spec_file(MINI_SPEC))
    _, token = create_user(db, "alice", Role.student)
    db.commit()
    source = (MINI_REFERENCE / "mini.py").read_bytes()
    with httpx.Client(base_url=api_server.url, timeout=30) as http:
        created = http.post(
            "/api/v1/assignments/mini/submissions",
            files=[("files", ("mini.py", source, "text/x-python"))],
            headers=auth(token),
        )
        assert created.status_code == 202, created.text
        submission_id = created.json()["id"]
        run_id = db.query(GradingRun).filter_by(submission_id=submission_id).one().id
        final = wait_final(run_id, timeout=120)
        assert final.state == RunState.graded, worker.log()
        assert final.resources["sandbox_starts"] >= 1

        # /metrics, from localhost without a token.
        response = http.get("/metrics")
        assert response.status_code == 200, response.text
        samples = parse(response.text)
        assert value(samples, "autograder_runs", state="graded", queue="cpu") == 1
        assert value(samples, "autograder_queue_depth", queue="cpu") == 0
        assert value(samples, "autograder_grading_seconds_count", queue="cpu") == 1
        assert (
            value(samples, "autograder_sandbox_starts_total") == final.resources["sandbox_starts"]
        )
        assert value(samples, "autograder_workers_seen") == 1

        # /healthz: the worker's heartbeat, its sandbox and queues.
        body = http.get("/healthz").json()
    # The test worker takes the GPU queues on a host without GPUs: the one problem.
    assert body["status"] == "ok" and body["problems"] == [
        f"worker {body['workers'][0]['worker']} takes GPU queues but sees no GPU"
    ], body
    (seen,) = body["workers"]
    assert seen["sandbox"] == "ok" and seen["sandbox_backend"] == "bwrap"
    assert seen["queues"] == ["cpu", "gpu", "cpu-low", "gpu-low"]

    # JSON log lines with the job's identity, from the API and from the worker.
    api_lines = json_lines(api_server.log_path)
    accepted = [line for line in api_lines if line.get("run_id") == run_id]
    assert accepted and accepted[0]["submission_id"] == submission_id
    assert accepted[0]["assignment"] == "mini"
    worker_lines = [line for line in json_lines(worker.log_path) if line.get("run_id") == run_id]
    assert any(line["message"].endswith(": stored") for line in worker_lines), worker.log()
    for line in worker_lines:
        assert line["worker"].count(":") == 1
    assert any(line.get("submission_id") == submission_id for line in worker_lines)
    assert any(line.get("assignment") == "mini" for line in worker_lines)

    # autograder health prints the same; exit 2: degraded (0 when nothing is wrong).
    result = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "health"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "database: ok" in result.stdout and "1 seen lately" in result.stdout
    assert seen["worker"] in result.stdout and "sees no GPU" in result.stdout
