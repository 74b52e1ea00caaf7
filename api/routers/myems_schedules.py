"""MyEMS operator schedules under ``/myems`` (issue 14): ``energystoragecontainers/{id}/schedules``
and ``microgrids/{id}/schedules``, time-of-day windows that fix the power of the owner's batteries
(:mod:`domain.schedule_overrides`; the scheduler honours them, :mod:`streams.schedule_overrides`).

* ``GET .../{id}/schedules`` -> ``[{"id", "start_time_of_day", "end_time_of_day", "peak_type",
  "power"}]`` by start time (MyEMS' row; ``power`` kW, charging positive, discharging negative);
  ``computed=true`` (flexledger's extension) adds, beside them, the steps of the batteries' current
  computed schedule (:func:`computed_rows`)
* ``GET .../{id}/schedules/{sid}`` -> one row
* ``POST .../{id}/schedules`` ``{"data": {"start_time_of_day": "00:00:00", "end_time_of_day":
  "07:00:00", "peak_type": "offpeak", "power": 60}}`` (optional ``command``: charge, discharge,
  idle, with a power magnitude) -> 201 + ``Location``
* ``PUT .../{id}/schedules/{sid}`` (same body) -> 200; ``DELETE .../{id}/schedules/{sid}`` -> 204

The seed's separate ``microgridschedules`` family (``GET``, ``GET /{id}``, ``POST``, ``PUT /{id}``,
``DELETE /{id}``) serves the same rows of the caller's account's microgrids by their id; its create
names the microgrid with ``microgrid_id``, as MyEMS' ``microgrid*`` device families do (400
``API.INVALID_MICROGRID_ID`` without it), and is otherwise the create above.

No second copy: the rows are a list on the owner asset (``attributes.myems.schedules``), changed
through the platform's ``ChangeAsset`` (registry events), so a schedule triggered later reads them
as of its trigger. Ids are unique within the account; windows of one owner may not overlap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Response

from api.auth import CurrentUser
from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_assets import REGISTRY, AssetKind, children, myems_attrs
from api.routers.myems_common import Envelope, WaitProjected, created, myems_datetime
from api.routers.myems_microgrids import MICROGRIDS, visible_microgrid
from api.routers.myems_storage_containers import CONTAINERS
from api.validation import Id, id_from_text
from commands import registry as cmd
from domain import registry as reg
from domain import schedule_overrides as so
from domain import tariffs as tf
from projections import myems_tariffs as tq
from projections import registry_query as rq
from projections import schedules as sq

OWNERS = (CONTAINERS, MICROGRIDS)


def _rows(owner: dict) -> list[so.ScheduleOverride]:
    return so.owner_overrides(owner["attributes"])


def item(row: so.ScheduleOverride) -> dict:
    """MyEMS' schedule row."""
    return {
        "id": row.id,
        "start_time_of_day": row.start_time_of_day,
        "end_time_of_day": row.end_time_of_day,
        "peak_type": row.peak_type,
        "power": row.power,
    }


def computed_rows(conn: sa.Connection, owner: dict) -> list[dict]:
    """The steps of the current computed schedules of the owner's batteries, power summed (kW,
    charging positive), as MyEMS rows with the step's UTC start and end and the schedule id; local
    times of day in the zone of the first battery's power sensor, ``peak_type`` the owner's tariff's."""
    batteries = children(conn, owner, set(so.STORAGE_ASSET_TYPES))
    sensors = [s for a in batteries for s in rq.list_sensors(conn, asset_id=a["id"]) if s["name"] == "power"]
    planned = [(s, sq.current_device_schedule(conn, s["id"])) for s in sensors]
    planned = [(s, d, sq.schedule_by_id(conn, d["schedule_id"])) for s, d in planned if d is not None]
    if not planned:
        return []
    tariff_row = tq.tariff_by_id(conn, myems_attrs(owner).get("tariff_id") or 0)
    tariff = tf.TariffDefinition.model_validate(tariff_row["definition"]) if tariff_row else None
    zone = ZoneInfo(planned[0][0]["timezone"] or "UTC")
    steps: dict[tuple[int, int], list] = {}
    for _, device, schedule in planned:
        for i, kw in enumerate(device["power_kw"]):
            start_s = schedule["start_s"] + i * schedule["resolution_s"]
            step = steps.setdefault((start_s, schedule["resolution_s"]), [0.0, device["schedule_id"]])
            step[0] += kw
    rows = []
    for (start_s, resolution_s), (kw, schedule_id) in sorted(steps.items()):
        start, end = datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(start_s + resolution_s, UTC)
        rows.append({
            "id": None, "start_time_of_day": start.astimezone(zone).strftime("%H:%M:%S"),
            "end_time_of_day": end.astimezone(zone).strftime("%H:%M:%S"),
            "peak_type": tf.peak_type_at(tariff, start) if tariff else None, "power": round(kw, 6),
            "start_datetime_utc": myems_datetime(start), "end_datetime_utc": myems_datetime(end),
            "schedule": schedule_id,
        })  # fmt: skip
    return rows


