"""The scheduler saves its checkpoint lazily for batches without triggers, and on idle (``flush``).

The save interval runs on an injected clock (no wall time): the test moves it by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commands.context import CommandContext
from commands.readings import RecordSensorData, record_sensor_data
from commands.registry import (
    RegisterAccount,
    RegisterAsset,
    RegisterSensor,
    register_account,
    register_asset,
    register_sensor,
)
from infra.checkpoints import SqlCheckpointStore
from infra.eventstore.memory import MemoryEventStore
from infra.readmodels.database import sqlite_readmodels
from streams.scheduler import SAVE_INTERVAL_S, SchedulerProcessor


class Clock:
    """A monotonic clock (seconds) that moves only when told."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def rig(tmp_path):
    store = MemoryEventStore()
    read_models = sqlite_readmodels(tmp_path / "readmodels.db")
    checkpoints = SqlCheckpointStore(read_models.write_engine)
    checkpoints.create_tables()
    ctx = CommandContext(store)
    account = register_account(ctx, RegisterAccount(name="A"))
    asset = register_asset(ctx, RegisterAsset(account_id=account, name="meter", asset_type="building"))
    sensor = register_sensor(ctx, RegisterSensor(asset_id=asset, name="power", unit="kW", event_resolution_s=900))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for day in range(2):
        command = RecordSensorData(
            sensor_id=sensor, start=start + timedelta(days=day), duration=timedelta(hours=1), values=[1.0] * 4,
            unit="kW", source="meter",
        )
        record_sensor_data(ctx, command)
    clock = Clock()

    def scheduler() -> SchedulerProcessor:
        return SchedulerProcessor(store, read_models.write_engine, checkpoints=checkpoints, monotonic=clock)

    try:
        yield scheduler, clock, store.read_all(0, limit=100)
    finally:
        read_models.close()
        store.close()


def test_readings_are_saved_on_idle_not_per_batch(rig):
    scheduler, _, events = rig
    processor = scheduler()
    head = events[-1].global_position
    assert processor.process("*", events) == head
    assert processor.checkpoint() == 0  # no trigger in the batch: not written yet
    processor.flush()  # the runner calls this when a poll returns nothing
    assert processor.checkpoint() == head
    assert scheduler().checkpoint() == head  # a restart starts there


def test_a_batch_after_the_interval_saves_at_once(rig):
    scheduler, clock, events = rig
    processor = scheduler()
    first, rest = events[:-1], events[-1:]
    processor.process("*", first)
    assert processor.checkpoint() == 0
    clock.now_s += SAVE_INTERVAL_S  # the interval has passed: the next batch saves
    assert processor.process("*", rest) == rest[-1].global_position
    assert processor.checkpoint() == rest[-1].global_position


def test_advance_moves_the_checkpoint_over_other_events_with_the_next_flush(rig):
    scheduler, _, events = rig
    processor = scheduler()
    processor.advance("*", 10_000)
    assert processor.checkpoint() == 0
    processor.flush()
    assert scheduler().checkpoint() == 10_000
    processor.advance("*", 5)  # never backwards
    processor.flush()
    assert scheduler().checkpoint() == 10_000
