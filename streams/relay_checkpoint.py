"""The relay's durable checkpoint: how far the event store has been published to the log.

With a durable log (Kafka) the relay resumes from its own checkpoint instead of from the
processors' lowest checkpoint (see :mod:`streams.relay`). The checkpoint is saved after the
log acknowledged a batch, so a relay killed between the two re-publishes that batch once
more: at-least-once into Kafka; processors skip what their checkpoints already cover.

Table ``relay_checkpoints`` (in the read-model database, which is SQL in every deployment,
also when the event store is KurrentDB): ``relay`` (name) -> ``position`` (the global
position of the last published event; 0 = nothing published).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
relay_checkpoints = sa.Table(
    "relay_checkpoints",
    metadata,
    sa.Column("relay", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)


class RelayCheckpoint:
    """Load and save the checkpoint of the relay called ``name`` in ``engine``'s database."""

    def __init__(self, engine: sa.Engine, name: str = "kafka"):
        self.engine, self.name = engine, name
        metadata.create_all(engine)

    def load(self) -> int:
        """The last published global position (0 when this relay never published)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(relay_checkpoints.c.position).where(relay_checkpoints.c.relay == self.name)
            ).scalar()
        return found or 0

    def save(self, position: int) -> None:
        """Store ``position``; never moves the checkpoint backwards."""
        c = relay_checkpoints.c
        with self.engine.begin() as conn:
            updated = conn.execute(
                relay_checkpoints.update().where(c.relay == self.name, c.position < position).values(position=position)
            )
            exists = updated.rowcount > 0 or conn.execute(sa.select(c.position).where(c.relay == self.name)).first()
            if not exists:
                conn.execute(relay_checkpoints.insert().values(relay=self.name, position=position))


__all__ = ["RelayCheckpoint", "relay_checkpoints"]
