"""Readings read model: every belief about every sensor event, queryable as of any time.

Table ``readings`` (one row per belief):

* ``sensor_id``; ``event_start`` — seconds since the Unix epoch (UTC) of the event's start;
* ``source_id`` — row of ``data_sources``; ``belief_time`` — microseconds since the epoch;
* ``value`` — in the sensor's unit (power: consumption positive, production negative).

Times are stored as epoch integers so one schema and one set of queries serves SQLite and
PostgreSQL (buckets are integer arithmetic, which is what ``date_bin`` computes); PostgreSQL
gets a BRIN index on ``event_start`` (see :mod:`infra.readmodels.timescale` for hypertables).

Only changed beliefs are stored: a belief whose value equals the latest stored belief of the
same source about the same event is dropped (as FlexMeasures' ``save_changed_beliefs_only``),
so posting the same data again changes nothing, while a new value is kept beside the old one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from domain.beliefs import SensorDataRecorded, belief_times_us, to_epoch_s
from domain.events import RecordedEvent

metadata = sa.MetaData()
data_sources = sa.Table(
    "data_sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
)
readings = sa.Table(
    "readings",
    metadata,
    sa.Column("sensor_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("event_start", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("source_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("belief_time", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("resolution_s", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
sa.Index("ix_readings_event_start_brin", readings.c.event_start, postgresql_using="brin")


def _insert(conn: Connection):
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(readings)


class ReadingsProjection:
    """Projects :class:`SensorDataRecorded` events into ``readings``."""

    name = "readings"
    event_types = frozenset({"SensorDataRecorded"})
    metadata = metadata

    def __init__(self) -> None:
        self._source_ids: dict[str, int] = {}

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        self._source_ids.clear()  # ids may differ after a rebuild; cache per transaction only
        rows: list[dict] = []
        for event in events:
            rows.extend(self._rows(conn, event.decode()))
        if rows:
            conn.execute(_insert(conn).on_conflict_do_nothing(), rows)

    def _source_id(self, conn: Connection, name: str, source_type: str) -> int:
        if name not in self._source_ids:
            found = conn.execute(sa.select(data_sources.c.id).where(data_sources.c.name == name)).scalar()
            if found is None:
                found = conn.execute(
                    data_sources.insert().values(name=name, type=source_type).returning(data_sources.c.id)
                ).scalar_one()
            self._source_ids[name] = found
        return self._source_ids[name]

    def _rows(self, conn: Connection, event: SensorDataRecorded) -> list[dict]:
        source_id = self._source_id(conn, event.source, event.source_type)
        start_s, step_s = to_epoch_s(event.start), event.resolution_s
        beliefs = belief_times_us(event)
        latest = _latest_values(conn, event.sensor_id, source_id, start_s, start_s + step_s * len(event.values))
        rows = []
        for i, value in enumerate(event.values):
            if value is None:
                continue
            event_start = start_s + i * step_s
            if latest.get(event_start) == value:
                continue  # unchanged belief: not stored again
            latest[event_start] = value
            rows.append(
                {
                    "sensor_id": event.sensor_id,
                    "event_start": event_start,
                    "source_id": source_id,
                    "belief_time": beliefs[i],
                    "value": value,
                    "resolution_s": step_s,
                }
            )
        return rows


def _latest_values(conn: Connection, sensor_id: int, source_id: int, start_s: int, end_s: int) -> dict[int, float]:
    """Latest stored value per event start in [start_s, end_s) for one sensor and source."""
    r = readings.c
    query = (
        sa.select(r.event_start, r.value, r.belief_time)
        .where(r.sensor_id == sensor_id, r.source_id == source_id, r.event_start >= start_s, r.event_start < end_s)
        .order_by(r.event_start, r.belief_time)
    )
    latest: dict[int, float] = {}
    for event_start, value, _ in conn.execute(query):
        latest[event_start] = value
    return latest
