"""The worker's Redis transport (worker/broker.py) against kombu's, on a real Redis.

Each test plays the sequence Celery's consumer runs when the broker goes away
(``Connection.collect()``: close every channel, restoring its unacknowledged messages,
then detach the transport), with messages really delivered and not acknowledged. Kombu's
own transport is run too, to show the fault is real here: if a kombu release fixes it,
those assertions fail and worker/broker.py may go.
"""

from __future__ import annotations

import subprocess

import pytest
from kombu import Connection, Exchange, Queue

from tests.services import redis_available, start_redis, wait_port

STOCK = "kombu.transport.redis:Transport"
OURS = "worker.broker:Transport"


@pytest.fixture
def redis():
    reason = redis_available()
    if reason:
        from tests.conftest import _unavailable

        _unavailable(reason)
    server = start_redis()
    yield server
    server.stop()


def _restart(server) -> None:
    """Start Redis again on the same port (``server.proc`` is dead)."""
    server.proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(server.port), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(server.port)


def _delivered(conn: Connection, n: int) -> list:
    """``n`` channels, each holding one delivered, unacknowledged message."""
    queue = Queue("t", Exchange("t"), "t")
    with conn.Producer() as producer:
        for _ in range(n):
            producer.publish({"run": 1}, exchange=queue.exchange, routing_key="t", declare=[queue])
    channels = [conn.channel() for _ in range(n)]
    for channel in channels:
        assert channel.basic_get("t", no_ack=False) is not None
    return channels


def _lose_broker(redis, conn: Connection) -> None:
    """The broker dies; the consumer collects its connection (as Celery does); the broker
    comes back (without persistence: what it held is gone)."""
    redis.proc.kill()
    redis.proc.wait()
    conn.collect()
    _restart(redis)


def test_stock_transport_fails_on_a_late_restore(redis):
    conn = Connection(redis.url, transport=STOCK)
    first, _ = _delivered(conn, 2)
    _lose_broker(redis, conn)
    assert not first.closed  # the close loop ended at the other channel's failed restore
    with pytest.raises(AttributeError, match="hostname"):
        first.close()


def test_our_transport_survives_a_broker_restart(redis):
    conn = Connection(redis.url, transport=OURS)
    channels = _delivered(conn, 2)
    _lose_broker(redis, conn)
    assert all(c.closed for c in channels)
    for channel in channels:
        channel.close()  # nothing left to do, and nothing raises
    # A new connection works with the restarted broker.
    fresh = Connection(redis.url, transport=OURS)
    (channel,) = _delivered(fresh, 1)
    channel.close()
    fresh.release()


def test_a_channel_closed_after_its_transport_is_detached(redis):
    """The broker never went away, but the channel is closed once its transport is
    detached (a finalizer, a close loop that ended early): kombu's raises AttributeError,
    ours reconnects and gives the message back to its queue."""
    stock = Connection(redis.url, transport=STOCK)
    (channel,) = _delivered(stock, 1)
    stock._do_close_transport()
    with pytest.raises(AttributeError, match="hostname"):
        channel.close()

    ours = Connection(redis.url, transport=OURS)
    (channel,) = _delivered(ours, 1)
    ours._do_close_transport()
    channel.close()
    check = Connection(redis.url, transport=OURS)
    with check.channel() as reader:
        assert reader.basic_get("t", no_ack=True) is not None, "the message was not restored"
    check.release()
