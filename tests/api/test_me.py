"""The account API (tokens shown once, revocable, regenerable), my assignments with best and
latest scores, and the queue position of a waiting submission."""

from __future__ import annotations

from datetime import timedelta

from autograder.models import Role, RunState, utcnow
from tests.api.conftest import auth, submission_for


def test_tokens_are_shown_once_listed_by_prefix_and_revocable(client, make_user):
    _, first = make_user("alice")
    created = client.post("/api/v1/me/tokens", json={"label": "laptop"}, headers=auth(first))
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("ag_") and created.json()["prefix"] == token[:10]
    listed = client.get("/api/v1/me/tokens", headers=auth(token)).json()
    assert [t["label"] for t in listed] == ["laptop", ""]
    assert "token" not in listed[0] and token not in str(listed)
    assert listed[1]["last_used_at"] is not None  # the first token was used just now

    new_id = created.json()["id"]
    again = client.post(f"/api/v1/me/tokens/{new_id}/regenerate", headers=auth(first))
    assert again.status_code == 200 and again.json()["label"] == "laptop"
    replacement = again.json()["token"]
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401  # the old one
    assert client.get("/api/v1/me", headers=auth(replacement)).status_code == 200

    gone = client.delete(f"/api/v1/me/tokens/{again.json()['id']}", headers=auth(first))
    assert gone.status_code == 204
    assert client.get("/api/v1/me", headers=auth(replacement)).status_code == 401


def test_another_users_token_is_not_found(client, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    bobs = client.get("/api/v1/me/tokens", headers=auth(bob)).json()[0]["id"]
    response = client.delete(f"/api/v1/me/tokens/{bobs}", headers=auth(alice))
    assert response.status_code == 404
    assert client.get("/api/v1/me", headers=auth(bob)).status_code == 200


def test_me(client, make_user):
    _, token = make_user("2023001", full_name="张三", email="z@example.edu.cn")
    assert client.get("/api/v1/me", headers=auth(token)).json() == {
        "name": "2023001",
        "full_name": "张三",
        "email": "z@example.edu.cn",
        "role": "student",
        "has_password": False,
        "must_change_password": False,
    }


def graded(score: float) -> dict[str, object]:
    return {"state": RunState.graded, "score": score, "raw_score": score, "max_score": 5.0}


def test_my_assignments_show_best_and_latest(client, make_assignment, make_user, db):
    make_assignment("hw-a")
    make_assignment("hw-b")
    alice, token = make_user("alice")
    bob, _ = make_user("bob")
    now = utcnow()
    for minutes, fields in ((30, graded(4.0)), (20, graded(5.0)), (10, graded(3.0)), (1, {})):
        sub = submission_for(db, alice, "hw-a", **fields)
        sub.received_at = now - timedelta(minutes=minutes)
    submission_for(db, bob, "hw-a", **graded(5.0))
    db.commit()
    rows = {r["slug"]: r for r in client.get("/api/v1/me/assignments", headers=auth(token)).json()}
    a = rows["hw-a"]
    assert a["submissions"] == 4
    assert a["best"]["score"] == 5.0 and a["best"]["max_score"] == 5.0
    assert a["latest"]["state"] == "queued" and a["latest"]["score"] is None
    assert a["latest"]["page_url"].endswith(f"/submissions/{a['latest']['id']}")
    assert rows["hw-b"]["submissions"] == 0 and rows["hw-b"]["best"] is None


def test_queue_position_counts_older_queued_runs_on_the_same_queue(
    client, make_assignment, make_user, db
):
    make_assignment()
    alice, token = make_user("alice")
    now = utcnow()
    ahead = [submission_for(db, alice, queued_at=now - timedelta(minutes=m)) for m in (9, 8)]
    submission_for(db, alice, queued_at=now - timedelta(minutes=7), queue="gpu")  # other queue
    submission_for(db, alice, queued_at=now - timedelta(minutes=6), state=RunState.running)
    mine = submission_for(db, alice, queued_at=now - timedelta(minutes=5))
    submission_for(db, alice, queued_at=now)  # behind

    def position(sub) -> object:  # type: ignore[no-untyped-def]
        return client.get(f"/api/v1/submissions/{sub.id}", headers=auth(token)).json()[
            "queue_position"
        ]

    assert position(ahead[0]) == 0
    assert position(mine) == 2
    running = submission_for(db, alice, state=RunState.running)
    assert position(running) is None


def test_queue_position_follows_the_fair_order(client, make_assignment, make_user, db):
    """Sent runs go in the order they are due (re-grades' -low lane after the normal one);
    a held run goes after every sent run and its own student's earlier ones."""
    make_assignment()
    now = utcnow()
    (alice, token), (bob, _), (carol, _) = (make_user(n) for n in ("alice", "bob", "carol"))

    def sent(user, minutes, **fields):  # type: ignore[no-untyped-def]
        at = now - timedelta(minutes=minutes)
        return submission_for(db, user, queued_at=at, enqueued_at=at, **fields)

    alice_head = sent(alice, 9)
    alice_second = submission_for(db, alice, queued_at=now - timedelta(minutes=8))  # held
    alice_third = submission_for(db, alice, queued_at=now - timedelta(minutes=1))  # held
    sent(bob, 7)
    sent(carol, 2)
    regrade = sent(carol, 30, queue="cpu-low")  # older, but on the lane drained last
    sent(bob, 3, queue="gpu")  # another queue: never ahead
    submission_for(db, bob, state=RunState.running, queued_at=now - timedelta(minutes=20))

    def position(sub) -> object:  # type: ignore[no-untyped-def]
        return client.get(f"/api/v1/submissions/{sub.id}", headers=auth(token)).json()[
            "queue_position"
        ]

    assert position(alice_head) == 0
    assert position(alice_second) == 3  # the three sent cpu runs, its own head among them
    assert position(alice_third) == 4  # and its own held second
    # the -low lane: after every sent cpu run (staff's token reads carol's run)
    _, staff_token = make_user("ta9", role=Role.ta)
    view = client.get(f"/api/v1/submissions/{regrade.id}", headers=auth(staff_token)).json()
    assert view["queue_position"] == 3


def test_the_wait_is_estimated_from_recent_gradings(client, make_assignment, make_user, db):
    make_assignment()
    alice, token = make_user("alice")
    now = utcnow()
    url = "/api/v1/submissions/{}"
    mine = submission_for(db, alice, queued_at=now, enqueued_at=now)
    assert (
        client.get(url.format(mine.id), headers=auth(token)).json()["estimated_wait_seconds"]
        is None
    )  # no history yet
    for seconds in (10, 30, 20):
        start = now - timedelta(minutes=5)
        submission_for(
            db,
            alice,
            state=RunState.graded,
            started_at=start,
            finished_at=start + timedelta(seconds=seconds),
        )
    earlier = now - timedelta(minutes=1)
    other = submission_for(db, alice, queued_at=earlier, enqueued_at=earlier)
    assert client.get(url.format(other.id), headers=auth(token)).json()["queue_position"] == 0
    view = client.get(url.format(mine.id), headers=auth(token)).json()
    assert view["queue_position"] == 1
    assert view["estimated_wait_seconds"] == 40.0  # median 20 s x (1 ahead + itself)
