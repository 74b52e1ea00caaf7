"""MyEMS ``microgrids`` and the ``microgrid*`` device families under ``/myems`` (issue 14).

A microgrid is a site asset (type ``microgrid``; see :mod:`domain.myems_microgrids`); its devices
are child assets with a ``power`` sensor each, scheduled by the platform's scheduler through the
microgrid's flex-context (capacity, and the tariff named by ``tariff_id``).

* ``GET/POST /myems/microgrids``, ``GET/PUT/DELETE /myems/microgrids/{id}``, ``.../export``,
  ``POST /myems/microgrids/import`` (and ``/{id}/import``), ``POST .../{id}/clone``
* ``GET /myems/microgrids/{id}/<batteries|evchargers|generators|grids|heatpumps|loads|photovoltaics|
  powerconversionsystems>``
* ``GET/POST /myems/microgrid<family>``, ``GET/PUT/DELETE /myems/microgrid<family>/{id}``
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from api.auth import CurrentUser
from api.deps import ReadConn, require_account_access
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser, user_uuid
from api.routers.myems_common import Envelope, WaitProjected, created
from commands import registry as cmd
from commands.context import CommandContext
from domain import myems_meters as mm
from domain import myems_microgrids as mg
from domain import registry as reg
from projections import myems_tariffs as tq
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS microgrids"], route_class=MyEmsRoute)
REGISTRY = "projection.registry"


class MicrogridData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    address: str = Field(min_length=1, max_length=255)
    postal_code: str = Field(min_length=1, max_length=32)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    capacity: float = Field(gt=0, allow_inf_nan=False)
    architecture_type_id: int
    owner_type_id: int
    is_input_counted: StrictBool = True
    is_output_counted: StrictBool = True
    contact_id: int
    cost_center_id: int
    svg: str | None = Field(default=None, max_length=100_000)
    description: str | None = Field(default=None, max_length=1024)
    tariff_id: int | None = None


class DeviceData(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=255)
    microgrid_id: int
    capacity: float = Field(gt=0, allow_inf_nan=False)


def _parse(model: type[BaseModel], data: dict[str, Any], prefix: str) -> Any:
    try:
        return model.model_validate({**data, "name": str(data.get("name", "")).strip()})
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        name = field.removesuffix("_id").upper()
        raise ApiError(400, f"API.INVALID_{prefix}{name}" if field == "name" else f"API.INVALID_{name}_VALUE"
                       if not field.endswith("_id") else f"API.INVALID_{name}_ID",
                       f"{field}: {exc.errors()[0]['msg']}", field) from exc


def ref(entity_id: int | None, name: str | None, kind: str) -> dict | None:
    return None if entity_id is None else {"id": entity_id, "name": name, "uuid": mm.entity_uuid(kind, entity_id)}


def myems_attrs(asset: dict) -> dict:
    return dict((asset.get("attributes") or {}).get("myems") or {})


def visible_microgrid(conn: sa.Connection, user: CurrentUser, microgrid_id: int, write: bool = False) -> dict:
    asset = rq.asset_by_id(conn, microgrid_id)
    if asset is None or asset["asset_type"] != "microgrid":
        raise ApiError(404, "API.MICROGRID_NOT_FOUND", f"no microgrid {microgrid_id}", "id")
    require_account_access(user, asset["account_id"], write)
    return asset


def microgrid_item(conn: sa.Connection, asset: dict) -> dict:
    a = myems_attrs(asset)
    contact = rq.user_by_id(conn, a.get("contact_id") or 0)
    account = rq.account_by_id(conn, asset["account_id"]) or {"name": None}
    uid = a.get("uuid") or mm.entity_uuid("asset", asset["id"])
    return {
        "id": asset["id"], "name": asset["name"], "uuid": uid, "address": a.get("address"),
        "postal_code": a.get("postal_code"), "latitude": asset["latitude"], "longitude": asset["longitude"],
        "capacity": a.get("capacity"),
        "architecture_type": ref(a.get("architecture_type_id"),
                                  mg.ARCHITECTURE_TYPES.get(a.get("architecture_type_id")), "architecturetype"),
        "owner_type": ref(a.get("owner_type_id"), mg.OWNER_TYPES.get(a.get("owner_type_id")), "ownertype"),
        "is_input_counted": a.get("is_input_counted", True), "is_output_counted": a.get("is_output_counted", True),
        "contact": None if contact is None else {"id": contact["id"], "name": contact["username"],
                                                 "uuid": user_uuid(contact["id"])},
        "cost_center": ref(asset["account_id"], account["name"], "account"),
        "svg": a.get("svg"), "description": a.get("description"), "qrcode": "microgrid:" + uid,
    }


def _check_microgrid(conn: sa.Connection, user: CurrentUser, data: MicrogridData, own_id: int | None) -> None:
    if data.architecture_type_id not in mg.ARCHITECTURE_TYPES:
        raise ApiError(404, "API.MICROGRID_ARCHITECTURE_TYPE_NOT_FOUND", "unknown architecture type",
                       "architecture_type_id")
    if data.owner_type_id not in mg.OWNER_TYPES:
        raise ApiError(404, "API.MICROGRID_OWNER_TYPE_NOT_FOUND", "unknown owner type", "owner_type_id")
    contact = rq.user_by_id(conn, data.contact_id)
    if contact is None or contact["account_id"] != user.account_id:
        raise ApiError(404, "API.CONTACT_NOT_FOUND", "the contact is a user of the account", "contact_id")
    if data.cost_center_id != user.account_id:
        raise ApiError(404, "API.COST_CENTER_NOT_FOUND", "the cost center is the account", "cost_center_id")
    if data.tariff_id is not None:
        tariff = tq.tariff_by_id(conn, data.tariff_id)
        if tariff is None or tariff["account_id"] != user.account_id:
            raise ApiError(404, "API.TARIFF_NOT_FOUND", f"no tariff {data.tariff_id}", "tariff_id")
    for other in rq.list_assets(conn, user.account_id):
        if other["asset_type"] == "microgrid" and other["name"] == data.name and other["id"] != own_id:
            raise ApiError(400, "API.MICROGRID_NAME_IS_ALREADY_IN_USE", f"a microgrid named {data.name} exists",
                           "name")


def _microgrid_fields(data: MicrogridData, uid: str) -> dict:
    return {"name": data.name, "latitude": data.latitude, "longitude": data.longitude,
            "attributes": {"myems": {**data.model_dump(include=set(mg.MICROGRID_FIELDS)), "uuid": uid}},
            "flex_context": mg.microgrid_flex_context(data.capacity, data.tariff_id)}


def _create_microgrid(data: dict, user: CurrentUser, commands: CommandContext, conn: ReadConn,
                      wait: WaitProjected) -> Response:
    microgrid = _parse(MicrogridData, data, "MICROGRID_")
    _check_microgrid(conn, user, microgrid, None)
    asset_id = cmd.register_asset(commands, cmd.RegisterAsset(
        account_id=user.account_id, asset_type="microgrid", **_microgrid_fields(microgrid, str(uuid.uuid4()))))
    wait(REGISTRY, reg.stream_of("asset", asset_id))
    return created("microgrids", asset_id)


def _microgrids(conn: ReadConn, user: CurrentUser) -> list[dict]:
    return [a for a in rq.list_assets(conn, None if user.can_read_all else user.account_id)
            if a["asset_type"] == "microgrid"]


@router.get("/microgrids")
def list_microgrids(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    return [microgrid_item(conn, a) for a in _microgrids(conn, user)]


@router.get("/microgrids/{microgrid_id}")
def get_microgrid(microgrid_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return microgrid_item(conn, visible_microgrid(conn, user, microgrid_id))


@router.get("/microgrids/{microgrid_id}/export")
def export_microgrid(microgrid_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return microgrid_item(conn, visible_microgrid(conn, user, microgrid_id))


@router.post("/microgrids", status_code=201)
def create_microgrid(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                     wait: WaitProjected) -> Response:
    return _create_microgrid(body.data, user, commands, conn, wait)


@router.post("/microgrids/import", status_code=201)
def import_microgrid(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                     wait: WaitProjected) -> Response:
    return _create_microgrid(body.data, user, commands, conn, wait)


@router.post("/microgrids/{microgrid_id}/import", status_code=201, include_in_schema=False)
def import_microgrid_seed_path(microgrid_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands,
                               conn: ReadConn, wait: WaitProjected) -> Response:
    """The seed writes the import path with an id; it is ignored, as MyEMS does."""
    return _create_microgrid(body.data, user, commands, conn, wait)


@router.post("/microgrids/{microgrid_id}/clone", status_code=201)
def clone_microgrid(microgrid_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                    wait: WaitProjected) -> Response:
    asset = visible_microgrid(conn, user, microgrid_id)
    data = {**myems_attrs(asset), "name": f"{asset['name']} (Copy)", "latitude": asset["latitude"],
            "longitude": asset["longitude"], "cost_center_id": asset["account_id"]}
    return _create_microgrid(data, user, commands, conn, wait)


@router.put("/microgrids/{microgrid_id}")
def update_microgrid(microgrid_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                     wait: WaitProjected) -> Response:
    asset = visible_microgrid(conn, user, microgrid_id, write=True)
    microgrid = _parse(MicrogridData, body.data, "MICROGRID_")
    _check_microgrid(conn, user, microgrid, microgrid_id)
    fields = _microgrid_fields(microgrid, myems_attrs(asset).get("uuid") or mm.entity_uuid("asset", microgrid_id))
    fields["flex_context"] = {**asset["flex_context"], **fields["flex_context"]}
    if microgrid.tariff_id is None:
        fields["flex_context"].pop("consumption-price", None)
    cmd.change_asset(commands, cmd.ChangeAsset(asset_id=microgrid_id, changes=fields))
    wait(REGISTRY, reg.stream_of("asset", microgrid_id))
    return Response(status_code=200)


def devices_of(conn: sa.Connection, microgrid: dict, family: mg.DeviceFamily | None = None) -> list[dict]:
    types = {family.asset_type} if family else {f.asset_type for f in mg.FAMILIES.values()}
    return [a for a in rq.list_assets(conn, microgrid["account_id"])
            if a["parent_asset_id"] == microgrid["id"] and a["asset_type"] in types]


@router.delete("/microgrids/{microgrid_id}", status_code=204)
def delete_microgrid(microgrid_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                     wait: WaitProjected) -> Response:
    asset = visible_microgrid(conn, user, microgrid_id, write=True)
    if devices_of(conn, asset):
        raise ApiError(400, "API.THERE_IS_RELATION_WITH_DEVICES", "delete the microgrid's devices first", "id")
    cmd.delete_asset(commands, cmd.DeleteAsset(asset_id=microgrid_id))
    wait(REGISTRY, reg.stream_of("asset", microgrid_id))
    return Response(status_code=204)

