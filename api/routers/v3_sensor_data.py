"""v3 ``/sensors/{id}/data``: post beliefs, read them back (FlexMeasures-compatible)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.consistency import READINGS
from api.deps import ApiServices, Commands, Consistency, ReadConn, Services, User, visible_sensor
from api.errors import ApiError
from api.series import append_series, read_series
from api.timefmt import IsoDuration, format_duration, parse_duration
from commands.context import CommandContext
from commands.readings import RecordSensorData, sensor_data_stream
from projections.readings_query import BeliefFilter

router = APIRouter(prefix="/api/v3_0", tags=["sensor data"])


class SensorDataIn(BaseModel):
    """Values for consecutive events from ``start``; the resolution is ``duration / len(values)``."""

    values: list[float | None] = Field(min_length=1)
    start: AwareDatetime
    duration: IsoDuration
    unit: str
    prior: AwareDatetime | None = None
    horizon: IsoDuration | None = None
    type: str | None = None


@router.post("/sensors/{sensor_id}/data")
async def post_sensor_data(
    sensor_id: int, body: SensorDataIn, user: User, commands: Commands, consistency: Consistency, services: Services
) -> dict:
    """Append the values (one worker-thread hop), then await the read model without holding a thread."""
    position = await run_in_threadpool(_record_sensor_data, services, commands, user, sensor_id, body)
    await consistency.wait_until_projected_async(READINGS, position, sensor_data_stream(sensor_id))
    return {"message": "Request has been processed.", "status": "PROCESSED"}


def _record_sensor_data(
    services: ApiServices, commands: CommandContext, user: CurrentUser, sensor_id: int, body: SensorDataIn
) -> int:
    """Check access to the sensor and append the beliefs (blocking); returns the store position."""
    with services.read_connection() as conn:
        sensor = visible_sensor(conn, user, sensor_id, write=True)
    command = RecordSensorData(
        sensor_id=sensor_id,
        start=body.start,
        duration=body.duration,
        values=body.values,
        unit=body.unit,
        source=user.email,
        prior=body.prior,
        horizon=body.horizon,
    )
    return append_series(commands, sensor, command)


@router.get("/sensors/{sensor_id}/data")
def get_sensor_data(
    sensor_id: int,
    user: User,
    conn: ReadConn,
    start: AwareDatetime,
    duration: str,
    unit: str | None = None,
    resolution: str | None = None,
    prior: AwareDatetime | None = None,
    horizon: str | None = None,
    source: list[str] | None = Query(default=None),
) -> dict:
    """Latest beliefs per event in [start, start + duration), optionally as of ``prior``."""
    sensor = visible_sensor(conn, user, sensor_id)
    window = _duration(duration, "duration")
    beliefs = BeliefFilter(
        prior=prior,
        horizon_s=None if horizon is None else int(_duration(horizon, "horizon").total_seconds()),
        sources=source,
    )
    res = None if resolution is None else _duration(resolution, "resolution")
    values, res, unit = read_series(conn, sensor, start, window, unit, res, beliefs)
    return {
        "values": values,
        "start": start.isoformat(),
        "duration": format_duration(window),
        "unit": unit,
        "resolution": format_duration(res),
    }


def _duration(text: str, field: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ApiError(422, "INVALID_DURATION", f"{field}: {exc}", field) from exc
