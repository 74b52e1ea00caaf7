"""Reading and writing a sensor's time series for the HTTP API (shared by v2.0 and v3).

Values are returned in the requested unit (default: the sensor's), one per step of the
requested resolution (default: the sensor's), ``None`` where no belief exists. Power:
consumption positive, production negative.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from api.consistency import READINGS, ReadYourWrites
from api.errors import ApiError
from api.validation import check_reading_count
from commands.context import CommandContext
from commands.readings import RecordSensorData, record_sensor_data, sensor_data_stream
from domain.beliefs import to_epoch_s
from domain.units import UnitError, convert_values, is_energy_unit
from projections.readings_query import BeliefFilter, latest_values, resampled_values
from projections.registry_query import sensor_state


def read_series(
    conn: sa.Connection,
    sensor: dict,
    start: datetime,
    duration: timedelta,
    unit: str | None = None,
    resolution: timedelta | None = None,
    beliefs: BeliefFilter = BeliefFilter(),
    max_values: int | None = None,
) -> tuple[list[float | None], timedelta, str]:
    """(values, resolution, unit) of the latest beliefs in [start, start + duration).

    ``duration`` must be positive (422) and hold at most ``max_values`` steps (413).
    """
    if duration <= timedelta(0):
        raise ApiError(422, "INVALID_DURATION", "duration must be positive", "duration")
    sensor_res = timedelta(seconds=sensor["event_resolution_s"])
    resolution = resolution or sensor_res
    if sensor_res and (resolution < sensor_res or resolution % sensor_res):
        raise ApiError(
            422, "INVALID_RESOLUTION", f"resolution must be a multiple of the sensor's {sensor_res}", "resolution"
        )
    if resolution.total_seconds() <= 0:
        raise ApiError(422, "INVALID_RESOLUTION", "resolution must be positive", "resolution")
    if duration % resolution:
        message = f"duration must be a multiple of the resolution {resolution}"
        raise ApiError(422, "INVALID_DURATION", message, "duration")
    start_s, step_s = to_epoch_s(start), int(resolution.total_seconds())
    n = int(duration / resolution)
    if max_values is not None:
        check_reading_count(n, max_values, "return", "duration")
    end_s = start_s + n * step_s
    if resolution == sensor_res:
        found = latest_values(conn, sensor["id"], start_s, end_s, beliefs)
    else:
        # energy per interval adds up; levels (other units, and instantaneous sensors such as a
        # state of charge in kWh) are averaged
        aggregate = "sum" if sensor_res and is_energy_unit(sensor["unit"]) else "mean"
        found = resampled_values(conn, sensor["id"], start_s, end_s, step_s, aggregate, beliefs)
    values = [found.get(start_s + i * step_s) for i in range(n)]
    unit = unit or sensor["unit"]
    try:
        values = convert_values(values, sensor["unit"], unit, resolution=resolution)
    except UnitError as exc:
        raise ApiError(422, "INVALID_UNIT", f"{exc} (sensor unit: {sensor['unit']})", "unit") from exc
    return values, resolution, unit


def readings_written(sensor: dict, n_values: int, duration: timedelta) -> int:
    """How many readings posting ``n_values`` over ``duration`` writes: values are upsampled to
    the sensor's resolution (an instantaneous sensor stores them as they are)."""
    sensor_res = timedelta(seconds=sensor["event_resolution_s"])
    if sensor_res <= timedelta(0) or duration <= timedelta(0):
        return n_values
    return max(n_values, int(duration // sensor_res))


def post_series(
    consistency: ReadYourWrites,
    commands: CommandContext,
    sensor: dict,
    command: RecordSensorData,
) -> int:
    """Append the values as beliefs; wait (bounded) until they are queryable. Returns the position."""
    position = append_series(commands, sensor, command)
    consistency.wait_until_projected(READINGS, position, sensor_data_stream(command.sensor_id))
    return position


def append_series(commands: CommandContext, sensor: dict, command: RecordSensorData) -> int:
    """Append the values as beliefs (durable on return); returns the store position."""
    return record_sensor_data(commands, command, sensor_state(sensor)).global_position
