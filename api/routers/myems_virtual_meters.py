"""MyEMS ``virtualmeters`` under ``/myems`` (issue 14): a meter computed from an equation over
meters of the account, evaluated by a projection (:mod:`projections.myems_virtual_meters`).

* ``GET /myems/virtualmeters``, ``GET /myems/virtualmeters/{id}``, ``.../export`` -> ``{"id", "name",
  "uuid", "energy_category", "is_counted", "cost_center", "energy_item", "description", "expression":
  {"id", "uuid", "equation", "variables": [{"id", "name", "meter_type", "meter_id", "meter_name"}]}}``
* ``POST /myems/virtualmeters`` (also ``/import``, ``/{id}/import``) -> 201 + ``Location``;
  ``POST .../{id}/clone`` -> 201; ``PUT /myems/virtualmeters/{id}`` -> 200; ``DELETE`` -> 204
* values: ``GET /myems/reports/virtualmeterenergy`` (:mod:`api.routers.myems_reports`)
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import ValidationError

from api.auth import CurrentUser
from api.deps import ReadConn, require_account_access
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_common import Envelope, WaitProjected, created
from api.routers.myems_meter_fields import visible_meter
from commands import myems_virtual_meters as handlers
from commands.context import CommandContext
from domain import myems_meters as mm
from domain import virtual_meters as vm
from projections import myems_virtual_meters as q
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS virtual meters"], route_class=MyEmsRoute)
PROJECTION = "projection.myems_virtual_meters"


def _ref(entity_id: int | None, name: str | None, kind: str) -> dict | None:
    return None if entity_id is None else {"id": entity_id, "name": name, "uuid": mm.entity_uuid(kind, entity_id)}


def virtual_meter_item(conn: sa.Connection, row: dict) -> dict:
    d = vm.VirtualMeterDefinition.model_validate(row["definition"])
    account = rq.account_by_id(conn, row["account_id"]) or {"name": None}
    variables = []
    for index, variable in enumerate(d.expression.variables, start=1):
        meter = rq.sensor_by_id(conn, variable.meter_id)
        variables.append({"id": index, "name": variable.name, "meter_type": variable.meter_type,
                          "meter_id": variable.meter_id, "meter_name": meter["name"] if meter else None})
    return {
        "id": row["id"], "name": row["name"], "uuid": row["uuid"],
        "energy_category": _ref(mm.ELECTRICITY, mm.ENERGY_CATEGORIES[mm.ELECTRICITY]["name"], "energycategory"),
        "is_counted": d.is_counted, "cost_center": _ref(row["account_id"], account["name"], "account"),
        "energy_item": _ref(d.energy_item_id, mm.ENERGY_ITEMS.get(d.energy_item_id or 0), "energyitem"),
        "description": d.description,
        "expression": {"id": row["id"], "uuid": mm.entity_uuid("expression", row["id"]),
                       "equation": d.expression.equation, "variables": variables},
    }


def visible_virtual_meter(conn: sa.Connection, user: CurrentUser, vm_id: int, write: bool = False) -> dict:
    row = q.virtual_meter_by_id(conn, vm_id)
    if row is None:
        raise ApiError(404, "API.VIRTUAL_METER_NOT_FOUND", f"no virtual meter {vm_id}", "id")
    require_account_access(user, row["account_id"], write)
    return row


def _definition(conn: sa.Connection, user: CurrentUser, data: dict[str, Any], own_id: int | None
                ) -> vm.VirtualMeterDefinition:
    try:
        definition = vm.VirtualMeterDefinition.model_validate({**data, "name": str(data.get("name", "")).strip()})
        vm.parse_equation(definition.expression.equation, {v.name for v in definition.expression.variables})
    except ValidationError as exc:
        field = ".".join(str(p) for p in exc.errors()[0]["loc"])
        description = "API.INVALID_VIRTUAL_METER_NAME" if field == "name" else "API.INVALID_EXPRESSION_OBJECT"
        raise ApiError(400, description, f"{field}: {exc.errors()[0]['msg']}", field) from exc
    except vm.EquationError as exc:
        raise ApiError(400, "API.INVALID_EQUATION_IN_EXPRESSION", str(exc), "expression.equation") from exc
    if definition.energy_category_id not in mm.ENERGY_CATEGORIES:
        raise ApiError(404, "API.ENERGY_CATEGORY_NOT_FOUND", "unknown energy category", "energy_category_id")
    if data.get("cost_center_id", user.account_id) != user.account_id:
        raise ApiError(404, "API.COST_CENTER_NOT_FOUND", "the cost center is the account", "cost_center_id")
    for variable in definition.expression.variables:
        meter = visible_meter(conn, user, variable.meter_id, description="API.METER_OF_VARIABLE_NOT_FOUND")
        if meter["account_id"] != user.account_id:
            raise ApiError(403, "API.FORBIDDEN", "a virtual meter's meters belong to its account", "meter_id")
    for other in q.virtual_meters(conn, user.account_id):
        if other["name"] == definition.name and other["id"] != own_id:
            raise ApiError(400, "API.VIRTUAL_METER_NAME_IS_ALREADY_IN_USE", "name in use", "name")
    return definition


def _create(data: dict, user: CurrentUser, commands: CommandContext, conn: ReadConn, wait: WaitProjected) -> Response:
    definition = _definition(conn, user, data, None)
    vm_id = handlers.define_virtual_meter(commands, user.account_id, uuid.uuid4(), definition)
    wait(PROJECTION, vm.virtual_meter_stream(vm_id))
    return created("virtualmeters", vm_id)


@router.get("/virtualmeters")
def list_virtual_meters(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    return [virtual_meter_item(conn, r) for r in q.virtual_meters(conn, None if user.can_read_all else user.account_id)]


@router.get("/virtualmeters/{vm_id}")
def get_virtual_meter(vm_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return virtual_meter_item(conn, visible_virtual_meter(conn, user, vm_id))


@router.get("/virtualmeters/{vm_id}/export")
def export_virtual_meter(vm_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return virtual_meter_item(conn, visible_virtual_meter(conn, user, vm_id))


@router.post("/virtualmeters", status_code=201)
def create_virtual_meter(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                         wait: WaitProjected) -> Response:
    return _create(body.data, user, commands, conn, wait)


@router.post("/virtualmeters/import", status_code=201)
def import_virtual_meter(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                         wait: WaitProjected) -> Response:
    return _create(body.data, user, commands, conn, wait)


@router.post("/virtualmeters/{vm_id}/import", status_code=201, include_in_schema=False)
def import_virtual_meter_seed_path(vm_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands,
                                   conn: ReadConn, wait: WaitProjected) -> Response:
    """The seed writes the import path with an id; it is ignored, as MyEMS does."""
    return _create(body.data, user, commands, conn, wait)


@router.post("/virtualmeters/{vm_id}/clone", status_code=201)
def clone_virtual_meter(vm_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                        wait: WaitProjected) -> Response:
    row = visible_virtual_meter(conn, user, vm_id)
    return _create({**row["definition"], "name": f"{row['name']} (Copy)"}, user, commands, conn, wait)


@router.put("/virtualmeters/{vm_id}")
def update_virtual_meter(vm_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                         wait: WaitProjected) -> Response:
    visible_virtual_meter(conn, user, vm_id, write=True)
    handlers.redefine_virtual_meter(commands, vm_id, _definition(conn, user, body.data, vm_id))
    wait(PROJECTION, vm.virtual_meter_stream(vm_id))
    return Response(status_code=200)


@router.delete("/virtualmeters/{vm_id}", status_code=204)
def delete_virtual_meter(vm_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                         wait: WaitProjected) -> Response:
    visible_virtual_meter(conn, user, vm_id, write=True)
    handlers.delete_virtual_meter(commands, vm_id)
    wait(PROJECTION, vm.virtual_meter_stream(vm_id))
    return Response(status_code=204)
