"""Schedules become setpoints (SQLite event store, manual clock): per-slot set_power commands for a
non-OCPP device, a newer schedule cancels the older undispatched ones, a replay records nothing
new, past slots and devices that did not opt in get nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from stores import prepared

from commands.context import CommandContext
from commands.device_commands import load_command
from commands.registry import (
    RegisterAccount,
    RegisterAsset,
    RegisterSensor,
    register_account,
    register_asset,
    register_sensor,
)
from domain import device_commands as dc
from domain.events import NewEvent
from domain.schedules import DeviceSchedule, ScheduleComputed, schedule_stream
from infra.checkpoints import SqlCheckpointStore
from infra.eventstore.sqlite import SqliteEventStore
from streams.schedule_setpoints import ScheduleSetpoints

NOW = datetime(2026, 3, 2, 9, 50, tzinfo=UTC)
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path):
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    ctx = CommandContext(store, clock=lambda: NOW)
    account = register_account(ctx, RegisterAccount(name="a"))
    sensors = {}
    for name, attributes in (("follows", {"simulated": True, "schedule_setpoints": True}),
                             ("ignores", {"simulated": True})):
        asset = register_asset(ctx, RegisterAsset(account_id=account, name=name, asset_type="heat_pump",
                                                  attributes=attributes))
        sensors[name] = register_sensor(ctx, RegisterSensor(asset_id=asset, name="power", unit="kW",
                                                            event_resolution_s=900))
    yield store, ctx, sensors
    store.close()


def _schedule(store, sensor_id: int, power_kw: list[float], start: datetime = START) -> None:
    schedule_id = uuid.uuid4()
    event = ScheduleComputed(schedule_id=schedule_id, trigger="api", asset_id=1, start=start, resolution_s=900,
                             devices=[DeviceSchedule(sensor_id=sensor_id, power_kw=power_kw)])
    store.append(schedule_stream(schedule_id), [NewEvent.of(event)])


def _commands(ctx) -> list[dc.CommandState]:
    ids = {e.data["command_id"] for e in ctx.store.read_all(0, 10_000, stream_prefix="command-")}
    return [load_command(ctx, uuid.UUID(i))[0] for i in sorted(ids)]


def _pending(ctx):
    def pending(asset_id: int):
        return [(str(s.command_id), s.requested.reason) for s in _commands(ctx)
                if s.requested.asset_id == asset_id and s.status in dc.CANCELLABLE_STATUSES]
    return pending


def test_per_slot_setpoints_superseded_by_the_next_schedule(world):
    store, ctx, sensors = world
    setpoints = ScheduleSetpoints(ctx, open_commands=_pending(ctx))
    _schedule(store, sensors["follows"], [1.0, 2.0, 3.0])
    _schedule(store, sensors["ignores"], [5.0])
    setpoints.apply(store.read_all(0, 10_000, stream_prefix="schedule-"))
    first = _commands(ctx)
    first.sort(key=lambda s: s.requested.execute_at)
    assert [(s.requested.parameters["power_kw"], s.status) for s in first] == [
        (1.0, dc.SCHEDULED), (2.0, dc.SCHEDULED), (3.0, dc.SCHEDULED)]
    assert sorted(s.requested.execute_at for s in first) == [START + timedelta(minutes=15 * i) for i in range(3)]
    assert all(s.requested.expires_at - s.requested.execute_at == timedelta(minutes=15) for s in first)

    position = store.head_position()
    _schedule(store, sensors["follows"], [4.0, 4.0, 0.0, 0.0], start=START - timedelta(minutes=30))
    setpoints.apply(store.read_all(position, 10_000, stream_prefix="schedule-"))
    states = _commands(ctx)
    cancelled = [s for s in states if s.status == dc.CANCELLED]
    assert {str(s.command_id) for s in cancelled} == {str(s.command_id) for s in first}
    live = [s for s in states if s.status != dc.CANCELLED]
    assert len(live) == 3  # the first slot (09:30-09:45) ended before now: nothing; the current one runs now
    assert min(s.requested.execute_at for s in live) == START - timedelta(minutes=15)
    assert all("superseded by schedule" in s.status_reason for s in cancelled)

    count = len(states)
    setpoints.apply(store.read_all(0, 10_000, stream_prefix="schedule-"))  # a replay
    assert len(_commands(ctx)) == count


def test_the_checkpoint_is_read_when_the_setpoints_resume_not_when_built(world, tmp_path):
    """Built before the checkpoint table exists (the composition root builds, then prepares storage):
    nothing is read until :meth:`ScheduleSetpoints.resume`, which continues from the saved position."""
    store, ctx, sensors = world
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'checkpoints.db'}")
    checkpoints = SqlCheckpointStore(engine)
    first = ScheduleSetpoints(ctx, checkpoints)
    prepared(checkpoints)
    _schedule(store, sensors["follows"], [1.0])
    schedule_position = store.head_position()
    first.resume()
    first.apply(store.read_all(0, 10_000, stream_prefix="schedule-"))  # appends the device's command
    assert first.position == schedule_position

    again = ScheduleSetpoints(ctx, checkpoints)
    assert again.position == 0
    again.resume()
    assert again.position == first.position
    engine.dispose()
