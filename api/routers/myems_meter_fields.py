"""MyEMS meter bodies and items over platform sensors (see :mod:`domain.myems_meters`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from api.auth import CurrentUser
from api.deps import require_account_access
from api.errors import ApiError
from api.validation import MAX_ID
from domain import myems_meters as mm
from projections import registry_query as rq

DESCRIPTIONS = {
    "name": "API.INVALID_METER_NAME",
    "energy_category_id": "API.INVALID_ENERGY_CATEGORY_ID",
    "is_counted": "API.INVALID_IS_COUNTED_VALUE",
    "hourly_low_limit": "API.INVALID_HOURLY_LOW_LIMIT_VALUE",
    "hourly_high_limit": "API.INVALID_HOURLY_HIGH_LIMIT_VALUE",
    "cost_center_id": "API.INVALID_COST_CENTER_ID",
    "energy_item_id": "API.INVALID_ENERGY_ITEM_ID",
    "master_meter_id": "API.INVALID_MASTER_METER_ID",
    "asset_id": "API.INVALID_ASSET_ID",
    "event_resolution_s": "API.INVALID_EVENT_RESOLUTION",
}


class MeterData(BaseModel):
    """A meter as MyEMS sends it; ``asset_id`` and ``event_resolution_s`` are flexledger's extensions
    (default: the master meter's asset; 900 s)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    energy_category_id: int = Field(gt=0, le=MAX_ID)
    is_counted: StrictBool
    hourly_low_limit: float
    hourly_high_limit: float
    cost_center_id: int = Field(gt=0, le=MAX_ID)
    energy_item_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    master_meter_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    description: str | None = Field(default=None, max_length=1024)
    asset_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    event_resolution_s: int = Field(default=900, gt=0, le=86400)


def parse_meter(data: dict[str, Any]) -> MeterData:
    """The body's meter, or 400 with MyEMS' description of the first bad field."""
    try:
        return MeterData.model_validate({**data, "name": str(data.get("name", "")).strip()})
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        raise ApiError(
            400, DESCRIPTIONS.get(field, "API.BAD_REQUEST"), f"{field}: {exc.errors()[0]['msg']}", field
        ) from exc


def visible_meter(
    conn: sa.Connection, user: CurrentUser, meter_id: int, write: bool = False, description: str = "API.METER_NOT_FOUND"
) -> dict:
    """The sensor a meter id names (404 ``API.METER_NOT_FOUND``), if the caller may see it (403)."""
    sensor = rq.sensor_by_id(conn, meter_id)
    if sensor is None or not mm.is_meter_unit(sensor["unit"]):
        raise ApiError(404, description, f"no meter {meter_id}", "id")
    require_account_access(user, sensor["account_id"], write)
    return sensor


def myems_attributes(sensor: dict) -> dict:
    return dict((sensor.get("attributes") or {}).get("myems") or {})


def meter_uuid(sensor: dict) -> str:
    return myems_attributes(sensor).get("uuid") or mm.entity_uuid("sensor", sensor["id"])


def _ref(entity_id: int | None, name: str | None, uid: str) -> dict | None:
    return None if entity_id is None else {"id": entity_id, "name": name, "uuid": uid}


def meter_ref(sensor: dict | None) -> dict | None:
    return None if sensor is None else {"id": sensor["id"], "name": sensor["name"], "uuid": meter_uuid(sensor)}


def meter_item(conn: sa.Connection, sensor: dict) -> dict:
    """MyEMS' meter fields, in its order (``GET /meters/{id}``)."""
    attrs = myems_attributes(sensor)
    account = rq.account_by_id(conn, sensor["account_id"]) or {"name": None}
    item_id, master_id = attrs.get("energy_item_id"), attrs.get("master_meter_id")
    uid = meter_uuid(sensor)
    return {
        "id": sensor["id"],
        "name": sensor["name"],
        "uuid": uid,
        "energy_category": _ref(
            mm.ELECTRICITY,
            mm.ENERGY_CATEGORIES[mm.ELECTRICITY]["name"],
            mm.entity_uuid("energycategory", mm.ELECTRICITY),
        ),
        "is_counted": bool(attrs.get("is_counted", True)),
        "hourly_low_limit": float(attrs.get("hourly_low_limit", 0.0)),
        "hourly_high_limit": float(attrs.get("hourly_high_limit", 0.0)),
        "cost_center": _ref(sensor["account_id"], account["name"], mm.entity_uuid("account", sensor["account_id"])),
        "energy_item": _ref(item_id, mm.ENERGY_ITEMS.get(item_id), mm.entity_uuid("energyitem", item_id or 0)),
        "master_meter": meter_ref(rq.sensor_by_id(conn, master_id) if master_id else None),
        "description": attrs.get("description"),
        "qrcode": "meter:" + uid,
    }


def check_references(conn: sa.Connection, user: CurrentUser, data: MeterData, meter_id: int | None) -> dict:
    """The asset the meter belongs on (after checking the catalogue, cost center, master meter and name)."""
    if data.energy_category_id not in mm.ENERGY_CATEGORIES:
        raise ApiError(
            404, "API.ENERGY_CATEGORY_NOT_FOUND", f"no energy category {data.energy_category_id}", "energy_category_id"
        )
    if data.energy_item_id is not None and data.energy_item_id not in mm.ENERGY_ITEMS:
        raise ApiError(404, "API.ENERGY_ITEM_NOT_FOUND", f"no energy item {data.energy_item_id}", "energy_item_id")
    master = None
    if data.master_meter_id is not None:
        if data.master_meter_id == meter_id:
            raise ApiError(
                400, "API.CANNOT_SET_EXISTING_METER_AS_MASTER_METER", "a meter is not its own master", "master_meter_id"
            )
        master = visible_meter(conn, user, data.master_meter_id, description="API.MASTER_METER_NOT_FOUND")
    asset_id = data.asset_id or (master["asset_id"] if master else None)
    if asset_id is None:
        raise ApiError(400, "API.INVALID_ASSET_ID", "name the asset (asset_id) or a master meter", "asset_id")
    asset = rq.asset_by_id(conn, asset_id)
    if asset is None:
        raise ApiError(404, "API.ASSET_NOT_FOUND", f"no asset {asset_id}", "asset_id")
    require_account_access(user, asset["account_id"], write=True)
    if data.cost_center_id != asset["account_id"]:
        raise ApiError(
            404,
            "API.COST_CENTER_NOT_FOUND",
            f"the cost center is the account that owns the meter ({asset['account_id']})",
            "cost_center_id",
        )
    for other in rq.list_sensors(conn, account_id=asset["account_id"]):
        if other["name"] == data.name and other["id"] != meter_id and mm.is_meter_unit(other["unit"]):
            raise ApiError(400, "API.METER_NAME_IS_ALREADY_IN_USE", f"a meter named {data.name} exists", "name")
    return asset


def attributes_of(data: MeterData, uid: str, existing: dict | None = None) -> dict:
    """The sensor attributes holding the meter's MyEMS fields (other attributes and the meter's bound
    commands and points, ``command_ids`` and ``point_ids``, kept)."""
    fields = data.model_dump(include=set(mm.MYEMS_FIELDS))
    bindings = {k: v for k, v in ((existing or {}).get("myems") or {}).items() if k in ("command_ids", "point_ids")}
    return {**(existing or {}), "myems": {**fields, **bindings, "uuid": uid}}
