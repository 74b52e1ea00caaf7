"""Shared parts of the FlexMeasures API v2.0 endpoints: messages, errors, access, parsing.

Responses carry the message ``type`` (``GetMeterDataResponse`` ...). Errors are
``{"type": ..., "result": "Rejected", "status": <code>, "message": ..., "field": ...}`` with
FlexMeasures' HTTP statuses: 400 for request errors (``INVALID_UNIT``, ``INVALID_DOMAIN``,
``UNRECOGNIZED_CONNECTION_GROUP`` ...), 401 ``UNAUTHORIZED``, 403 ``INVALID_SENDER``, 405
``INVALID_METHOD``. ``field`` (a flexledger addition) names the offending input, e.g.
``groups[1].values``.

Access (FlexMeasures' USEF roles): admins may use every service; other users need one of the
service's USEF roles on themselves or their account (auditors may use the read services).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import isodate
import sqlalchemy as sa
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams

from api.auth import CurrentUser
from api.deps import ApiServices, get_current_user
from api.errors import ApiError, command_error_status
from api.timefmt import parse_duration
from api.validation import check_moment
from commands.context import CommandError
from domain.registry import USEF_ROLES
from domain.units import UnitError, is_power_unit
from projections import registry_query as rq

ALL_USEF_ROLES = ["Aggregator", "Supplier", "MDC", "DSO", "Prosumer", "ESCo"]  # FlexMeasures' order
assert set(ALL_USEF_ROLES) == set(USEF_ROLES)
SERVICES = [
    {"name": "getConnection", "access": ALL_USEF_ROLES, "description": "Request entity addresses of connections"},
    {"name": "getMeterData", "access": ALL_USEF_ROLES, "description": "Request meter reading"},
    {"name": "postMeterData", "access": ALL_USEF_ROLES, "description": "Send meter reading"},
    {"name": "getPrognosis", "access": ALL_USEF_ROLES, "description": "Request load planning"},
    {"name": "postPrognosis", "access": ALL_USEF_ROLES, "description": "Send prediction"},
    {  # served by api.routers.v2_0_control
        "name": "getDeviceMessage",
        "access": ["Prosumer", "ESCo"],
        "description": "Get an Active Demand & Supply (ADS) request for a certain type of control action, "
        "including control set points",
    },
    {
        "name": "postUdiEvent",
        "access": ["Prosumer", "ESCo"],
        "description": "Send a description of some flexible consumption or production process as a USEF Device "
        "Interface (UDI) event, including device capabilities (control constraints)",
    },
]
READ_SERVICES = {"getConnection", "getMeterData", "getPrognosis", "getDeviceMessage"}
PROCESSED = {"status": "PROCESSED", "message": "Request has been processed."}
_PASS_THROUGH_STATUS = {401, 403, 404, 405, 413}
_CODE_ALIASES = {"INVALID_START": "INVALID_PERIOD", "INVALID_DURATION": "INVALID_PERIOD"}


def rejected(code: str, message: str, field: str | None = None, status: int = 400) -> ApiError:
    """An error to raise from a v2.0 handler (400 unless ``status`` says otherwise)."""
    return ApiError(status, code, message, field)


def v2_response(response_type: str, handler: Callable[[], dict]) -> JSONResponse:
    """Run ``handler``; answer its dict (or its error) as a v2.0 message of ``response_type``."""
    try:
        body = handler()
    except ApiError as exc:
        return _error(response_type, exc.status, exc.code, exc.message, exc.field)
    except CommandError as exc:
        return _error(response_type, command_error_status(exc), exc.code, str(exc), exc.field)
    except UnitError as exc:
        return _error(response_type, 400, exc.code, str(exc), "unit")
    return JSONResponse({"type": response_type, **body}, status_code=200)


def _error(response_type: str, status: int, code: str, message: str, field: str | None) -> JSONResponse:
    if status not in _PASS_THROUGH_STATUS and status < 500:
        status = 400  # FlexMeasures answers v2.0 request errors with 400 Bad Request
    body = {"type": response_type, "result": "Rejected", "status": _CODE_ALIASES.get(code, code), "message": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def invalid_method(response_type: str, method: str) -> JSONResponse:
    return _error(response_type, 405, "INVALID_METHOD", f"Request method {method} not supported.", None)


def authenticate(services: ApiServices, authorization: str | None) -> CurrentUser:
    """The user of the ``Authorization`` token (401 ``UNAUTHORIZED``/``TOKEN_EXPIRED`` otherwise)."""
    return get_current_user(services, authorization)


def require_service_access(conn: sa.Connection, user: CurrentUser, service: str) -> None:
    """403 ``INVALID_SENDER`` unless the user may use ``service`` (see the module docstring)."""
    if user.is_admin or (user.can_read_all and service in READ_SERVICES):
        return
    access = next(s["access"] for s in SERVICES if s["name"] == service)
    account = rq.account_by_id(conn, user.account_id) or {"roles": []}
    if set(access) & (set(user.roles) | set(account["roles"])):
        return
    raise rejected(
        "INVALID_SENDER",
        f"You don't have the right role to access this service. It requires one of these roles: {', '.join(access)}.",
        status=403,
    )


def query_form(params: QueryParams) -> dict[str, Any]:
    """A GET request's query parameters as a message (FlexMeasures' ``get_form_from_request``).

    Repeated keys become lists; a value that is a JSON list (``connection=["a","b"]``) is spread.
    """
    form: dict[str, Any] = {}
    for key in params:
        values: list[Any] = []
        for raw in params.getlist(key):
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
            if isinstance(parsed, list):
                values.extend(parsed)
            else:
                values.append(raw)
        form[key] = values[0] if len(values) == 1 else values
    return form


def body_form(body: bytes) -> dict[str, Any]:
    """A POST request's JSON body as a message (400 ``INVALID_JSON`` / ``INVALID_REQUEST``)."""
    try:
        form = json.loads(body or b"null")
    except ValueError as exc:
        raise rejected("INVALID_JSON", f"malformed JSON: {exc}", "body") from exc
    if not isinstance(form, dict):
        raise rejected("INVALID_REQUEST", "the request body must be a JSON object (a message)", "body")
    return form


