"""MyEMS ``energystoragecontainers`` under ``/myems`` (issue 14): a container is a site asset (type
``energy_storage_container``) whose batteries, grids, loads and power conversion systems are child
assets with a ``power`` sensor each; batteries carry a flex-model (``rated_capacity`` kWh,
``rated_power`` kW), so the platform schedules them under the container's flex-context
(site power capacity: the container's ``rated_power``).

* ``GET/POST /myems/energystoragecontainers``, ``GET/PUT/DELETE .../{id}``, ``.../{id}/export``,
  ``POST .../import`` (and ``/{id}/import``), ``POST .../{id}/clone``
* devices: :mod:`api.routers.myems_storage_container_devices`
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

router = APIRouter(prefix=PREFIX, tags=["MyEMS energy storage containers"], route_class=MyEmsRoute)
REGISTRY = "projection.registry"
PATH = "energystoragecontainers"
KIND = "energy_storage_container"
FAMILIES = {  # family -> (asset type, point fields, meter fields)
    "batteries": ("battery", ("battery_state_point_id", "soc_point_id", "power_point_id"),
                  ("charge_meter_id", "discharge_meter_id")),
    "grids": ("grid_connection", ("power_point_id",), ("buy_meter_id", "sell_meter_id")),
    "loads": ("building", ("power_point_id",), ("meter_id",)),
    "powerconversionsystems": ("power_conversion_system", ("run_state_point_id", "today_charge_energy_point_id",
                                                           "today_discharge_energy_point_id",
                                                           "total_charge_energy_point_id",
                                                           "total_discharge_energy_point_id"), ()),
}
NUMBERS = ("rated_capacity", "rated_power", "nominal_voltage", "capacity", "rated_input_power", "rated_output_power")


class ContainerData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    rated_capacity: float = Field(gt=0, allow_inf_nan=False)
    rated_power: float = Field(gt=0, allow_inf_nan=False)
    contact_id: int
    cost_center_id: int
    svg_id: int | str | None = None
    description: str | None = Field(default=None, max_length=1024)


class DeviceData(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=255)


def _visible(conn: sa.Connection, user: CurrentUser, container_id: int, write: bool = False) -> dict:
    asset = rq.asset_by_id(conn, container_id)
    if asset is None or asset["asset_type"] != KIND:
        raise ApiError(404, "API.ENERGY_STORAGE_CONTAINER_NOT_FOUND", f"no container {container_id}", "id")
    require_account_access(user, asset["account_id"], write)
    return asset


def container_item(conn: sa.Connection, asset: dict) -> dict:
    a = myems_attrs(asset)
    contact = rq.user_by_id(conn, a.get("contact_id") or 0)
    account = rq.account_by_id(conn, asset["account_id"]) or {"name": None}
    uid = a.get("uuid") or mm.entity_uuid("asset", asset["id"])
    return {"id": asset["id"], "name": asset["name"], "uuid": uid, "rated_capacity": a.get("rated_capacity"),
            "rated_power": a.get("rated_power"),
            "contact": None if contact is None else {"id": contact["id"], "name": contact["username"],
                                                     "uuid": user_uuid(contact["id"])},
            "cost_center": ref(asset["account_id"], account["name"], "account"),
            "svg": None if a.get("svg_id") is None else {"id": a["svg_id"]},
            "description": a.get("description"), "qrcode": "energystoragecontainer:" + uid}


def _checked(conn: sa.Connection, user: CurrentUser, data: dict[str, Any], own_id: int | None) -> ContainerData:
    container = _parse(ContainerData, data, "ENERGY_STORAGE_CONTAINER_")
    contact = rq.user_by_id(conn, container.contact_id)
    if contact is None or contact["account_id"] != user.account_id:
        raise ApiError(404, "API.CONTACT_NOT_FOUND", "the contact is a user of the account", "contact_id")
    if container.cost_center_id != user.account_id:
        raise ApiError(404, "API.COST_CENTER_NOT_FOUND", "the cost center is the account", "cost_center_id")
    for other in rq.list_assets(conn, user.account_id):
        if other["asset_type"] == KIND and other["name"] == container.name and other["id"] != own_id:
            raise ApiError(400, "API.ENERGY_STORAGE_CONTAINER_NAME_IS_ALREADY_IN_USE", "name in use", "name")
    return container


def _fields(container: ContainerData, uid: str) -> dict:
    myems = {**container.model_dump(include={"rated_capacity", "rated_power", "contact_id", "svg_id",
                                             "description"}), "uuid": uid}
    return {"name": container.name, "attributes": {"myems": myems},
            "flex_context": {"site-power-capacity": f"{container.rated_power} kW"}}


def _create(data: dict, user: CurrentUser, commands: CommandContext, conn: ReadConn, wait: WaitProjected) -> Response:
    container = _checked(conn, user, data, None)
    asset_id = cmd.register_asset(commands, cmd.RegisterAsset(account_id=user.account_id, asset_type=KIND,
                                                              **_fields(container, str(uuid.uuid4()))))
    wait(REGISTRY, reg.stream_of("asset", asset_id))
    return created(PATH, asset_id)


@router.get(f"/{PATH}")
def list_containers(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    account = None if user.can_read_all else user.account_id
    return [container_item(conn, a) for a in rq.list_assets(conn, account) if a["asset_type"] == KIND]


@router.get(f"/{PATH}/{{container_id}}")
def get_container(container_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return container_item(conn, _visible(conn, user, container_id))


@router.get(f"/{PATH}/{{container_id}}/export")
def export_container(container_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return container_item(conn, _visible(conn, user, container_id))


@router.post(f"/{PATH}", status_code=201)
def create_container(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                     wait: WaitProjected) -> Response:
    return _create(body.data, user, commands, conn, wait)


@router.post(f"/{PATH}/import", status_code=201)
def import_container(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                     wait: WaitProjected) -> Response:
    return _create(body.data, user, commands, conn, wait)


@router.post(f"/{PATH}/{{container_id}}/import", status_code=201, include_in_schema=False)
def import_container_seed_path(container_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands,
                               conn: ReadConn, wait: WaitProjected) -> Response:
    """The seed writes the import path with an id; it is ignored, as MyEMS does."""
    return _create(body.data, user, commands, conn, wait)


@router.post(f"/{PATH}/{{container_id}}/clone", status_code=201)
def clone_container(container_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                    wait: WaitProjected) -> Response:
    asset = _visible(conn, user, container_id)
    data = {**myems_attrs(asset), "name": f"{asset['name']} (Copy)", "cost_center_id": asset["account_id"]}
    return _create(data, user, commands, conn, wait)


@router.put(f"/{PATH}/{{container_id}}")
def update_container(container_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                     wait: WaitProjected) -> Response:
    asset = _visible(conn, user, container_id, write=True)
    fields = _fields(_checked(conn, user, body.data, container_id),
                     myems_attrs(asset).get("uuid") or mm.entity_uuid("asset", container_id))
    fields["flex_context"] = {**asset["flex_context"], **fields["flex_context"]}
    cmd.change_asset(commands, cmd.ChangeAsset(asset_id=container_id, changes=fields))
    wait(REGISTRY, reg.stream_of("asset", container_id))
    return Response(status_code=200)


def _children(conn: sa.Connection, container: dict, asset_type: str | None = None) -> list[dict]:
    types = {asset_type} if asset_type else {t for t, _, _ in FAMILIES.values()}
    return [a for a in rq.list_assets(conn, container["account_id"])
            if a["parent_asset_id"] == container["id"] and a["asset_type"] in types]


@router.delete(f"/{PATH}/{{container_id}}", status_code=204)
def delete_container(container_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                     wait: WaitProjected) -> Response:
    asset = _visible(conn, user, container_id, write=True)
    if _children(conn, asset):
        raise ApiError(400, "API.THERE_IS_RELATION_WITH_DEVICES", "delete the container's devices first", "id")
    cmd.delete_asset(commands, cmd.DeleteAsset(asset_id=container_id))
    wait(REGISTRY, reg.stream_of("asset", container_id))
    return Response(status_code=204)
