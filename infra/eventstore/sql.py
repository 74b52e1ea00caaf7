"""Event store on SQL (SQLAlchemy Core), shared by the SQLite and PostgreSQL adapters.

Table ``events``: one row per event, ``global_position`` is the primary key, ``event_id`` is
unique (idempotency), ``(stream_id, stream_revision)`` is unique (optimistic concurrency).
Appends are serialised by the dialect's lock (``BEGIN IMMEDIATE`` on SQLite, a transaction
advisory lock on PostgreSQL), so global positions are assigned in commit order and a reader
never sees a gap that is filled later.

Errors: SQLAlchemy's connection errors become :class:`EventStoreUnavailable`, any other
database error :class:`EventStoreError` (:func:`port_errors`).

Group commit: appends that arrive while another commit of this process is in progress are
queued and then committed together, in arrival order, in one transaction (one fsync). Each
keeps its own idempotency and expected-revision checks, sees the appends before it in the
group, and returns only after the group's commit; a refused append (wrong expected revision)
is dropped from the group without touching the others. If the group's transaction fails, each
of its appends is retried in a transaction of its own, so one failure cannot fail another.

Read-back: the rows of each committed transaction are kept for a while (:class:`RecentRows`)
and :meth:`SqlEventStore.read_appended` serves this process's followers from them; positions
being assigned in commit order under the append lock, a run of held rows after a position is
exactly what the table holds there.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from domain.audit_chain import GENESIS, chain_hash
from domain.events import NewEvent, RecordedEvent
from domain.ports.event_store import (
    ANY,
    AppendResult,
    EventStoreError,
    EventStoreUnavailable,
    ExpectedRevision,
    WrongExpectedRevision,
)
from infra.eventstore.append_checks import check_expected, first_of_each_id
from infra.eventstore.hash_chain import ensure_hash_chain
from infra.eventstore.recent_rows import RecentRows
from infra.eventstore.rows import row_to_event, rows_to_events

T = TypeVar("T")
# driver errors of reaching the database: lost connection, lock timeout, pool exhausted
_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError)


def port_errors(method: Callable[..., T]) -> Callable[..., T]:
    """The port's errors instead of SQLAlchemy's: connection trouble -> :class:`EventStoreUnavailable`,
    any other database error -> :class:`EventStoreError` (callers never see driver classes)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except _UNAVAILABLE as error:
            raise EventStoreUnavailable(f"{type(error).__name__}: {error}") from error
        except sa.exc.SQLAlchemyError as error:
            raise EventStoreError(f"{type(error).__name__}: {error}") from error

    return wrapper


