"""The forecasting processor's outbox: the events it made, appended per stream, and its counters."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from domain.events import DomainEvent, EventMetadata, NewEvent, RecordedEvent
from domain.ports.event_store import ANY, EventStore
from streams.forecaster_state import NAME


@dataclass
class ForecasterStats:
    """Counters of this process (not persisted): what was done since start-up."""

    learned: int = 0
    bootstraps: int = 0
    forecasts: int = 0
    jobs: int = 0
    emitted: int = 0
    appended: int = 0
    warnings: list[str] = field(default_factory=list)


class Outbox:
    """Events to append, grouped per stream in first-seen order; appends are idempotent by id.

    The events of one cause added between two flushes share one metadata (so also its
    ``recorded_at``: when the first of them was made), built once and stored and read back once.
    """

    def __init__(self, store: EventStore, stats: ForecasterStats, flush_at: int = 1000):
        self.store, self.stats, self.flush_at = store, stats, flush_at
        self._streams: dict[str, list[NewEvent]] = {}
        self._count = 0
        self._metadata: tuple[uuid.UUID, EventMetadata] | None = None  # (cause's event id, metadata)

    def add(self, stream_id: str, event: DomainEvent, event_id: uuid.UUID, cause: RecordedEvent) -> None:
        self.add_data(stream_id, event.event_type, event.schema_version, event.to_data(), event_id, cause)

    def add_data(
        self, stream_id: str, event_type: str, schema_version: int, data: dict[str, Any], event_id: uuid.UUID,
        cause: RecordedEvent,
    ) -> None:
        """Add an event given as its stored form (``data``: what ``DomainEvent.to_data`` returns)."""
        meta = self._caused_by(cause)
        event = NewEvent(event_id=event_id, type=event_type, schema_version=schema_version, data=data, metadata=meta)
        self._streams.setdefault(stream_id, []).append(event)
        self._count += 1

    def _caused_by(self, cause: RecordedEvent) -> EventMetadata:
        if self._metadata is None or self._metadata[0] != cause.event_id:
            meta = EventMetadata(
                actor=NAME,
                source=NAME,
                causation_id=str(cause.event_id),
                correlation_id=cause.metadata.correlation_id or str(cause.event_id),
                traceparent=cause.metadata.traceparent,
            )
            self._metadata = (cause.event_id, meta)
        return self._metadata[1]

    def flush(self, only_if_full: bool = False) -> None:
        if only_if_full and self._count < self.flush_at:
            return
        for stream_id, events in self._streams.items():
            result = self.store.append(stream_id, events, ANY)
            self.stats.emitted += len(events)
            self.stats.appended += result.appended
        self._streams.clear()
        self._count = 0
        self._metadata = None
