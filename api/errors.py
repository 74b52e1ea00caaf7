"""Error responses: JSON with a stable machine code (``status``), a message naming the field.

Shape (as FlexMeasures' v1-v3 responses): ``{"status": "INVALID_UNIT", "message": "...",
"field": "unit"}``. FlexMeasures codes are used where FlexMeasures has one.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from commands.context import CommandError
from domain.ports.event_store import EventStoreUnavailable, WrongExpectedRevision
from domain.units import UnitError

V2_PREFIX = "/api/v2_0/"
RETRY_AFTER_S = 5
"""``Retry-After`` of a 503 answered while the event store is unavailable (or a pool is dry)."""

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raise from a route to answer with ``status`` HTTP code and a stable ``code``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


COMMAND_ERROR_STATUS: dict[str, int] = {
    # an object the command names does not exist (or not in the caller's account)
    "UNKNOWN_ACCOUNT": 404,
    "UNKNOWN_ASSET_ID": 404,
    "UNKNOWN_CHARGING_MODE_IDS": 404,
    "UNKNOWN_COMMAND": 404,
    "UNKNOWN_EV_TYPE_ID": 404,
    "UNKNOWN_REGION_ID": 404,
    "UNKNOWN_SESSION": 404,
    "UNRECOGNIZED_API_KEY": 404,
    "UNRECOGNIZED_ASSET": 404,
    "UNRECOGNIZED_SENSOR": 404,
    "UNRECOGNIZED_USER": 404,
    "API.API_KEY_NOT_FOUND": 404,
    "API.COMMAND_NOT_FOUND": 404,
    "API.OFFLINE_METER_FILE_NOT_FOUND": 404,
    "API.TARIFF_NOT_FOUND": 404,
    "API.VIRTUAL_METER_NOT_FOUND": 404,
    # the request conflicts with what is stored
    "ACCOUNT_FORGOTTEN": 409,
    "COMMAND_NOT_CANCELLABLE": 409,
    "CONFLICT": 409,
    "DUPLICATE_EMAIL": 409,
    "EVSE_EXISTS": 409,
    "IDEMPOTENCY_KEY_REUSED": 409,
    "SESSION_ENDED": 409,
    "SESSION_EXISTS": 409,
    "WRONG_EXPECTED_REVISION": 409,
    # not allowed for the caller
    "INVALID_SENDER": 403,
    # malformed input (FlexMeasures answers 400 for these)
    "API.INVALID_SET_VALUE": 400,
    "API.INVALID_COMMAND": 400,  # issue 14: MyEMS operator schedules (domain/schedule_overrides.py)
    "API.INVALID_START_TIME_OF_DAY": 400,
    "API.INVALID_END_TIME_OF_DAY": 400,
    "API.INVALID_PEAK_TYPE": 400,
    "API.INVALID_POWER": 400,
    "API.SCHEDULE_OVERLAPS": 400,
    "INVALID_DOMAIN": 400,
    "OUTDATED_UDI_EVENT": 400,
    "UNRECOGNIZED_UDI_EVENT": 400,
    # well-formed input the rules refuse
    "API.INVALID_PASSWORD": 422,
    "API.INVALID_NEW_PASSWORD": 422,
    "API.INVALID_OLD_PASSWORD": 422,
    "API.INVALID_TARIFF_BLOCK_PRICING": 422,
    "API.INVALID_TARIFF_TIME_OF_USE_PRICING": 422,
    "API.INVALID_VALID_THROUGH": 422,
    "BEFORE_PLUG_IN": 422,
    "FROZEN_FIELD": 422,
    "INCONSISTENT": 422,
    "INSUFFICIENT_DATA": 422,
    "INVALID_ACTION": 422,
    "INVALID_ASSET_TYPE": 422,
    "INVALID_DATETIME": 422,
    "INVALID_EXPIRY": 422,
    "INVALID_FIELD": 422,
    "INVALID_PARAMETERS": 422,
    "INVALID_PARENT": 422,
    "INVALID_RANGE": 422,
    "INVALID_RESOLUTION": 422,
    "INVALID_ROLE": 422,
    "INVALID_START": 422,
    "INVALID_STATE": 422,
    "INVALID_TIMESLOT": 422,
    "INVALID_TIMEZONE": 422,
    "INVALID_UNIT": 422,
    "INVALID_VALUE": 422,
    "MISSING_FIELD": 422,
    "NOT_AN_EVSE": 422,
    "NO_DEVICE_GATEWAY": 422,
    "UNKNOWN_FIELD": 422,
    "UNKNOWN_FORMAT": 422,
    "UNRESOLVED_SENSOR": 422,
    # the event store did not answer: retry later
    "EVENT_STORE_UNAVAILABLE": 503,
}
"""HTTP status of every error code the core raises (commands know no HTTP; the API decides here).

