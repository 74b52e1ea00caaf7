"""FlexMeasures API v2.0 prognoses: ``GET /api/v2_0/getPrognosis``, ``POST /api/v2_0/postPrognosis``.

Messages as in the FlexMeasures 0.4 documentation (sections 14.4, 15.5 and 16.2). Prognoses are
power forecasts of a connection (its power sensor, see :mod:`api.routers.v2_0_connections`),
positive for consumption and negative for production (USEF), in any unit of power.

GET: ``connection`` (or ``connections``), ``start``, ``duration``, ``unit`` and optionally
``resolution`` (a multiple of the sensor's; power is averaged), ``horizon`` (only beliefs
formed at least this long before the end of each event: a rolling horizon; default ``PT0H``,
i.e. anything formed before the fact), ``prior`` (only beliefs formed before this time) and
``source`` (user ids, USEF role names or data-source names such as ``forecaster:auto``). The
answer holds, per event, the latest such belief: flexledger's own forecasts (source
``forecaster:auto`` / ``forecaster:trigger``) and prognoses posted by users alike; ``null``
where there is none.

POST: groups of connections with values, as ``postMeterData``; ``horizon`` (zero or positive:
a prognosis is made before the fact) and/or ``prior`` (before the end of the period), else the
arrival time. The prognoses are stored as beliefs of the posting user beside flexledger's own
forecasts. Every group is validated before anything is appended.

Access: every USEF role (FlexMeasures' listing: "Request load planning", "Send prediction");
admins always; auditors may read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.routers.v2_0_common import (
    ALL_USEF_ROLES,
    PROCESSED,
    SERVICES,
    authenticate,
    body_form,
    check_type,
    format_duration,
    format_time,
    invalid_method,
    parse_horizon,
    parse_period,
    parse_time,
    pick,
    power_unit,
    query_form,
    rejected,
    require_service_access,
    v2_response,
)
from api.routers.v2_0_connections import check_signs, resolve
from api.routers.v2_0_meter_data import (
    _connections,
    _dry_run,
    _groups,
    _resolution,
    _sources,
    _values,
    _Write,
    groups_to_dict,
)
from api.series import post_series, read_series
from commands.context import CommandContext
from commands.readings import RecordSensorData
from infra.bootstrap import Platform
from projections import registry_query as rq
from projections.readings_query import BeliefFilter

router = APIRouter(prefix="/api/v2_0", tags=["v2.0"])
PROGNOSIS_SERVICES = [
    {"name": "getPrognosis", "access": ALL_USEF_ROLES, "description": "Request load planning"},
    {"name": "postPrognosis", "access": ALL_USEF_ROLES, "description": "Send prediction"},
]


def require_access(conn: sa.Connection, user: CurrentUser, service: str) -> None:
    """403 ``INVALID_SENDER`` unless the user may use the service (rules of ``v2_0_common``)."""
    if any(s["name"] == service for s in SERVICES):
        require_service_access(conn, user, service)
        return
    if user.is_admin or (user.can_read_all and service == "getPrognosis"):
        return
    account = rq.account_by_id(conn, user.account_id) or {"roles": []}
    if set(ALL_USEF_ROLES) & (set(user.roles) | set(account["roles"])):
        return
    raise rejected(
        "INVALID_SENDER",
        f"You don't have the right role to access this service. It requires one of these roles: "
        f"{', '.join(ALL_USEF_ROLES)}.",
        status=403,
    )


@router.get("/getPrognosis")
def get_prognosis(request: Request, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Download prognoses (``GetPrognosisRequest`` in the query string); answers ``GetPrognosisResponse``.

    Example: ``?type=GetPrognosisRequest&connection=ea1.2026-11.io.flexledger:1:2&start=2015-01-01T00:00:00Z
    &duration=PT1H30M&horizon=PT6H&resolution=PT15M&unit=MW`` answers ``{"type": "GetPrognosisResponse",
    "connection": ..., "values": [...], "start": "2015-01-01T00:00:00Z", "duration": "PT1H30M", "unit": "MW"}``.
    """
    platform, tokens = request.app.state.platform, request.app.state.tokens
    return v2_response(
        "GetPrognosisResponse", lambda: _get(platform, authenticate(platform, tokens, authorization), request)
    )