def check_type(form: dict, message_type: str, required: bool = True) -> None:
    """400 ``INVALID_MESSAGE_TYPE`` unless ``form["type"]`` is ``message_type``."""
    if form.get("type") == message_type or (not required and "type" not in form):
        return
    raise rejected("INVALID_MESSAGE_TYPE", f"Request message should specify type '{message_type}'.", "type")


def pick(form: dict, singular: str) -> Any:
    """The value under ``singular`` or its plural (the API does not distinguish them, docs 14.4.1)."""
    return form[singular] if singular in form else form.get(f"{singular}s")


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def power_unit(unit: Any, field: str = "unit") -> str:
    """The requested unit if it is a unit of power (MW, kW, W ...); 400 ``INVALID_UNIT`` otherwise."""
    message = "Data for power should be given in a unit of power, such as MW, kW or W"
    if not isinstance(unit, str) or not unit.strip():
        raise rejected("INVALID_UNIT", f"{message}; the message states no unit.", field)
    try:
        if is_power_unit(unit):
            return unit
    except UnitError:
        raise rejected("INVALID_UNIT", f"{message}; {unit!r} is not a known unit.", field) from None
    raise rejected("INVALID_UNIT", f"{message}, not {unit!r}.", field)


def parse_time(value: Any, field: str, missing_code: str = "INVALID_PERIOD") -> datetime:
    """An ISO 8601 datetime with an explicit offset; 400 ``INVALID_TIMEZONE`` when it is naive."""
    if not isinstance(value, str):
        raise rejected(missing_code, f"{field}: an ISO 8601 datetime such as 2021-01-01T00:00:00Z is required.", field)
    try:
        moment = isodate.parse_datetime(value.strip())
    except (isodate.ISO8601Error, ValueError, OverflowError) as exc:
        raise rejected(missing_code, f"{field}: cannot parse {value!r} as an ISO 8601 datetime.", field) from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise rejected(
            "INVALID_TIMEZONE",
            f"{field.capitalize()} time should explicitly state a timezone (e.g. Z or +01:00).",
            field,
        )
    return check_moment(moment, field, status=400, code=missing_code)


def parse_period(form: dict, prefix: str = "") -> tuple[datetime, timedelta]:
    """``start`` and a positive ``duration`` (400 ``INVALID_PERIOD``, naive start: ``INVALID_TIMEZONE``)."""
    start = parse_time(form.get("start"), f"{prefix}start")
    raw = form.get("duration")
    try:
        duration = parse_duration(raw) if isinstance(raw, str) else None
    except ValueError:
        duration = None
    if duration is None or duration <= timedelta(0):
        raise rejected("INVALID_PERIOD", f"Cannot parse {raw!r} as a positive ISO 8601 duration.", f"{prefix}duration")
    return start, duration


def parse_horizon(raw: Any, field: str = "horizon") -> timedelta | None:
    """An ISO 8601 duration, optionally negative (``-PT10M``); 400 ``INVALID_HORIZON`` otherwise."""
    if raw is None:
        return None
    if isinstance(raw, str) and raw.lstrip("-").startswith("R"):
        raise rejected(
            "INVALID_HORIZON",
            "API versions 2.0 and higher use regular ISO 8601 durations instead of repeating time intervals. "
            "For example: R/P1D should be replaced by P1D.",
            field,
        )
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise rejected(
            "INVALID_HORIZON", f"The horizon field in your request could not be parsed: {exc}", field
        ) from exc


def format_time(moment: datetime) -> str:
    """ISO 8601 with ``Z`` for UTC, as in the FlexMeasures documentation."""
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z" if moment.utcoffset() == timedelta(0) else text


def format_duration(value: timedelta) -> str:
    return isodate.duration_isoformat(value)
