"""Read-your-writes for the HTTP API.

After a command appended events, a route may wait (bounded by
``FLEXLEDGER_CONSISTENCY_TIMEOUT_S``) until the named processor has applied everything up to
the store's head, so that a client's next GET sees its own write. Registry writes (assets,
sensors) always wait, because their responses are read back from the read model; waiting
after sensor data posts is turned off with ``FLEXLEDGER_CONSISTENT_WRITES=false`` (then
readings are eventually consistent).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from api.errors import ApiError
from infra.bootstrap import Platform

REGISTRY = "projection.registry"
READINGS = "projection.readings"


def wait_until_projected(platform: Platform, processor: str, position: int | None = None) -> bool:
    """True when ``processor`` has applied ``position`` (default: the current head)."""
    if platform.runner is None:
        return False
    if processor != REGISTRY and not platform.settings.consistent_writes:
        return False
    target = platform.store.head_position() if position is None else position
    return platform.wait_for(target, [processor])


async def wait_until_projected_async(platform: Platform, processor: str, position: int) -> bool:
    """:func:`wait_until_projected` for ``async`` routes: awaits without holding a thread."""
    if platform.runner is None:
        return False
    if processor != REGISTRY and not platform.settings.consistent_writes:
        return False
    return await platform.wait_for_async(position, [processor])


def read_back(
    platform: Platform, conn: sa.Connection, lookup: Callable[[sa.Connection, int], dict | None], entity_id: int
) -> dict:
    """The registry row of an entity just written: waits for the projection, then reads it.

    503 ``PROJECTION_LAG`` when the read model has not caught up within the timeout.
    """
    wait_until_projected(platform, REGISTRY)
    conn.rollback()  # start a fresh read transaction that sees the projected row
    row = lookup(conn, entity_id)
    if row is None:
        raise ApiError(503, "PROJECTION_LAG", f"written; the read model has not caught up yet (id {entity_id})")
    return row