Explicit, with no rule on the code's name: ``tests/unit/test_error_codes.py`` reads every code
raised in ``commands/`` and ``domain/`` (and every ``CommandError`` anywhere) from the source and
fails when one is missing here, so a new code gets its status by decision, not by default."""


def command_error_status(exc: CommandError) -> int:
    """The HTTP status of a refused command, from :data:`COMMAND_ERROR_STATUS`.

    A code missing from the table (the unit test prevents it) is logged and answered 422."""
    status = COMMAND_ERROR_STATUS.get(exc.code)
    if status is None:
        log.error("error code %s has no HTTP status in COMMAND_ERROR_STATUS; answering 422", exc.code)
        return 422
    return status


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body = {"status": code, "message": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def _location(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_message(error: dict) -> str:
    if error["type"] == "timezone_aware":
        return "must be timezone-aware (add an offset such as Z or +01:00)"
    return error["msg"]


async def _on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request", "type": "invalid"}
    if first["type"] == "json_invalid":
        return error_response(400, "INVALID_JSON", f"malformed JSON: {first.get('ctx', {}).get('error', '')}", "body")
    field = _location(first["loc"])
    messages = [f"{_location(e['loc'])}: {_validation_message(e)}" for e in errors]
    return error_response(422, "UNPROCESSABLE_ENTITY", "; ".join(messages), field)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        if request.url.path.startswith(V2_PREFIX):  # raised before a v2.0 route ran (e.g. the auditor rule)
            body = {"result": "Rejected", "status": exc.code, "message": exc.message}
            return JSONResponse({**body, "field": exc.field} if exc.field else body, status_code=exc.status)
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(CommandError)
    async def _command_error(_request: Request, exc: CommandError) -> JSONResponse:
        return error_response(command_error_status(exc), exc.code, str(exc), exc.field)

    @app.exception_handler(UnitError)
    async def _unit_error(_request: Request, exc: UnitError) -> JSONResponse:
        return error_response(400, exc.code, str(exc), "unit")

    @app.exception_handler(WrongExpectedRevision)
    async def _conflict(_request: Request, exc: WrongExpectedRevision) -> JSONResponse:
        return error_response(COMMAND_ERROR_STATUS[exc.code], exc.code, str(exc))

    @app.exception_handler(EventStoreUnavailable)
    async def _unavailable(_request: Request, exc: EventStoreUnavailable) -> JSONResponse:
        response = error_response(COMMAND_ERROR_STATUS[exc.code], exc.code, f"the event store did not answer: {exc}")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(PoolTimeout)
    async def _busy(_request: Request, exc: PoolTimeout) -> JSONResponse:
        # every pooled connection stayed in use past the pool's timeout: overload, not a bug
        log.warning("read-model connection pool exhausted: %s", exc)
        response = error_response(503, "READ_MODELS_BUSY", "the read models are busy: retry later")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {401: "UNAUTHORIZED", 403: "INVALID_SENDER", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        return error_response(exc.status_code, codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail))

    app.add_exception_handler(RequestValidationError, _on_validation_error)
