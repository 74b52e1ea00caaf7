"""MyEMS ``meters`` and ``offlinemeters`` under ``/myems`` (issue 14), served by the generic family
builder (:mod:`api.routers.myems_resource`): a meter is a platform sensor (unit of energy or
power); its MyEMS-only fields live in the sensor's attributes, its cost center is its account.

* ``meters``: list, get, export, create, import, clone, update, delete (400 while it has
  submeters); item ``{"id", "name", "uuid", "energy_category", "is_counted", "hourly_low_limit",
  "hourly_high_limit", "cost_center", "energy_item", "master_meter", "description", "qrcode"}``.
  Create: a sensor (kWh) on ``asset_id`` (flexledger's extension) or the master meter's asset.
  ``GET /myems/meters/{id}/submeters`` -> ``[{"id", "name", "uuid"}]`` (meters whose master it is)
* ``offlinemeters``: the same verbs; an offline meter is a sensor (kWh, one value per local day,
  ``timezone`` flexledger's extension, default UTC) marked ``offline`` whose readings come from
  ``offlinemeterfiles``; without ``asset_id`` it is kept on the account's ``offline_meters`` asset
  (made on first use). Item: the meter's fields without ``master_meter`` and ``qrcode``.
"""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter

from api.auth import CurrentUser
from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsRoute, MyEmsUser
from api.routers.myems_meter_fields import (
    attributes_of,
    check_references,
    meter_item,
    meter_ref,
    meter_uuid,
    myems_attributes,
    parse_meter,
    visible_meter,
)
from api.routers.myems_resource import Call, Family, resource_router
from api.validation import Id
from commands import registry as cmd
from domain import myems_meters as mm
from domain import registry as reg
from projections import registry_query as rq

REGISTRY = "projection.registry"
OFFLINE_HOLDER = "offline_meters"
DAY_S = 86_400


def is_offline(sensor: dict) -> bool:
    return bool(myems_attributes(sensor).get("offline"))


def meters_of(conn: sa.Connection, account_id: int | None, offline: bool = False) -> list[dict]:
    """The account's meters (``offline``: its offline meters)."""
    return [
        s
        for s in rq.list_sensors(conn, account_id=account_id)
        if mm.is_meter_unit(s["unit"]) and is_offline(s) == offline
    ]


def visible_offline_meter(conn: sa.Connection, user: CurrentUser, meter_id: int, write: bool = False) -> dict:
    sensor = rq.sensor_by_id(conn, meter_id)
    if sensor is None or not is_offline(sensor):
        raise ApiError(404, "API.OFFLINE_METER_NOT_FOUND", f"no offline meter {meter_id}", "id")
    return visible_meter(conn, user, meter_id, write)


def _holder(call: Call) -> int:
    """The account's ``offline_meters`` asset (made on first use)."""
    for asset in rq.list_assets(call.conn, call.user.account_id):
        if asset["asset_type"] == OFFLINE_HOLDER:
            return asset["id"]
    asset_id = cmd.register_asset(
        call.commands,
        cmd.RegisterAsset(account_id=call.user.account_id, name="Offline meters", asset_type=OFFLINE_HOLDER),
    )
    call.wait(REGISTRY, reg.stream_of("asset", asset_id))
    call.conn.rollback()  # end the read snapshot taken before the asset existed (read-only connection)
    return asset_id


def _timezone(data: dict[str, Any]) -> str:
    name = data.get("timezone", "UTC")
    try:
        ZoneInfo(str(name))
    except (ValueError, KeyError) as exc:
        raise ApiError(400, "API.INVALID_TIMEZONE", "timezone: an IANA time zone", "timezone") from exc
    return str(name)


def _create(call: Call, data: dict[str, Any], offline: bool) -> int:
    if offline:
        data = {
            **data,
            "master_meter_id": None,
            "event_resolution_s": DAY_S,
            "asset_id": data.get("asset_id") or _holder(call),
        }
    meter = parse_meter(data)
    asset = check_references(call.conn, call.user, meter, None)
    attributes = attributes_of(meter, str(uuid.uuid4()))
    if offline:
        attributes["myems"]["offline"] = True
    sensor_id = cmd.register_sensor(
        call.commands,
        cmd.RegisterSensor(
            asset_id=asset["id"],
            name=meter.name,
            unit="kWh",
            event_resolution_s=meter.event_resolution_s,
            timezone=_timezone(data) if offline else "UTC",
            attributes=attributes,
        ),
    )
    call.wait(REGISTRY, reg.stream_of("sensor", sensor_id))
    return sensor_id


