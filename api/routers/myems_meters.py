"""MyEMS ``meters`` under ``/myems`` (issue 14): a meter is a platform sensor (unit of energy or
power); its MyEMS-only fields live in the sensor's attributes, its cost center is its account.

* ``GET /myems/meters``, ``GET /myems/meters/{id}``, ``GET /myems/meters/{id}/export`` -> MyEMS' meter
  fields (``id``, ``name``, ``uuid``, ``energy_category``, ``is_counted``, ``hourly_low_limit``,
  ``hourly_high_limit``, ``cost_center``, ``energy_item``, ``master_meter``, ``description``, ``qrcode``)
* ``POST /myems/meters`` (also ``/meters/import``, ``/meters/{id}/import``) ``{"data": {...}}`` -> 201 +
  ``Location``: a sensor (kWh) on ``asset_id`` (flexledger's extension) or the master meter's asset
* ``PUT /myems/meters/{id}`` -> 200; ``DELETE /myems/meters/{id}`` -> 204 (400 while it has submeters)
* ``POST /myems/meters/{id}/clone`` -> 201 + ``Location``
* ``GET /myems/meters/{id}/submeters`` -> ``[{"id", "name", "uuid"}]`` (meters whose master it is)
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_common import Envelope, WaitProjected, created
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
from commands import registry as cmd
from commands.context import CommandContext
from domain import myems_meters as mm
from domain import registry as reg
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS meters"], route_class=MyEmsRoute)
REGISTRY = "projection.registry"


def _meters(conn: ReadConn, account_id: int | None) -> list[dict]:
    return [s for s in rq.list_sensors(conn, account_id=account_id) if mm.is_meter_unit(s["unit"])]


@router.get("/meters")
def list_meters(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    return [meter_item(conn, s) for s in _meters(conn, None if user.can_read_all else user.account_id)]


@router.get("/meters/{meter_id}")
def get_meter(meter_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return meter_item(conn, visible_meter(conn, user, meter_id))


@router.get("/meters/{meter_id}/export")
def export_meter(meter_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    return meter_item(conn, visible_meter(conn, user, meter_id))


def _create(data: dict, user: MyEmsUser, commands: CommandContext, conn: ReadConn, wait: WaitProjected) -> Response:
    meter = parse_meter(data)
    asset = check_references(conn, user, meter, None)
    sensor_id = cmd.register_sensor(commands, cmd.RegisterSensor(
        asset_id=asset["id"], name=meter.name, unit="kWh", event_resolution_s=meter.event_resolution_s,
        attributes=attributes_of(meter, str(uuid.uuid4()))))
    wait(REGISTRY, reg.stream_of("sensor", sensor_id))
    return created("meters", sensor_id)


@router.post("/meters", status_code=201)
def create_meter(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                 wait: WaitProjected) -> Response:
    return _create(body.data, user, commands, conn, wait)


@router.post("/meters/import", status_code=201)
def import_meter(body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                 wait: WaitProjected) -> Response:
    return _create(body.data, user, commands, conn, wait)


@router.post("/meters/{meter_id}/import", status_code=201, include_in_schema=False)
def import_meter_seed_path(meter_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                           wait: WaitProjected) -> Response:
    """The seed writes the import path with an id; it is ignored, as MyEMS does."""
    return _create(body.data, user, commands, conn, wait)


@router.post("/meters/{meter_id}/clone", status_code=201)
def clone_meter(meter_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                wait: WaitProjected) -> Response:
    sensor = visible_meter(conn, user, meter_id, write=True)
    attrs = myems_attributes(sensor)
    data = {**attrs, "name": f"{sensor['name']} (Copy)", "energy_category_id": mm.ELECTRICITY,
            "cost_center_id": sensor["account_id"], "asset_id": sensor["asset_id"],
            "is_counted": attrs.get("is_counted", True), "hourly_low_limit": attrs.get("hourly_low_limit", 0.0),
            "hourly_high_limit": attrs.get("hourly_high_limit", 0.0),
            "event_resolution_s": sensor["event_resolution_s"] or 900}
    return _create(data, user, commands, conn, wait)


@router.put("/meters/{meter_id}")
def update_meter(meter_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                 wait: WaitProjected) -> Response:
    sensor = visible_meter(conn, user, meter_id, write=True)
    meter = parse_meter({"asset_id": sensor["asset_id"], **body.data})
    if check_references(conn, user, meter, meter_id)["id"] != sensor["asset_id"]:
        raise ApiError(400, "API.INVALID_ASSET_ID", "a meter stays on its asset", "asset_id")
    changes = {"name": meter.name, "attributes": attributes_of(meter, meter_uuid(sensor), sensor["attributes"])}
    cmd.change_sensor(commands, cmd.ChangeSensor(sensor_id=meter_id, changes=changes))
    wait(REGISTRY, reg.stream_of("sensor", meter_id))
    return Response(status_code=200)


def _submeters(conn: ReadConn, sensor: dict) -> list[dict]:
    meters = _meters(conn, sensor["account_id"])
    return [s for s in meters if myems_attributes(s).get("master_meter_id") == sensor["id"]]


@router.delete("/meters/{meter_id}", status_code=204)
def delete_meter(meter_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
                 wait: WaitProjected) -> Response:
    sensor = visible_meter(conn, user, meter_id, write=True)
    if _submeters(conn, sensor):
        raise ApiError(400, "API.THERE_IS_RELATION_WITH_SUB_METERS", "delete or move its submeters first", "id")
    cmd.delete_sensor(commands, cmd.DeleteSensor(sensor_id=meter_id))
    wait(REGISTRY, reg.stream_of("sensor", meter_id))
    return Response(status_code=204)


@router.get("/meters/{meter_id}/submeters")
def list_submeters(meter_id: int, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    return [meter_ref(s) for s in _submeters(conn, visible_meter(conn, user, meter_id))]
