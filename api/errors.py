"""Error responses: JSON with a stable machine code (``status``), a message naming the field.

Shape (as FlexMeasures' v1-v3 responses): ``{"status": "INVALID_UNIT", "message": "...",
"field": "unit"}``. FlexMeasures codes are used where FlexMeasures has one.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from commands.context import CommandError
from domain.ports.event_store import WrongExpectedRevision
from domain.units import UnitError

V2_PREFIX = "/api/v2_0/"


class ApiError(Exception):
    """Raise from a route to answer with ``status`` HTTP code and a stable ``code``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


COMMAND_ERROR_STATUS: dict[str, int] = {
    "UNKNOWN_ACCOUNT": 404,
    "UNRECOGNIZED_ACCOUNT": 404,
    "UNRECOGNIZED_USER": 404,
    "UNRECOGNIZED_API_KEY": 404,
    "UNRECOGNIZED_ASSET": 404,
    "UNRECOGNIZED_SENSOR": 404,
    "API.COMMAND_NOT_FOUND": 404,
    "API.INVALID_SET_VALUE": 400,
    "IDEMPOTENCY_KEY_REUSED": 409,
    "UNKNOWN_COMMAND": 404,
    "COMMAND_NOT_CANCELLABLE": 409,
    "SESSION_EXISTS": 409,
    "SESSION_ENDED": 409,
    "UNKNOWN_SESSION": 404,
    "EVSE_EXISTS": 409,
    "INVALID_SENDER": 403,
    "DUPLICATE_EMAIL": 409,
    "CONFLICT": 409,
}
"""HTTP status of a refused command, by its stable code (commands know no HTTP); others: 422."""


def command_error_status(exc: CommandError) -> int:
    """The HTTP status of a refused command: by its code; an unknown object named by a command
    (``UNKNOWN_REGION``, ``API.TARIFF_NOT_FOUND``, ...) is 404; anything else 422 (MyEMS
    answers 400 for it)."""
    if exc.code in COMMAND_ERROR_STATUS:
        return COMMAND_ERROR_STATUS[exc.code]
    return 404 if exc.code.startswith("UNKNOWN_") or exc.code.endswith("_NOT_FOUND") else 422


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
        return error_response(409, exc.code, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {401: "UNAUTHORIZED", 403: "INVALID_SENDER", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        return error_response(exc.status_code, codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail))

    app.add_exception_handler(RequestValidationError, _on_validation_error)
