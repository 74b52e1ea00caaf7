"""MyEMS ``photovoltaicpowerstations`` under ``/myems`` (issue 14): a PV power station is a platform
``solar`` asset (its MyEMS fields in ``attributes.myems``) with a ``power`` sensor (kW, production
negative), so its output is metered and forecast like any PV installation.

* ``GET/POST /myems/photovoltaicpowerstations``, ``GET/PUT/DELETE .../{id}``, ``.../{id}/export``,
  ``POST .../import`` (and ``/{id}/import``), ``POST .../{id}/clone``
* item: ``{"id", "name", "uuid", "address", "postal_code", "latitude", "longitude", "capacity",
  "contact", "cost_center", "svg", "description", "qrcode"}`` (capacity in kW)
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.deps import ReadConn, require_account_access
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser, user_uuid
from api.routers.myems_common import Envelope, WaitProjected, created
from api.routers.myems_microgrids import _parse, myems_attrs, ref
from commands import registry as cmd
from commands.context import CommandContext
from domain import myems_meters as mm
from domain import registry as reg
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS photovoltaic power stations"], route_class=MyEmsRoute)
REGISTRY = "projection.registry"
PATH = "photovoltaicpowerstations"
FIELDS = ("uuid", "address", "postal_code", "capacity", "contact_id", "svg", "description")


class StationData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    address: str = Field(min_length=1, max_length=255)
    postal_code: str = Field(min_length=1, max_length=32)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    capacity: float = Field(gt=0, allow_inf_nan=False)
    contact_id: int
    cost_center_id: int
    svg: str | None = Field(default=None, max_length=100_000)
    description: str | None = Field(default=None, max_length=1024)


def _is_station(asset: dict | None) -> bool:
    return asset is not None and asset["asset_type"] == "solar" and "myems" in (asset.get("attributes") or {})


def _visible(conn: sa.Connection, user: CurrentUser, station_id: int, write: bool = False) -> dict:
    asset = rq.asset_by_id(conn, station_id)
    if not _is_station(asset):
        raise ApiError(404, "API.PHOTOVOLTAIC_POWER_STATION_NOT_FOUND", f"no station {station_id}", "id")
    require_account_access(user, asset["account_id"], write)
    return asset


def station_item(conn: sa.Connection, asset: dict) -> dict:
    a = myems_attrs(asset)
    contact = rq.user_by_id(conn, a.get("contact_id") or 0)
    account = rq.account_by_id(conn, asset["account_id"]) or {"name": None}
    uid = a.get("uuid") or mm.entity_uuid("asset", asset["id"])
    return {"id": asset["id"], "name": asset["name"], "uuid": uid, "address": a.get("address"),
            "postal_code": a.get("postal_code"), "latitude": asset["latitude"], "longitude": asset["longitude"],
            "capacity": a.get("capacity"),
            "contact": None if contact is None else {"id": contact["id"], "name": contact["username"],
                                                     "uuid": user_uuid(contact["id"])},
            "cost_center": ref(asset["account_id"], account["name"], "account"), "svg": a.get("svg"),
            "description": a.get("description"), "qrcode": "photovoltaicpowerstation:" + uid}


def _checked(conn: sa.Connection, user: CurrentUser, data: dict[str, Any], own_id: int | None) -> StationData:
    station = _parse(StationData, data, "PHOTOVOLTAIC_POWER_STATION_")
    contact = rq.user_by_id(conn, station.contact_id)
    if contact is None or contact["account_id"] != user.account_id:
        raise ApiError(404, "API.CONTACT_NOT_FOUND", "the contact is a user of the account", "contact_id")
    if station.cost_center_id != user.account_id:
        raise ApiError(404, "API.COST_CENTER_NOT_FOUND", "the cost center is the account", "cost_center_id")
    for other in rq.list_assets(conn, user.account_id):
        if _is_station(other) and other["name"] == station.name and other["id"] != own_id:
            raise ApiError(400, "API.PHOTOVOLTAIC_POWER_STATION_NAME_IS_ALREADY_IN_USE", "name in use", "name")
    return station


def _fields(station: StationData, uid: str) -> dict:
    return {"name": station.name, "latitude": station.latitude, "longitude": station.longitude,
            "attributes": {"myems": {**station.model_dump(include=set(FIELDS)), "uuid": uid}},
            "flex_model": {"production-capacity": f"{station.capacity} kW", "consumption-capacity": "0 kW"}}


def _create(data: dict, user: CurrentUser, commands: CommandContext, conn: ReadConn, wait: WaitProjected) -> Response:
    station = _checked(conn, user, data, None)
    asset_id = cmd.register_asset(commands, cmd.RegisterAsset(account_id=user.account_id, asset_type="solar",
                                                              **_fields(station, str(uuid.uuid4()))))
    sensor_id = cmd.register_sensor(commands, cmd.RegisterSensor(asset_id=asset_id, name="power", unit="kW",
                                                                 event_resolution_s=900))
    wait(REGISTRY, reg.stream_of("sensor", sensor_id))
    return created(PATH, asset_id)


@router.get(f"/{PATH}")
def list_stations(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    account = None if user.can_read_all else user.account_id
    return [station_item(conn, a) for a in rq.list_assets(conn, account) if _is_station(a)]


@router.get(f"/{PATH}/{{station_id}}")
def get_station(station_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return station_item(conn, _visible(conn, user, station_id))


@router.get(f"/{PATH}/{{station_id}}/export")
def export_station(station_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return station_item(conn, _visible(conn, user, station_id))


@router.post(f"/{PATH}", status_code=201)
def create_station(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                   wait: WaitProjected) -> Response:
    return _create(body.data, user, commands, conn, wait)


@router.post(f"/{PATH}/import", status_code=201)
def import_station(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                   wait: WaitProjected) -> Response:
    return _create(body.data, user, commands, conn, wait)


@router.post(f"/{PATH}/{{station_id}}/import", status_code=201, include_in_schema=False)
def import_station_seed_path(station_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands,
                             conn: ReadConn, wait: WaitProjected) -> Response:
    """The seed writes the import path with an id; it is ignored, as MyEMS does."""
    return _create(body.data, user, commands, conn, wait)


@router.post(f"/{PATH}/{{station_id}}/clone", status_code=201)
def clone_station(station_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                  wait: WaitProjected) -> Response:
    asset = _visible(conn, user, station_id)
    data = {**myems_attrs(asset), "name": f"{asset['name']} (Copy)", "latitude": asset["latitude"],
            "longitude": asset["longitude"], "cost_center_id": asset["account_id"]}
    return _create(data, user, commands, conn, wait)


@router.put(f"/{PATH}/{{station_id}}")
def update_station(station_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                   wait: WaitProjected) -> Response:
    asset = _visible(conn, user, station_id, write=True)
    station = _checked(conn, user, body.data, station_id)
    fields = _fields(station, myems_attrs(asset).get("uuid") or mm.entity_uuid("asset", station_id))
    fields["attributes"] = {**asset["attributes"], **fields["attributes"]}
    cmd.change_asset(commands, cmd.ChangeAsset(asset_id=station_id, changes=fields))
    wait(REGISTRY, reg.stream_of("asset", station_id))
    return Response(status_code=200)


@router.delete(f"/{PATH}/{{station_id}}", status_code=204)
def delete_station(station_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                   wait: WaitProjected) -> Response:
    _visible(conn, user, station_id, write=True)
    cmd.delete_asset(commands, cmd.DeleteAsset(asset_id=station_id))
    wait(REGISTRY, reg.stream_of("asset", station_id))
    return Response(status_code=204)
