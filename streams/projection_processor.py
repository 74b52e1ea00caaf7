"""Adapter: a projection as a processor (rows and checkpoint in one transaction).

It passes over (:mod:`streams.follower`) the events the projection would not apply: those of
types it does not consume, and those its optional ``passes_over`` names (:mod:`projections.base`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from domain.events import RecordedEvent
from domain.ports.checkpoints import CheckpointStore, done_position, resume_position
from projections.base import Projection, apply_batch, create_tables


class ProjectionProcessor:
    """Feeds events of ``topics`` to ``projection`` on ``engine``; checkpoints in ``checkpoints``."""

    def __init__(
        self, projection: Projection, engine: sa.Engine, topics: Sequence[str], *, checkpoints: CheckpointStore
    ):
        self.projection, self.engine, self.topics = projection, engine, list(topics)
        self.checkpoints = checkpoints
        self.name = f"projection.{projection.name}"
        self._event_types = projection.event_types
        self._projection_passes_over: Callable[[RecordedEvent], bool] = getattr(
            projection, "passes_over", _passes_over_none
        )

    def create_tables(self) -> None:
        """Create the projection's tables when missing (the composition root's storage step)."""
        create_tables(self.engine, self.projection)

    def passes_over(self, recorded: RecordedEvent) -> bool:
        """Whether the projection would not apply ``recorded`` (from its stored type and data only)."""
        return recorded.type not in self._event_types or self._projection_passes_over(recorded)

    def process(self, partition: str, events: Sequence[RecordedEvent]) -> int:
        return apply_batch(self.engine, self.projection, partition, events, self.checkpoints)

    def advance(self, partition: str, position: int) -> None:
        """Nothing of this projection's in ``partition`` up to ``position``: move its checkpoint there."""
        with self.engine.begin() as conn:
            if position > done_position(self.checkpoints.load(self.projection.name, within=conn), partition):
                self.checkpoints.save(self.projection.name, partition, position, within=conn)

    def has_applied(self, partition: str, position: int) -> bool:
        """Whether the read model holds the events of ``partition`` up to ``position`` (any process)."""
        return done_position(self.checkpoints.load(self.projection.name), partition) >= position

    def checkpoint(self) -> int:
        return resume_position(self.checkpoints.load(self.projection.name))


def _passes_over_none(recorded: RecordedEvent) -> bool:
    """A projection without ``passes_over``: every event of its types is applied."""
    return False
