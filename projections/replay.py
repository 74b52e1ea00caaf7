"""Replay: rebuild a projection from position 0 straight from the event store."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from domain.ports.checkpoints import CheckpointStore
from domain.ports.event_store import EventStore
from projections.base import ALL_PARTITIONS, Projection, apply_batch, reset


def rebuild(
    store: EventStore,
    engine: sa.Engine,
    projection: Projection,
    checkpoints: CheckpointStore,
    batch_size: int = 2000,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Drop the projection's tables, replay every event of its types; returns events applied.

    ``on_progress(position, head)`` is called after each batch. Afterwards the checkpoint is
    the head position under :data:`ALL_PARTITIONS`, where the embedded followers resume.
    """
    reset(engine, projection, checkpoints)
    head = store.head_position()
    position, applied = 0, 0
    types = sorted(projection.event_types)
    while position < head:
        batch = store.read_all(position, batch_size, types=types)
        batch = [e for e in batch if e.global_position <= head]
        if not batch:
            break
        apply_batch(engine, projection, ALL_PARTITIONS, batch, checkpoints)
        position, applied = batch[-1].global_position, applied + len(batch)
        if on_progress:
            on_progress(position, head)
    checkpoints.save(projection.name, ALL_PARTITIONS, head)
    if on_progress:
        on_progress(head, head)
    return applied
