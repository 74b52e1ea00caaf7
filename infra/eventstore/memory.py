"""In-memory event store: the embedded adapter that unit tests use instead of SQLite files.

Keeps the port's promises (:mod:`domain.ports.event_store`): atomic appends with expected
revisions, store-wide idempotency by event id, global positions 1..N in commit order, live
notification. Nothing survives the process. Several :class:`MemoryEventStore` instances on one
:class:`MemoryStorage` act as separate processes on one database (the contract suite uses that).
Data and metadata go through a JSON round trip, as in the SQL stores, so a caller cannot
change a stored event by mutating what it appended or read.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

import orjson

from domain.events import EventMetadata, NewEvent, RecordedEvent
from domain.ports.event_store import ANY, AppendResult, ExpectedRevision
from infra.eventstore.append_checks import check_expected


class MemoryStorage:
    """The events of one in-memory "database" (shared by the stores opened on it)."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []  # global position N at index N - 1
        self.streams: dict[str, list[int]] = {}  # stream id -> global positions, by revision
        self.by_id: dict[uuid.UUID, int] = {}
        self.changed = threading.Condition()


class MemoryEventStore:
    """The event-store port in memory (``storage``: shared with other instances, else its own)."""

    def __init__(self, storage: MemoryStorage | None = None):
        self.storage = storage or MemoryStorage()

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_revision: ExpectedRevision = ANY
    ) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        s = self.storage
        with s.changed:
            positions = s.streams.get(stream_id, [])
            actual = len(positions) - 1 if positions else None
            seen: set[uuid.UUID] = set()
            fresh = []
            for event in events:
                if event.event_id not in s.by_id and event.event_id not in seen:
                    seen.add(event.event_id)
                    fresh.append(event)
            if not fresh:
                stored = max(s.by_id[e.event_id] for e in events)
                return AppendResult(-1 if actual is None else actual, stored, 0)
            check_expected(stream_id, expected_revision, actual)
            for event in fresh:
                self._store(stream_id, event)
            s.changed.notify_all()
            return AppendResult(len(s.streams[stream_id]) - 1, len(s.events), len(fresh))

    def _store(self, stream_id: str, event: NewEvent) -> None:
        s = self.storage
        positions = s.streams.setdefault(stream_id, [])
        recorded = RecordedEvent(
            event_id=event.event_id,
            stream_id=stream_id,
            stream_revision=len(positions),
            global_position=len(s.events) + 1,
            type=event.type,
            schema_version=event.schema_version,
            data=orjson.loads(orjson.dumps(event.data)),
            metadata=EventMetadata.model_validate(orjson.loads(orjson.dumps(event.metadata.to_json()))),
        )
        s.events.append(recorded)
        positions.append(recorded.global_position)
        s.by_id[event.event_id] = recorded.global_position

    def read_stream(
        self, stream_id: str, from_revision: int = 0, backwards: bool = False, limit: int | None = None
    ) -> list[RecordedEvent]:
        s = self.storage
        with s.changed:
            positions = list(s.streams.get(stream_id, []))
            if backwards:
                end = len(positions) if from_revision < 0 else min(from_revision + 1, len(positions))
                chosen = positions[:end][::-1]
            else:
                chosen = positions[max(from_revision, 0) :]
            if limit is not None:
                chosen = chosen[:limit]
            return [s.events[p - 1] for p in chosen]

    def stream_revision(self, stream_id: str) -> int | None:
        with self.storage.changed:
            positions = self.storage.streams.get(stream_id)
            return len(positions) - 1 if positions else None

    def read_all(
        self,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
    ) -> list[RecordedEvent]:
        wanted = set(types) if types else None
        out: list[RecordedEvent] = []
        with self.storage.changed:
            events = self.storage.events
            for recorded in events[max(after_position, 0) :]:
                if len(out) >= limit:
                    break
                if wanted is not None and recorded.type not in wanted:
                    continue
                if stream_prefix and not recorded.stream_id.startswith(stream_prefix):
                    continue
                out.append(recorded)
        return out

    def head_position(self) -> int:
        with self.storage.changed:
            return len(self.storage.events)

    def get_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        with self.storage.changed:
            position = self.storage.by_id.get(event_id)
            return None if position is None else self.storage.events[position - 1]

    def wait_for_append(self, after_position: int, timeout_s: float) -> bool:
        with self.storage.changed:
            return self.storage.changed.wait_for(lambda: len(self.storage.events) > after_position, timeout_s)

    def close(self) -> None:
        with self.storage.changed:
            self.storage.changed.notify_all()


__all__ = ["MemoryEventStore", "MemoryStorage"]
