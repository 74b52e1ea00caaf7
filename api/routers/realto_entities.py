"""Realto entities, readings and aggregations (``/api/v1``), from the registry and readings read models.

The seed names these only in its menu (no shapes), so they follow its charge-sessions
conventions: ``Authorization: Bearer <token>``, ``from``/``to`` (timezone-aware, ``[from, to)``),
a ``{"data": [...], "meta": {...}}`` envelope, times as ``2023-11-07T05:31:56Z``.

* ``GET /entities`` — the caller's devices (all for admins and auditors):
  ``{"id", "data": {"name", "type", "location", "sensors": [{"id", "name", "unit"}]}}``.
* ``GET /entities/{entityId}/readings?from&to&sensorId`` — the latest belief per event of the
  entity's sensor (default: its power sensor): ``{"timestamp", "value"}``; ``meta.unit``,
  ``meta.resolution`` (seconds). At most :data:`MAX_POINTS` events (422 beyond).
* ``GET /entities/{entityId}/aggregations?from&to&interval&aggregation`` — ``sum`` or ``mean``
  of the readings per ``interval`` seconds (default 3600): ``{"start", "end", "value"}``.
Power in the sensor's unit, consumption positive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api.deps import ReadConn, User
from api.errors import ApiError
from api.routers.realto_sessions import realto_entity
from domain.beliefs import to_epoch_s
from projections import registry_query as rq
from projections.charge_sessions import iso_z
from projections.readings_query import latest_values, resampled_values

router = APIRouter(prefix="/api/v1", tags=["entities (Realto)"])
MAX_POINTS = 10_000


def _entity_item(conn: ReadConn, asset: dict) -> dict:
    sensors = [{"id": str(s["id"]), "name": s["name"], "unit": s["unit"]}
               for s in rq.list_sensors(conn, asset_id=asset["id"])]
    location = {"address": (asset["attributes"] or {}).get("address"), "latitude": asset["latitude"],
                "longitude": asset["longitude"]}
    return {"id": str(asset["id"]), "data": {"name": asset["name"], "type": asset["asset_type"],
                                             "location": location, "sensors": sensors}}


@router.get("/entities")
def list_entities(user: User, conn: ReadConn) -> dict:
    """The caller's devices (admins and auditors: all), with their location and sensors."""
    assets = rq.list_assets(conn, None if user.can_read_all else user.account_id)
    return {"data": [_entity_item(conn, a) for a in assets], "meta": {"total": len(assets)}}


def _sensor(conn: ReadConn, entity: dict, sensor_id: str | None) -> dict:
    if sensor_id is None:
        sensor = rq.device_power_sensor(conn, entity)
        if sensor is None:
            raise ApiError(422, "NO_POWER_SENSOR", "the entity has no single power sensor; name one", "sensorId")
        return sensor
    sensor = rq.sensor_by_id(conn, int(sensor_id)) if sensor_id.isdigit() else None
    if sensor is None or sensor["asset_id"] != entity["id"]:
        raise ApiError(404, "UNRECOGNIZED_SENSOR", f"the entity has no sensor {sensor_id}", "sensorId")
    return sensor


def _window(start: datetime, end: datetime, step_s: int) -> tuple[int, int]:
    start_s, end_s = to_epoch_s(start), to_epoch_s(end)
    if end_s <= start_s:
        raise ApiError(422, "INVALID_PERIOD", "to must be after from", "to")
    if (end_s - start_s) // max(step_s, 1) > MAX_POINTS:
        raise ApiError(422, "PERIOD_TOO_LONG", f"at most {MAX_POINTS} values per request", "to")
    return start_s, end_s


@router.get("/entities/{entityId}/readings")
def entity_readings(
    entityId: str,  # noqa: N803 - the seed's path parameter name
    user: User,
    conn: ReadConn,
    from_: Annotated[AwareDatetime, Query(alias="from")],
    to: AwareDatetime,
    sensorId: Annotated[str | None, Query(max_length=20)] = None,  # noqa: N803
) -> dict:
    """The latest belief per event of one of the device's sensors in ``[from, to)`` (default: its power sensor)."""
    entity = realto_entity(conn, user, entityId)
    sensor = _sensor(conn, entity, sensorId)
    start_s, end_s = _window(from_, to, sensor["event_resolution_s"])
    values = latest_values(conn, sensor["id"], start_s, end_s)
    return {"data": [{"timestamp": iso_z(t), "value": v} for t, v in sorted(values.items())],
            "meta": {"entityId": entityId, "sensorId": str(sensor["id"]), "unit": sensor["unit"],
                     "resolution": sensor["event_resolution_s"]}}


@router.get("/entities/{entityId}/aggregations")
def entity_aggregations(
    entityId: str,  # noqa: N803
    user: User,
    conn: ReadConn,
    from_: Annotated[AwareDatetime, Query(alias="from")],
    to: AwareDatetime,
    interval: Annotated[int, Query(ge=60, le=31 * 86_400)] = 3600,
    aggregation: Literal["sum", "mean"] = "sum",
    sensorId: Annotated[str | None, Query(max_length=20)] = None,  # noqa: N803
) -> dict:
    """Sum or mean of the device's readings per ``interval`` seconds in ``[from, to)``."""
    entity = realto_entity(conn, user, entityId)
    sensor = _sensor(conn, entity, sensorId)
    start_s, end_s = _window(from_, to, interval)
    buckets = resampled_values(conn, sensor["id"], start_s, end_s, interval, aggregation)
    data = [{"start": iso_z(b), "end": iso_z(min(b + interval, end_s)), "value": v} for b, v in sorted(buckets.items())]
    return {"data": data, "meta": {"entityId": entityId, "sensorId": str(sensor["id"]), "unit": sensor["unit"],
                                   "interval": interval, "aggregation": aggregation}}
