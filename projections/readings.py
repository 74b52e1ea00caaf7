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

import functools
from bisect import bisect_left
from collections.abc import Callable, Sequence

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from domain.beliefs import SensorDataRecorded, belief_times_us, to_epoch_s, to_epoch_us
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
# PostgreSQL only: in SQLite it was a second B-tree per row (event_start + the primary key) that
# every insert paid for and no query needs (they all name the sensor: the primary key serves them).
sa.Index("ix_readings_event_start_brin", readings.c.event_start, postgresql_using="brin").ddl_if(dialect="postgresql")


# Queries of every projected batch, built once.
_SOURCE_ID = sa.select(data_sources.c.id).where(data_sources.c.name == sa.bindparam("name"))
_newer = readings.alias("newer")
_LATEST_VALUES = (
    # the latest belief per event start: a row counts unless the same source has a newer belief
    # about the same event (an anti-join probing the primary key). Returning every belief instead
    # fetched ~48 rows per event start for a sensor forecast hourly 48 h ahead.
    sa.select(readings.c.event_start, readings.c.belief_time, readings.c.value)
    .where(
        readings.c.sensor_id == sa.bindparam("sensor_id"),
        readings.c.source_id == sa.bindparam("source_id"),
        readings.c.event_start >= sa.bindparam("start_s"),
        readings.c.event_start < sa.bindparam("end_s"),
        ~sa.select(sa.literal(1))
        .where(
            _newer.c.sensor_id == readings.c.sensor_id,
            _newer.c.event_start == readings.c.event_start,
            _newer.c.source_id == readings.c.source_id,
            _newer.c.belief_time > readings.c.belief_time,
        )
        .exists(),
    )
)

_COLUMNS = ("sensor_id", "event_start", "source_id", "belief_time", "value", "resolution_s")
_WIDTH = len(_COLUMNS)
# Rows to insert are gathered flat: the columns of _COLUMNS of each row one after another (no tuple
# per row: a batch of hourly 48 h forecasts holds ~8,000 rows, and tuples kept alive until the
# insert made the garbage collector run every few events).
_SQLITE_MAX_ROWS = 128
"""Rows per SQLite INSERT statement (768 parameters: within every SQLite's limit, 999 before 3.32)."""
# One event's values in one statement, unpacked by SQLite from the event's JSON array (no Python
# object per value): value i is about start + i * step, believed at min(cap, base + i * slope)
# (see _belief_line); nulls are no value. SQLite parses what orjson writes back to the same double.
_SQLITE_INSERT_EVENT = (
    f"INSERT OR IGNORE INTO {{table}} ({', '.join(_COLUMNS)}) "
    "SELECT ?, ? + key * ?, ?, min(?, ? + key * ?), value, ? FROM json_each(?) WHERE value IS NOT NULL"
)
_NO_CAP_US = 2**62


def _table(conn: Connection) -> str:
    """``readings``, or a rebuild's scratch copy of it (SQLite: raw SQL bypasses the translate map)."""
    schema = conn.get_execution_options().get("schema_translate_map", {}).get(None)
    return f'"{schema}".readings' if schema else "readings"


def _insert_rows(conn: Connection, rows: list) -> None:
    """Insert the flat ``rows`` in order, ignoring exact duplicates (same sensor, event, source and
    belief time: the first one stays)."""
    if conn.dialect.name == "sqlite":
        _sqlite_insert_rows(conn, rows)
        return
    insert = pg_insert(readings).on_conflict_do_nothing()
    conn.execute(insert, [dict(zip(_COLUMNS, rows[i : i + _WIDTH], strict=True)) for i in range(0, len(rows), _WIDTH)])


def _sqlite_insert_rows(conn: Connection, rows: list) -> None:
    """Multi-row ``INSERT OR IGNORE``s on the DB-API cursor: up to :data:`_SQLITE_MAX_ROWS` rows per
    statement, the rest in powers of two (a few statement texts, prepared once). A third cheaper
    than ``executemany``, which binds and steps the statement once per row; SQLite inserts the rows
    of a statement in order, so duplicates are ignored as row by row."""
    table, cursor = _table(conn), conn.connection.cursor()
    done, total = 0, len(rows) // _WIDTH
    while done < total:
        count = min(_SQLITE_MAX_ROWS, 1 << ((total - done).bit_length() - 1))
        cursor.execute(_sqlite_insert(table, count), rows[done * _WIDTH : (done + count) * _WIDTH])
        done += count


