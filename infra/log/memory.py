"""In-process log: partitions are Python lists, consumer groups share partitions.

It keeps records for the life of the process only, and every record: it is the log port's
test double (it passes ``tests/contract/test_log.py``), not a production path. The embedded
deployment publishes nothing to it: its processors follow the event store directly
(:mod:`streams.follower`), so memory does not grow with history.
"""

from __future__ import annotations

import threading
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from domain.ports.log import LogRecord


def partition_for(key: str, partitions: int) -> int:
    """Stable partition of a key (CRC32; the same in every process)."""
    return zlib.crc32(key.encode()) % partitions


class MemoryLog:
    """A partitioned in-memory log with consumer-group semantics."""

    def __init__(self, partitions: int = 4):
        self.partitions = partitions
        self._topics: dict[str, list[list[LogRecord]]] = {}
        self._committed: dict[tuple[str, str, int], int] = {}
        self._members: dict[str, list[MemoryConsumer]] = defaultdict(list)
        self._cond = threading.Condition()

    def _topic(self, topic: str) -> list[list[LogRecord]]:
        if topic not in self._topics:
            self._topics[topic] = [[] for _ in range(self.partitions)]
        return self._topics[topic]

    def publish(self, records: Sequence[LogRecord]) -> None:
        with self._cond:
            for record in records:
                partitions = self._topic(record.topic)
                p = partition_for(record.key, self.partitions)
                partitions[p].append(replace(record, partition=p, offset=len(partitions[p])))
            self._cond.notify_all()

    def consumer(self, group: str, topics: Sequence[str]) -> MemoryConsumer:
        with self._cond:
            member = MemoryConsumer(self, group, list(topics))
            self._members[group].append(member)
            self._rebalance(group)
            return member

    def assignment(self, member: MemoryConsumer) -> list[tuple[str, int]]:
        """Partitions of ``member``: the group's (topic, partition) pairs dealt round-robin."""
        members = self._members[member.group]
        index = members.index(member)
        pairs = [(t, p) for t in member.topics for p in range(self.partitions)]
        return pairs[index :: len(members)]

    def leave(self, member: MemoryConsumer) -> None:
        with self._cond:
            self._members[member.group].remove(member)
            self._rebalance(member.group)

    def _rebalance(self, group: str) -> None:
        """Members restart from the committed offsets, as after a Kafka rebalance."""
        for member in self._members[group]:
            member._positions.clear()

    def end_offsets(self, topic: str) -> list[int]:
        with self._cond:
            return [len(p) for p in self._topic(topic)]

    def close(self) -> None:
        with self._cond:
            self._cond.notify_all()


class MemoryConsumer:
    """One member of a consumer group on a :class:`MemoryLog`."""

    def __init__(self, log: MemoryLog, group: str, topics: list[str]):
        self.log, self.group, self.topics = log, group, topics
        self._positions: dict[tuple[str, int], int] = {}

    def _fetch(self, max_records: int) -> list[LogRecord]:
        out: list[LogRecord] = []
        for topic, p in self.log.assignment(self):
            records = self.log._topic(topic)[p]
            start = self._positions.get((topic, p), self.log._committed.get((self.group, topic, p), 0))
            chunk = records[start : start + max_records - len(out)]
            if chunk:
                self._positions[(topic, p)] = start + len(chunk)
                out.extend(chunk)
            if len(out) >= max_records:
                break
        return out

    def poll(self, max_records: int = 500, timeout_s: float = 0.5) -> list[LogRecord]:
        with self.log._cond:
            records = self._fetch(max_records)
            if not records and timeout_s > 0:
                self.log._cond.wait(timeout_s)
                records = self._fetch(max_records)
            return records

    def commit(self, records: Sequence[LogRecord]) -> None:
        with self.log._cond:
            for r in records:
                key = (self.group, r.topic, r.partition)
                self.log._committed[key] = max(self.log._committed.get(key, 0), r.offset + 1)

    def assignment(self) -> list[tuple[str, int]]:
        """The (topic, partition) pairs this member owns now."""
        with self.log._cond:
            return sorted(self.log.assignment(self))

    def close(self) -> None:
        self.log.leave(self)
