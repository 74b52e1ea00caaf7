"""What a projection is, and how it is applied with its checkpoint in one transaction.

A projection consumes some event types and maintains tables. ``apply`` must be idempotent:
the runner skips events at or below the checkpoint of the log partition they came from, and
writes rows and the new checkpoint (in the shared checkpoint store,
:mod:`domain.ports.checkpoints`) in the same transaction, so a crash replays at most the
uncommitted batch. Rebuilding from position 0 into fresh tables yields the same tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.events import RecordedEvent
from domain.ports.checkpoints import ALL_PARTITIONS, CheckpointStore, done_position

__all__ = ["ALL_PARTITIONS", "Projection", "apply_batch", "create_tables", "reset"]


class Projection(Protocol):
    """A read model fed by events."""

    name: str
    event_types: frozenset[str]
    metadata: sa.MetaData

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Apply events (already filtered to ``event_types`` and above the checkpoint)."""
        ...


def create_tables(engine: sa.Engine, projection: Projection) -> None:
    """Create the projection's tables when missing (the checkpoint store creates its own)."""
    projection.metadata.create_all(engine)


def apply_batch(
    engine: sa.Engine,
    projection: Projection,
    partition: str,
    events: Sequence[RecordedEvent],
    checkpoints: CheckpointStore,
) -> int:
    """Apply events from one partition with the checkpoint in one transaction; returns the checkpoint."""
    with engine.begin() as conn:
        done = done_position(checkpoints.load(projection.name, within=conn), partition)
        fresh = [e for e in events if e.global_position > done and e.type in projection.event_types]
        if fresh:
            projection.apply(conn, fresh)
        last = max((e.global_position for e in events), default=done)
        if last > done:
            checkpoints.save(projection.name, partition, last, within=conn)
        return max(last, done)


def reset(engine: sa.Engine, projection: Projection, checkpoints: CheckpointStore) -> None:
    """Drop and recreate the projection's tables and forget its checkpoints."""
    projection.metadata.drop_all(engine)
    checkpoints.forget(projection.name)
    projection.metadata.create_all(engine)
