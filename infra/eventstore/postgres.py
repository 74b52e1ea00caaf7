"""PostgreSQL event store.

Appends run under a transaction-scoped advisory lock, so global positions are assigned and
committed in one order; other processes are woken with ``NOTIFY flexledger_events``.
"""

from __future__ import annotations

import select
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from infra.eventstore.sql import SqlEventStore

APPEND_LOCK_KEY = 727_001
NOTIFY_CHANNEL = "flexledger_events"
MAX_LISTENERS = 2
"""Waiters of one process that listen for other processes' appends at once (see ``wait_for_append``)."""


def postgres_engine(url: str, pool_size: int = 10) -> sa.Engine:
    """A SQLAlchemy engine for PostgreSQL (psycopg2)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class PostgresEventStore(SqlEventStore):
    """Event store in PostgreSQL."""

    def __init__(self, url: str):
        super().__init__(postgres_engine(url))
        self._listeners = threading.BoundedSemaphore(MAX_LISTENERS)

    def _lock_for_append(self, conn: Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})

    def _notify(self, conn: Connection, position: int) -> None:
        conn.execute(
            sa.text("SELECT pg_notify(:channel, :payload)"), {"channel": NOTIFY_CHANNEL, "payload": str(position)}
        )

    def wait_for_append(self, after_position: int, timeout_s: float) -> bool:
        """Wait for a local append or a NOTIFY from another process.

        At most :data:`MAX_LISTENERS` waiters of this process hold a listening connection (one
        pooled connection each, nothing more); the others wait for this process's appends and for
        what a listener hears, which it passes on to every waiter. So twenty idle processors
        never hold twenty connections of the pool."""
        if super().wait_for_append(after_position, 0):
            return True
        if not self._listeners.acquire(blocking=False):
            return super().wait_for_append(after_position, timeout_s)
        try:
            head = self._listen_once(after_position, timeout_s)
        finally:
            self._listeners.release()
        self._saw_head(head)
        return head > after_position

    def _saw_head(self, head: int) -> None:
        """Another process's appends reached ``head``: wake this process's waiters."""
        with self._appended:
            if head > (self._local_head or 0):
                self._local_head = head
                self._appended.notify_all()

    def _listen_once(self, after_position: int, timeout_s: float) -> int:
        """The head, read on a listening connection: at once if beyond ``after_position``, else after
        a NOTIFY or ``timeout_s`` seconds."""
        raw = self.engine.raw_connection()
        dbapi = raw.driver_connection
        try:
            dbapi.autocommit = True
            with dbapi.cursor() as cursor:
                cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
                head = _head(cursor)
                if head <= after_position:
                    select.select([dbapi], [], [], timeout_s)
                    dbapi.poll()
                    head = _head(cursor)
            return head
        finally:
            _return_listener(raw, dbapi)


def _head(cursor) -> int:
    cursor.execute("SELECT max(global_position) FROM events")
    row = cursor.fetchone()
    return (row[0] if row else None) or 0


def _return_listener(raw, dbapi) -> None:
    """Give a listening connection back to the pool as the pool lent it: not listening, and
    transactional again (left in autocommit, it would make appends neither atomic nor serialised)."""
    try:
        with dbapi.cursor() as cursor:
            cursor.execute(f"UNLISTEN {NOTIFY_CHANNEL}")
        dbapi.notifies.clear()
        dbapi.autocommit = False
    finally:
        raw.close()


__all__ = ["PostgresEventStore", "postgres_engine"]
