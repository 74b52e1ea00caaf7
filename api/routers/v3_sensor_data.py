"""v3 ``/sensors/{id}/data``: post beliefs, read them back (FlexMeasures-compatible)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.consistency import READINGS
from api.deps import ApiServices, Commands, Consistency, ReadConn, Services, User, visible_sensor
from api.errors import ApiError
from api.schemas import MessageOut, SensorDataOut
from api.series import append_series, read_series, readings_written
from api.timefmt import IsoDuration, format_duration, hours_duration, parse_duration
from api.validation import FiniteFloat, Id, Moment, check_reading_count
from commands.context import CommandContext
from commands.readings import RecordSensorData, sensor_data_stream
from domain.beliefs import to_epoch_s
from projections.readings_query import BeliefFilter, latest_horizons

router = APIRouter(prefix="/api/v3_0", tags=["sensor data"])


class SensorDataIn(BaseModel):
    """Values for consecutive events from ``start``; the resolution is ``duration / len(values)``.

    ``null`` stands for "no value" for that slot: nothing is stored for it and earlier beliefs
    about it stay. NaN, Infinity and overflowing numbers are refused (422 ``INVALID_VALUE``).
    """

    values: list[FiniteFloat | None] = Field(min_length=1, description="null: no value for that slot (nothing stored)")
    start: Moment
    duration: IsoDuration
    unit: str
    prior: Moment | None = None
    horizon: IsoDuration | None = None
    type: str | None = None


@router.post("/sensors/{sensor_id}/data")
async def post_sensor_data(
    sensor_id: Id, body: SensorDataIn, user: User, commands: Commands, consistency: Consistency, services: Services
) -> MessageOut:
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
    limit = services.max_readings_per_request
    check_reading_count(readings_written(sensor, len(body.values), body.duration), limit, "write", "duration")
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


@router.get("/sensors/{sensor_id}/data", response_model=SensorDataOut)
def get_sensor_data(
    sensor_id: Id,
    user: User,
    conn: ReadConn,
    services: Services,
    start: Moment,
    duration: str,
    unit: str | None = None,
    resolution: str | None = None,
    prior: Moment | None = None,
    horizon: str | None = None,
    source: list[str] | None = Query(default=None),
) -> dict:
    """Latest beliefs per event in [start, start + duration), optionally as of ``prior``.

    With ``horizon`` (only beliefs formed at least this long before each event's end) the
    answer also has ``horizons``: per value, the horizon of the belief served (``PT7H`` when
    the latest forecast made at least 6 h ahead was made 7 h ahead), ``null`` where none.
    """
    sensor = visible_sensor(conn, user, sensor_id)
    window = _duration(duration, "duration")
    beliefs = BeliefFilter(
        prior=prior,
        horizon_s=None if horizon is None else int(_duration(horizon, "horizon").total_seconds()),
        sources=source,
    )
    res = None if resolution is None else _duration(resolution, "resolution")
    limit = services.max_readings_per_response
    values, res, unit = read_series(conn, sensor, start, window, unit, res, beliefs, max_values=limit)
    body = {
        "values": values,
        "start": start.isoformat(),
        "duration": format_duration(window),
        "unit": unit,
        "resolution": format_duration(res),
    }
    if horizon is not None:
        body["horizons"] = served_horizons(conn, sensor, start, window, res, beliefs)
    return body


def served_horizons(
    conn: ReadConn, sensor: dict, start: datetime, window: timedelta, res: timedelta, beliefs: BeliefFilter
) -> list[str | None]:
    """Per value, the horizon of the belief served (``horizon`` is "at least": a forecast made
    earlier than asked, e.g. when a reading was missing, says so here); None where no value."""
    start_s, step_s = to_epoch_s(start), int(res.total_seconds())
    n = int(window / res)
    found = latest_horizons(
        conn, sensor["id"], start_s, start_s + n * step_s, step_s, sensor["event_resolution_s"], beliefs
    )
    horizons = [found.get(start_s + i * step_s) for i in range(n)]
    return [None if h is None else hours_duration(timedelta(seconds=h)) for h in horizons]


def _duration(text: str, field: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ApiError(422, "INVALID_DURATION", f"{field}: {exc}", field) from exc
