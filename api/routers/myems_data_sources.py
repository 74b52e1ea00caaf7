"""MyEMS' data acquisition families under ``/myems`` (issue 14): ``gateways``, ``datasources`` and
``sensors`` (MyEMS' grouping of points), each an asset family of the generic builder.

* a **gateway** is a ``gateway`` asset; item ``{"id", "name", "uuid", "token", "last_seen_datetime",
  "status", "description"}``: ``token`` a random secret made at create (kept on update),
  ``last_seen_datetime`` the newest belief time (ms since the epoch, UTC) of any point of its data
  sources, ``status`` ``online`` when that is less than ``ONLINE_WITHIN`` old, else ``offline``;
  ``GET gateways/{id}/datasources`` its data sources
* a **data source** is a ``data_source`` asset below its gateway (``parent_asset_id``); its points
  are the asset's sensors (``GET datasources/{id}/points``, made through the FlexMeasures API with
  ``generic_asset_id`` = the data source). Item ``{"id", "name", "gateway", "uuid", "protocol",
  "connection", "last_seen_datetime", "status", "description"}`` (``last_seen_datetime`` as MyEMS'
  ``YYYY-MM-DDTHH:MM:SS`` text, UTC). A data source with points is not deleted (400
  ``API.THERE_IS_RELATION_WITH_POINTS``).
* a **sensor** is a ``point_group`` asset naming points (sensors of any asset of the account) in
  ``attributes.myems.point_ids``; ``sensors/{id}/points`` bind, list, unbind. Item ``{"id", "name",
  "uuid", "description"}``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.deps import ReadConn, visible_sensor
from api.errors import ApiError
from api.myems import PREFIX, MyEmsRoute, MyEmsUser
from api.routers.myems_assets import AssetKind, asset_family, asset_ref, asset_uuid, children, merge_fields, myems_attrs
from api.routers.myems_bindings import Binding, binding_router
from api.routers.myems_common import myems_datetime
from api.routers.myems_points import point_item
from api.routers.myems_resource import Call, resource_router
from api.validation import Id
from projections import myems_sources_query as sq
from projections import registry_query as rq

ONLINE_WITHIN = timedelta(minutes=10)
"""A gateway or data source is ``online`` when one of its points reported within this time."""
PROTOCOLS = (
    "modbus-tcp",
    "modbus-rtu",
    "bacnet-ip",
    "s7",
    "profibus",
    "profinet",
    "opc-ua",
    "lora",
    "simulation",
    "controllogix",
    "weather",
    "mysql",
    "sqlserver",
    "postgresql",
    "oracle",
    "mongodb",
    "influxdb",
    "mqtt",
)


class NamedData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1024)


class SourceData(NamedData):
    gateway_id: Id
    protocol: Literal[PROTOCOLS]  # type: ignore[valid-type]
    connection: str = Field(min_length=1, max_length=10_000)


def _named_fields(data: NamedData, uid: str) -> dict:
    return {"name": data.name, "attributes": {"myems": {"description": data.description, "uuid": uid}}}


def _point_ids(conn: sa.Connection, sources: list[dict]) -> list[int]:
    return [s["id"] for source in sources for s in rq.list_sensors(conn, asset_id=source["id"])]


def _seen(conn: sa.Connection, sources: list[dict]) -> tuple[datetime | None, str]:
    seen = sq.last_belief_time(conn, _point_ids(conn, sources))
    online = seen is not None and datetime.now(UTC) - seen < ONLINE_WITHIN
    return seen, "online" if online else "offline"


def _gateway_item(conn: sa.Connection, asset: dict) -> dict:
    a = myems_attrs(asset)
    seen, status = _seen(conn, children(conn, asset, {"data_source"}))
    return {
        "id": asset["id"],
        "name": asset["name"],
        "uuid": asset_uuid(asset),
        "token": a.get("token"),
        "last_seen_datetime": None if seen is None else seen.timestamp() * 1000.0,
        "status": status,
        "description": a.get("description"),
    }


def _gateway_fields(data: NamedData, uid: str) -> dict:
    """A new gateway's fields, with its secret ``token`` (128 hex digits, as MyEMS' tokens)."""
    fields = _named_fields(data, uid)
    fields["attributes"]["myems"]["token"] = secrets.token_hex(64)
    return fields


def _gateway_merge(asset: dict, fields: dict, data: NamedData) -> dict:
    changes = merge_fields(asset, fields, data)
    changes["attributes"]["myems"]["token"] = myems_attrs(asset).get("token")  # the gateway keeps its secret
    return changes


GATEWAYS = AssetKind(
    path="gateways",
    tag="MyEMS gateways",
    label="GATEWAY",
    asset_type="gateway",
    model=NamedData,
    fields=_gateway_fields,
    item=_gateway_item,
    merge=_gateway_merge,
    blocking_children=frozenset({"data_source"}),
    relation_code="API.THERE_IS_RELATION_WITH_DATA_SOURCES",
)


def _check_source(conn: sa.Connection, user: CurrentUser, data: SourceData) -> None:
    gateway = rq.asset_by_id(conn, data.gateway_id)
    if not GATEWAYS.member(gateway) or gateway["account_id"] != user.account_id:
        raise ApiError(404, "API.GATEWAY_NOT_FOUND", f"no gateway {data.gateway_id}", "gateway_id")
    try:
        json.loads(data.connection)
    except ValueError as exc:
        raise ApiError(400, "API.INVALID_CONNECTION", "connection: JSON text", "connection") from exc


def _source_fields(data: SourceData, uid: str) -> dict:
    fields = data.model_dump(include={"protocol", "connection", "description"})
    return {"name": data.name, "attributes": {"myems": {**fields, "uuid": uid}}}


def _source_item(conn: sa.Connection, asset: dict) -> dict:
    a = myems_attrs(asset)
    seen, status = _seen(conn, [asset])
    return {
        "id": asset["id"],
        "name": asset["name"],
        "gateway": asset_ref(rq.asset_by_id(conn, asset["parent_asset_id"] or 0)),
        "uuid": asset_uuid(asset),
        "protocol": a.get("protocol"),
        "connection": a.get("connection"),
        "last_seen_datetime": None if seen is None else myems_datetime(seen),
        "status": status,
        "description": a.get("description"),
    }


DATA_SOURCES = AssetKind(
    path="datasources",
    tag="MyEMS data sources",
    label="DATA_SOURCE",
    asset_type="data_source",
    model=SourceData,
    fields=_source_fields,
    item=_source_item,
    check=_check_source,
    parent_field="gateway_id",
)
SENSORS = AssetKind(
    path="sensors",
    tag="MyEMS sensors",
    label="SENSOR",
    asset_type="point_group",
    model=NamedData,
    fields=_named_fields,
    item=lambda conn, asset: {
        "id": asset["id"],
        "name": asset["name"],
        "uuid": asset_uuid(asset),
        "description": myems_attrs(asset).get("description"),
    },
)


def _delete_source(call: Call, asset: dict) -> None:
    if rq.list_sensors(call.conn, asset_id=asset["id"]):
        raise ApiError(400, "API.THERE_IS_RELATION_WITH_POINTS", "delete or move its points first", "id")
    asset_family(DATA_SOURCES).delete(call, asset)


def _point(conn: sa.Connection, user: CurrentUser, point_id: int) -> dict:
    if rq.sensor_by_id(conn, point_id) is None:
        raise ApiError(404, "API.POINT_NOT_FOUND", f"no point {point_id}", "point_id")
    return visible_sensor(conn, user, point_id)


gateway_router = resource_router(asset_family(GATEWAYS))
source_router = resource_router(replace(asset_family(DATA_SOURCES), delete=_delete_source))
sensor_router = resource_router(asset_family(SENSORS))
sensor_points_router = binding_router(
    Binding(
        owner=SENSORS,
        sub="points",
        body_field="point_id",
        attr="point_ids",
        label="POINT",
        member=_point,
        item=point_item,
    )
)
members_router = APIRouter(prefix=PREFIX, tags=["MyEMS gateways"], route_class=MyEmsRoute)


@members_router.get("/gateways/{gateway_id}/datasources")
def gateway_sources(gateway_id: Id, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The data sources under one of the caller's gateways."""
    gateway = GATEWAYS.visible(conn, user, gateway_id)
    return [_source_item(conn, a) for a in children(conn, gateway, {"data_source"})]


@members_router.get("/datasources/{source_id}/points")
def source_points(source_id: Id, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The points (sensors) of one of the caller's data sources."""
    source = DATA_SOURCES.visible(conn, user, source_id)
    return [point_item(conn, s) for s in rq.list_sensors(conn, asset_id=source["id"])]
