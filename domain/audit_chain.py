"""Tamper evidence: every event carries a hash chained to the previous event in global order.

``hash(n) = SHA-256(hash(n-1) | position | event id | stream id | stream revision | type |
schema version | data | metadata)`` (each part length-prefixed; ``data`` and ``metadata`` as
their stored JSON bytes, ``orjson`` of the recorded dicts; the first event's predecessor is
:data:`GENESIS`). The SQL event stores compute it at append, inside the append's transaction.

:func:`verify_chain` recomputes the chain from the store and reports the first broken link:
an edited value breaks the edited event; a deleted row breaks the event after it; two swapped
rows break the first of them. (Deleting the newest events leaves a shorter valid chain: compare
the head hash with one recorded earlier — signed checkpoints are future work.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from domain.events import RecordedEvent
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
    """Recompute the hash chain from the first event on (at most ``limit`` events)."""
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
