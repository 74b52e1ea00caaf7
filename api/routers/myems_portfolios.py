"""MyEMS groupings of sites under ``/myems`` (issue 14):

* ``energystoragepowerstations/{id}/containers`` and ``.../{id}/users``: bind, list, unbind
  (:mod:`api.routers.myems_bindings`); a container item ``{"id", "name", "uuid"}``, a user item
  ``{"id", "name", "uuid"}``
* ``microgrids/{id}/users``, ``microgrids/{id}/sensors`` and ``energystoragecontainers/{id}/sensors``:
  bind, list, unbind users of the account and MyEMS sensors (``point_group`` assets, see
  :mod:`api.routers.myems_data_sources`); the seed binds a container's sensor with the body field
  ``energy_storage_container_id``, accepted beside ``sensor_id``
* ``virtualpowerplants``: a ``virtual_power_plant`` asset (list, get, export, create, import, clone,
  update, delete) with a balancing-price point (a sensor of the account); item ``{"id", "name",
  "uuid", "cost_center", "balancing_price_point", "svg", "description"}``
* ``virtualpowerplants/{id}/microgrids``: bind, list, unbind microgrids (their ids in
  ``attributes.myems.microgrid_ids``; a microgrid stays its own site for scheduling)
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.errors import ApiError
from api.myems import user_uuid
from api.routers.myems_assets import AssetKind, asset_family, asset_ref, asset_uuid, cost_center_ref, myems_attrs
from api.routers.myems_bindings import Binding, binding_router
from api.routers.myems_data_sources import SENSORS
from api.routers.myems_microgrids import MICROGRIDS
from api.routers.myems_resource import resource_router
from api.routers.myems_sites import STORAGE_STATIONS
from api.routers.myems_storage_containers import CONTAINERS
from api.validation import Id
from domain import myems_meters as mm
from projections import registry_query as rq


def _user(conn: sa.Connection, user: CurrentUser, user_id: int) -> dict:
    found = rq.user_by_id(conn, user_id)
    if found is None or (found["account_id"] != user.account_id and not user.can_read_all):
        raise ApiError(404, "API.USER_NOT_FOUND", f"no user {user_id}", "user_id")
    return found


def _user_item(conn: sa.Connection, found: dict) -> dict:
    return {"id": found["id"], "name": found["username"], "uuid": user_uuid(found["id"])}


def _users_of(owner: AssetKind) -> APIRouter:
    """``{owner}/{id}/users``: users of the owner's account."""
    return binding_router(Binding(owner, "users", "user_id", "user_ids", "USER", _user, _user_item))


def _assets_of(owner: AssetKind, sub: str, field: str, label: str, kind: AssetKind, aliases=()) -> APIRouter:
    """``{owner}/{id}/{sub}``: assets of ``kind`` (their ids in ``attributes.myems.<sub[:-1]>_ids``)."""
    return binding_router(Binding(
        owner, sub, field, f"{sub.removesuffix('s')}_ids", label, member=lambda conn, user, i: kind.visible(
            conn, user, i), item=lambda conn, asset: asset_ref(asset), aliases=aliases))  # fmt: skip


station_containers_router = _assets_of(
    STORAGE_STATIONS, "containers", "energy_storage_container_id", "ENERGY_STORAGE_CONTAINER", CONTAINERS
)
station_users_router = _users_of(STORAGE_STATIONS)
microgrid_users_router = _users_of(MICROGRIDS)
microgrid_sensors_router = _assets_of(MICROGRIDS, "sensors", "sensor_id", "SENSOR", SENSORS)
container_sensors_router = _assets_of(  # the seed names the sensor energy_storage_container_id
    CONTAINERS, "sensors", "sensor_id", "SENSOR", SENSORS, aliases=("energy_storage_container_id",)
)


class PlantData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    cost_center_id: Id
    balancing_price_point_id: Id | None = None
    svg: str | None = Field(default=None, max_length=100_000)
    description: str | None = Field(default=None, max_length=1024)


def _check_plant(conn: sa.Connection, user: CurrentUser, data: PlantData) -> None:
    point_id = data.balancing_price_point_id
    if point_id is not None:
        sensor = rq.sensor_by_id(conn, point_id)
        if sensor is None or sensor["account_id"] != user.account_id:
            raise ApiError(
                404, "API.BALANCING_PRICE_POINT_NOT_FOUND", f"no point {point_id}", "balancing_price_point_id"
            )


def _plant_fields(data: PlantData, uid: str) -> dict:
    fields = data.model_dump(include={"balancing_price_point_id", "svg", "description"})
    return {"name": data.name, "attributes": {"myems": {**fields, "uuid": uid}}}


def _plant_item(conn: sa.Connection, asset: dict) -> dict:
    a = myems_attrs(asset)
    point = rq.sensor_by_id(conn, a.get("balancing_price_point_id") or 0)
    return {
        "id": asset["id"],
        "name": asset["name"],
        "uuid": asset_uuid(asset),
        "cost_center": cost_center_ref(conn, asset),
        "balancing_price_point": None
        if point is None
        else {"id": point["id"], "name": point["name"], "uuid": mm.entity_uuid("sensor", point["id"])},
        "svg": a.get("svg"),
        "description": a.get("description"),
    }


VIRTUAL_POWER_PLANTS = AssetKind(
    path="virtualpowerplants",
    tag="MyEMS virtual power plants",
    label="VIRTUAL_POWER_PLANT",
    asset_type="virtual_power_plant",
    model=PlantData,
    fields=_plant_fields,
    item=_plant_item,
    check=_check_plant,
    bindings=("microgrid_ids",),
)
plant_router = resource_router(asset_family(VIRTUAL_POWER_PLANTS))
plant_microgrids_router = _assets_of(VIRTUAL_POWER_PLANTS, "microgrids", "microgrid_id", "MICROGRID", MICROGRIDS)
