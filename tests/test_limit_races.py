# ruff: noqa: F811  (fixtures imported from tests/api/conftest.py are parameters here)
"""DESIGN rule 12: limits hold under concurrency, on the embedded SQLite and on Postgres.

Twenty requests released at the same instant over HTTP to a real API server (uvicorn with
two worker processes, each running the sync routes in its thread pool), against a real
SQLite file (WAL, as ``autograder serve`` makes it) and a real Postgres; real Redis for
the broker hint.

- Quota: one student with one upload left sends 20 uploads: exactly one is accepted, 19
  are refused with 429 ``upload:quota``, and the database holds exactly the quota's number
  of charged submissions.
- Sign-in limit: 20 wrong passwords for one account at once: exactly the limit's number
  are tried (401), the rest refused (429), as one after the other would be.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from autograder.models import GradingRun, LoginFailure, RunState, Submission
from autograder.settings import get_settings as api_settings
from autograder.submissions import NOT_CHARGED
from tests import conftest
from tests.api.conftest import (  # noqa: F401  (fixtures)
    PASSWORD,
    auth,
    good_files,
    login_form_token,
    make_assignment,
    make_user,
    submission_for,
)
from tests.processes import ApiServer
from tests.services import free_port

URL = "/api/v1/assignments/hw-test/submissions"
SIMULTANEOUS = 20
QUOTA = 3


@pytest.fixture(params=["sqlite", "postgres"])
def configured(request, tmp_path: Path, redis_server, monkeypatch):  # type: ignore[no-untyped-def]
    """The conftest fixture of the same name, on either database ("" is the embedded
    SQLite file under HOME, the default of ``autograder serve``)."""
    url = ""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").create_database("t_" + uuid.uuid4().hex[:12])
    yield from conftest.configure_service(monkeypatch, tmp_path, url, redis_server.url)


@pytest.fixture
def api(configured, tmp_path: Path):  # type: ignore[no-untyped-def]
    server = ApiServer(tmp_path / "api.log", free_port(), workers=2)
    server.start(timeout=60)
    yield server
    server.stop()


Request = Callable[[httpx.Client], Callable[[], httpx.Response]]


def all_at_once(base: str, count: int, prepare: Request) -> list[httpx.Response]:
    """``count`` requests released together by a barrier, one client (connection, cookies)
    each. ``prepare`` runs before the barrier and returns the request to send."""
    barrier = threading.Barrier(count)

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=120) as http:
            send = prepare(http)
            barrier.wait()
            return send()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def uploads(token: str) -> Request:
    def prepare(http: httpx.Client) -> Callable[[], httpx.Response]:
        http.get("/healthz")  # connected before the barrier
        return lambda: http.post(URL, files=good_files(), headers=auth(token))

    return prepare


def wrong_sign_ins(login: str) -> Request:
    def prepare(http: httpx.Client) -> Callable[[], httpx.Response]:
        form = {"login": login, "password": "a wrong guess"}
        form["csrf_token"] = login_form_token(http.get("/login").text)
        return lambda: http.post("/login", data=form, follow_redirects=False)

    return prepare


def charged(db, user) -> int:  # type: ignore[no-untyped-def]
    db.expire_all()
    total = db.scalar(
        select(func.count(func.distinct(Submission.id)))
        .join(GradingRun, GradingRun.submission_id == Submission.id)
        .where(Submission.user_id == user.id, GradingRun.state.not_in(NOT_CHARGED))
    )
    db.commit()
    return int(total or 0)


@pytest.mark.parametrize("quota", ["total", "per_day"])
def test_one_upload_left_and_twenty_at_once(quota, api, db, make_assignment, make_user):
    make_assignment(quota={quota: QUOTA})
    alice, token = make_user("alice")
    for _ in range(QUOTA - 1):
        submission_for(db, alice, state=RunState.graded)
    submission_for(db, alice, state=RunState.failed_infra)  # ours: never charged

    answers = all_at_once(api.url, SIMULTANEOUS, uploads(token))

    statuses = sorted(r.status_code for r in answers)
    accepted = statuses.count(202)
    assert statuses == [202] + [429] * (SIMULTANEOUS - 1), f"{accepted} accepted: {statuses}"
    refused = [r.json() for r in answers if r.status_code == 429]
    assert {body["code"] for body in refused} == {"upload:quota"}
    assert charged(db, alice) == QUOTA


def test_twenty_wrong_passwords_at_once(api, db, make_user):
    limit = api_settings().login_max_failures_per_account
    make_user("alice", password=PASSWORD)

    answers = all_at_once(api.url, SIMULTANEOUS, wrong_sign_ins("alice"))

    statuses = sorted(r.status_code for r in answers)
    tried = statuses.count(401)
    assert statuses == [401] * limit + [429] * (SIMULTANEOUS - limit), f"{tried} tried: {statuses}"
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(LoginFailure)) == limit
