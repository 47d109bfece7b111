"""The worker's Redis transport: kombu's, made to survive a broker restart at any moment.

The fault (issue 16; upstream kombu issues 582 and 970). When the broker goes away, Celery's
consumer calls ``Connection.collect()``: it closes the connection's channels, each of
which restores its delivered but unacknowledged messages, and then detaches the transport
(``transport.client = None``). A channel whose close comes later -- one left open because
an earlier channel's restore raised ConnectionError (the broker is down) and ended the
close loop, or one closed from a finalizer -- drops its connection pool, then restores:
kombu builds a new pool from ``transport.client.hostname`` and the worker process ends
with ``AttributeError: 'NoneType' object has no attribute 'hostname'``, which Celery does
not count as a connection error. A restore that fails with a connection error also leaves
its messages in QoS bookkeeping that is marked restored, which asserts on the next try.

The workaround, registered for ``redis://`` (and ``rediss://``, ``redis+socket://``) in
the worker only (worker/celery_app.py):

- a channel keeps the connection parameters it last built while its transport was
  attached, and builds a pool from them after the transport is detached: a late restore
  or acknowledgement reconnects to the same broker instead of raising AttributeError;
- restoring unacknowledged messages never raises: a broker that is down (or restarted
  without persistence) has lost them anyway. Nothing is lost for us: the database is the
  truth (DESIGN.md), the reconciler sends queued runs whose message is gone again, a
  message the broker kept comes back after its visibility timeout, and a duplicate
  delivery finds nothing to claim.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

TRANSPORT = "worker.broker:Transport"


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)
        except Exception as exc:  # the broker is gone: what it held is the reconciler's
            log.warning(
                "could not give %d unacknowledged message(s) back to the broker (%r); "
                "the reconciler re-sends their runs",
                len(self._delivered),
                exc,
            )
            self._delivered.clear()


class Channel(kombu_redis.Channel):
    QoS = QoS
    _last_connparams: dict[str, Any] | None = None

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is not None and transport.client is not None:
            params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
            if not asynchronous:  # the asynchronous ones are tied to the event loop
                self._last_connparams = dict(params)
            return params
        if self._last_connparams is None or asynchronous:
            raise redis.exceptions.ConnectionError("the broker connection was closed")
        return dict(self._last_connparams)


class Transport(kombu_redis.Transport):
    Channel = Channel


def register() -> None:
    """Make ``redis://`` (and ``rediss://``, ``redis+socket://``) use this transport in this
    process."""
    for alias in ("redis", "rediss"):
        TRANSPORT_ALIASES[alias] = TRANSPORT
