"""MyEMS ``points`` under ``/myems`` (issue 14), read-only: a point is a platform sensor (a MyEMS
meter is its own single point); its data source is the asset that reports it.

* ``GET /myems/points``, ``GET /myems/points/{id}`` -> ``{"id", "name", "data_source", "object_type",
  "units", "high_limit", "low_limit", "ratio", "is_trend", "is_virtual", "address", "description"}``
  (``object_type``: ``ENERGY_VALUE`` for energy units, else ``ANALOG_VALUE``)

Writes (create, update, delete, clone, export, import, ``pointlimits``):
:mod:`api.routers.myems_point_writes`. Meter points: :mod:`api.routers.myems_meter_points`.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from fastapi import APIRouter

from api.deps import ReadConn, visible_sensor
from api.errors import ApiError
from api.myems import PREFIX, MyEmsRoute, MyEmsUser
from api.routers.myems_meter_fields import myems_attributes
from api.validation import Id
from domain import myems_meters as mm
from domain.units import UnitError, is_energy_unit
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS points"], route_class=MyEmsRoute)


def _object_type(unit: str) -> str:
    try:
        return "ENERGY_VALUE" if is_energy_unit(unit) else "ANALOG_VALUE"
    except UnitError:
        return "ANALOG_VALUE"


def point_item(conn: sa.Connection, sensor: dict) -> dict:
    asset = rq.asset_by_id(conn, sensor["asset_id"]) or {"id": sensor["asset_id"], "name": None}
    attrs = myems_attributes(sensor)
    return {
        "id": sensor["id"],
        "name": sensor["name"],
        "data_source": {"id": asset["id"], "name": asset["name"], "uuid": mm.entity_uuid("asset", asset["id"])},
        "object_type": _object_type(sensor["unit"]),
        "units": sensor["unit"],
        "high_limit": attrs.get("high_limit", attrs.get("hourly_high_limit")),
        "low_limit": attrs.get("low_limit", attrs.get("hourly_low_limit")),
        "ratio": attrs.get("ratio", 1.0),
        "is_trend": attrs.get("is_trend", True),
        "is_virtual": attrs.get("is_virtual", False),
        "address": attrs.get("address") or json.dumps({"sensor_id": sensor["id"]}),
        "description": attrs.get("description"),
    }


@router.get("/points")
def list_points(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The account's points: its sensors, with units, limits and data source."""
    return [point_item(conn, s) for s in rq.list_sensors(conn, None if user.can_read_all else user.account_id)]


@router.get("/points/{point_id}")
def get_point(point_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """One point (a sensor) by id."""
    if rq.sensor_by_id(conn, point_id) is None:
        raise ApiError(404, "API.POINT_NOT_FOUND", f"no point {point_id}", "id")
    return point_item(conn, visible_sensor(conn, user, point_id))