def _get(platform: Platform, user: CurrentUser, request: Request) -> dict:
    form = query_form(request.query_params)
    check_type(form, "GetPrognosisRequest")
    with platform.read_models.read_engine.connect() as conn:
        require_access(conn, user, "getPrognosis")
        unit = power_unit(form.get("unit"))
        addresses = _connections(form, "")
        start, duration = parse_period(form)
        resolution = _resolution(form.get("resolution"))
        horizon = parse_horizon(form.get("horizon")) or timedelta(0)
        prior = None if form.get("prior") is None else parse_time(form["prior"], "prior", "INVALID_DATETIME")
        beliefs = BeliefFilter(
            prior=prior, horizon_s=int(horizon.total_seconds()), sources=_sources(conn, user, pick(form, "source"))
        )
        connections = [resolve(conn, user, a, f"connections[{i}]", write=False) for i, a in enumerate(addresses)]
        if resolution is None and len({c.sensor["event_resolution_s"] for c in connections}) > 1:
            raise rejected(
                "INVALID_RESOLUTION", "Requested assets do not have matching resolutions; state a resolution.",
                "resolution",
            )
        value_groups = [read_series(conn, c.sensor, start, duration, unit, resolution, beliefs)[0] for c in connections]
    body = groups_to_dict([c.address for c in connections], value_groups)
    return {**body, "start": format_time(start), "duration": format_duration(duration), "unit": unit, **PROCESSED}


@router.post("/postPrognosis")
async def post_prognosis(request: Request, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Upload prognoses (``PostPrognosisRequest``); answers ``PostPrognosisResponse`` with ``PROCESSED``."""
    body = await request.body()
    platform, tokens, headers = request.app.state.platform, request.app.state.tokens, request.headers

    def handle() -> dict:
        user = authenticate(platform, tokens, authorization)
        form = body_form(body)
        check_type(form, "PostPrognosisRequest")
        commands = platform.commands.with_actor(
            user.actor(), correlation_id=headers.get("X-Request-ID"), traceparent=headers.get("traceparent")
        )
        with platform.read_models.read_engine.connect() as conn:
            require_access(conn, user, "postPrognosis")
            writes = _validated_writes(conn, user, form, commands)
        for write in writes:
            post_series(platform, commands, write.connection.sensor, write.command)
        return dict(PROCESSED)

    return await run_in_threadpool(v2_response, "PostPrognosisResponse", handle)


def _belief_timing(form: dict) -> tuple[timedelta | None, datetime | None]:
    horizon = parse_horizon(form.get("horizon"))
    if horizon is not None and horizon < timedelta(0):
        message = "Prognoses must have a zero or positive horizon: they are made before the fact."
        raise rejected("INVALID_HORIZON", message, "horizon")
    prior = None if form.get("prior") is None else parse_time(form["prior"], "prior", "INVALID_DATETIME")
    return horizon, prior


def _validated_writes(conn: sa.Connection, user: CurrentUser, form: dict, commands: CommandContext) -> list[_Write]:
    """Every (group, connection) write, each checked by a dry run of the command handler."""
    horizon, prior = _belief_timing(form)
    writes = []
    for prefix, group in _groups(form):
        unit = power_unit(group.get("unit"), f"{prefix}unit")
        connections = _connections(group, prefix)
        values = _values(group, prefix)
        start, duration = parse_period(group, prefix)
        if prior is not None and prior >= start + duration:
            raise rejected("INVALID_HORIZON", "Prognoses can only be made before the end of the period.", "prior")
        for index, address in enumerate(connections):
            connection = resolve(conn, user, address, f"{prefix}connections[{index}]", write=True)
            check_signs(connection, values, f"{prefix}values")
            command = RecordSensorData(
                sensor_id=connection.sensor["id"], start=start, duration=duration, values=values, unit=unit,
                source=user.email, prior=prior, horizon=horizon,
            )
            _dry_run(commands, connection.sensor, command, prefix)
            writes.append(_Write(connection, command))
    return writes


def _method_not_allowed(response_type: str):
    def handler(request: Request) -> JSONResponse:
        return invalid_method(response_type, request.method)

    return handler


router.add_api_route(
    "/getPrognosis", _method_not_allowed("GetPrognosisResponse"), methods=["POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
router.add_api_route(
    "/postPrognosis", _method_not_allowed("PostPrognosisResponse"), methods=["GET", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
