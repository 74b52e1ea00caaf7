"""FlexMeasures API v2.0 control: ``POST /api/v2_0/postUdiEvent``, ``GET /api/v2_0/getDeviceMessage``.

As documented in FlexMeasures 0.4 (sections 15.6, 15.7 and 16.2).

**postUdiEvent** (``PostUdiEventRequest``): ``event`` — a UDI event address
``ea1.<yyyy-mm>.<domain>:<owner>:<asset>:<event-id>:<soc|soc-with-targets>`` (owner: the
device's account; asset: a battery or EVSE asset; event ids must increase per device) —,
``value`` (state of charge) in ``unit`` (``kWh``, ``MWh``, or ``%`` of the device's ``soc-max``),
``datetime`` of the state of charge, and for ``soc-with-targets`` a list of ``targets``
(``value`` in the same unit, ``datetime``) within the planning horizon (48 hours). Optional:
``prior`` (belief time of the prices to use), ``roundtrip_efficiency``, ``soc_min``, ``soc_max``
(in ``unit``). The event triggers a schedule of the device's power sensor (the asset's sensor
named "power", or its only power sensor; or the ``sensor`` of its stored flex-model) from the
first step at or after ``datetime``; the response waits (bounded) until the schedule is served.

**getDeviceMessage** (``GetDeviceMessageRequest``, as query parameters): ``event`` (a UDI event
address posted before), optional ``duration`` (default PT6H) and ``unit`` (default MW). Answers
the planned power (consumption positive, production negative) per step from the schedule's
start, plus ``scheduling_result`` (targets not met, and by how much).

Errors are 400 with FlexMeasures' codes: ``INVALID_MESSAGE_TYPE``, ``INVALID_DOMAIN``,
``UNRECOGNIZED_UDI_EVENT``, ``OUTDATED_UDI_EVENT``, ``INCOMPLETE_UDI_EVENT``, ``INVALID_DATETIME``,
``INVALID_TIMEZONE``, ``INVALID_UNIT``, ``PTUS_INCOMPLETE``, ``UNKNOWN_SCHEDULE``,
``UNRECOGNIZED_CONNECTION_GROUP``; 401/403/405 as elsewhere. A refused event stores nothing.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.authorization import AUTH_HEADER, check_stored_references
from api.consistency import ReadYourWrites
from api.deps import command_context, services_of
from api.routers.schedule_common import (
    WAITING,
    failure_message,
    public_scheduling_result,
    schedule_window,
    wait_for_outcome,
    wait_for_schedule,
)
from api.routers.v2_0_common import (
    PROCESSED,
    authenticate,
    body_form,
    check_type,
    invalid_method,
    parse_time,
    power_unit,
    query_form,
    rejected,
    require_service_access,
    v2_response,
)
from api.schemas import V2_UDI_PROPERTIES, V2Response, v2_body, v2_query
from api.timefmt import format_duration, parse_duration
from commands.scheduling import post_udi_event
from domain.devices import UDI_PLANNING_HORIZON, device_power_sensor, stored_device_flex_model, udi_flex_model
from domain.scheduling import FlexModelError, TimeSeries, parse_device, soc_capacity_kwh
from domain.udi import DEVICE_ASSET_TYPES, SocTarget, UdiError, UdiEventPosted, parse_event_address, soc_in_kwh
from projections import registry_query as rq
from projections import schedules as sq

router = APIRouter(prefix="/api/v2_0", tags=["v2.0 control"])
DEVICE_MESSAGE_DURATION = timedelta(hours=6)
UNRECOGNIZED_GROUP = "One or more connections in your request were not found in your account."


def _udi_error(exc: UdiError):
    return rejected(exc.code, str(exc), exc.field)


def _device(conn: sa.Connection, user: CurrentUser, address, write: bool) -> tuple[dict, dict]:
    """(asset, power sensor) of the UDI event's device, if the user may use it."""
    asset = rq.asset_by_id(conn, address.asset_id)
    allowed = asset is not None and (
        user.is_admin or asset["account_id"] == user.account_id or (user.can_read_all and not write)
    )
    if not allowed or address.owner_id != asset["account_id"]:
        raise rejected("UNRECOGNIZED_CONNECTION_GROUP", f"{UNRECOGNIZED_GROUP} Unknown: {address}", "event")
    if write:  # the schedule will read what the stored flex-model and flex-contexts name
        check_stored_references(conn, user, asset)
    if asset["asset_type"] not in DEVICE_ASSET_TYPES:
        raise rejected(
            "INVALID_DOMAIN",
            f"API version 2.0 only supports UDI events for batteries and Electric Vehicle Supply Equipment (EVSE); "
            f"asset {asset['id']} is a {asset['asset_type']}.",
            "event",
        )
    device = device_power_sensor(rq.ReadModelRegistry(conn), rq.asset_state(asset))
    sensor = rq.sensor_by_id(conn, device.sensor_id) if device is not None else None
    if sensor is None:
        raise rejected(
            "INVALID_DOMAIN", f"Asset {asset['id']} has no power sensor to schedule (a sensor named 'power').", "event"
        )
    return asset, sensor


