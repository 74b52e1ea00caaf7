"""The relay's durable checkpoint: how far the event store has been published to the log.

With a durable log (Kafka) the relay resumes from its own checkpoint (see
:mod:`streams.relay`). The checkpoint is saved after the log acknowledged a batch, so a relay
killed between the two re-publishes that batch once more: at-least-once into Kafka;
processors skip what their checkpoints already cover.

Kept in the shared checkpoint store (:mod:`domain.ports.checkpoints`) under ``relay.<name>``,
partition ``*``: the global position of the last published event (0 = nothing published).
"""

from __future__ import annotations

from domain.ports.checkpoints import ALL_PARTITIONS, CheckpointStore


class RelayCheckpoint:
    """Load and save the checkpoint of the relay called ``name`` in ``store``."""

    def __init__(self, store: CheckpointStore, name: str = "kafka"):
        self.store, self.name = store, f"relay.{name}"

    def load(self) -> int:
        """The last published global position (0 when this relay never published)."""
        return self.store.load(self.name).get(ALL_PARTITIONS, 0)

    def save(self, position: int) -> None:
        """Store ``position``; never moves the checkpoint backwards (one relay per deployment)."""
        if position > self.load():
            self.store.save(self.name, ALL_PARTITIONS, position)


__all__ = ["RelayCheckpoint"]
