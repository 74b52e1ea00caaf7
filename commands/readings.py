"""Handler of ``RecordSensorData``: validate, align, convert units, append beliefs.

Power values are positive for consumption and negative for production (USEF); they are
stored in the sensor's unit. The event goes to stream ``sensordata-<sensor id>`` with no
concurrency check (readings are independent facts); its id may be supplied by the caller
(an idempotency key: a retried append stores the event once).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, Field, field_validator

from commands.context import CommandContext, CommandError
from commands.registry import load_sensor
from domain.beliefs import SensorDataRecorded, fit_resolution, upsample
from domain.events import NewEvent
from domain.grid import on_grid
from domain.ports.event_store import ANY, AppendResult
from domain.registry import SensorRegistered
from domain.units import UnitError, convert_values, is_energy_unit

MAX_VALUES_PER_EVENT = 10_000


class RecordSensorData(BaseModel):
    """Values (in ``unit``) for consecutive events from ``start`` over ``duration``."""

    sensor_id: int
    start: datetime
    duration: timedelta
    values: list[float | None] = Field(min_length=1)
    unit: str
    source: str
    source_type: str = "user"
    prior: datetime | None = None
    horizon: timedelta | None = None
    event_id: uuid.UUID | None = None

    @field_validator("start", "prior")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware (add an offset such as Z or +01:00)")
        return value


def sensor_data_stream(sensor_id: int) -> str:
    return f"sensordata-{sensor_id}"


def record_sensor_data(
    ctx: CommandContext, cmd: RecordSensorData, sensor: SensorRegistered | None = None
) -> AppendResult:
    """Validate and append one ``SensorDataRecorded`` event (or several for long series)."""
    sensor = sensor or load_sensor(ctx, cmd.sensor_id)
    if sensor is None:
        raise CommandError("UNRECOGNIZED_SENSOR", f"no sensor {cmd.sensor_id}", "sensor")
    return ctx.store.append(sensor_data_stream(sensor.sensor_id), sensor_data_events(ctx, cmd, sensor), ANY)


def sensor_data_events(ctx: CommandContext, cmd: RecordSensorData, sensor: SensorRegistered) -> list[NewEvent]:
    """The validated ``SensorDataRecorded`` events of a command, not yet appended (bulk importers
    append several commands' events at once, to ``sensor_data_stream(sensor_id)``)."""
    values, resolution = _fit_to_sensor(cmd, sensor)
    _check_alignment(cmd.start, resolution, sensor.timezone)
    received_at = ctx.clock()
    events = []
    for offset in range(0, len(values), MAX_VALUES_PER_EVENT):
        chunk_start = cmd.start + resolution * offset
        event = SensorDataRecorded(
            sensor_id=sensor.sensor_id,
            start=chunk_start,
            resolution_s=int(resolution.total_seconds()),
            values=values[offset : offset + MAX_VALUES_PER_EVENT],
            unit=sensor.unit,
            source=cmd.source,
            source_type=cmd.source_type,
            prior=cmd.prior,
            horizon_s=None if cmd.horizon is None else int(cmd.horizon.total_seconds()),
            received_at=received_at,
        )
        event_id = uuid.uuid5(cmd.event_id, str(offset)) if cmd.event_id else None
        events.append(ctx.new_event(event, event_id))
    return events


def _fit_to_sensor(cmd: RecordSensorData, sensor: SensorRegistered) -> tuple[list[float | None], timedelta]:
    try:
        implied, factor = fit_resolution(len(cmd.values), cmd.duration, sensor.event_resolution)
    except ValueError as exc:
        raise CommandError("INVALID_RESOLUTION", str(exc), "duration") from exc
    resolution = implied / factor
    try:
        values = convert_values(cmd.values, cmd.unit, sensor.unit, resolution=implied)
    except UnitError as exc:
        raise CommandError("INVALID_UNIT", f"{exc} (sensor unit: {sensor.unit})", "unit") from exc
    if factor > 1:
        values = upsample(values, factor, is_energy_unit(sensor.unit))
    return values, resolution


def _check_alignment(start: datetime, resolution: timedelta, timezone: str) -> None:
    """Event starts must be aligned to the sensor's resolution (from local midnight)."""
    if not on_grid(start, resolution, timezone):
        raise CommandError(
            "INVALID_START", f"start {start.isoformat()} is not aligned to the sensor resolution {resolution}", "start"
        )
