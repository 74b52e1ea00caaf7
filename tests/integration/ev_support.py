"""Helpers of the EV-domain integration tests (no tests here): EVSE set-up and sessions as events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from commands import registry as reg
from commands.context import CommandContext
from commands.ev import record_session_event, register_evse
from commands.readings import RecordSensorData, record_sensor_data
from domain import ev


def make_evse(ctx: CommandContext, account_id: int, asset_id: int | None = None, sensor_id: int | None = None):
    """(asset id, sensor id) of a registered EVSE (a new one-way EVSE with an energy sensor by default)."""
    if asset_id is None:
        asset_id = reg.register_asset(ctx, reg.RegisterAsset(account_id=account_id, name="EVSE",
                                                             asset_type="one-way_evse"))
    if sensor_id is None:
        sensor_id = reg.register_sensor(ctx, reg.RegisterSensor(asset_id=asset_id, name="energy", unit="kWh",
                                                                event_resolution_s=900))
    register_evse(ctx, ev.EvseRegistered(asset_id=asset_id, account_id=account_id, make="M2C", model="M2C",
                                         energy_sensor_id=sensor_id))
    return asset_id, sensor_id


def plug(ctx: CommandContext, asset_id: int, at: datetime, hours: float | None = None, **extra) -> uuid.UUID:
    """A session plugged in at ``at`` (and out after ``hours``, when given); returns its id."""
    session_id = uuid.uuid4()
    record_session_event(ctx, ev.EvPluggedIn(session_id=session_id, evse_asset_id=asset_id, at=at, **extra))
    if hours is not None:
        record_session_event(ctx, ev.EvPluggedOut(session_id=session_id, at=at + timedelta(hours=hours)))
    return session_id


def meter(ctx: CommandContext, sensor_id: int, start: datetime, values: list[float], unit: str = "kWh",
          prior: datetime | None = None, event_id: uuid.UUID | None = None) -> None:
    record_sensor_data(ctx, RecordSensorData(
        sensor_id=sensor_id, start=start, duration=timedelta(minutes=15 * len(values)), values=values, unit=unit,
        source="charger", prior=prior, event_id=event_id))
