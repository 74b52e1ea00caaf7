"""The readings projection stores the same beliefs whatever the batching (issue #18's fast path).

An event whose event starts hold no belief of its source is inserted whole in one statement
(SQLite: unpacked from JSON by SQLite); an event overlapping stored beliefs, or an earlier
event of its batch, is compared value by value. Random overlapping events (corrections,
repeats, gaps, priors, horizons, values of every bit pattern) are projected one event per
batch, all in one batch, and rebuilt in small batches, on every read-model database; each
must store exactly the beliefs a plain model of the rule ("store a value unless it equals the
latest stored belief, by belief time, of the same source about the same event") predicts.
"""

from __future__ import annotations

import math
import random
import struct
from datetime import UTC, datetime, timedelta

import pytest

from domain.beliefs import SensorDataRecorded, belief_times_us, to_epoch_s
from domain.events import NewEvent
from infra.checkpoints import SqlCheckpointStore
from infra.eventstore.memory import MemoryEventStore
from infra.readmodels.database import ReadModelDb
from projections.base import ALL_PARTITIONS, apply_batch, create_tables
from projections.readings import _SQLITE_MAX_ROWS, ReadingsProjection, _add_span, _insert_rows, _overlaps, readings
from projections.readings_query import beliefs_with_sources
from projections.replay import rebuild

T0 = datetime(2024, 5, 1, tzinfo=UTC)
QUARTER = 900
WIDE = (0, 2**40)


def _value(rnd: random.Random) -> float | None:
    kind = rnd.random()
    if kind < 0.1:
        return None
    if kind < 0.5:
        return float(rnd.randrange(4))  # small set: repeats and unchanged beliefs are common
    while True:  # any finite double, to check each is stored as the very same double
        value = struct.unpack("<d", rnd.randbytes(8))[0]
        if math.isfinite(value):
            return value


def random_events(seed: int, count: int) -> list[SensorDataRecorded]:
    rnd = random.Random(seed)
    events = []
    for n in range(count):
        prior = T0 + timedelta(hours=rnd.randrange(-48, 48)) if rnd.random() < 0.3 else None
        horizon_s = rnd.choice([None, None, 0, 3600, -900])
        events.append(
            SensorDataRecorded(
                sensor_id=rnd.choice([1, 1, 2]),
                start=T0 + timedelta(minutes=15 * rnd.randrange(0, 40)),
                resolution_s=QUARTER,
                values=[_value(rnd) for _ in range(rnd.choice([1, 3, 8, 24]))],
                unit="kW",
                source=rnd.choice(["meter", "meter", "forecaster"]),
                prior=prior,
                horizon_s=horizon_s,
                received_at=T0 + timedelta(seconds=n),  # distinct: beliefs of one event start differ
            )
        )
    return events


def expected_beliefs(events: list[SensorDataRecorded], sensor_id: int) -> list[tuple]:
    """(event start s, belief time us, source, value) the rule stores, sorted."""
    latest: dict[tuple, tuple[int, float]] = {}
    stored: set[tuple] = set()
    for event in events:
        start_s = to_epoch_s(event.start)
        for i, (value, belief_us) in enumerate(zip(event.values, belief_times_us(event), strict=True)):
            if value is None:
                continue
            key = (event.sensor_id, start_s + i * event.resolution_s, event.source)
            known = latest.get(key)
            if known is not None and known[1] == value:
                continue
            if (*key, belief_us) in {row[:4] for row in stored}:
                continue  # the same belief time again: the first value stays
            if known is None or belief_us > known[0]:
                latest[key] = (belief_us, value)
            stored.add((*key, belief_us, value))
    rows = [(start, belief, source, value) for sensor, start, source, belief, value in stored if sensor == sensor_id]
    return sorted(rows)


def _project(db: ReadModelDb, store: MemoryEventStore, checkpoints, batch: int) -> None:
    projection, position = ReadingsProjection(), 0
    while recorded := store.read_all(position, limit=batch):
        apply_batch(db.write_engine, projection, ALL_PARTITIONS, recorded, checkpoints)
        position = recorded[-1].global_position


def _answers(db: ReadModelDb) -> dict[int, list[tuple]]:
    with db.read_engine.connect() as conn:
        return {sensor: sorted(beliefs_with_sources(conn, sensor, *WIDE)) for sensor in (1, 2)}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 1000])
def test_every_batching_stores_what_the_rule_predicts(read_models: ReadModelDb, seed: int, batch: int):
    events = random_events(seed, 120)
    store = MemoryEventStore()
    for event in events:
        store.append(f"sensordata-{event.sensor_id}", [NewEvent.of(event)])
    checkpoints = SqlCheckpointStore(read_models.write_engine)
    checkpoints.create_tables()
    create_tables(read_models.write_engine, ReadingsProjection())
    _project(read_models, store, checkpoints, batch)
    expected = {sensor: expected_beliefs(events, sensor) for sensor in (1, 2)}
    assert _answers(read_models) == expected
    _project(read_models, store, SqlCheckpointStore(read_models.write_engine), 7)  # replayed: changes nothing
    assert _answers(read_models) == expected
    rebuild(store, read_models.write_engine, ReadingsProjection(), checkpoints, batch_size=5)
    assert _answers(read_models) == expected
    store.close()


@pytest.mark.parametrize("count", [1, 2, 7, _SQLITE_MAX_ROWS - 1, _SQLITE_MAX_ROWS + 1, 3 * _SQLITE_MAX_ROWS + 45])
def test_inserted_rows_are_stored_in_order_the_first_of_a_key_kept(read_models: ReadModelDb, count: int):
    """Rows go in as several multi-row statements (SQLite): whatever the count, each row is
    stored once, a repeated key (also in another statement, or stored before) keeps its first value."""
    rnd = random.Random(count)
    create_tables(read_models.write_engine, ReadingsProjection())
    before = [(1, 5, 1, 10, -1.0, 900)]
    rows = [(1, rnd.randrange(8), 1, rnd.randrange(count // 3 + 12), _value(rnd) or 0.0, 900) for _ in range(count)]
    rows.append(before[0][:4] + (2.0, 900))
    with read_models.write_engine.begin() as conn:
        _insert_rows(conn, [column for row in before for column in row])
        _insert_rows(conn, [column for row in rows for column in row])
    first: dict[tuple, tuple] = {}
    for row in before + rows:
        first.setdefault(row[:4], row)
    with read_models.read_engine.connect() as conn:
        stored = conn.execute(readings.select()).all()
    assert sorted(tuple(row) for row in stored) == sorted(first.values())


def test_the_batch_spans_answer_as_the_set_of_covered_seconds():
    """The record of what a batch applied so far (sorted, disjoint, merged spans) against a plain set."""
    rnd = random.Random(3)
    for _ in range(500):
        spans: list[tuple[int, int]] = []
        covered: set[int] = set()
        for _ in range(rnd.randrange(1, 12)):
            low = rnd.randrange(0, 60)
            high = low + rnd.randrange(1, 10)
            assert _overlaps(spans, (low, high)) == bool(covered & set(range(low, high)))
            _add_span(spans, (low, high))
            covered |= set(range(low, high))
            assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False)), "sorted, disjoint"
            assert covered == {second for a, b in spans for second in range(a, b)}
