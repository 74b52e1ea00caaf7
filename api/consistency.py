"""Read-your-writes for the HTTP API.

After a command appended events, a route may wait (bounded by
``FLEXLEDGER_CONSISTENCY_TIMEOUT_S``) until the named processor has applied the written stream
up to its last event (or everything up to the store's head), so that a client's next GET sees
its own write. The waiting itself is the deployment's
:class:`~domain.ports.consistency.ConsistencyWaiter` (embedded: the in-process runner;
distributed: the projections' checkpoints in the read-model database, for the written stream's
log partition). Registry writes (assets, sensors) always wait, because their responses are read
back from the read model; waiting after sensor data posts is turned off with
``FLEXLEDGER_CONSISTENT_WRITES=false`` (then readings are eventually consistent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from api.errors import ApiError
from domain.ports.consistency import ConsistencyWaiter
from domain.ports.event_store import EventStore

REGISTRY = "projection.registry"
READINGS = "projection.readings"


@dataclass(frozen=True)
class ReadYourWrites:
    """The API's view of consistency: the waiter, the store's positions, and whether to wait.

    ``store`` is used only to read positions (the head, a stream's last event, an event by id).
    """

    waiter: ConsistencyWaiter
    store: EventStore
    consistent_writes: bool = True
    timeout_s: float = 5.0

    def wait_until_projected(self, processor: str, position: int | None = None, stream_id: str | None = None) -> bool:
        """True when ``processor`` has applied ``position`` (default: the last event of
        ``stream_id``, else the store's head)."""
        if processor != REGISTRY and not self.consistent_writes:
            return False
        if position is None:
            position = self._last_position(stream_id) if stream_id else self.store.head_position()
        return self.waiter.wait_for(position, [processor], stream_id=stream_id)

    def _last_position(self, stream_id: str) -> int:
        last = self.store.read_stream(stream_id, from_revision=-1, backwards=True, limit=1)
        return last[0].global_position if last else self.store.head_position()

    async def wait_until_projected_async(self, processor: str, position: int, stream_id: str | None = None) -> bool:
        """:meth:`wait_until_projected` for ``async`` routes: awaits without holding a thread (embedded)."""
        if processor != REGISTRY and not self.consistent_writes:
            return False
        return await self.waiter.wait_for_async(position, [processor], stream_id=stream_id)

    def read_back(
        self,
        conn: sa.Connection,
        lookup: Callable[[sa.Connection, int], dict | None],
        entity_id: int,
        stream_id: str,
    ) -> dict:
        """The registry row of an entity just written to ``stream_id``: waits for the projection, then reads it.

        503 ``PROJECTION_LAG`` when the read model has not caught up within the timeout.
        """
        self.wait_until_projected(REGISTRY, stream_id=stream_id)
        conn.rollback()  # start a fresh read transaction that sees the projected row
        row = lookup(conn, entity_id)
        if row is None:
            raise ApiError(503, "PROJECTION_LAG", f"written; the read model has not caught up yet (id {entity_id})")
        return row
