"""SQLite event store (the embedded default): one file, WAL, ``synchronous=FULL``.

Appends take SQLite's write lock with ``BEGIN IMMEDIATE``; an append acknowledged to the
caller has been fsynced, so a process crash loses nothing acknowledged (nor does a power loss:
``FULL`` syncs the WAL at every commit; ``NORMAL`` would survive a process crash only).

:meth:`SqliteEventStore.watch_other_processes`: when another process appends too (the
two-process embedded deployment, :mod:`infra.processes`), a thread reads SQLite's
``PRAGMA data_version`` (it changes when another connection commits) whenever the other
process rings its doorbell after a commit, at the latest every ``WATCH_FALLBACK_S``, and wakes
:meth:`wait_for_append`, which otherwise hears only of this process's appends; this process
rings the other's doorbell after each of its commits.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlalchemy import event

from infra.eventstore.sql import _INSERT_COLUMNS, SqlEventStore
from streams.doorbell import Doorbell

WATCH_FALLBACK_S = 0.05
_INSERT_ROWS = f"INSERT INTO events ({', '.join(_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"
# the ids as one JSON array (one parameter, one prepared statement whatever their number)
_STORED_POSITIONS = "SELECT event_id, global_position FROM events WHERE event_id IN (SELECT value FROM json_each(?))"


def sqlite_engine(
    path: Path | str, synchronous: str = "FULL", immediate: bool = True, max_connections: int = 15
) -> sa.Engine:
    """A SQLAlchemy engine for a SQLite file in WAL mode.

    ``immediate=True`` begins every transaction with ``BEGIN IMMEDIATE`` (take the write lock
    up front: no deadlock-prone lock upgrades); use ``immediate=False`` for a read-only engine.
    ``max_connections``: the pool keeps 5 open and opens more on demand up to this many.
    """
    engine = sa.create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=min(5, max_connections),
        max_overflow=max(0, max_connections - 5),
    )

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
        self.path = path
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        self._other = Doorbell()  # the other process's: rung after each commit of ours
        self._mine = Doorbell()  # ours: rung by the other process after its commits

    def watch_other_processes(self, mine: Doorbell, theirs: Doorbell) -> None:
        """Hear of other processes' appends (``mine`` rung by them) and ring ``theirs`` after
        each commit of this process (module docstring)."""
        self.stop_watching()
        self._closed.clear()
        self._other, self._mine = theirs, mine
        self._watcher = threading.Thread(target=self._watch, args=(mine,), name="flexledger-store-watch", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        """Stop hearing of and ringing other processes (before their pipes are closed)."""
        self._other = Doorbell()
        self._closed.set()
        if self._watcher is not None:
            self._mine.interrupt()
            self._watcher.join(5)
            self._watcher = None
            self._mine.close()

    def _after_commit(self) -> None:
        self._other.ring()

    def _insert(self, conn: sa.Connection, rows: list[tuple]) -> None:
        """The driver's ``executemany`` of plain tuples (SQLAlchemy's per-row parameter processing
        cost about as much as the insert itself)."""
        conn.exec_driver_sql(_INSERT_ROWS, rows)

    def _stored_positions(self, conn: sa.Connection, ids: list[str]) -> dict[str, int]:
        """The driver's query of the ids as one JSON array (SQLAlchemy's expanding ``IN`` rendered
        one parameter per id on every call: five times slower for an append of a few hundred)."""
        return dict(conn.exec_driver_sql(_STORED_POSITIONS, (orjson.dumps(ids),)).all())

    def _watch(self, bell: Doorbell) -> None:
        """Wake waiters when another connection (process) committed (module docstring)."""
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        try:
            seen = None
            while not self._closed.is_set():
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != seen:
                    seen = version
                    head = conn.execute("SELECT MAX(global_position) FROM events").fetchone()[0] or 0
                    conn.commit()  # end the read transaction so the next poll sees new commits
                    self._heard_of(head)
                bell.wait(WATCH_FALLBACK_S)
        except (sqlite3.Error, OSError):
            return  # the store or the pipe is being closed: waiters fall back to their timeouts
        finally:
            conn.close()

    def _heard_of(self, head: int) -> None:
        with self._appended:
            if head > (self._local_head or 0):
                self._local_head = head
                self._appended.notify_all()

    def close(self) -> None:
        self.stop_watching()
        super().close()
