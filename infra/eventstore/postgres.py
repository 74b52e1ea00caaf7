"""PostgreSQL event store.

Appends run under a transaction-scoped advisory lock, so global positions are assigned and
committed in one order; other processes are woken with ``NOTIFY flexledger_events``.
"""

from __future__ import annotations

import select

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from infra.eventstore.sql import SqlEventStore

APPEND_LOCK_KEY = 727_001
NOTIFY_CHANNEL = "flexledger_events"


def postgres_engine(url: str, pool_size: int = 10) -> sa.Engine:
    """A SQLAlchemy engine for PostgreSQL (psycopg2)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class PostgresEventStore(SqlEventStore):
    """Event store in PostgreSQL."""

    def __init__(self, url: str):
        super().__init__(postgres_engine(url))

    def _lock_for_append(self, conn: Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})

    def _notify(self, conn: Connection, position: int) -> None:
        conn.execute(
            sa.text("SELECT pg_notify(:channel, :payload)"), {"channel": NOTIFY_CHANNEL, "payload": str(position)}
        )

    def wait_for_append(self, after_position: int, timeout_s: float) -> bool:
        """Wait for a local append or a NOTIFY from another process."""
        if super().wait_for_append(after_position, 0):
            return True
        raw = self.engine.raw_connection()
        dbapi = raw.driver_connection
        try:
            dbapi.autocommit = True
            with dbapi.cursor() as cursor:
                cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
            if self.head_position() > after_position:
                return True
            select.select([dbapi], [], [], timeout_s)
            dbapi.poll()
        finally:
            _return_listener(raw, dbapi)
        return self.head_position() > after_position


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
