"""Projection plumbing (projections/base.py, projections/replay.py) with a fake projection.

The event store is the in-memory adapter; the read models and checkpoints are in a SQLite file
in a temporary folder; the readings and registry projections themselves are
covered by tests/contract/test_readmodels.py on every read-model database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from domain.events import EventMetadata, NewEvent, RecordedEvent
from infra.checkpoints import SqlCheckpointStore
from infra.eventstore.memory import MemoryEventStore
from infra.eventstore.sqlite import sqlite_engine
from projections import base
from projections.base import ALL_PARTITIONS, create_tables
from projections.replay import rebuild


class TallyProjection:
    """Counts ``Counted`` events per stream; remembers which events it was given."""

    name = "tally"
    event_types = frozenset({"Counted"})

    def __init__(self):
        self.metadata = sa.MetaData()
        self.table = sa.Table(
            "tallies", self.metadata,
            sa.Column("stream_id", sa.String(64), primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
        )
        self.applied: list[int] = []

    def apply(self, conn: sa.Connection, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            self.applied.append(event.global_position)
            updated = conn.execute(
                self.table.update().where(self.table.c.stream_id == event.stream_id)
                .values(count=self.table.c.count + 1)
            )
            if updated.rowcount == 0:
                conn.execute(self.table.insert().values(stream_id=event.stream_id, count=1))

    def tallies(self, engine: sa.Engine) -> dict[str, int]:
        with engine.connect() as conn:
            return dict(conn.execute(sa.select(self.table.c.stream_id, self.table.c.count)).all())


def recorded(position: int, event_type: str = "Counted", stream: str = "s-1") -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(), stream_id=stream, stream_revision=position - 1, global_position=position,
        type=event_type, schema_version=1, data={}, metadata=EventMetadata(),
    )


@pytest.fixture
def engine(tmp_path):
    engine = sqlite_engine(tmp_path / "readmodels.db", synchronous="NORMAL")
    yield engine
    engine.dispose()


@pytest.fixture
def tally(engine) -> TallyProjection:
    projection = TallyProjection()
    SqlCheckpointStore(engine).create_tables()
    create_tables(engine, projection)
    return projection


def checkpoints(engine, name: str = "tally") -> dict[str, int]:
    return SqlCheckpointStore(engine).load(name)


def apply_batch(engine, projection, partition, events) -> int:
    return base.apply_batch(engine, projection, partition, events, SqlCheckpointStore(engine))


def save_checkpoint(conn, name: str, partition: str, position: int) -> None:
    SqlCheckpointStore(conn.engine).save(name, partition, position, within=conn)


def reset(engine, projection) -> None:
    base.reset(engine, projection, SqlCheckpointStore(engine))


def test_apply_batch_applies_its_types_and_advances_the_checkpoint(engine, tally):
    batch = [recorded(1), recorded(2, "Other"), recorded(3, stream="s-2"), recorded(4, "Other")]
    assert apply_batch(engine, tally, ALL_PARTITIONS, batch) == 4
    assert tally.applied == [1, 3]
    assert tally.tallies(engine) == {"s-1": 1, "s-2": 1}
    assert checkpoints(engine) == {ALL_PARTITIONS: 4}, "other types advance the checkpoint too"


def test_events_at_or_below_the_checkpoint_are_skipped(engine, tally):
    apply_batch(engine, tally, ALL_PARTITIONS, [recorded(1), recorded(2)])
    assert apply_batch(engine, tally, ALL_PARTITIONS, [recorded(2), recorded(3)]) == 3
    assert apply_batch(engine, tally, ALL_PARTITIONS, [recorded(1), recorded(2), recorded(3)]) == 3
    assert tally.applied == [1, 2, 3]
    assert tally.tallies(engine) == {"s-1": 3}
    assert apply_batch(engine, tally, ALL_PARTITIONS, []) == 3


def test_checkpoints_are_per_partition_and_all_covers_every_partition(engine, tally):
    assert apply_batch(engine, tally, "p0", [recorded(2), recorded(5)]) == 5
    assert apply_batch(engine, tally, "p1", [recorded(3), recorded(4)]) == 4
    assert checkpoints(engine) == {"p0": 5, "p1": 4}
    with engine.begin() as conn:
        save_checkpoint(conn, "tally", ALL_PARTITIONS, 10)
    assert apply_batch(engine, tally, "p1", [recorded(9), recorded(11)]) == 11
    assert tally.applied == [2, 5, 3, 4, 11]


def test_rows_and_checkpoint_are_one_transaction(engine, tally):
    class Crashing(TallyProjection):
        def apply(self, conn, events):
            super().apply(conn, events)
            raise RuntimeError("crash")

    crashing = Crashing()
    with pytest.raises(RuntimeError):
        apply_batch(engine, crashing, ALL_PARTITIONS, [recorded(1)])
    assert tally.tallies(engine) == {} and checkpoints(engine) == {}


def test_save_checkpoint_upserts(engine, tally):
    with engine.begin() as conn:
        save_checkpoint(conn, "tally", "p0", 3)
        save_checkpoint(conn, "tally", "p0", 7)
        save_checkpoint(conn, "other", "p0", 1)
    assert checkpoints(engine) == {"p0": 7}
    assert checkpoints(engine, "other") == {"p0": 1}


def test_reset_drops_rows_and_only_its_own_checkpoints(engine, tally):
    apply_batch(engine, tally, ALL_PARTITIONS, [recorded(1)])
    with engine.begin() as conn:
        save_checkpoint(conn, "other", ALL_PARTITIONS, 9)
    reset(engine, tally)
    assert tally.tallies(engine) == {}
    assert checkpoints(engine) == {} and checkpoints(engine, "other") == {ALL_PARTITIONS: 9}


def test_rebuild_replays_everything_and_yields_the_same_table(engine, tally, tmp_path):
    store = MemoryEventStore()
    try:
        for i in range(25):
            kind = "Counted" if i % 4 else "Other"
            store.append(f"s-{i % 3}", [NewEvent(type=kind, data={"i": i})])
        store.append("s-9", [NewEvent(type="Other", data={})])  # the head is not of the projection's types
        apply_batch(engine, tally, ALL_PARTITIONS, store.read_all(0, limit=1000))
        incremental = tally.tallies(engine)
        progress: list[tuple[int, int]] = []
        applied = rebuild(
            store, engine, tally, SqlCheckpointStore(engine), batch_size=4,
            on_progress=lambda p, h: progress.append((p, h)),
        )  # fmt: skip
        head = store.head_position()
    finally:
        store.close()
    assert applied == 18
    assert tally.tallies(engine) == incremental
    assert checkpoints(engine) == {ALL_PARTITIONS: head}
    assert progress[-1] == (head, head)
    assert [p for p, _ in progress] == sorted(p for p, _ in progress)
    assert all(h == head for _, h in progress)
