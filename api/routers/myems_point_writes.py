"""MyEMS ``points`` writes and ``pointlimits`` under ``/myems`` (issue 14). A point is a platform
sensor on its data source (``data_source_id``: an asset of the caller's account); its MyEMS-only
fields (limits, ``ratio``, ``is_trend``, ``is_virtual``, ``address``, ``description``) are kept in
the sensor's ``attributes.myems``. ``ratio`` and ``address`` describe MyEMS' own acquisition (a
gateway reading registers): kept and shown as sent, the platform stores readings as posted.

* ``POST /points`` (also ``/points/import`` and the seed's ``/points/{id}/import``) ``{"data":
  {"name", "data_source_id", "object_type", "units", "high_limit", "low_limit", ...}}`` -> 201 +
  ``Location``; ``object_type`` ``ENERGY_VALUE`` needs an energy unit, ``ANALOG_VALUE`` another
  one; ``DIGITAL_VALUE``/``TEXT_VALUE`` are refused (the platform keeps numbers with units)
* ``PUT /points/{id}`` (same body) -> 200; ``DELETE /points/{id}`` -> 204: points made here only
  (a meter's or a device's sensor is changed with its meter or device: 400)
* ``POST /points/{id}/clone`` -> 201 (a made-here copy named `` (Copy)``);
  ``GET /points/{id}/export`` -> the point's item
* ``PUT /pointlimits/{id}`` -> 200: ``high_limit``, ``low_limit``, ``higher_limit``, ``lower_limit``
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.deps import ReadConn, visible_asset, visible_sensor
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_assets import REGISTRY, parse
from api.routers.myems_common import Envelope, WaitProjected, created
from api.routers.myems_meter_fields import myems_attributes
from api.routers.myems_points import point_item
from api.validation import Id
from commands import registry as cmd
from domain import registry as reg
from domain.units import UnitError, is_energy_unit
from projections import readings_query as rdq

router = APIRouter(prefix=PREFIX, tags=["MyEMS points"], route_class=MyEmsRoute)
RESOLUTION_S = 900
"""A new point's readings cover 15 minutes each (``event_resolution_s`` overrides; 0: instantaneous)."""
LIMITS = ("high_limit", "low_limit", "higher_limit", "lower_limit")
FIELDS = (*LIMITS, "ratio", "is_trend", "is_virtual", "address", "description")


class PointData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    data_source_id: Id
    object_type: str
    units: str = Field(min_length=1, max_length=64)
    high_limit: float | None = Field(default=None, allow_inf_nan=False)
    low_limit: float | None = Field(default=None, allow_inf_nan=False)
    higher_limit: float | None = Field(default=None, allow_inf_nan=False)
    lower_limit: float | None = Field(default=None, allow_inf_nan=False)
    ratio: float = Field(default=1.0, allow_inf_nan=False)
    is_trend: bool = True
    is_virtual: bool = False
    address: str | None = Field(default=None, max_length=4096)
    description: str | None = Field(default=None, max_length=1024)
    event_resolution_s: int = Field(default=RESOLUTION_S, ge=0, le=86400)


class LimitData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    high_limit: float = Field(allow_inf_nan=False)
    low_limit: float = Field(allow_inf_nan=False)
    higher_limit: float | None = Field(default=None, allow_inf_nan=False)
    lower_limit: float | None = Field(default=None, allow_inf_nan=False)


def _checked(conn: sa.Connection, user: CurrentUser, data: dict[str, Any]) -> PointData:
    point = parse(PointData, data, "POINT_")
    try:
        energy = is_energy_unit(point.units)
    except UnitError as exc:
        raise ApiError(400, "API.INVALID_UNITS", f"units: {exc}", "units") from exc
    if point.object_type not in ("ENERGY_VALUE", "ANALOG_VALUE") or (point.object_type == "ENERGY_VALUE") != energy:
        raise ApiError(400, "API.INVALID_OBJECT_TYPE", "object_type: ENERGY_VALUE for energy units, else "
                       "ANALOG_VALUE (the platform keeps numbers with units)", "object_type")  # fmt: skip
    source = visible_asset(conn, user, point.data_source_id, write=True)
    if source["account_id"] != user.account_id:
        raise ApiError(404, "API.DATA_SOURCE_NOT_FOUND", "the data source is an asset of the account", "data_source_id")
    for low, high in (("low_limit", "high_limit"), ("lower_limit", "higher_limit")):
        if None not in (getattr(point, low), getattr(point, high)) and getattr(point, low) > getattr(point, high):
            raise ApiError(400, f"API.INVALID_{high.upper()}", f"{high}: not below {low}", high)
    return point


