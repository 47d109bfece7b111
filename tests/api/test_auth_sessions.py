"""Passwords and browser sessions: hashing, signing in, expiry, sign-out, password changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from autograder.models import WebSession, utcnow
from autograder.passwords import (
    WeakPassword,
    hash_password,
    initial_password,
    needs_rehash,
    verify_password,
)
from tests.api.conftest import PASSWORD, auth, login_form_token, sign_in


def test_passwords_are_hashed_with_argon2id_and_verified():
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert hash_password(PASSWORD) != stored  # salted
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)  # no password set: never matches
    assert not verify_password("not a hash", PASSWORD)
    assert not needs_rehash(stored)
    with pytest.raises(WeakPassword, match="at least 8"):
        hash_password("short")


def test_initial_passwords_are_random_and_readable():
    made = {initial_password() for _ in range(50)}
    assert len(made) == 50
    assert all(len(p) == 14 and not set(p) & set("0O1lI") for p in made)


def test_sign_in_sets_a_session_cookie(client, make_user, db):
    alice, _ = make_user("alice", password=PASSWORD)
    token = login_form_token(client.get("/login").text)
    response = client.post(
        "/login",
        data={"login": "alice", "password": PASSWORD, "csrf_token": token, "next": "/account"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/account"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "ag_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # the service runs on http here
    row = db.scalars(select(WebSession).where(WebSession.user_id == alice.id)).one()
    assert row.token_hash not in cookie  # only the hash is stored
    assert client.get("/api/v1/me").json()["name"] == "alice"


def test_sign_in_by_email_and_refusals(client, make_user):
    make_user("2023001", password=PASSWORD, email="zhang@example.edu.cn")
    token = login_form_token(client.get("/login").text)
    form = {"login": "ZHANG@example.edu.cn", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    client.cookies.clear()
    for login, password in (("2023001", "wrong password"), ("nobody", PASSWORD)):
        token = login_form_token(client.get("/login").text)
        response = client.post(
            "/login", data={"login": login, "password": password, "csrf_token": token}
        )
        assert response.status_code == 401
        assert "Wrong student id, email or password." in response.text


def test_next_never_leaves_the_site(client, make_user):
    make_user("alice", password=PASSWORD)
    for target in ("//evil.example/x", "https://evil.example", "/\\evil", "javascript:x"):
        client.cookies.clear()
        token = login_form_token(client.get("/login").text)
        form = {"login": "alice", "password": PASSWORD, "csrf_token": token, "next": target}
        response = client.post("/login", data=form, follow_redirects=False)
        assert response.headers["location"] == "/", target


def test_sign_out_revokes_the_session(client, make_user, db):
    make_user("alice", password=PASSWORD)
    csrf = sign_in(client, "alice")
    cookie = client.cookies.get("ag_session")
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert db.scalars(select(WebSession)).one().revoked_at is not None
    client.cookies.set("ag_session", cookie)  # the old cookie, replayed
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"


def test_sessions_expire(client, make_user, db):
    make_user("alice", password=PASSWORD)
    sign_in(client, "alice")
    assert client.get("/api/v1/me").status_code == 200
    row = db.scalars(select(WebSession)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_session_lifetime_comes_from_settings(client, make_user, db, monkeypatch):
    from tests.conftest import reset_caches

    monkeypatch.setenv("AUTOGRADER_SESSION_SECONDS", "600")
    reset_caches()
    make_user("alice", password=PASSWORD)
    sign_in(client, "alice")
    row = db.scalars(select(WebSession)).one()
    assert timedelta(seconds=590) < row.expires_at - row.created_at <= timedelta(seconds=600)


def test_changing_the_password_signs_out_other_sessions(client, make_user, db):
    from fastapi.testclient import TestClient

    from api.app import create_app

    make_user("alice", password=PASSWORD)
    with TestClient(create_app()) as other:
        sign_in(other, "alice")
        csrf = sign_in(client, "alice")
        response = client.post(
            "/account/password",
            data={
                "csrf_token": csrf,
                "current_password": PASSWORD,
                "new_password": "a new password",
                "confirm_password": "a new password",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert client.get("/api/v1/me").status_code == 200  # this browser stays signed in
        assert other.get("/api/v1/me").status_code == 401  # the other one is signed out


def test_password_change_refusals(client, make_user):
    _, token = make_user("alice", password=PASSWORD)
    for body, words in (
        ({"current_password": "wrong one!", "new_password": "a new password"}, "wrong"),
        ({"current_password": PASSWORD, "new_password": "short"}, "at least 8"),
        ({"current_password": PASSWORD, "new_password": PASSWORD}, "differ"),
        ({"current_password": PASSWORD, "new_password": "password"}, "most common"),
        ({"current_password": PASSWORD, "new_password": "Password123!"}, "most common"),
        ({"current_password": PASSWORD, "new_password": "woaini1314"}, "most common"),
        ({"current_password": PASSWORD, "new_password": "12345678"}, "most common"),
        ({"current_password": PASSWORD, "new_password": "23456789"}, "run of characters"),
        ({"current_password": PASSWORD, "new_password": "zzzzzzzzzz"}, "one or two"),
        ({"current_password": PASSWORD, "new_password": "my alice pw!"}, "login name"),
    ):
        response = client.put("/api/v1/me/password", json=body, headers=auth(token))
        assert response.status_code == 400 and words in response.json()["detail"]
    body = {"current_password": PASSWORD, "new_password": "a new password"}
    assert client.put("/api/v1/me/password", json=body, headers=auth(token)).status_code == 204


def test_initial_passwords_lead_to_the_account_page(client, make_user):
    make_user("alice", password=PASSWORD, must_change_password=True)
    token = login_form_token(client.get("/login").text)
    form = {"login": "alice", "password": PASSWORD, "csrf_token": token, "next": "/"}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.headers["location"] == "/account"
    assert client.get("/", follow_redirects=False).headers["location"] == "/account"
    assert client.get("/account").status_code == 200


def test_initial_password_hashes_are_light_and_upgraded_at_sign_in(client, make_user, db):
    from autograder.passwords import hash_initial_password

    password = initial_password()
    light = hash_initial_password(password)
    assert "t=1" in light and needs_rehash(light)
    with pytest.raises(WeakPassword):
        hash_initial_password("chosen by a person")
    alice, _ = make_user("alice", password_hash=light, must_change_password=True)
    token = login_form_token(client.get("/login").text)
    form = {"login": "alice", "password": password, "csrf_token": token}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    db.refresh(alice)
    assert alice.password_hash != light and not needs_rehash(alice.password_hash)
    assert verify_password(alice.password_hash, password)


def test_an_old_weak_password_still_signs_in_and_is_rehashed(client, db, make_user):
    """The policy applies to new passwords only: a password set before it (here one with
    older argon2 parameters) signs in, and its hash is upgraded without a refusal."""
    from argon2 import PasswordHasher

    from autograder.passwords import needs_rehash

    user, _ = make_user("olduser")
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash("password")
    db.commit()
    sign_in(client, "olduser", "password")
    db.refresh(user)
    assert not needs_rehash(user.password_hash)
