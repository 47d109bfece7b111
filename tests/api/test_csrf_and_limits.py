"""CSRF: cookie-authenticated changes need the session's token, Bearer calls do not; the
sign-in form has its own. Sign-in rate limiting per account and per client address."""

from __future__ import annotations

from datetime import timedelta

from autograder.models import LoginFailure, utcnow
from tests.api.conftest import PASSWORD, auth, good_files, login_form_token, sign_in
from tests.conftest import reset_caches


def test_cookie_changes_need_the_csrf_token(client, make_user):
    make_user("alice", password=PASSWORD)
    csrf = sign_in(client, "alice")
    refused = client.post("/api/v1/me/tokens", json={})
    assert refused.status_code == 403 and refused.json()["code"] == "auth:csrf"
    wrong = client.post("/api/v1/me/tokens", json={}, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    created = client.post("/api/v1/me/tokens", json={}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    # An HTML form carries the token in a field instead of the header.
    assert client.post("/account/tokens", data={"label": "x"}).status_code == 403
    form = client.post("/account/tokens", data={"label": "x", "csrf_token": csrf})
    assert form.status_code == 200 and 'id="new-token"' in form.text
    assert client.post("/logout", follow_redirects=False).status_code == 403
    # Reading needs no token.
    assert client.get("/api/v1/me/tokens").status_code == 200


def test_cookie_uploads_need_the_csrf_token(client, make_assignment, make_user, broker):
    make_assignment()
    make_user("alice", password=PASSWORD)
    csrf = sign_in(client, "alice")
    url = "/api/v1/assignments/hw-test/submissions"
    assert client.post(url, files=good_files()).status_code == 403
    response = client.post(url, files=good_files(), headers={"X-CSRF-Token": csrf})
    assert response.status_code == 202, response.text


def test_bearer_calls_need_no_csrf_token(client, make_user):
    _, token = make_user("alice")
    response = client.post("/api/v1/me/tokens", json={"label": "ci"}, headers=auth(token))
    assert response.status_code == 201 and response.json()["token"].startswith("ag_")


def test_a_bad_bearer_token_is_refused_even_with_a_session(client, make_user):
    make_user("alice", password=PASSWORD)
    sign_in(client, "alice")
    assert client.get("/api/v1/me", headers=auth("ag_not-a-token")).status_code == 401


def test_sign_in_form_needs_its_own_token(client, make_user):
    make_user("alice", password=PASSWORD)
    form = {"login": "alice", "password": PASSWORD}
    assert client.post("/login", data=form).status_code == 403  # no cookie, no field
    token = login_form_token(client.get("/login").text)
    assert client.post("/login", data=form | {"csrf_token": "forged"}).status_code == 403
    ok = client.post("/login", data=form | {"csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303


def attempt(client, login: str, password: str):  # type: ignore[no-untyped-def]
    token = login_form_token(client.get("/login").text)
    form = {"login": login, "password": password, "csrf_token": token}
    return client.post("/login", data=form, follow_redirects=False)


def test_failed_sign_ins_are_limited_per_account(client, make_user, db):
    make_user("alice", password=PASSWORD)
    for _ in range(5):
        assert attempt(client, "alice", "a wrong guess").status_code == 401
    refused = attempt(client, "alice", PASSWORD)  # even the right password waits now
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "too many failed sign-ins" in refused.text
    assert attempt(client, "ALICE ", PASSWORD).status_code == 429  # same account, typed loosely
    # The window moves on: failures older than 15 minutes no longer count.
    for row in db.query(LoginFailure).all():
        row.at = utcnow() - timedelta(minutes=16)
    db.commit()
    assert attempt(client, "alice", PASSWORD).status_code == 303
    assert db.query(LoginFailure).filter_by(account="alice").count() == 0  # cleared


def test_retry_after_counts_from_the_oldest_counted_failure(client, make_user, db):
    make_user("alice", password=PASSWORD)
    now = utcnow()
    for minutes in (14, 10, 5, 2, 1):
        db.add(
            LoginFailure(account="alice", client_ip="10.0.0.9", at=now - timedelta(minutes=minutes))
        )
    db.commit()
    refused = attempt(client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert 50 <= int(refused.headers["Retry-After"]) <= 61  # the 14-minute-old one expires


def test_failed_sign_ins_are_limited_per_address(client, make_user, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_LOGIN_MAX_FAILURES_PER_IP", "3")
    reset_caches()
    make_user("alice", password=PASSWORD)
    for name in ("bob", "carol", "dave"):  # different accounts, one address
        assert attempt(client, name, "guess").status_code == 401
    assert attempt(client, "alice", PASSWORD).status_code == 429
