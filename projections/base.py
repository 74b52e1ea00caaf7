"""What a projection is, and how it is applied with its checkpoint in one transaction.

A projection consumes some event types and maintains tables. ``apply`` must be idempotent:
the runner skips events at or below the checkpoint of the log partition they came from, and
writes rows and the new checkpoint in the same transaction, so a crash replays at most the
uncommitted batch. Rebuilding from position 0 into fresh tables yields the same tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.events import RecordedEvent

checkpoint_metadata = sa.MetaData()
checkpoints = sa.Table(
    "projection_checkpoints",
    checkpoint_metadata,
    sa.Column("projection", sa.String(64), primary_key=True),
    sa.Column("partition", sa.String(128), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

ALL_PARTITIONS = "*"
"""Partition key used when events are applied in global order (replay, embedded runner)."""


class Projection(Protocol):
    """A read model fed by events."""

    name: str
    event_types: frozenset[str]
    metadata: sa.MetaData

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Apply events (already filtered to ``event_types`` and above the checkpoint)."""
        ...


def create_tables(engine: sa.Engine, projection: Projection) -> None:
    checkpoint_metadata.create_all(engine)
    projection.metadata.create_all(engine)


# Statements of every applied batch, built once.
_LOAD_CHECKPOINTS = sa.select(checkpoints.c.partition, checkpoints.c.position).where(
    checkpoints.c.projection == sa.bindparam("projection")
)
_UPDATE_CHECKPOINT = (  # bind names differ from the column names (SQLAlchemy reserves those in UPDATE)
    checkpoints.update()
    .where(
        checkpoints.c.projection == sa.bindparam("p_projection"),
        checkpoints.c.partition == sa.bindparam("p_partition"),
    )
    .values(position=sa.bindparam("p_position"))
)


def load_checkpoints(conn: Connection, projection: str) -> dict[str, int]:
    return dict(conn.execute(_LOAD_CHECKPOINTS, {"projection": projection}).all())


def save_checkpoint(conn: Connection, projection: str, partition: str, position: int) -> None:
    """Upsert the checkpoint (portable: UPDATE, then INSERT when nothing was updated)."""
    params = {"p_projection": projection, "p_partition": partition, "p_position": position}
    updated = conn.execute(_UPDATE_CHECKPOINT, params)
    if updated.rowcount == 0:
        conn.execute(checkpoints.insert().values(projection=projection, partition=partition, position=position))


def apply_batch(
    engine: sa.Engine, projection: Projection, partition: str, events: Sequence[RecordedEvent]
) -> int:
    """Apply events from one partition with the checkpoint in one transaction; returns the checkpoint."""
    with engine.begin() as conn:
        saved = load_checkpoints(conn, projection.name)
        done = max(saved.get(partition, 0), saved.get(ALL_PARTITIONS, 0))
        fresh = [e for e in events if e.global_position > done and e.type in projection.event_types]
        if fresh:
            projection.apply(conn, fresh)
        last = max((e.global_position for e in events), default=done)
        if last > done:
            save_checkpoint(conn, projection.name, partition, last)
        return max(last, done)


def reset(engine: sa.Engine, projection: Projection) -> None:
    """Drop and recreate the projection's tables and forget its checkpoints."""
    projection.metadata.drop_all(engine)
    checkpoint_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(checkpoints.delete().where(checkpoints.c.projection == projection.name))
    projection.metadata.create_all(engine)
