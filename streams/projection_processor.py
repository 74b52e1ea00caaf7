"""Adapter: a projection as a log processor (rows and checkpoint in one transaction)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from domain.events import RecordedEvent
from infra import telemetry
from projections.base import ALL_PARTITIONS, Projection, apply_batch, create_tables, load_checkpoints


class ProjectionProcessor:
    """Feeds log records of ``topics`` to ``projection`` on ``engine``."""

    def __init__(self, projection: Projection, engine: sa.Engine, topics: Sequence[str]):
        self.projection, self.engine, self.topics = projection, engine, list(topics)
        self.name = f"projection.{projection.name}"
        create_tables(engine, projection)

    def process(self, partition: str, events: Sequence[RecordedEvent]) -> int:
        attributes = {"projection": self.projection.name, "partition": partition, "events": len(events)}
        with telemetry.batch_span("readmodel.write", [e.metadata.traceparent for e in events], attributes):
            checkpoint = apply_batch(self.engine, self.projection, partition, events)
        telemetry.record_projection_lag(self.projection.name, events)
        return checkpoint

    def has_applied(self, partition: str, position: int) -> bool:
        """Whether the read model holds the events of ``partition`` up to ``position`` (any process)."""
        with self.engine.connect() as conn:
            saved = load_checkpoints(conn, self.projection.name)
        return max(saved.get(partition, 0), saved.get(ALL_PARTITIONS, 0)) >= position

    def checkpoint(self) -> int:
        with self.engine.connect() as conn:
            positions = load_checkpoints(conn, self.projection.name).values()
        return min(positions, default=0)
