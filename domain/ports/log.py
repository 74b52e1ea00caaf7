"""The log port: a partitioned, keyed, replayable record log with consumer groups.

Adapters: :mod:`infra.log.memory` (in-process, the embedded default) and
:mod:`infra.log.kafka` (confluent-kafka). Both pass ``tests/contract/test_log.py``.

What every adapter keeps:

* **No loss.** ``publish`` returns once the records are durably appended (raises otherwise);
  a group's members together receive every record after the group's committed offsets.
* **Order per key.** Records with the same key land on the same partition, in publish order,
  and a member receives a partition's records in offset order.
* **Duplicates only around a rebalance.** A consumer joins a group; the group's members share
  the partitions. ``poll`` returns records after the group's committed offset (or from the
  earliest offset for a new group); ``commit`` stores the offsets of what the caller has
  durably processed. While the group's membership is stable every record is delivered once.
  When a partition moves to another member (a member joins, leaves or is presumed dead), the
  new owner restarts at the committed offset, so records delivered but not yet committed are
  delivered again (a commit refused by the rebalance counts as not committed). That is
  at-least-once delivery; processors make the effect exactly-once by skipping positions at or
  below their checkpoints (read-model rows and checkpoint in one transaction).

The relay publishes at-least-once too (its checkpoint is saved after the log acknowledged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

TOPIC_ALL = "flexledger.events"
"""Every event, in per-stream order: the topic for third-party subscribers."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record: ``key`` (the stream id) decides the partition; ``value`` is the event."""

    topic: str
    key: str
    value: Any
    partition: int = -1
    offset: int = -1
    headers: dict[str, str] = field(default_factory=dict)


class LogConsumer(Protocol):
    def poll(self, max_records: int = 500, timeout_s: float = 0.5) -> list[LogRecord]: ...

    def assignment(self) -> list[tuple[str, int]]:
        """The (topic, partition) pairs this member owns now (as of its last poll)."""
        ...

    def commit(self, records: Sequence[LogRecord]) -> None:
        """Commit offsets up to and including these records (per partition)."""
        ...

    def close(self) -> None: ...


class Log(Protocol):
    def publish(self, records: Sequence[LogRecord]) -> None:
        """Append records durably (returns once the log has acknowledged them)."""
        ...

    def consumer(self, group: str, topics: Sequence[str]) -> LogConsumer: ...

    def close(self) -> None: ...