def _number(value: Any, field: str, code: str = "PTUS_INCOMPLETE") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise rejected(code, f"Request includes an empty or ill-formatted value for {field}.", field)
    return float(value)


def _targets(form: dict, unit: str, capacity: float | None, start: datetime) -> list[SocTarget]:
    if "targets" not in form or not isinstance(form["targets"], list):
        raise rejected(
            "INCOMPLETE_UDI_EVENT", f"Cannot process event {form.get('event')} with missing targets.", "targets"
        )
    targets = []
    end = start + UDI_PLANNING_HORIZON
    for i, target in enumerate(form["targets"]):
        path = f"targets[{i}]"
        if not isinstance(target, dict) or "value" not in target:
            raise rejected("PTUS_INCOMPLETE", "Target missing value parameter.", f"{path}.value")
        value = _number(target["value"], f"{path}.value")
        moment = parse_time(target.get("datetime"), f"{path}.datetime", missing_code="INVALID_DATETIME")
        if moment > end:
            raise rejected(
                "INVALID_DATETIME",
                f"Target datetime exceeds {end.isoformat()}. Maximum scheduling horizon is {UDI_PLANNING_HORIZON}.",
                f"{path}.datetime",
            )
        targets.append(SocTarget(value_kwh=soc_in_kwh(value, unit, capacity, "unit"), datetime=moment))
    return targets


def _optional_kwh(form: dict, name: str, unit: str, capacity: float | None) -> float | None:
    if form.get(name) is None:
        return None
    return soc_in_kwh(_number(form[name], name, "UNPROCESSABLE_ENTITY"), unit, capacity, name)


def _udi_event(conn: sa.Connection, user: CurrentUser, form: dict) -> UdiEventPosted:
    """Validate a PostUdiEventRequest into the event to append (raises 400s)."""
    address = parse_event_address(form.get("event"))
    moment = parse_time(form.get("datetime"), "datetime", missing_code="INVALID_DATETIME")
    unit = form.get("unit")
    if unit not in ("kWh", "MWh", "%"):
        raise rejected(
            "INVALID_UNIT", f"Data for state of charge should be given in kWh, MWh or %, not {unit!r}.", "unit"
        )
    if "value" not in form:
        raise rejected("PTUS_INCOMPLETE", "Missing values.", "value")
    value = _number(form["value"], "value")
    asset, sensor = _device(conn, user, address, write=True)
    stored = stored_device_flex_model(rq.asset_state(asset), sensor["id"])
    capacity = soc_capacity_kwh(stored)
    efficiency = form.get("roundtrip_efficiency")
    event = UdiEventPosted(
        address=str(address), owner_id=address.owner_id, asset_id=asset["id"], sensor_id=sensor["id"],
        udi_event_id=address.event_id, udi_type=address.event_type, datetime=moment,
        soc_kwh=soc_in_kwh(value, unit, capacity, "unit"), value=value, unit=unit,
        targets=_targets(form, unit, capacity, moment) if address.event_type == "soc-with-targets" else [],
        soc_min_kwh=_optional_kwh(form, "soc_min", unit, capacity),
        soc_max_kwh=_optional_kwh(form, "soc_max", unit, capacity),
        roundtrip_efficiency=None if efficiency is None else _number(efficiency, "roundtrip_efficiency"),
        prior=parse_time(form["prior"], "prior") if form.get("prior") is not None else None,
        horizon_s=int(UDI_PLANNING_HORIZON.total_seconds()),
    )  # fmt: skip
    _check_flex_model(asset, event, moment)
    return event


def _check_flex_model(asset: dict, event: UdiEventPosted, moment: datetime) -> None:
    """The device's stored flex-model completed by the event must parse (else 400 with the field)."""

    def no_data(sensor_ref: int | str) -> TimeSeries:
        return TimeSeries(moment, timedelta(hours=1), [float("nan")], "kW")

    try:
        parse_device(udi_flex_model(rq.asset_state(asset), event), "flex-model", no_data)
    except FlexModelError as exc:
        code = "INVALID_UNIT" if exc.code == "INVALID_UNIT" else "UNPROCESSABLE_ENTITY"
        raise rejected(code, f"The device's flex-model cannot be used: {exc}", exc.field) from exc