def _myems(point: PointData) -> dict:
    return {**point.model_dump(include=set(FIELDS)), "point": True}


def _create(commands, wait, point: PointData) -> int:
    sensor_id = cmd.register_sensor(commands, cmd.RegisterSensor(
        asset_id=point.data_source_id, name=point.name, unit=point.units,
        event_resolution_s=point.event_resolution_s, attributes={"myems": _myems(point)},
    ))  # fmt: skip
    wait(REGISTRY, reg.stream_of("sensor", sensor_id))
    return sensor_id


def _editable(conn: sa.Connection, user: CurrentUser, point_id: int) -> dict:
    sensor = visible_sensor(conn, user, point_id, write=True)
    if not myems_attributes(sensor).get("point"):
        raise ApiError(400, "API.POINT_IS_NOT_EDITABLE", "a meter's or device's sensor: change it there", "id")
    return sensor


@router.post("/points", status_code=201)
@router.post("/points/import", status_code=201)
def create_point(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected):
    """Create a point (a sensor of its data source asset); 201 with ``Location``."""
    return created("points", _create(commands, wait, _checked(conn, user, body.data)))


@router.post("/points/{point_id}/import", status_code=201)
def import_point(
    point_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
):
    """The seed's import path: create a point from an exported one (the id in the path is not used)."""
    return created("points", _create(commands, wait, _checked(conn, user, body.data)))


@router.put("/points/{point_id}")
def update_point(
    point_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Rename a point made here, change its units (while it holds no data) and its MyEMS fields."""
    sensor = _editable(conn, user, point_id)
    point = _checked(conn, user, body.data)
    if point.data_source_id != sensor["asset_id"]:
        raise ApiError(400, "API.INVALID_DATA_SOURCE_ID", "a point stays with its data source", "data_source_id")
    attributes = {**(sensor.get("attributes") or {}), "myems": {**myems_attributes(sensor), **_myems(point)}}
    cmd.change_sensor(commands, cmd.ChangeSensor(sensor_id=point_id, has_data=rdq.has_data(conn, point_id), changes={
        "name": point.name, "unit": point.units, "attributes": attributes}))  # fmt: skip
    wait(REGISTRY, reg.stream_of("sensor", point_id))
    return Response(status_code=200)


@router.delete("/points/{point_id}", status_code=204)
def delete_point(point_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected):
    """Delete a point made here (its readings stay in the event store)."""
    _editable(conn, user, point_id)
    cmd.delete_sensor(commands, cmd.DeleteSensor(sensor_id=point_id))
    wait(REGISTRY, reg.stream_of("sensor", point_id))
    return Response(status_code=204)


@router.post("/points/{point_id}/clone", status_code=201)
def clone_point(point_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected):
    """A copy of a point on the same data source, named `` (Copy)``, without its readings."""
    sensor = visible_sensor(conn, user, point_id, write=True)
    item = point_item(conn, sensor)
    data = {**myems_attributes(sensor), **{k: item[k] for k in ("high_limit", "low_limit", "ratio", "is_trend",
            "is_virtual", "description")}, "name": f"{sensor['name']} (Copy)", "data_source_id": sensor["asset_id"],
            "object_type": item["object_type"], "units": sensor["unit"], "address": item["address"],
            "event_resolution_s": sensor["event_resolution_s"]}  # fmt: skip
    return created("points", _create(commands, wait, _checked(conn, user, data)))


@router.get("/points/{point_id}/export")
def export_point(point_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """The point's item, as ``POST /points/import`` takes it back."""
    return point_item(conn, visible_sensor(conn, user, point_id))


@router.put("/pointlimits/{point_id}")
def set_point_limits(
    point_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Set a point's ``high_limit``/``low_limit`` (and ``higher_limit``/``lower_limit``)."""
    sensor = visible_sensor(conn, user, point_id, write=True)
    limits = parse(LimitData, {**body.data, "name": "limits"}, "POINT_")
    if limits.low_limit > limits.high_limit:
        raise ApiError(400, "API.INVALID_HIGH_LIMIT", "high_limit: not below low_limit", "high_limit")
    myems = {**myems_attributes(sensor), **limits.model_dump(include=set(LIMITS))}
    cmd.change_sensor(commands, cmd.ChangeSensor(sensor_id=point_id, has_data=True, changes={
        "attributes": {**(sensor.get("attributes") or {}), "myems": myems}}))  # fmt: skip
    wait(REGISTRY, reg.stream_of("sensor", point_id))
    return Response(status_code=200)
