"""KurrentDB (EventStoreDB) event store, over gRPC with ``kurrentdbclient``.

Mapping (pure functions below, unit-tested without a server):

* stream id = KurrentDB stream name; event id = KurrentDB event id; ``type`` = event type;
  ``data`` = JSON (``application/json``); KurrentDB metadata = JSON object of our
  :class:`EventMetadata` plus ``schema_version``, every value a string (KurrentDB 25+ asks
  metadata to be string-valued JSON).
* Expected revision: :data:`ANY` → ``StreamState.ANY``, :data:`NO_STREAM` → ``NO_STREAM``,
  :data:`STREAM_EXISTS` → ``EXISTS``, ``int`` → that stream position.
  ``WrongCurrentVersionError`` → :class:`WrongExpectedRevision`.
* Stream revision = stream position (0-based). **Global position = the event's commit
  position in ``$all``**: positive and strictly increasing in commit order, and a reader that
  has seen position N never later sees a new event below N (KurrentDB commits to one log);
  but positions are byte offsets in that log, *not* consecutive 1..N. Pass to
  ``read_all``/``wait_for_append`` only 0 or positions this store returned.

Idempotency (port rule: an id already stored is not stored again; when every id of a call is
stored, the call succeeds whatever the expected revision and returns the stored positions):
the last ``len(events)`` events of the stream are read before appending (this also gives the
stream revision for :class:`AppendResult`); KurrentDB itself recognises an exact retry (same
ids at the expected revision; with ``ANY``, ids in its cache of recent writes); and on
``WrongCurrentVersionError`` the last ``idempotency_window`` events of the stream are searched.
**Limit:** an id stored further back than the stream's last ``len(events)`` events and
re-appended with ``ANY``/``STREAM_EXISTS`` (once out of KurrentDB's cache) or with the
stream's *current* revision is stored twice: KurrentDB has no index by event id. Exact would
need KurrentDB >= 25.1 multi-stream appends with one id-marker stream per event.

Errors: the client's transport errors (gRPC status, discovery, deadlines, leader changes)
become :class:`EventStoreUnavailable`, any other client error :class:`EventStoreError`.

``get_event``: KurrentDB has no index by event id; it scans ``$all`` backwards (newest
first), O(events): for diagnostics, not hot paths. ``wait_for_append`` uses a catch-up
subscription with a deadline. System events (``$...``) are never returned. The client is
created on first use: constructing (or importing) this store never contacts a server.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson
from kurrentdbclient import KurrentDBClient, StreamState
from kurrentdbclient import NewEvent as KdbNewEvent
from kurrentdbclient import RecordedEvent as KdbRecordedEvent
from kurrentdbclient.connection_spec import ConnectionSpec
from kurrentdbclient.exceptions import (
    AbortedByServerError,
    DeadlineExceededError,
    DiscoveryFailedError,
    GrpcError,
    InvalidCommitPositionError,
    KurrentDBClientError,
    NodeIsNotLeaderError,
    NotFoundError,
    WrongCurrentVersionError,
)

from domain.events import EventMetadata, NewEvent, RecordedEvent
from domain.ports.event_store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    EventStoreError,
    EventStoreUnavailable,
    ExpectedRevision,
    WrongExpectedRevision,
)
from domain.ports.event_store import StreamState as DomainStreamState

T = TypeVar("T")
TRANSPORT_ERRORS = (GrpcError, DiscoveryFailedError, DeadlineExceededError, NodeIsNotLeaderError, AbortedByServerError)
"""The client's errors of reaching the server (gRPC status, discovery, deadlines, fail-over)."""


