"""Response schemas of the HTTP API (OpenAPI), so clients and fuzzers know every answer's shape.

Objects allow extra fields (``additionalProperties``): FlexMeasures adds fields between
releases and clients must tolerate them. Every route documents its errors with
:class:`ErrorOut` (``4XX``: v3 ``{"status", "message", "field"}``; v2.0 adds ``type`` and
``result: "Rejected"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorOut(_Open):
    """An error: a stable machine code (``status``), a message, and the field it is about."""

    status: str
    message: str
    field: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {"4XX": {"model": ErrorOut, "description": "Refused request"}}


class MessageOut(_Open):
    status: str
    message: str


class VersionsOut(_Open):
    message: str
    versions: list[str]
    flexmeasures_version: str
    status: int


class TokenOut(_Open):
    auth_token: str
    user_id: int


class UserOut(_Open):
    id: int
    email: str
    username: str | None
    account_id: int
    active: bool
    timezone: str | None
    flexmeasures_roles: list[str]


class AccountOut(_Open):
    id: int
    name: str
    account_roles: list[dict[str, Any]]


class AssetTypeOut(_Open):
    id: int
    name: str
    description: str


class AssetOut(_Open):
    id: int
    name: str
    account_id: int
    generic_asset_type_id: int | None
    generic_asset_type: dict[str, Any]
    latitude: float | None
    longitude: float | None
    parent_asset_id: int | None
    attributes: str
    flex_context: str
    flex_model: str
    sensors_to_show: str


class SensorOut(_Open):
    id: int
    name: str
    unit: str
    event_resolution: str
    timezone: str
    generic_asset_id: int
    attributes: str
    entity_address: str


class SensorDataOut(_Open):
    values: list[float | None]
    start: str
    duration: str
    unit: str
    resolution: str


class ScheduleTriggerOut(MessageOut):
    schedule: str
    job: str


class ScheduleOut(_Open):
    """200: the schedule's values; 202: ``status`` and ``message`` only (pending)."""

    status: str
    message: str
    values: list[float] | None = None
    start: str | None = None
    duration: str | None = None
    unit: str | None = None


class ForecastTriggerOut(MessageOut):
    forecast: str


class ForecastOut(_Open):
    """200: the forecast's values; 202: ``status``, ``message`` and ``job_id`` (pending)."""

    values: list[float | None] | None = None
    start: str | None = None
    duration: str | None = None
    unit: str | None = None
    status: str | None = None
    message: str | None = None


class ForecastingOut(_Open):
    sensor: int
    configured: bool
    unit: str


class JobOut(_Open):
    status: str
    message: str | None
    result: dict[str, Any] | None
    job_id: str


class V2Response(_Open):
    """A FlexMeasures v2.0 message: its ``type`` (``GetMeterDataResponse`` ...) and fields."""

    type: str


def v2_query(*names: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` declaring the query parameters a v2.0 GET route reads by hand (strings)."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": name in required, "schema": {"type": "string"}}
            for name in names
        ]
    }


def v2_body(message_type: str, properties: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    """``openapi_extra`` declaring the JSON message a v2.0 POST route reads by hand."""
    schema = {
        "type": "object",
        "properties": {"type": {"type": "string", "enum": [message_type]}, **properties},
        "required": ["type", *required],
        "additionalProperties": True,
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_TEXT, _NUMBERS = {"type": "string"}, {"type": "array", "items": {"type": "number"}}
V2_SERIES_PROPERTIES: dict[str, Any] = {
    "connection": _TEXT,
    "connections": {"type": "array", "items": _TEXT},
    "value": {"type": "number"},
    "values": _NUMBERS,
    "start": {"type": "string", "format": "date-time"},
    "duration": _TEXT,
    "unit": _TEXT,
    "horizon": _TEXT,
    "prior": {"type": "string", "format": "date-time"},
    "groups": {"type": "array", "items": {"type": "object"}},
}
V2_UDI_PROPERTIES: dict[str, Any] = {
    "event": _TEXT,
    "value": {"type": "number"},
    "unit": {"type": "string", "enum": ["kWh", "MWh", "%"]},
    "datetime": {"type": "string", "format": "date-time"},
    "targets": {
        "type": "array",
        "items": {"type": "object", "properties": {"value": {"type": "number"}, "datetime": _TEXT}},
    },
    "prior": {"type": "string", "format": "date-time"},
    "roundtrip_efficiency": {"type": "number"},
    "soc_min": {"type": "number"},
    "soc_max": {"type": "number"},
}
V2_SERIES_QUERY = ("type", "connection", "start", "duration", "unit", "resolution", "horizon", "prior", "source")
V2_SERIES_REQUIRED = ("connection", "values", "start", "duration", "unit")