def _next_id(conn: sa.Connection, user: CurrentUser) -> int:
    """One more than the highest schedule id of the account's containers and microgrids."""
    used = [r.id for a in rq.list_assets(conn, user.account_id) for r in _rows(a) if a["asset_type"] in _TYPES]
    return max(used, default=0) + 1


_TYPES = frozenset(k.asset_type for k in OWNERS)


def _parsed(data: dict, override_id: int, others: list[so.ScheduleOverride]) -> so.ScheduleOverride:
    try:
        row = so.parse_override(data, override_id)
        so.check_no_overlap(row, others)
    except so.OverrideError as exc:
        raise ApiError(400, exc.code, exc.message, exc.field) from exc
    return row


def _store(commands, wait, owner: dict, rows: list[so.ScheduleOverride]) -> None:
    ordered = sorted(rows, key=lambda r: (r.start_time_of_day, r.id))
    myems = {**myems_attrs(owner), "schedules": [r.model_dump() for r in ordered]}
    cmd.change_asset(commands, cmd.ChangeAsset(asset_id=owner["id"], changes={
        "attributes": {**owner["attributes"], "myems": myems}}))  # fmt: skip
    wait(REGISTRY, reg.stream_of("asset", owner["id"]))


def _one(kind: AssetKind, owner: dict, schedule_id: int) -> so.ScheduleOverride:
    for row in _rows(owner):
        if row.id == schedule_id:
            return row
    raise ApiError(404, f"API.{kind.label}_SCHEDULE_NOT_FOUND", f"no schedule {schedule_id}", "sid")


def schedules_router(kind: AssetKind) -> APIRouter:
    """List, get, create, update and delete the operator schedules of one owner family."""
    router = APIRouter(prefix=PREFIX, tags=[kind.tag], route_class=MyEmsRoute)
    base = f"/{kind.path}/{{entity_id}}/schedules"

    def list_rows(entity_id: Id, user: MyEmsUser, conn: ReadConn, computed: bool = False) -> list[dict]:
        owner = kind.visible(conn, user, entity_id)
        return [item(r) for r in _rows(owner)] + (computed_rows(conn, owner) if computed else [])

    def get_row(entity_id: Id, sid: Id, user: MyEmsUser, conn: ReadConn) -> dict:
        return item(_one(kind, kind.visible(conn, user, entity_id), sid))

    def create_row(
        entity_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
    ) -> Response:
        owner = kind.visible(conn, user, entity_id, write=True)
        rows = _rows(owner)
        if len(rows) >= so.MAX_OVERRIDES:
            raise ApiError(400, "API.TOO_MANY_SCHEDULES", f"at most {so.MAX_OVERRIDES}", "start_time_of_day")
        row = _parsed(body.data, _next_id(conn, user), rows)
        _store(commands, wait, owner, [*rows, row])
        return created(f"{kind.path}/{entity_id}/schedules", row.id)

    def update_row(
        entity_id: Id, sid: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
        wait: WaitProjected,
    ) -> Response:  # fmt: skip
        owner = kind.visible(conn, user, entity_id, write=True)
        _one(kind, owner, sid)
        rows = [r for r in _rows(owner) if r.id != sid]
        _store(commands, wait, owner, [*rows, _parsed(body.data, sid, rows)])
        return Response(status_code=200)

    def delete_row(
        entity_id: Id, sid: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
    ) -> Response:
        owner = kind.visible(conn, user, entity_id, write=True)
        _one(kind, owner, sid)
        _store(commands, wait, owner, [r for r in _rows(owner) if r.id != sid])
        return Response(status_code=204)

    what = f"one of MyEMS `{kind.path}`"
    name = f"myems_{kind.path}_schedules"
    router.add_api_route(
        base, list_rows, methods=["GET"], name=f"{name}_list", summary=f"List the operator schedules of {what}",
        description="Time-of-day windows (`power` kW: charging positive, discharging negative, 0 idle) that the "
        "platform's scheduler holds the batteries to; with `computed=true` (flexledger's extension) followed by "
        "the steps of the batteries' current computed schedule (`id` null, `start_datetime_utc`, `schedule`).",
    )  # fmt: skip
    router.add_api_route(
        f"{base}/{{sid}}", get_row, methods=["GET"], name=f"{name}_get", summary=f"Get an operator schedule of {what}",
        description="One time-of-day window; 404 when the owner has no such schedule.",
    )  # fmt: skip
    router.add_api_route(
        base, create_row, methods=["POST"], status_code=201, name=f"{name}_create",
        summary=f"Create an operator schedule of {what}",
        description="`{\"data\": {\"start_time_of_day\", \"end_time_of_day\", \"peak_type\", \"power\"}}` (or "
        "`command` charge/discharge/idle with a power magnitude); 201 with `Location`; 400 when it overlaps another.",
    )  # fmt: skip
    router.add_api_route(
        f"{base}/{{sid}}", update_row, methods=["PUT"], name=f"{name}_update",
        summary=f"Update an operator schedule of {what}", description="Replace the window, peak type and power.",
    )  # fmt: skip
    router.add_api_route(
        f"{base}/{{sid}}", delete_row, methods=["DELETE"], status_code=204, name=f"{name}_delete",
        summary=f"Delete an operator schedule of {what}",
        description="Schedules triggered afterwards are optimised freely in that window again.",
    )  # fmt: skip
    return router


