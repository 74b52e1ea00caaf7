"""The scheduler saves its checkpoint lazily for batches without triggers, and on idle (``flush``)."""

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
from infra.eventstore.sqlite import SqliteEventStore
from infra.readmodels.database import sqlite_readmodels
from streams.scheduler import SchedulerProcessor


@pytest.fixture
def scheduler_and_readings(tmp_path):
    store = SqliteEventStore(tmp_path / "events.db")
    read_models = sqlite_readmodels(tmp_path / "readmodels.db")
    ctx = CommandContext(store)
    account = register_account(ctx, RegisterAccount(name="A"))
    asset = register_asset(ctx, RegisterAsset(account_id=account, name="meter", asset_type="building"))
    sensor = register_sensor(ctx, RegisterSensor(asset_id=asset, name="power", unit="kW", event_resolution_s=900))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    command = RecordSensorData(
        sensor_id=sensor, start=start, duration=timedelta(hours=1), values=[1.0] * 4, unit="kW", source="meter"
    )
    record_sensor_data(ctx, command)
    try:
        yield SchedulerProcessor(store, read_models.write_engine), store.read_all(0, limit=100)
    finally:
        read_models.close()
        store.close()


def test_readings_are_saved_on_idle_not_per_batch(scheduler_and_readings):
    scheduler, events = scheduler_and_readings
    scheduler.flush()  # as after start-up: the interval starts now
    head = events[-1].global_position
    assert scheduler.process("*", events) == head
    assert scheduler.checkpoint() == 0  # no trigger in the batch: not written yet
    scheduler.flush()  # the runner calls this when a poll returns nothing
    assert scheduler.checkpoint() == head
    assert SchedulerProcessor(scheduler.store, scheduler.engine).checkpoint() == head  # a restart starts there
