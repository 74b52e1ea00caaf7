"""MyEMS ``meters/{id}/points`` under ``/myems`` (issue 14): the points bound to a meter.

A meter is a platform sensor and so its own ``ENERGY_VALUE`` point: its readings are the meter's.
Further points are bound as relations, not copies: their sensor ids are a list on the meter's
sensor (``attributes.myems.point_ids``), changed through the platform's ``ChangeSensor``, and a
point must be a sensor of the meter's account.

* ``GET /meters/{id}/points`` -> ``[{"id", "name", "data_source": {"id", "name", "uuid"},
  "address"}]`` by name: the meter's own point and the bound ones (deleted since: left out)
* ``POST /meters/{id}/points`` ``{"data": {"point_id": "3"}}`` -> 201 + ``Location``; 400
  ``API.METER_CANNOT_HAVE_MORE_THAN_ONE_ENERGY_VALUE_POINTS`` for another energy point (the meter
  is its energy point), ``API.METER_POINT_RELATION_EXISTS`` when bound already (or the meter's own)
* ``DELETE /meters/{id}/points/{pid}`` -> 204; 404 ``API.METER_POINT_RELATION_NOT_FOUND``; the
  meter's own point cannot be unbound (400 ``API.METER_POINT_IS_THE_METER``)
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_common import Envelope, WaitProjected
from api.routers.myems_meter_commands import set_meter_relation
from api.routers.myems_meter_fields import myems_attributes, visible_meter
from api.routers.myems_points import point_item
from api.validation import Id, id_from_text
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS meters"], route_class=MyEmsRoute)
MAX_POINTS = 1000
KEY = "point_ids"


def _relation_item(conn: ReadConn, sensor: dict) -> dict:
    item = point_item(conn, sensor)
    return {"id": item["id"], "name": item["name"], "data_source": item["data_source"], "address": item["address"]}


def _bound(conn: ReadConn, meter: dict) -> list[dict]:
    """The sensors bound to the meter that still exist in its account."""
    found = [rq.sensor_by_id(conn, point_id) for point_id in myems_attributes(meter).get(KEY) or []]
    account = {s["id"] for s in rq.list_sensors(conn, meter["account_id"])}
    return [s for s in found if s is not None and s["id"] in account]


@router.get("/meters/{meter_id}/points")
def meter_points(meter_id: Id, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """A meter's points: its own (the meter's sensor) and the bound ones, by name."""
    meter = visible_meter(conn, user, meter_id)
    points = [_relation_item(conn, s) for s in [meter, *_bound(conn, meter)]]
    return sorted(points, key=lambda p: (p["name"], p["id"]))


def _account_point(conn: ReadConn, meter: dict, value: object) -> dict:
    point_id = id_from_text(value)
    if point_id is None:
        raise ApiError(400, "API.INVALID_POINT_ID", "point_id: a positive id", "point_id")
    sensor = rq.sensor_by_id(conn, point_id)
    if sensor is None or point_id not in {s["id"] for s in rq.list_sensors(conn, meter["account_id"])}:
        raise ApiError(404, "API.POINT_NOT_FOUND", f"no point {point_id}", "point_id")
    return sensor


@router.post("/meters/{meter_id}/points", status_code=201)
def bind_point(
    meter_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Bind a point (a sensor of the meter's account) to the meter (``{"data": {"point_id": id}}``)."""
    meter = visible_meter(conn, user, meter_id, write=True)
    point = _account_point(conn, meter, body.data.get("point_id"))
    ids = list(myems_attributes(meter).get(KEY) or [])
    if point["id"] == meter["id"] or point["id"] in ids:
        raise ApiError(400, "API.METER_POINT_RELATION_EXISTS", "bound already", "point_id")
    if point_item(conn, point)["object_type"] == "ENERGY_VALUE":
        raise ApiError(400, "API.METER_CANNOT_HAVE_MORE_THAN_ONE_ENERGY_VALUE_POINTS",
                       f"meter {meter_id} is its own energy point", "point_id")  # fmt: skip
    if len(ids) >= MAX_POINTS:
        raise ApiError(400, "API.TOO_MANY_POINTS", f"at most {MAX_POINTS}", "point_id")
    set_meter_relation(commands, wait, conn, meter, KEY, [*ids, point["id"]])
    return Response(status_code=201, headers={"Location": f"{PREFIX}/meters/{meter_id}/points/{point['id']}"})


@router.delete("/meters/{meter_id}/points/{point_id}", status_code=204)
def unbind_point(
    meter_id: Id, point_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Unbind a point from the meter; 404 when it is not bound."""
    meter = visible_meter(conn, user, meter_id, write=True)
    if point_id == meter["id"]:
        raise ApiError(400, "API.METER_POINT_IS_THE_METER", "a meter is its own energy point", "pid")
    ids = list(myems_attributes(meter).get(KEY) or [])
    if point_id not in ids:
        raise ApiError(404, "API.METER_POINT_RELATION_NOT_FOUND", f"point {point_id} is not bound", "pid")
    set_meter_relation(commands, wait, conn, meter, KEY, [i for i in ids if i != point_id])
    return Response(status_code=204)