@functools.lru_cache(maxsize=64)
def _sqlite_insert(table: str, count: int) -> str:
    """The SQLite statement inserting ``count`` rows into ``table`` (duplicates ignored; a rebuild's
    scratch table has a name of its own, hence a bounded cache)."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * count)
    return f"INSERT OR IGNORE INTO {table} ({', '.join(_COLUMNS)}) VALUES {values}"


def _whole_event_inserter(conn: Connection) -> Callable[[SensorDataRecorded, int, list], None]:
    """A function storing every value of an event none of whose event starts holds a belief of its
    source yet: SQLite inserts it at once (one statement, on the connection's DB-API cursor);
    elsewhere it adds the rows to the given flat rows, inserted with the batch's others."""
    if conn.dialect.name == "sqlite":
        sql, cursor = _SQLITE_INSERT_EVENT.format(table=_table(conn)), conn.connection.cursor()

        def insert(event: SensorDataRecorded, source_id: int, rows: list) -> None:
            cap_us, base_us, slope_us = _belief_line(event)
            start_s, step_s = to_epoch_s(event.start), event.resolution_s
            params = (event.sensor_id, start_s, step_s, source_id, cap_us, base_us, slope_us, step_s)
            cursor.execute(sql, (*params, orjson.dumps(event.values)))

        return insert

    def add_rows(event: SensorDataRecorded, source_id: int, rows: list) -> None:
        start_s, step_s = to_epoch_s(event.start), event.resolution_s
        starts = range(start_s, start_s + step_s * len(event.values), step_s)
        for event_start, belief_us, value in zip(starts, belief_times_us(event), event.values, strict=True):
            if value is not None:
                rows += (event.sensor_id, event_start, source_id, belief_us, value, step_s)

    return add_rows


def _belief_line(event: SensorDataRecorded) -> tuple[int, int, int]:
    """(cap, base, slope) in microseconds: value i is believed at ``min(cap, base + i * slope)``,
    as :func:`domain.beliefs.belief_times_us` computes it (prior caps, a horizon makes a line)."""
    if event.prior is None and event.horizon_s is None:
        received_us = to_epoch_us(event.received_at)
        return received_us, received_us, 0
    cap_us = _NO_CAP_US if event.prior is None else to_epoch_us(event.prior)
    if event.horizon_s is None:
        return cap_us, cap_us, 0
    step_us = event.resolution_s * 1_000_000
    return cap_us, to_epoch_us(event.start) + step_us - event.horizon_s * 1_000_000, step_us


class ReadingsProjection:
    """Projects :class:`SensorDataRecorded` events into ``readings``."""

    name = "readings"
    event_types = frozenset({"SensorDataRecorded"})
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Store each event's changed beliefs. An event whose event starts hold no belief of its
        source (before the batch, nor from an earlier event of the batch) is inserted whole in one
        statement; otherwise its values are compared with the latest beliefs: those loaded for the
        batch and kept current in memory, re-read from the table only where an event inserted
        whole earlier in the batch lies (its values were never in memory)."""
        source_ids: dict[str, int] = {}
        decoded = [e.decode() for e in events]
        stored = self._latest_for_batch(conn, decoded, source_ids)  # kept current by _new_beliefs
        starts = {key: sorted(latest) for key, latest in stored.items()}
        applied: dict[tuple[int, int], list[tuple[int, int]]] = {}  # the batch's events so far, per key
        whole: dict[tuple[int, int], list[tuple[int, int]]] = {}  # of those, the ones inserted whole
        rows: list = []  # flat (see _COLUMNS)
        insert_whole = _whole_event_inserter(conn)
        for event in decoded:
            key = (event.sensor_id, source_ids[event.source])
            window = _window(event)
            spans = applied.setdefault(key, [])
            if not _overlaps(spans, window):  # clear of the batch's earlier events
                if not _holds_any(starts[key], window):
                    insert_whole(event, key[1], rows)
                    _add_span(whole.setdefault(key, []), window)
                else:
                    _new_beliefs(event, key[1], stored[key], rows)
            elif not _overlaps(whole.get(key, []), window):  # only compared events before: known here
                _new_beliefs(event, key[1], stored[key], rows)
            else:  # the table (this transaction's inserts included) knows the latest beliefs here
                if rows:
                    _insert_rows(conn, rows)
                    rows = []
                latest = stored[key]
                latest.update(_latest_values(conn, *key, *window))
                _new_beliefs(event, key[1], latest, rows)
            _add_span(spans, window)
        if rows:
            _insert_rows(conn, rows)

    def _latest_for_batch(
        self, conn: Connection, events: list[SensorDataRecorded], source_ids: dict[str, int]
    ) -> dict[tuple[int, int], dict[int, tuple[int, float]]]:
        """Latest stored (belief time, value) per event start, per (sensor, source), over the batch's windows."""
        windows: dict[tuple[int, int], tuple[int, int]] = {}
        for event in events:
            if event.source not in source_ids:
                source_ids[event.source] = _source_id(conn, event.source, event.source_type)
            key = (event.sensor_id, source_ids[event.source])
            start_s, end_s = _window(event)
            low, high = windows.get(key, (start_s, end_s))
            windows[key] = (min(low, start_s), max(high, end_s))
        return {key: _latest_values(conn, *key, *window) for key, window in windows.items()}


def _window(event: SensorDataRecorded) -> tuple[int, int]:
    """[first event start, last event end) of an event's values, in epoch seconds."""
    start_s = to_epoch_s(event.start)
    return start_s, start_s + event.resolution_s * len(event.values)


def _holds_any(sorted_starts: list[int], window: tuple[int, int]) -> bool:
    """Whether any of the sorted event starts lies in [low, high)."""
    index = bisect_left(sorted_starts, window[0])
    return index < len(sorted_starts) and sorted_starts[index] < window[1]


def _overlaps(spans: list[tuple[int, int]], window: tuple[int, int]) -> bool:
    """Whether [low, high) meets any of the sorted, disjoint ``spans``."""
    index = bisect_left(spans, window)
    before = index > 0 and spans[index - 1][1] > window[0]
    return before or (index < len(spans) and spans[index][0] < window[1])


def _add_span(spans: list[tuple[int, int]], window: tuple[int, int]) -> None:
    """Add [low, high) to the sorted, disjoint ``spans``, merging the spans it meets or touches."""
    low, high = window
    index = bisect_left(spans, window)
    while index > 0 and spans[index - 1][1] >= low:
        index -= 1
        low, high = min(low, spans[index][0]), max(high, spans.pop(index)[1])
    while index < len(spans) and spans[index][0] <= high:
        high = max(high, spans.pop(index)[1])
    spans.insert(index, (low, high))


def _source_id(conn: Connection, name: str, source_type: str) -> int:
    """The id of a data source, registered on first use (two workers may race: no conflict error)."""
    found = conn.execute(_SOURCE_ID, {"name": name}).scalar()
    if found is None:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(insert(data_sources).values(name=name, type=source_type).on_conflict_do_nothing())
        found = conn.execute(_SOURCE_ID, {"name": name}).scalar_one()
    return found


def _new_beliefs(event: SensorDataRecorded, source_id: int, latest: dict[int, tuple[int, float]], rows: list) -> None:
    """Add to the flat ``rows`` the values that differ from the latest belief (``latest`` is updated in place).

    "Latest" means the highest belief time, as in the stored table, not the last event applied:
    a batch then stores exactly what applying its events one by one would (a rebuild is identical).
    """
    sensor_id, start_s, step_s = event.sensor_id, to_epoch_s(event.start), event.resolution_s
    starts = range(start_s, start_s + step_s * len(event.values), step_s)
    known_of, add = latest.get, rows.extend
    for event_start, belief_us, value in zip(starts, belief_times_us(event), event.values, strict=True):
        if value is None:
            continue
        known = known_of(event_start)
        if known is None:
            latest[event_start] = (belief_us, value)
        elif known[1] == value:
            continue  # unchanged belief: not stored again
        elif belief_us > known[0]:  # an equal belief time is a duplicate key: ignored
            latest[event_start] = (belief_us, value)
        add((sensor_id, event_start, source_id, belief_us, value, step_s))


def _latest_values(
    conn: Connection, sensor_id: int, source_id: int, start_s: int, end_s: int
) -> dict[int, tuple[int, float]]:
    """Latest stored (belief time, value) per event start in [start_s, end_s) for one sensor and source."""
    params = {"sensor_id": sensor_id, "source_id": source_id, "start_s": start_s, "end_s": end_s}
    return {start: (belief_time, value) for start, belief_time, value in conn.execute(_LATEST_VALUES, params)}
