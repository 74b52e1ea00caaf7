"""SQLite event store (the embedded default): one file, WAL, ``synchronous=FULL``.

Appends take SQLite's write lock with ``BEGIN IMMEDIATE``; an append acknowledged to the
caller has been fsynced, so a process crash loses nothing acknowledged.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from infra.eventstore.sql import SqlEventStore


def sqlite_engine(path: Path | str, synchronous: str = "FULL", immediate: bool = True) -> sa.Engine:
    """A SQLAlchemy engine for a SQLite file in WAL mode.

    ``immediate=True`` begins every transaction with ``BEGIN IMMEDIATE`` (take the write lock
    up front: no deadlock-prone lock upgrades); use ``immediate=False`` for a read-only engine.
    """
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class SqliteEventStore(SqlEventStore):
    """Event store in a SQLite file."""

    def __init__(self, path: Path | str):
        super().__init__(sqlite_engine(path), read_engine=sqlite_engine(path, immediate=False))
