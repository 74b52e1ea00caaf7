"""FINESCE COS ``chargingstates``: requests to switch an EVSE on or off, as device commands.

* ``GET /api/v2/chargingstates?auth_token=&limit=&offset=&order_by=&sort=`` and
  ``GET /api/v2/chargingstates/{id}`` and ``GET /api/v2/timeslots/{id}/chargingstates`` —
  ``{"totalrecords": N, "records": [...]}`` with the seed's fields.
* ``POST /api/v2/chargingstates?auth_token=&evse_id=&req_state=true|false`` (not in the seed, which
  documents reads only): records a ``start_charging`` / ``stop_charging`` command for the EVSE
  (an asset of the caller's account with an OCPP or simulated gateway); 201 with the record.

A record is a view of a device command: ``id`` its position in the event store (an integer, as
FINESCE ids are), ``req`` true (a change was requested), ``req_state`` on/off, ``resp`` true once
the charger acknowledged it, ``is_charging`` true for an acknowledged switch-on; ``timeslot_id``
the 15-minute slot (Unix seconds) it was requested in. The charge session open at the EVSE when
the command was requested (:mod:`projections.charge_sessions`) gives ``is_connected`` (true when
there is one), ``electricvehicle_id`` and ``chargingmode_id`` (null and 1 when it names none);
``battery_full`` is false (no session state says so).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.auth import CurrentUser
from api.deps import ReadConn, Services, command_context, visible_asset
from api.device_access import require_control
from api.errors import ApiError
from api.finesce import FinesceUser
from commands.device_commands import request_command
from domain import device_commands as dc
from projections.charge_sessions import charge_sessions
from projections.device_commands import command_by_id, utc_text
from projections.device_commands import device_commands as table

router = APIRouter(prefix="/api/v2", tags=["FINESCE chargingstates"])
ACTIONS = ("start_charging", "stop_charging")
SLOT_S = 900
ORDER_COLUMNS = {
    "id": table.c.position,
    "created_at": table.c.created_at,
    "updated_at": table.c.updated_at,
    "evse_id": table.c.asset_id,
    "timeslot_id": table.c.created_at,
}


def _time(text: str) -> str:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _session_at(conn: sa.Connection, evse_id: int, at_s: int) -> dict | None:
    """The charge session open at the EVSE at ``at_s`` (Unix s), if any (the latest one started)."""
    c = charge_sessions.c
    query = (
        sa.select(c.ev_id, c.charging_mode_id)
        .where(c.evse_asset_id == evse_id, c.start_s <= at_s, sa.or_(c.end_s.is_(None), c.end_s > at_s))
        .order_by(c.start_s.desc())
        .limit(1)
    )
    found = conn.execute(query).mappings().first()
    return None if found is None else dict(found)


def chargingstate(conn: sa.Connection, row: dict) -> dict:
    """A device-command row as a FINESCE charging-state record."""
    created_s = int(datetime.fromisoformat(row["created_at"].replace("Z", "+00:00")).timestamp())
    switch_on = row["action"] == "start_charging"
    acknowledged = row["status"] == dc.ACKNOWLEDGED
    session = _session_at(conn, row["asset_id"], created_s) or {}
    return {
        "id": row["position"],
        "req": True,
        "resp": acknowledged,
        "req_state": switch_on,
        "is_charging": switch_on and acknowledged,
        "is_connected": bool(session),
        "battery_full": False,
        "electricvehicle_id": session.get("ev_id"),
        "timeslot_id": created_s // SLOT_S * SLOT_S,
        "evse_id": row["asset_id"],
        "chargingmode_id": session.get("charging_mode_id") or 1,
        "created_at": _time(row["created_at"]),
        "updated_at": _time(row["updated_at"]),
    }


def _query(conn: ReadConn, user: CurrentUser, where: list, limit: int, offset: int, order_by: str, sort: str) -> dict:
    conditions = [table.c.action.in_(ACTIONS), *where]
    if not user.can_read_all:
        conditions.append(table.c.account_id == user.account_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(table).where(*conditions)).scalar_one()
    column = ORDER_COLUMNS[order_by]
    ordered = (column.desc(), table.c.position.desc()) if sort == "desc" else (column.asc(), table.c.position.asc())
    rows = conn.execute(sa.select(table).where(*conditions).order_by(*ordered).limit(limit).offset(offset)).mappings()
    return {"totalrecords": total, "records": [chargingstate(conn, dict(r)) for r in rows.all()]}


Limit = Annotated[int, Query(ge=200, le=1000)]
Offset = Annotated[int, Query(ge=0)]
OrderBy = Literal["id", "created_at", "updated_at", "evse_id", "timeslot_id"]
Sort = Literal["asc", "desc"]


@router.get("/chargingstates")
def list_chargingstates(
    user: FinesceUser,
    conn: ReadConn,
    limit: Limit = 200,
    offset: Offset = 0,
    order_by: OrderBy = "id",
    sort: Sort = "desc",
) -> dict:
    """The charging-state requests and responses of the caller's EVSEs (start/stop charging commands
    with their outcome), paged as every FINESCE list."""
    return _query(conn, user, [], limit, offset, order_by, sort)


@router.get("/chargingstates/{state_id}")
def get_chargingstate(state_id: int, user: FinesceUser, conn: ReadConn) -> dict:
    """One charging state by id, in the list's envelope (``totalrecords``: the collection's size)."""
    found = _query(conn, user, [table.c.position == state_id], 1, 0, "id", "desc")
    if not found["records"]:
        raise ApiError(404, "NOT_FOUND", f"no charging state {state_id}", "id")
    total = _query(conn, user, [], 1, 0, "id", "desc")["totalrecords"]  # the seed: the collection's count
    return {"totalrecords": total, "records": found["records"]}


@router.get("/timeslots/{timeslot_id}/chargingstates")
def timeslot_chargingstates(
    timeslot_id: int,
    user: FinesceUser,
    conn: ReadConn,
    limit: Limit = 200,
    offset: Offset = 0,
    order_by: OrderBy = "id",
    sort: Sort = "desc",
) -> dict:
    """The charging states requested in one 15-minute timeslot (its id: the Unix time of its start)."""
    if timeslot_id % SLOT_S:
        raise ApiError(422, "INVALID_TIMESLOT", "a timeslot id is a Unix time on a 15-minute boundary", "id")
    start = datetime.fromtimestamp(timeslot_id, UTC)
    where = [table.c.created_at >= utc_text(start), table.c.created_at < utc_text(start + timedelta(seconds=SLOT_S))]
    return _query(conn, user, where, limit, offset, order_by, sort)


@router.post("/chargingstates", status_code=201)
def request_chargingstate(
    evse_id: int, req_state: bool, user: FinesceUser, conn: ReadConn, services: Services, request: Request
) -> JSONResponse:
    """Ask the EVSE to switch charging on (``req_state=true``) or off: a start/stop charging command."""
    asset = visible_asset(conn, user, evse_id, write=True)
    require_control(user, asset)
    commands = command_context(request, user)
    action = "start_charging" if req_state else "stop_charging"
    state, _ = request_command(
        commands, dc.DeviceCommandRequest(asset_id=evse_id, action=action, reason="FINESCE chargingstates request")
    )
    stream = dc.command_stream(state.command_id)
    if not services.consistency.wait_until_projected("projection.device_commands", stream_id=stream):
        raise ApiError(503, "PROJECTION_LAG", f"recorded as command {state.command_id}; the read model lags behind")
    conn.rollback()
    row = command_by_id(conn, str(state.command_id))
    return JSONResponse({"totalrecords": 1, "records": [chargingstate(conn, row)]}, status_code=201)