def _update(call: Call, sensor: dict, data: dict[str, Any]) -> None:
    offline = is_offline(sensor)
    base = {"asset_id": sensor["asset_id"], **({"event_resolution_s": DAY_S} if offline else {})}
    meter = parse_meter({**base, **data, **({"master_meter_id": None} if offline else {})})
    if check_references(call.conn, call.user, meter, sensor["id"])["id"] != sensor["asset_id"]:
        raise ApiError(400, "API.INVALID_ASSET_ID", "a meter stays on its asset", "asset_id")
    attributes = attributes_of(meter, meter_uuid(sensor), sensor["attributes"])
    if offline:
        attributes["myems"]["offline"] = True
    cmd.change_sensor(
        call.commands, cmd.ChangeSensor(sensor_id=sensor["id"], changes={"name": meter.name, "attributes": attributes})
    )
    call.wait(REGISTRY, reg.stream_of("sensor", sensor["id"]))


def _submeters(conn: sa.Connection, sensor: dict) -> list[dict]:
    return [
        s for s in meters_of(conn, sensor["account_id"]) if myems_attributes(s).get("master_meter_id") == sensor["id"]
    ]


def _delete(call: Call, sensor: dict) -> None:
    if _submeters(call.conn, sensor):
        raise ApiError(400, "API.THERE_IS_RELATION_WITH_SUB_METERS", "delete or move its submeters first", "id")
    cmd.delete_sensor(call.commands, cmd.DeleteSensor(sensor_id=sensor["id"]))
    call.wait(REGISTRY, reg.stream_of("sensor", sensor["id"]))


def _clone_data(sensor: dict) -> dict[str, Any]:
    attrs = myems_attributes(sensor)
    return {
        **attrs,
        "name": f"{sensor['name']} (Copy)",
        "energy_category_id": mm.ELECTRICITY,
        "cost_center_id": sensor["account_id"],
        "asset_id": sensor["asset_id"],
        "is_counted": attrs.get("is_counted", True),
        "hourly_low_limit": attrs.get("hourly_low_limit", 0.0),
        "hourly_high_limit": attrs.get("hourly_high_limit", 0.0),
        "timezone": sensor.get("timezone") or "UTC",
        "event_resolution_s": sensor["event_resolution_s"] or 900,
    }


def offline_meter_item(conn: sa.Connection, sensor: dict) -> dict:
    item = meter_item(conn, sensor)
    return {k: v for k, v in item.items() if k not in ("master_meter", "qrcode")}


def _rows(offline: bool):
    def rows(conn: sa.Connection, user: CurrentUser) -> list[dict]:
        return meters_of(conn, None if user.can_read_all else user.account_id, offline)

    return rows


METERS = Family(
    path="meters",
    tag="MyEMS meters",
    rows=_rows(False),
    visible=visible_meter,
    item=meter_item,
    create=lambda call, data: _create(call, data, False),
    update=_update,
    delete=_delete,
    clone_data=_clone_data,
)
OFFLINE_METERS = Family(
    path="offlinemeters",
    tag="MyEMS offline meters",
    rows=_rows(True),
    visible=visible_offline_meter,
    item=offline_meter_item,
    create=lambda call, data: _create(call, data, True),
    update=_update,
    delete=_delete,
    clone_data=_clone_data,
)
submeters_router = APIRouter(prefix=PREFIX, tags=["MyEMS meters"], route_class=MyEmsRoute)
router = resource_router(METERS)
offline_router = resource_router(OFFLINE_METERS)


@submeters_router.get("/meters/{meter_id}/submeters")
def list_submeters(meter_id: Id, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The meters whose master meter this is."""
    return [meter_ref(s) for s in _submeters(conn, visible_meter(conn, user, meter_id))]
