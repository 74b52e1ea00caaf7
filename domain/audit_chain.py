"""Tamper evidence: every event carries a hash chained to the previous event in global order.

``hash(n) = SHA-256(hash(n-1) | position | event id | stream id | stream revision | type |
schema version | data | metadata)`` (each part length-prefixed; ``data`` and ``metadata`` as
their stored JSON bytes, ``orjson`` of the recorded dicts; the first event's predecessor is
:data:`GENESIS`). The SQL event stores compute it at append, inside the append's transaction.

:func:`verify_chain` recomputes the chain from the store and reports the first broken link
(:func:`verify_stream`: the same for one stream's events):
an edited value breaks the edited event; a deleted row breaks the event after it; two swapped
rows break the first of them. (Deleting the newest events leaves a shorter valid chain: compare
the head hash with a signed checkpoint, :mod:`domain.audit_checkpoints`.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from domain.events import RecordedEvent
from domain.personal_data import stored_form
from domain.ports.event_store import EventStore

GENESIS = "0" * 64
MAX_VERIFIED = 1_000_000


def _part(value: bytes) -> bytes:
    return len(value).to_bytes(8, "big") + value


def chain_hash(
    previous: str,
    position: int,
    event_id: str,
    stream_id: str,
    stream_revision: int,
    event_type: str,
    schema_version: int,
    data: bytes,
    metadata: bytes,
) -> str:
    """The hash of one event given its predecessor's (hex SHA-256)."""
    digest = hashlib.sha256()
    for part in (previous, str(position), event_id, stream_id, str(stream_revision), event_type, str(schema_version)):
        digest.update(_part(part.encode()))
    digest.update(_part(data))
    digest.update(_part(metadata))
    return digest.hexdigest()


def event_hash(previous: str, event: RecordedEvent) -> str:
    """:func:`chain_hash` of a recorded event (its data and metadata re-serialised as stored)."""
    return chain_hash(
        previous,
        event.global_position,
        str(event.event_id),
        event.stream_id,
        event.stream_revision,
        event.type,
        event.schema_version,
        orjson.dumps(event.data),
        orjson.dumps(event.metadata.to_json()),
    )


@dataclass
class VerifyReport:
    """``ok``: every checked link holds; ``checked``: events checked; ``head_hash``: the hash of
    the last checked event (record it: a later, shorter chain reveals deleted newest events);
    ``broken``: the first broken link (position, event id, expected and found hash, reason);
    ``complete``: the whole store was checked (False: stopped after ``limit`` events)."""

    ok: bool
    checked: int
    head_position: int
    head_hash: str
    complete: bool
    broken: dict | None = None


def verify_chain(store: EventStore, limit: int = MAX_VERIFIED, batch_size: int = 1000) -> VerifyReport:
    """Recompute the hash chain from the first event on (at most ``limit`` events), over the
    events as stored (:func:`domain.personal_data.stored_form`: personal fields sealed)."""
    store = stored_form(store)
    previous, checked, position = GENESIS, 0, 0
    while checked < limit:
        batch = store.read_all(position, min(batch_size, limit - checked))
        if not batch:
            return VerifyReport(True, checked, position, previous, True)
        for event in batch:
            expected = event_hash(previous, event)
            if event.hash != expected:
                reason = "missing hash" if event.hash is None else "hash mismatch"
                broken = {
                    "position": event.global_position,
                    "event_id": str(event.event_id),
                    "expected": expected,
                    "found": event.hash,
                    "reason": reason,
                }
                return VerifyReport(False, checked, position, previous, False, broken)
            previous, position, checked = expected, event.global_position, checked + 1
    return VerifyReport(True, checked, position, previous, False)


def _around(store: EventStore, position: int) -> tuple[RecordedEvent | None, RecordedEvent | None]:
    """(the event before ``position`` in global order, the event after it); gaps are allowed."""
    span = 8
    while True:
        after = max(0, position - span)
        window = store.read_all(after, span + 2)
        index = next((i for i, e in enumerate(window) if e.global_position == position), None)
        if index is None:
            return None, None
        if index > 0 or after == 0:
            nxt = window[index + 1] if index + 1 < len(window) else None
            return (window[index - 1] if index > 0 else None), nxt
        span *= 4


def _stream_link_broken(store: EventStore, event: RecordedEvent, expected_revision: int) -> dict | None:
    """The first fault of one stream event against the chain: its revision, its own hash, the next link."""

    def fault(reason: str, at: RecordedEvent, expected: str | None) -> dict:
        return {"position": at.global_position, "event_id": str(at.event_id), "expected": expected,
                "found": at.hash, "reason": reason}  # fmt: skip

    if event.stream_revision != expected_revision:
        return fault(f"stream revision {event.stream_revision} where {expected_revision} was expected (deleted?)",
                     event, None)  # fmt: skip
    before, after = _around(store, event.global_position)
    expected = event_hash((before.hash or GENESIS) if before else GENESIS, event)
    if event.hash != expected:
        return fault("missing hash" if event.hash is None else "hash mismatch", event, expected)
    if after is not None and after.hash != event_hash(expected, after):
        return fault("the next event does not chain to this one (reordered or deleted?)", after,
                     event_hash(expected, after))  # fmt: skip
    return None


def verify_stream(store: EventStore, stream_id: str, limit: int = MAX_VERIFIED, batch_size: int = 500) -> VerifyReport:
    """Check one stream's events against the global chain (as stored): revisions without gaps,
    each event's hash from its global predecessor's stored hash, and the next event's link to it.

    An edited, deleted (but not the newest) or moved event of the stream is found; whether the
    other streams' events are intact is :func:`verify_chain`'s question."""
    store = stored_form(store)
    checked, position, head_hash = 0, 0, GENESIS
    while checked < limit:
        batch = store.read_stream(stream_id, checked, limit=min(batch_size, limit - checked))
        if not batch:
            return VerifyReport(True, checked, position, head_hash, True)
        for event in batch:
            broken = _stream_link_broken(store, event, checked)
            if broken is not None:
                return VerifyReport(False, checked, position, head_hash, False, broken)
            checked, position, head_hash = checked + 1, event.global_position, event.hash or GENESIS
    return VerifyReport(True, checked, position, head_hash, False)
