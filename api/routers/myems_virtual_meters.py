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
from pydantic import ValidationError

from api.auth import CurrentUser
from api.errors import ApiError
from api.routers.myems_assets import ref
from api.routers.myems_meter_fields import visible_meter
from api.routers.myems_resource import Call, Family, owned_row, resource_router
from commands import myems_virtual_meters as handlers
from domain import myems_meters as mm
from domain import virtual_meters as vm
from projections import myems_virtual_meters as q
from projections import registry_query as rq

PROJECTION = "projection.myems_virtual_meters"


def virtual_meter_item(conn: sa.Connection, row: dict) -> dict:
    d = vm.VirtualMeterDefinition.model_validate(row["definition"])
    account = rq.account_by_id(conn, row["account_id"]) or {"name": None}
    variables = []
    for index, variable in enumerate(d.expression.variables, start=1):
        meter = rq.sensor_by_id(conn, variable.meter_id)
        variables.append(
            {
                "id": index,
                "name": variable.name,
                "meter_type": variable.meter_type,
                "meter_id": variable.meter_id,
                "meter_name": meter["name"] if meter else None,
            }
        )
    return {
        "id": row["id"],
        "name": row["name"],
        "uuid": row["uuid"],
        "energy_category": ref(mm.ELECTRICITY, mm.ENERGY_CATEGORIES[mm.ELECTRICITY]["name"], "energycategory"),
        "is_counted": d.is_counted,
        "cost_center": ref(row["account_id"], account["name"], "account"),
        "energy_item": ref(d.energy_item_id, mm.ENERGY_ITEMS.get(d.energy_item_id or 0), "energyitem"),
        "description": d.description,
        "expression": {
            "id": row["id"],
            "uuid": mm.entity_uuid("expression", row["id"]),
            "equation": d.expression.equation,
            "variables": variables,
        },
    }


visible_virtual_meter = owned_row(q.virtual_meter_by_id, "VIRTUAL_METER")


def _definition(
    conn: sa.Connection, user: CurrentUser, data: dict[str, Any], own_id: int | None
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


def _create(call: Call, data: dict[str, Any]) -> int:
    definition = _definition(call.conn, call.user, data, None)
    vm_id = handlers.define_virtual_meter(call.commands, call.user.account_id, uuid.uuid4(), definition)
    call.wait(PROJECTION, vm.virtual_meter_stream(vm_id))
    return vm_id


def _update(call: Call, row: dict, data: dict[str, Any]) -> None:
    handlers.redefine_virtual_meter(call.commands, row["id"], _definition(call.conn, call.user, data, row["id"]))
    call.wait(PROJECTION, vm.virtual_meter_stream(row["id"]))


def _delete(call: Call, row: dict) -> None:
    handlers.delete_virtual_meter(call.commands, row["id"])
    call.wait(PROJECTION, vm.virtual_meter_stream(row["id"]))


VIRTUAL_METERS = Family(
    path="virtualmeters",
    tag="MyEMS virtual meters",
    rows=lambda conn, user: q.virtual_meters(conn, None if user.can_read_all else user.account_id),
    visible=visible_virtual_meter,
    item=virtual_meter_item,
    create=_create,
    update=_update,
    delete=_delete,
    clone_data=lambda row: {**row["definition"], "name": f"{row['name']} (Copy)"},
)
router = resource_router(VIRTUAL_METERS)
