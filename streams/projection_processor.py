"""Adapter: a projection as a log processor (rows and checkpoint in one transaction)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from domain.events import RecordedEvent
from infra import telemetry
from projections.base import Projection, apply_batch, create_tables, load_checkpoints


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

    def checkpoint(self) -> int:
        with self.engine.connect() as conn:
            positions = load_checkpoints(conn, self.projection.name).values()
        return min(positions, default=0)