@router.post(
    "/postUdiEvent",
    response_model=V2Response,
    openapi_extra=v2_body("PostUdiEventRequest", V2_UDI_PROPERTIES, ("event", "value", "unit", "datetime")),
)
async def post_udi_event_route(
    request: Request, authorization: Annotated[str | None, Security(AUTH_HEADER)] = None
) -> JSONResponse:
    """Upload a state of charge (and targets) of a device; a schedule is computed for it."""
    body = await request.body()
    services = services_of(request)

    def handle() -> dict:
        user = authenticate(services, authorization)
        form = body_form(body)
        check_type(form, "PostUdiEventRequest")
        with services.read_connection() as conn:
            require_service_access(conn, user, "postUdiEvent")
        commands = command_context(request, user)
        try:
            with services.read_connection() as conn:
                event = _udi_event(conn, user, form)
            schedule_id, result = post_udi_event(commands, event)
        except UdiError as exc:
            raise _udi_error(exc) from exc
        wait_for_schedule(services.consistency, schedule_id, result.global_position)
        return dict(PROCESSED)

    return await run_in_threadpool(v2_response, "PostUdiEventResponse", handle)


@router.get(
    "/getDeviceMessage",
    response_model=V2Response,
    openapi_extra=v2_query("type", "event", "duration", "unit", required=("type", "event")),
)
async def get_device_message(
    request: Request, authorization: Annotated[str | None, Security(AUTH_HEADER)] = None
) -> JSONResponse:
    """The schedule computed for a UDI event: power values from its start (see module docstring)."""
    form = query_form(request.query_params)
    if not form:
        form = body_form(await request.body()) if await request.body() else {}
    services = services_of(request)

    def handle() -> dict:
        user = authenticate(services, authorization)
        check_type(form, "GetDeviceMessageRequest")
        with services.read_connection() as conn:
            require_service_access(conn, user, "getDeviceMessage")
        try:
            address = parse_event_address(form.get("event"))
        except UdiError as exc:
            raise _udi_error(exc) from exc
        duration = _duration(form.get("duration"))
        unit = power_unit(form.get("unit", "MW"))
        with services.read_connection() as conn:
            _, sensor = _device(conn, user, address, write=False)
            schedule, device = _schedule_of(conn, services.consistency, address)
        values, start, window = schedule_window(schedule, device, duration, unit, sensor["timezone"])
        return {
            "event": form["event"],
            "values": values,
            "start": start.isoformat(),
            "duration": format_duration(window),
            "unit": unit,
            "scheduling_result": public_scheduling_result(schedule),
            **PROCESSED,
        }

    return await run_in_threadpool(v2_response, "GetDeviceMessageResponse", handle)


def _duration(raw: Any) -> timedelta:
    if raw is None:
        return DEVICE_MESSAGE_DURATION
    try:
        value = parse_duration(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or value <= timedelta(0):
        raise rejected("INVALID_PERIOD", f"Cannot parse {raw!r} as a positive ISO 8601 duration.", "duration")
    return value


def _schedule_of(conn: sa.Connection, consistency: ReadYourWrites, address) -> tuple[dict, dict]:
    """(schedule row, device row) of a UDI event (400 UNRECOGNIZED_UDI_EVENT / UNKNOWN_SCHEDULE)."""
    udi = sq.udi_event(conn, address.asset_id, address.event_id)
    if udi is None:
        message = f"The requested UDI event (id = {address.event_id}, type = {address.event_type}) is not known."
        raise rejected("UNRECOGNIZED_UDI_EVENT", message, "event")
    schedule = sq.schedule_by_id(conn, udi["schedule_id"])
    if (schedule is None or schedule["status"] == "QUEUED") and wait_for_outcome(
        consistency, uuid.UUID(udi["schedule_id"])
    ):
        conn.rollback()
        schedule = sq.schedule_by_id(conn, udi["schedule_id"])
    if schedule is None or schedule["status"] == "QUEUED":
        raise rejected("UNKNOWN_SCHEDULE", WAITING, "event")
    if schedule["status"] == "FAILED":
        raise rejected("UNKNOWN_SCHEDULE", failure_message(schedule), "event")
    device = sq.device_schedule(conn, udi["schedule_id"], udi["sensor_id"])
    if device is None:  # pragma: no cover - a finished UDI schedule always holds its device
        raise rejected("UNKNOWN_SCHEDULE", "The schedule was not found.", "event")
    return schedule, device


def _method_not_allowed(response_type: str):
    def handler(request: Request) -> JSONResponse:
        return invalid_method(response_type, request.method)

    return handler


router.add_api_route(
    "/postUdiEvent", _method_not_allowed("PostUdiEventResponse"), methods=["GET", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)  # fmt: skip
router.add_api_route(
    "/getDeviceMessage", _method_not_allowed("GetDeviceMessageResponse"), methods=["POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)  # fmt: skip
