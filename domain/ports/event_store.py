"""The event-store port: the system of record.

The core owns this port; ``infra`` implements it. Adapters: :mod:`infra.eventstore.sqlite`
(embedded default), :mod:`infra.eventstore.postgres`, :mod:`infra.eventstore.kurrentdb` and
:mod:`infra.eventstore.memory` (tests). All pass ``tests/contract/test_event_store.py``.

Semantics every adapter keeps:

* ``append`` is atomic per call. ``expected_revision`` is an int (the revision of the last
  event in the stream, 0-based), :data:`NO_STREAM`, :data:`STREAM_EXISTS` or :data:`ANY`.
  A mismatch raises :class:`WrongExpectedRevision` and stores nothing.
* Appending an event whose id is already stored does not store it again. When every event of
  a call is already stored, the call succeeds without checking ``expected_revision`` (a retry
  of an acknowledged append is safe) and returns the stored positions.
* Global positions are positive and strictly increasing in commit order, and a reader that
  has seen position N never later sees a new event below N. They are not necessarily
  consecutive (SQL and memory stores: 1..N; KurrentDB: commit positions in its log): compare
  positions, do no arithmetic on them.
* Errors: :class:`WrongExpectedRevision` (nothing stored), :class:`EventStoreUnavailable`
  (transport: outcome unknown, retry), else another :class:`EventStoreError`; ``ValueError``
  for an empty or malformed call.

What differs between adapters (callers must not rely on more than the weakest):

* **Id idempotency.** SQLite, PostgreSQL and memory: store-wide and forever (a unique index
  on the event id). KurrentDB: only *within a window* — an id is found among the stream's last
  events (``len(events)`` before the append, ``idempotency_window`` after a version conflict)
  and in the server's cache of recent writes; an id stored further back and appended again
  with ``ANY`` is stored twice. A processor that re-appends after a replay must therefore
  check what it already stored (e.g. the last event of a stream it owns) or append with an
  expected revision, not rely on the id alone.
* **get_event** is an index lookup on the SQL and memory stores, a scan of ``$all`` on
  KurrentDB (diagnostics only, never per event).
* **wait_for_append** wakes at once for appends of this process (SQL, memory), through
  PostgreSQL ``NOTIFY`` for other processes, and by a catch-up subscription on KurrentDB.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from domain.events import NewEvent, RecordedEvent


class StreamState(Enum):
    """An expected revision that is not a number: what the writer expects of the stream's existence."""

    ANY = "any"
    """No check: append whatever the stream's state."""
    NO_STREAM = "no_stream"
    """The stream must not exist yet (its first event)."""
    STREAM_EXISTS = "stream_exists"
    """The stream must have at least one event."""

    def __str__(self) -> str:
        return self.value


ANY = StreamState.ANY
NO_STREAM = StreamState.NO_STREAM
STREAM_EXISTS = StreamState.STREAM_EXISTS
ExpectedRevision = int | StreamState
"""The revision of the stream's last event (0-based) the writer expects, or a :class:`StreamState`."""


class EventStoreError(Exception):
    """Base class of event-store errors."""


class EventStoreUnavailable(EventStoreError):
    """The store could not be reached or did not answer in time (transport, lock, fail-over).

    Whether the operation happened is unknown; retrying is safe for reads, and for appends
    with the same event ids (idempotency, within the limits stated above). Every adapter maps
    its client's transport errors to this class, so callers never classify driver exceptions.
    """

    code = "EVENT_STORE_UNAVAILABLE"


class WrongExpectedRevision(EventStoreError):
    """The stream is not at the revision the writer expected (optimistic concurrency)."""

    code = "WRONG_EXPECTED_REVISION"

    def __init__(self, stream_id: str, expected: ExpectedRevision, actual: int | None):
        self.stream_id, self.expected, self.actual = stream_id, expected, actual
        shown = "no stream" if actual is None else actual
        super().__init__(f"stream {stream_id!r}: expected revision {expected}, actual {shown}")


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append landed: the stream's last revision and the last global position."""

    stream_revision: int
    global_position: int
    appended: int
    """How many events were new (the rest were already stored: idempotent re-append)."""


class EventStore(Protocol):
    """Append-only, ordered, idempotent event storage."""

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_revision: ExpectedRevision = ANY
    ) -> AppendResult: ...

    def read_stream(
        self, stream_id: str, from_revision: int = 0, backwards: bool = False, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of one stream from ``from_revision`` on (inclusive), at most ``limit``.

        ``backwards=True`` reads from ``from_revision`` down to revision 0; pass
        ``from_revision=-1`` to start at the stream's last event. A missing stream reads as ``[]``.
        """
        ...

    def stream_revision(self, stream_id: str) -> int | None:
        """The revision of the last event in the stream, ``None`` when it has none."""
        ...

    def read_all(
        self,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
    ) -> list[RecordedEvent]:
        """Events with global position > ``after_position``, in order, optionally filtered."""
        ...

    def head_position(self) -> int:
        """The highest global position stored (0 when empty)."""
        ...

    def get_event(self, event_id: uuid.UUID) -> RecordedEvent | None: ...

    def wait_for_append(self, after_position: int, timeout_s: float) -> bool:
        """Block until an event beyond ``after_position`` may exist (or timeout); True if so."""
        ...

    def close(self) -> None: ...


def subscribe(
    store: EventStore,
    after_position: int = 0,
    batch_size: int = 1000,
    types: Sequence[str] | None = None,
    stream_prefix: str | None = None,
    idle_timeout_s: float = 0.5,
    stop: object = None,
) -> Iterator[list[RecordedEvent]]:
    """Catch-up subscription: yields batches from ``after_position`` on, then continues live.

    Stops when ``stop`` (anything with ``is_set()``, e.g. a ``threading.Event``) is set. The
    caller records the last position it processed and passes it on restart; every event is
    then seen exactly once across the restart.
    """
    position = after_position
    filtered = bool(types or stream_prefix)
    while stop is None or not stop.is_set():
        head = store.head_position() if filtered else None
        batch = store.read_all(position, batch_size, types=types, stream_prefix=stream_prefix)
        if batch:
            position = batch[-1].global_position
            yield batch
            if len(batch) < batch_size and not filtered:  # it was the head: wait for an append before asking again
                store.wait_for_append(position, idle_timeout_s)
        elif head is not None and head > position:
            position = head  # everything up to the head read before the query was filtered out
        else:
            store.wait_for_append(position, idle_timeout_s)