container_router = schedules_router(CONTAINERS)
microgrid_router = schedules_router(MICROGRIDS)


def _microgrid_rows(conn: sa.Connection, user: CurrentUser) -> list[tuple[dict, so.ScheduleOverride]]:
    """(microgrid, row) of every operator schedule of the caller's account's microgrids, by id."""
    found = [(a, r) for a in rq.list_assets(conn, user.account_id) if a["asset_type"] == MICROGRIDS.asset_type
             for r in _rows(a)]  # fmt: skip
    return sorted(found, key=lambda pair: pair[1].id)


def _microgrid_row(conn: sa.Connection, user: CurrentUser, schedule_id: int, write: bool = False):
    for microgrid, row in _microgrid_rows(conn, user):
        if row.id == schedule_id:
            return visible_microgrid(conn, user, microgrid["id"], write), row
    raise ApiError(404, "API.MICROGRID_SCHEDULE_NOT_FOUND", f"no microgrid schedule {schedule_id}", "id")


flat_router = APIRouter(prefix=PREFIX, tags=[MICROGRIDS.tag], route_class=MyEmsRoute)


@flat_router.get("/microgridschedules")
def list_microgrid_schedules(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The operator schedules of the caller's account's microgrids (the rows of ``microgrids/{id}/schedules``)."""
    return [item(row) for _, row in _microgrid_rows(conn, user)]


@flat_router.get("/microgridschedules/{microgrid_schedule_id}")
def get_microgrid_schedule(microgrid_schedule_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """One operator schedule of a microgrid of the caller's account, by its id."""
    return item(_microgrid_row(conn, user, microgrid_schedule_id)[1])


@flat_router.post("/microgridschedules", status_code=201)
def create_microgrid_schedule(
    body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """A new operator schedule of the microgrid ``microgrid_id`` names; 201 with ``Location``."""
    microgrid_id = id_from_text(body.data.get("microgrid_id"))
    if microgrid_id is None:
        raise ApiError(400, "API.INVALID_MICROGRID_ID", "microgrid_id: the microgrid the schedule is of",
                       "microgrid_id")  # fmt: skip
    owner = visible_microgrid(conn, user, microgrid_id, write=True)
    rows = _rows(owner)
    if len(rows) >= so.MAX_OVERRIDES:
        raise ApiError(400, "API.TOO_MANY_SCHEDULES", f"at most {so.MAX_OVERRIDES}", "start_time_of_day")
    row = _parsed(body.data, _next_id(conn, user), rows)
    _store(commands, wait, owner, [*rows, row])
    return created("microgridschedules", row.id)


@flat_router.put("/microgridschedules/{microgrid_schedule_id}")
def update_microgrid_schedule(
    microgrid_schedule_id: Id,
    body: Envelope,
    user: MyEmsUser,
    commands: MyEmsCommands,
    conn: ReadConn,
    wait: WaitProjected,
) -> Response:
    """Replace an operator schedule's window, peak type and power (its microgrid stays)."""
    owner, _ = _microgrid_row(conn, user, microgrid_schedule_id, write=True)
    rows = [r for r in _rows(owner) if r.id != microgrid_schedule_id]
    _store(commands, wait, owner, [*rows, _parsed(body.data, microgrid_schedule_id, rows)])
    return Response(status_code=200)


@flat_router.delete("/microgridschedules/{microgrid_schedule_id}", status_code=204)
def delete_microgrid_schedule(
    microgrid_schedule_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Delete an operator schedule of a microgrid; 204."""
    owner, _ = _microgrid_row(conn, user, microgrid_schedule_id, write=True)
    _store(commands, wait, owner, [r for r in _rows(owner) if r.id != microgrid_schedule_id])
    return Response(status_code=204)
