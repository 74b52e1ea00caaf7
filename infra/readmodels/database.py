"""The read-model database: SQLite (embedded default) or PostgreSQL/TimescaleDB.

Read models can always be rebuilt from the event store, so the SQLite file runs with
``synchronous=NORMAL`` (a crash may lose the last projected transactions, never the events;
the projection's checkpoint is in the same transaction, so it replays them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from infra.eventstore.postgres import postgres_engine
from infra.eventstore.sqlite import sqlite_engine


@dataclass
class ReadModelDb:
    """Engines for writing (projections) and reading (API queries) the read models."""

    write_engine: sa.Engine
    read_engine: sa.Engine

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def has_timescaledb(self) -> bool:
        """True when the timescaledb extension is installed in this PostgreSQL database."""
        if not self.is_postgres:
            return False
        with self.read_engine.connect() as conn:
            return bool(
                conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first()
            )

    def close(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


API_READ_CONNECTIONS = 64
"""Read connections the API may hold at once: more than its worker threads (anyio's default
limiter, 40), which bound the sync routes and the blocking calls of the async ones. A route may
hold its connection while it waits for a projection (a schedule's outcome, read-your-writes), so a
smaller pool could run dry under load and time out other requests; SQLite read connections are
cheap (an open file in WAL mode)."""


def sqlite_readmodels(path: Path | str) -> ReadModelDb:
    return ReadModelDb(
        write_engine=sqlite_engine(path, synchronous="NORMAL"),
        read_engine=sqlite_engine(path, synchronous="NORMAL", immediate=False, max_connections=API_READ_CONNECTIONS),
    )


def postgres_readmodels(url: str) -> ReadModelDb:
    engine = postgres_engine(url)
    return ReadModelDb(write_engine=engine, read_engine=engine)