def port_errors(method: Callable[..., T]) -> Callable[..., T]:
    """The port's errors instead of the client's: transport -> :class:`EventStoreUnavailable`,
    any other client error -> :class:`EventStoreError` (callers never see ``kurrentdbclient``)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except EventStoreError:
            raise
        except TRANSPORT_ERRORS as error:
            raise EventStoreUnavailable(f"KurrentDB: {type(error).__name__}: {error}") from error
        except KurrentDBClientError as error:
            raise EventStoreError(f"KurrentDB: {type(error).__name__}: {error}") from error

    return wrapper

NEVER = object()
"""Returned by :func:`to_stream_state` for a revision no stream can have (a negative int)."""
_STATES = {ANY: StreamState.ANY, NO_STREAM: StreamState.NO_STREAM, STREAM_EXISTS: StreamState.EXISTS}
_PAGE = 500


# -- pure mapping -------------------------------------------------------------------------
def to_stream_state(expected: ExpectedRevision) -> int | StreamState | object:
    """Our expected revision as ``kurrentdbclient``'s ``current_version``."""
    if isinstance(expected, DomainStreamState):
        return _STATES[expected]
    if isinstance(expected, int) and not isinstance(expected, bool):
        return expected if expected >= 0 else NEVER
    raise ValueError(f"invalid expected revision {expected!r}")


def actual_revision(error: WrongCurrentVersionError) -> int | None:
    """The stream's revision reported by a ``WrongCurrentVersionError`` (``None``: no stream)."""
    actual = error.actual_version
    return actual if isinstance(actual, int) and actual >= 0 else None


def to_kurrent_event(event: NewEvent) -> KdbNewEvent:
    """A KurrentDB ``NewEvent``: same id and type, JSON data, string-valued JSON metadata."""
    meta: dict[str, Any] = {k: str(v) for k, v in event.metadata.to_json().items()}
    meta["schema_version"] = str(event.schema_version)
    return KdbNewEvent(
        type=event.type,
        data=orjson.dumps(event.data),
        metadata=orjson.dumps(meta),
        content_type="application/json",
        id=event.event_id,
    )


def from_kurrent_event(recorded: KdbRecordedEvent) -> RecordedEvent:
    """Our :class:`RecordedEvent`: stream position = revision, commit position = global position."""
    meta = orjson.loads(recorded.metadata) if recorded.metadata else {}
    schema_version = int(meta.pop("schema_version", 1))
    if "recorded_at" not in meta and recorded.recorded_at is not None:
        meta["recorded_at"] = recorded.recorded_at
    return RecordedEvent(
        event_id=recorded.id,
        stream_id=recorded.stream_name,
        stream_revision=recorded.stream_position,
        global_position=recorded.commit_position,
        type=recorded.type,
        schema_version=schema_version,
        data=orjson.loads(recorded.data),
        metadata=EventMetadata.model_validate(meta),
    )


def type_filter(types: Iterable[str]) -> str:
    """One server-side regex alternative matching exactly these event types.

    ``kurrentdbclient`` wraps include patterns as ``^p1|p2$``; a single group keeps the anchors
    around every alternative: ``^(?:A|B)$``.
    """
    return "(?:" + "|".join(re.escape(t) for t in sorted(set(types))) + ")"


def append_outcome(
    expected: ExpectedRevision,
    last_before: RecordedEvent | None,
    commit_position: int,
    fresh: int,
) -> AppendResult | None:
    """The result of a successful append, when it can be known without reading it back.

    ``last_before``: the stream's last event read just before appending (``None``: no stream).
    A commit position not above it means KurrentDB recognised the ids (stored earlier): nothing
    new, and the result reports the stream's revision as it was. ``None`` means "read the
    event at ``commit_position`` back" (``ANY``/``STREAM_EXISTS``: a concurrent writer may have
    moved the stream between our read and our append).
    """
    if last_before is not None and commit_position <= last_before.global_position:
        return AppendResult(last_before.stream_revision, commit_position, 0)
    if isinstance(expected, int):
        return AppendResult(expected + fresh, commit_position, fresh)
    if expected == NO_STREAM:
        return AppendResult(fresh - 1, commit_position, fresh)
    return None


