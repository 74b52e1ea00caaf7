"""Audit exports: JSON Lines of events with their hash chain, ended by a signed checkpoint.

Line format (one JSON object per line)::

    {"position": N, "event_id": "...", "stream_id": "...", "stream_revision": R, "type": "...",
     "schema_version": V, "data": {...}, "metadata": {...}, "prev_hash": "<hex>", "hash": "<hex>"}
    ...
    {"checkpoint": {...}}        # last line: domain.audit_checkpoints, signed

Every event line verifies on its own (``hash == chain_hash(prev_hash, ...)``); in a full export
(no filters) each ``prev_hash`` is the previous line's ``hash``, so the whole file is one chain
ending at the checkpoint's ``head_hash``. A full export imports into an empty store (same
positions, same hashes) whose replay reproduces the read models. Data is exported as stored
(this is the system of record, for admins): keep export files as safe as the database.
Personal fields are stored sealed (:mod:`domain.personal_data`), so an export carries their
ciphertext: unreadable without the keys, and ``[erased]`` for ever once a user is forgotten.
``export --with-keys`` adds a ``{"personal_data_keys": {...}}`` line (the live keys of the
exported users) before the checkpoint, for moving a platform; an import stores them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from domain.audit_chain import GENESIS, event_hash
from domain.events import EventMetadata, NewEvent, RecordedEvent
from domain.personal_data import stored_form
from domain.ports.event_store import EventStore


@dataclass(frozen=True)
class ExportFilter:
    """Which events to write: stream id prefixes (any), ``since <= recorded_at < until``."""

    stream_prefixes: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    @property
    def is_full(self) -> bool:
        return not (self.stream_prefixes or self.since or self.until)

    def matches(self, event: RecordedEvent) -> bool:
        if self.stream_prefixes and not event.stream_id.startswith(self.stream_prefixes):
            return False
        if self.since is not None and event.metadata.recorded_at < self.since:
            return False
        return self.until is None or event.metadata.recorded_at < self.until


def export_lines(store: EventStore, flt: ExportFilter, batch_size: int = 1000) -> Iterator[tuple[int, dict | None]]:
    """(position, line or ``None`` when filtered out) for every event in global order."""
    previous, position, store = GENESIS, 0, stored_form(store)  # as stored: the chain hashes sealed fields
    while batch := store.read_all(position, batch_size):
        for event in batch:
            if flt.matches(event):
                yield event.global_position, to_line(event, previous)
            else:
                yield event.global_position, None
            previous, position = event.hash or event_hash(previous, event), event.global_position


def to_line(event: RecordedEvent, previous: str) -> dict:
    return {
        "position": event.global_position,
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_revision": event.stream_revision,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata.to_json(),
        "prev_hash": previous,
        "hash": event.hash,
    }


def from_line(line: dict) -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.UUID(line["event_id"]),
        stream_id=line["stream_id"],
        stream_revision=line["stream_revision"],
        global_position=line["position"],
        type=line["type"],
        schema_version=line["schema_version"],
        data=line["data"],
        metadata=EventMetadata.model_validate(line["metadata"]),
        hash=line["hash"],
    )


class ExportError(ValueError):
    """An export file does not verify; ``position`` is the first bad event (0: the file itself)."""

    def __init__(self, position: int, message: str):
        super().__init__(f"position {position}: {message}")
        self.position = position


def verify_lines(lines: Iterable[dict], full: bool) -> Iterator[RecordedEvent]:
    """The events of an export, each checked against its hash (and, ``full``, chained to the last)."""
    previous = GENESIS
    for line in lines:
        event = from_line(line)
        if full and line["prev_hash"] != previous:
            raise ExportError(event.global_position, "not chained to the previous line (missing or reordered lines)")
        if event_hash(line["prev_hash"], event) != event.hash:
            raise ExportError(event.global_position, "hash mismatch (edited line)")
        previous = event.hash
        yield event


def as_new_event(event: RecordedEvent) -> NewEvent:
    """The event to append when importing (same id, type, version, data and metadata)."""
    return NewEvent(
        event_id=event.event_id,
        type=event.type,
        schema_version=event.schema_version,
        data=event.data,
        metadata=event.metadata,
    )
