"""MyEMS ``meters/{id}/commands`` under ``/myems`` (issue 14): the commands bound to a meter.

* ``GET /meters/{id}/commands`` -> ``[command item]`` (:func:`api.routers.myems_commands.command_item`;
  commands deleted since are left out)
* ``POST /meters/{id}/commands`` ``{"data": {"command_id": 3}}`` -> 201 + ``Location``; 400
  ``API.COMMAND_RELATION_IS_ALREADY_EXISTS`` when bound already
* ``DELETE /meters/{id}/commands/{cid}`` -> 204; 404 ``API.COMMAND_RELATION_NOT_FOUND``

A binding is a relation, not a copy: the command ids are a list on the meter's sensor
(``attributes.myems.command_ids``), changed through the platform's ``ChangeSensor``; the command
must be one of the meter's account.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_assets import REGISTRY
from api.routers.myems_commands import command_item, visible_command
from api.routers.myems_common import Envelope, WaitProjected
from api.routers.myems_meter_fields import myems_attributes, visible_meter
from api.validation import Id, id_from_text
from commands import registry as cmd
from domain import registry as reg
from projections import readings_query as rdq

router = APIRouter(prefix=PREFIX, tags=["MyEMS meters"], route_class=MyEmsRoute)
MAX_COMMANDS = 1000


def set_meter_relation(commands, wait, conn, meter: dict, key: str, ids: list[int]) -> None:
    """Set the ids a meter is bound to (``key``: ``command_ids``, ``point_ids``) on its sensor."""
    attributes = {**(meter.get("attributes") or {}), "myems": {**myems_attributes(meter), key: ids}}
    cmd.change_sensor(commands, cmd.ChangeSensor(sensor_id=meter["id"], has_data=rdq.has_data(conn, meter["id"]),
                                                 changes={"attributes": attributes}))  # fmt: skip
    wait(REGISTRY, reg.stream_of("sensor", meter["id"]))


@router.get("/meters/{meter_id}/commands")
def meter_commands(meter_id: Id, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The commands bound to a meter."""
    found = []
    for command_id in myems_attributes(visible_meter(conn, user, meter_id)).get("command_ids") or []:
        try:
            found.append(command_item(visible_command(conn, user, command_id)))
        except ApiError:  # deleted since it was bound
            continue
    return found


@router.post("/meters/{meter_id}/commands", status_code=201)
def bind_command(
    meter_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Bind one of the account's commands to the meter (``{"data": {"command_id": id}}``)."""
    meter = visible_meter(conn, user, meter_id, write=True)
    command_id = id_from_text(body.data.get("command_id"))
    if command_id is None:
        raise ApiError(400, "API.INVALID_COMMAND_ID", "command_id: a positive id", "command_id")
    command = visible_command(conn, user, command_id)
    if command["account_id"] != meter["account_id"]:
        raise ApiError(404, "API.COMMAND_NOT_FOUND", f"no command {command_id}", "command_id")
    ids = list(myems_attributes(meter).get("command_ids") or [])
    if command_id in ids:
        raise ApiError(400, "API.COMMAND_RELATION_IS_ALREADY_EXISTS", "bound already", "command_id")
    if len(ids) >= MAX_COMMANDS:
        raise ApiError(400, "API.TOO_MANY_COMMANDS", f"at most {MAX_COMMANDS}", "command_id")
    set_meter_relation(commands, wait, conn, meter, "command_ids", [*ids, command_id])
    return Response(status_code=201, headers={"Location": f"{PREFIX}/meters/{meter_id}/commands/{command_id}"})


@router.delete("/meters/{meter_id}/commands/{command_id}", status_code=204)
def unbind_command(
    meter_id: Id, command_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Unbind a command from the meter; 404 when it is not bound."""
    meter = visible_meter(conn, user, meter_id, write=True)
    ids = list(myems_attributes(meter).get("command_ids") or [])
    if command_id not in ids:
        raise ApiError(404, "API.COMMAND_RELATION_NOT_FOUND", f"{command_id} is not bound", "id")
    set_meter_relation(commands, wait, conn, meter, "command_ids", [i for i in ids if i != command_id])
    return Response(status_code=204)