def first_of_each_id(events: Sequence[NewEvent]) -> list[NewEvent]:
    """The events in call order, an id repeated within the call kept once (its first event)."""
    unique: dict[uuid.UUID, NewEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    return list(unique.values())


def stored_result(found: dict[uuid.UUID, RecordedEvent], ids: Sequence[uuid.UUID], revision: int | None):
    """:class:`AppendResult` of an append whose every id is already stored, else ``None``."""
    if not ids or any(i not in found for i in ids):
        return None
    return AppendResult(-1 if revision is None else revision, max(found[i].global_position for i in ids), 0)


# -- the adapter ----------------------------------------------------------------------------
class KurrentDbEventStore:
    """Event store on a KurrentDB / EventStoreDB server (``esdb://``, ``kurrentdb://`` URLs)."""

    def __init__(self, url: str, idempotency_window: int = 1000, client: Any = None):
        ConnectionSpec(url)  # parse only: a malformed URL fails here, no network
        self.url, self.idempotency_window = url, idempotency_window
        self._client, self._lock = client, threading.Lock()

    @property
    def client(self) -> KurrentDBClient:
        with self._lock:
            if self._client is None:
                self._client = KurrentDBClient(self.url)
            return self._client

    # -- writing ------------------------------------------------------------------------------
    @port_errors
    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_revision: ExpectedRevision = ANY
    ) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        return self._append(stream_id, events, expected_revision, to_stream_state(expected_revision))

    def _append(self, stream_id: str, events: Sequence[NewEvent], expected: ExpectedRevision, state) -> AppendResult:
        unique = first_of_each_id(events)
        ids = [e.event_id for e in unique]
        recent = self.read_stream(stream_id, -1, backwards=True, limit=len(unique))
        last_before = recent[0] if recent else None
        before = last_before.stream_revision if last_before else None
        stored = {e.event_id: e for e in recent if e.event_id in set(ids)}
        if (done := stored_result(stored, ids, before)) is not None:
            return done
        if state is NEVER:
            raise WrongExpectedRevision(stream_id, expected, before)
        fresh = [e for e in unique if e.event_id not in stored]
        try:
            commit = self.client.append_to_stream(
                stream_id, events=[to_kurrent_event(e) for e in fresh], current_version=state
            )
        except WrongCurrentVersionError as error:
            actual = actual_revision(error)
            if (done := stored_result(self._find_stored(stream_id, ids), ids, actual)) is not None:
                return done
            raise WrongExpectedRevision(stream_id, expected, actual) from error
        result = append_outcome(expected, last_before, commit, len(fresh))
        if result is None:
            result = AppendResult(self._event_at(commit).stream_revision, commit, len(fresh))
        elif result.appended == 0:  # KurrentDB recognised the ids: report where they are stored
            result = stored_result(self._find_stored(stream_id, ids), ids, before) or result
        return result

    def _find_stored(self, stream_id: str, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RecordedEvent]:
        wanted = set(ids)
        recent = self.read_stream(stream_id, -1, backwards=True, limit=self.idempotency_window)
        return {e.event_id: e for e in recent if e.event_id in wanted}

    def _event_at(self, commit_position: int) -> RecordedEvent:
        with self.client.read_all(commit_position=commit_position, limit=1) as response:
            return from_kurrent_event(next(iter(response)))

    # -- reading ------------------------------------------------------------------------------
    @port_errors
    def stream_revision(self, stream_id: str) -> int | None:
        version = self.client.get_current_version(stream_id)
        return version if isinstance(version, int) else None

    @port_errors
    def read_stream(
        self, stream_id: str, from_revision: int = 0, backwards: bool = False, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Forwards: revisions >= ``from_revision``; backwards: <= ``from_revision`` (from the end
        when it is negative), newest first."""
        position = None if backwards and from_revision < 0 else max(from_revision, 0)
        try:
            recorded = self.client.get_stream(
                stream_id, stream_position=position, backwards=backwards, limit=limit or sys.maxsize
            )
        except NotFoundError:
            return []
        return [from_kurrent_event(r) for r in recorded if not r.is_system_event]

    @port_errors
    def read_all(
        self,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
    ) -> list[RecordedEvent]:
        """Events with commit position > ``after_position`` (0 or a position this store gave).

        Server-side filters: event types (regex) or stream-name prefix; with both, the prefix is
        filtered by the server and the types here.
        """
        try:
            return self._read_all(after_position, limit, types, stream_prefix)
        except InvalidCommitPositionError:
            return self._read_all_after_any(after_position, limit, types, stream_prefix)

    def _read_all(self, after: int, limit: int, types, prefix) -> list[RecordedEvent]:
        wanted = set(types or ())
        out: list[RecordedEvent] = []
        while len(out) < limit:
            size = limit - len(out) + 1 if not (wanted and prefix) else _PAGE
            page = self._read_page(after, size, types, prefix)
            fresh = [r for r in page if r.commit_position > after and not r.is_system_event]
            if not fresh:
                break
            after = fresh[-1].commit_position
            out.extend(from_kurrent_event(r) for r in fresh if not (wanted and prefix) or r.type in wanted)
            if len(page) < size:
                break
        return out[:limit]

    def _read_all_after_any(self, after: int, limit: int, types, prefix) -> list[RecordedEvent]:
        """``read_all`` from a position that is no event's: scan back from the end down to it
        (KurrentDB reads only start at existing positions). Costs the events after ``after``."""
        newest_first: list[KdbRecordedEvent] = []
        with self.client.read_all(backwards=True, **self._filters(types, prefix)) as response:
            for recorded in response:
                if recorded.commit_position <= after:
                    break
                newest_first.append(recorded)
        wanted = set(types or ())
        matching = [r for r in reversed(newest_first) if not r.is_system_event and (not wanted or r.type in wanted)]
        return [from_kurrent_event(r) for r in matching[:limit]]

    @staticmethod
    def _filters(types, prefix) -> dict[str, Any]:
        """Server-side filter options: the stream prefix if given, else the types."""
        if prefix:
            return {"filter_include": (prefix,), "filter_by_stream_name": True, "filter_by_prefix": True}
        if types:
            return {"filter_include": (type_filter(types),)}
        return {}

    def _read_page(self, after: int, size: int, types, prefix) -> list[KdbRecordedEvent]:
        options = {"commit_position": after or None, "limit": size, **self._filters(types, prefix)}
        with self.client.read_all(**options) as response:
            return list(response)

    @port_errors
    def head_position(self) -> int:
        return self.client.get_commit_position()

    @port_errors
    def get_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        with self.client.read_all(backwards=True) as response:
            for recorded in response:
                if recorded.id == event_id:
                    return from_kurrent_event(recorded)
        return None

    @port_errors
    def wait_for_append(self, after_position: int, timeout_s: float) -> bool:
        """Wait on a catch-up subscription to ``$all`` from ``after_position`` (deadline: timeout);
        from the end of ``$all`` when ``after_position`` is no event's position."""
        if self.head_position() > after_position:
            return True
        try:
            for from_end in (False, True):
                try:
                    return self._first_event_after(after_position, timeout_s, from_end)
                except InvalidCommitPositionError:
                    continue
        except DeadlineExceededError:
            pass
        return self.head_position() > after_position

    def _first_event_after(self, after: int, timeout_s: float, from_end: bool) -> bool:
        start = None if from_end else after or None
        with self.client.subscribe_to_all(commit_position=start, from_end=from_end, timeout=timeout_s) as subscription:
            for recorded in subscription:
                if recorded.commit_position > after:
                    return True
        return False

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


__all__ = [
    "KurrentDbEventStore",
    "actual_revision",
    "append_outcome",
    "first_of_each_id",
    "from_kurrent_event",
    "to_kurrent_event",
    "to_stream_state",
    "type_filter",
]
