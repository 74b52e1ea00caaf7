"""The checkpoint-store port: how far each processor has applied the event store.

One store serves every processor (projections, scheduler, forecaster, relay). A checkpoint is
the global position (of the event store) up to which a processor has applied the events of
one *partition*: a log partition (``"topic:N"``, distributed deployment) or
:data:`ALL_PARTITIONS` (events applied in global order: the embedded followers and replays).

Semantics every adapter keeps (``tests/contract/test_checkpoints.py``):

* ``save`` stores the position it is given (a rebuild may move it back to 0 by ``forget``);
  processors only ever pass increasing positions.
* ``within``: a transaction of the adapter's own database (the SQL adapter: a SQLAlchemy
  ``Connection`` on the read-model database). A projection passes the transaction that writes
  its rows, so rows and checkpoint commit together or not at all. ``None``: a transaction of
  its own, committed on return.
* Tables are created by ``create_tables()`` (one explicit step in the composition root), never
  by a constructor.
"""

from __future__ import annotations

from typing import Any, Protocol

ALL_PARTITIONS = "*"
"""Partition key of events applied in global order (embedded followers, replays)."""


class CheckpointStore(Protocol):
    def load(self, name: str, within: Any = None) -> dict[str, int]:
        """Every saved checkpoint of processor ``name``: partition -> global position."""
        ...

    def save(self, name: str, partition: str, position: int, within: Any = None) -> None:
        """Store ``position`` as ``name``'s checkpoint of ``partition`` (an upsert)."""
        ...

    def forget(self, name: str, within: Any = None) -> None:
        """Delete every checkpoint of ``name`` (a rebuild starts from position 0)."""
        ...

    def create_tables(self) -> None:
        """Create the store's tables when missing (idempotent)."""
        ...


def resume_position(saved: dict[str, int]) -> int:
    """Where a processor that follows the store in global order resumes.

    Its :data:`ALL_PARTITIONS` checkpoint; before it has one (a database last run with
    per-partition checkpoints), the lowest of those, so nothing is skipped.
    """
    if ALL_PARTITIONS in saved:
        return saved[ALL_PARTITIONS]
    return min(saved.values(), default=0)


def done_position(saved: dict[str, int], partition: str) -> int:
    """Events of ``partition`` at or below this position are applied (per partition or globally)."""
    return max(saved.get(partition, 0), saved.get(ALL_PARTITIONS, 0))