metadata = sa.MetaData()
events_table = sa.Table(
    "events",
    metadata,
    sa.Column("global_position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("stream_id", sa.String(255), nullable=False),
    sa.Column("stream_revision", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("metadata", sa.LargeBinary, nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("hash", sa.String(64)),  # chained to the previous event (domain.audit_chain)
    sa.UniqueConstraint("stream_id", "stream_revision", name="uq_events_stream_revision"),
)
sa.Index("ix_events_type", events_table.c.type, events_table.c.global_position)

_INSERT = events_table.insert()
_INSERT_COLUMNS = (
    "global_position", "event_id", "stream_id", "stream_revision", "type", "schema_version", "data", "metadata",
    "recorded_at", "hash",
)  # fmt: skip
_COLUMNS = (
    events_table.c.global_position,
    events_table.c.event_id,
    events_table.c.stream_id,
    events_table.c.stream_revision,
    events_table.c.type,
    events_table.c.schema_version,
    events_table.c.data,
    events_table.c.metadata,
    events_table.c.hash,
)

# Statements of the hot paths, built once (building a SELECT costs about as much as running it
# on SQLite); parameters are bound per call.
_MAX_POSITION = sa.select(sa.func.max(events_table.c.global_position))
_LAST_HASH = sa.select(events_table.c.hash).order_by(events_table.c.global_position.desc()).limit(1)
_STREAM_REVISION = sa.select(sa.func.max(events_table.c.stream_revision)).where(
    events_table.c.stream_id == sa.bindparam("stream_id")
)
_STORED_IDS = sa.select(events_table.c.event_id, events_table.c.global_position).where(
    events_table.c.event_id.in_(sa.bindparam("ids", expanding=True))
)
_READ_ALL_AFTER = (
    sa.select(*_COLUMNS)
    .where(events_table.c.global_position > sa.bindparam("after"))
    .order_by(events_table.c.global_position)
    .limit(sa.bindparam("limit"))
)


@dataclass
class _PendingAppend:
    """One caller's append, queued for the next group commit."""

    stream_id: str
    events: Sequence[NewEvent]
    expected: ExpectedRevision
    result: AppendResult | None = None
    error: Exception | None = None
    done: bool = False


def _last_appended_position(group: Sequence[_PendingAppend]) -> int | None:
    """The highest global position written by the group, None when it wrote nothing."""
    positions = [r.result.global_position for r in group if r.result is not None and r.result.appended]
    return max(positions, default=None)


class SqlEventStore:
    """The SQL event store; subclasses supply the append lock and the live notification."""

    def __init__(self, engine: Engine, read_engine: Engine | None = None):
        self.engine, self.read_engine = engine, read_engine or engine
        self._appended = threading.Condition()
        # Appenders of this process queue here instead of in the database's lock (SQLite's
        # busy handler sleeps in steps of up to 100 ms); other processes still use the DB lock.
        self._writer = threading.Lock()
        self._pending: list[_PendingAppend] = []  # appends waiting for the next group commit
        self._pending_lock = threading.Lock()
        self._local_head: int | None = None  # the head as this process knows it; read on first need
        self._recent = RecentRows()  # the rows of this object's last commits (read_appended)

    def create_tables(self) -> None:
        """Create the ``events`` table and its indexes when missing (the composition root's storage step;
        idempotent), and the hash chain of events stored before it existed. A constructor never creates tables."""
        metadata.create_all(self.engine)
        ensure_hash_chain(self.engine, events_table)

    # -- dialect hooks -------------------------------------------------------------------
    def _lock_for_append(self, conn: Connection) -> None:
        """Serialise appenders inside the open transaction."""

    def _next_position(self, conn: Connection) -> int:
        current = conn.execute(_MAX_POSITION).scalar()
        return (current or 0) + 1

    def _notify(self, conn: Connection, position: int) -> None:
        """Tell other processes about new events (inside the transaction)."""

    def _after_commit(self) -> None:
        """Events were committed (tell other processes, after the transaction)."""

    # -- writing --------------------------------------------------------------------------
    @port_errors
    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_revision: ExpectedRevision = ANY
    ) -> AppendResult:
        """Append durably (committed on return), possibly in one transaction with concurrent appends."""
        if not events:
            raise ValueError("append needs at least one event")
        request = _PendingAppend(stream_id, events, expected_revision)
        with self._pending_lock:
            self._pending.append(request)
        with self._writer:
            if not request.done:  # else an earlier writer committed it with its group
                self._commit_pending()
        if request.error is not None:
            raise request.error
        return request.result

    def _commit_pending(self) -> None:
        """Commit every queued append (holding ``_writer``); failures are isolated per append."""
        with self._pending_lock:
            group, self._pending = self._pending, []
        try:
            self._commit_group(group)
        except Exception as exc:  # noqa: BLE001 - handed to the callers, never swallowed
            if len(group) == 1:
                group[0].result, group[0].error = None, exc
            else:
                self._commit_one_by_one(group)
        finally:
            for request in group:
                if request.result is None and request.error is None:  # interrupted
                    request.error = RuntimeError("the append was interrupted before its commit")
                request.done = True
        self._advance_local_head(group)

    def _commit_one_by_one(self, group: list[_PendingAppend]) -> None:
        for request in group:
            try:
                self._commit_group([request])
            except Exception as exc:  # noqa: BLE001 - raised by the caller of this append
                request.result, request.error = None, exc

    def _commit_group(self, group: list[_PendingAppend]) -> None:
        """Append each request in order in one transaction; outcomes are set only once it committed."""
        inserted: list[tuple] = []
        with self.engine.begin() as conn:
            self._lock_for_append(conn)
            tail: list = []  # (next position, last hash): read once per group, not per append
            outcomes = [self._try_append(conn, request, tail, inserted) for request in group]
            written = [r.global_position for r, _ in outcomes if r is not None and r.appended]
            if written:
                self._notify(conn, max(written))
        self._recent.add(inserted)  # committed (before the waiters hear of them: _advance_local_head)
        for request, (result, error) in zip(group, outcomes, strict=True):
            request.result, request.error = result, error

    def _try_append(
        self, conn: Connection, request: _PendingAppend, tail: list, inserted: list[tuple]
    ) -> tuple[AppendResult | None, Exception | None]:
        """(result, None), or (None, error) for an append refused before it wrote anything."""
        try:
            append = self._append_locked(conn, request.stream_id, request.events, request.expected, tail, inserted)
            return append, None
        except (WrongExpectedRevision, ValueError) as exc:
            return None, exc

    def _advance_local_head(self, group: list[_PendingAppend]) -> None:
        last = _last_appended_position(group)
        if last is not None:
            with self._appended:
                self._local_head = max(self._local_head or 0, last)
                self._appended.notify_all()
            self._after_commit()

    def _append_locked(
        self,
        conn: Connection,
        stream_id: str,
        events: Sequence[NewEvent],
        expected: ExpectedRevision,
        tail: list,
        inserted: list[tuple],
    ) -> AppendResult:
        """Append under the lock; ``tail``: (next position, last hash) within the group, [] at first;
        ``inserted``: extended by the rows written, in the columns read (``_COLUMNS``)."""
        ids = [str(e.event_id) for e in events]
        existing = self._stored_positions(conn, ids)
        actual = self._stream_revision(conn, stream_id)
        fresh = first_of_each_id(events, ids, set(existing))
        if not fresh:
            return AppendResult(actual if actual is not None else -1, max(existing.values()), 0)
        check_expected(stream_id, expected, actual)
        if not tail:
            tail[:] = [self._next_position(conn), conn.execute(_LAST_HASH).scalar() or GENESIS]
        position, previous = tail
        revision = -1 if actual is None else actual
        rows = []
        stored_metadata: dict[int, tuple[bytes, str]] = {}  # id(metadata) -> (JSON, recorded_at): often shared
        for event, event_id in fresh:
            revision += 1
            meta = event.metadata
            meta_json, recorded_at = stored_metadata.get(id(meta)) or stored_metadata.setdefault(
                id(meta), (orjson.dumps(meta.to_json()), meta.recorded_at.isoformat())
            )
            data = orjson.dumps(event.data)
            previous = chain_hash(
                previous, position, event_id, stream_id, revision, event.type, event.schema_version, data, meta_json
            )
            rows.append(
                (position, event_id, stream_id, revision, event.type, event.schema_version, data, meta_json,
                 recorded_at, previous)
            )  # fmt: skip
            position += 1
        self._insert(conn, rows)
        inserted.extend(row[:8] + row[9:] for row in rows)  # without recorded_at
        tail[:] = [position, previous]
        return AppendResult(revision, position - 1, len(fresh))

    def _insert(self, conn: Connection, rows: list[tuple]) -> None:
        """Insert rows of ``_INSERT_COLUMNS`` (a dialect may use its driver directly)."""
        conn.execute(_INSERT, [dict(zip(_INSERT_COLUMNS, row, strict=True)) for row in rows])

    def _stored_positions(self, conn: Connection, ids: list[str]) -> dict[str, int]:
        """Global position of each of the event ids (as text) that is stored (a dialect may query otherwise)."""
        return dict(conn.execute(_STORED_IDS, {"ids": ids}).all())

    # -- reading --------------------------------------------------------------------------
    @staticmethod
    def _stream_revision(conn: Connection, stream_id: str) -> int | None:
        return conn.execute(_STREAM_REVISION, {"stream_id": stream_id}).scalar()

    @port_errors
    def stream_revision(self, stream_id: str) -> int | None:
        with self.read_engine.connect() as conn:
            return self._stream_revision(conn, stream_id)

    @port_errors
    def read_stream(
        self, stream_id: str, from_revision: int = 0, backwards: bool = False, limit: int | None = None
    ) -> list[RecordedEvent]:
        c = events_table.c
        query = sa.select(*_COLUMNS).where(c.stream_id == stream_id)
        if backwards:
            query = query.where(c.stream_revision <= from_revision) if from_revision >= 0 else query
            query = query.order_by(c.stream_revision.desc())
        else:
            query = query.where(c.stream_revision >= from_revision).order_by(c.stream_revision)
        if limit is not None:
            query = query.limit(limit)
        with self.read_engine.connect() as conn:
            return rows_to_events(conn.execute(query))

    @port_errors
    def read_all(
        self,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
    ) -> list[RecordedEvent]:
        if not types and not stream_prefix:
            with self.read_engine.connect() as conn:
                return rows_to_events(conn.execute(_READ_ALL_AFTER, {"after": after_position, "limit": limit}))
        c = events_table.c
        query = sa.select(*_COLUMNS).where(c.global_position > after_position)
        if types:
            query = query.where(c.type.in_(list(types)))
        if stream_prefix:
            query = query.where(c.stream_id.startswith(stream_prefix, autoescape=True))
        query = query.order_by(c.global_position).limit(limit)
        with self.read_engine.connect() as conn:
            return rows_to_events(conn.execute(query))

    def read_appended(self, after_position: int, limit: int) -> list[RecordedEvent]:
        """:meth:`read_all` of every type and stream, the events this object committed last (the
        contiguous run after ``after_position`` it holds) decoded from the rows it inserted, the
        others read from the table. The same events as the table's (no read of it while the
        followers keep up with this process's appends), but a row changed in the table behind the
        store's back (tampering: :mod:`domain.audit_chain`) may be read back as it was committed."""
        rows = self._recent.run_after(after_position, limit)
        if not rows:
            return self.read_all(after_position, limit)
        events = rows_to_events(rows)
        last = rows[-1][0]
        if len(rows) < limit and last < (self._local_head or 0):  # another process appended after it
            events += self.read_all(last, limit - len(rows))
        return events

    @port_errors
    def head_position(self) -> int:
        with self.read_engine.connect() as conn:
            return conn.execute(_MAX_POSITION).scalar() or 0

    @port_errors
    def get_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        query = sa.select(*_COLUMNS).where(events_table.c.event_id == str(event_id))
        with self.read_engine.connect() as conn:
            row = conn.execute(query).first()
        return row_to_event(row) if row else None

    def wait_for_append(self, after_position: int, timeout_s: float) -> bool:
        if self._local_head is None:
            head = self.head_position()
            with self._appended:
                self._local_head = max(self._local_head or 0, head)
        with self._appended:
            if self._local_head > after_position:
                return True
            self._appended.wait(timeout_s)
            return self._local_head > after_position

    def close(self) -> None:
        with self._appended:
            self._appended.notify_all()
        self.engine.dispose()
        self.read_engine.dispose()
