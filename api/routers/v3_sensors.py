"""v3 sensors (FlexMeasures-compatible field names and status codes)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, field_validator

from api.authorization import query_account
from api.consistency import REGISTRY
from api.deps import Commands, Consistency, ReadConn, User, visible_asset, visible_sensor
from api.errors import ApiError
from api.schemas import SensorOut
from api.timefmt import IsoDuration, format_duration
from api.validation import Id, loads_finite
from commands import registry as cmd
from domain.registry import stream_of
from projections import registry_query as rq
from projections.readings_query import has_data

router = APIRouter(prefix="/api/v3_0", tags=["sensors"])
ENTITY_ADDRESS_AUTHORITY = "ea1.2026-11.io.flexledger"


def sensor_entity_address(sensor_id: int) -> str:
    """The sensor's USEF entity address in FlexMeasures' ``fm1`` scheme."""
    return f"{ENTITY_ADDRESS_AUTHORITY}:fm1.{sensor_id}"


def sensor_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "unit": row["unit"],
        "event_resolution": format_duration(timedelta(seconds=row["event_resolution_s"])),
        "timezone": row["timezone"],
        "generic_asset_id": row["asset_id"],
        "attributes": json.dumps(row["attributes"]),
        "entity_address": sensor_entity_address(row["id"]),
    }


def _attributes(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return loads_finite(value) if value else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"attributes is not valid JSON: {exc}") from exc
    return value


class SensorIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    unit: str
    event_resolution: IsoDuration
    generic_asset_id: Id
    timezone: str = "UTC"
    attributes: dict[str, Any] = Field(default_factory=dict)

    _parse_attributes = field_validator("attributes", mode="before")(_attributes)


class SensorPatch(BaseModel):
    """Fields to change; left out: unchanged; ``null`` is 422 (no field of a sensor may be cleared)."""

    name: str = Field(default=None, min_length=1, max_length=255)  # type: ignore[assignment]
    unit: str = None  # type: ignore[assignment]
    event_resolution: IsoDuration = None  # type: ignore[assignment]
    timezone: str = None  # type: ignore[assignment]
    attributes: dict[str, Any] = None  # type: ignore[assignment]

    _parse_attributes = field_validator("attributes", mode="before")(_attributes)


def _check_timezone(name: str | None) -> None:
    if name is None:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ApiError(422, "INVALID_TIMEZONE", f"unknown timezone {name!r}", "timezone") from exc


@router.get("/sensors", response_model=list[SensorOut])
def list_sensors(user: User, conn: ReadConn, asset_id: Id | None = None, account_id: Id | None = None) -> list[dict]:
    """Sensors the caller may see, optionally of one asset or account (another account's: 403)."""
    if asset_id is not None:
        visible_asset(conn, user, asset_id)
    account_id = query_account(user, account_id)
    rows = rq.list_sensors(conn, account_id=account_id, asset_id=asset_id)
    return [sensor_json(r) for r in rows]


@router.post("/sensors", status_code=201, response_model=SensorOut)
def create_sensor(body: SensorIn, user: User, commands: Commands, conn: ReadConn, consistency: Consistency) -> dict:
    """Register a sensor on an asset of the caller's account (unit, event resolution, timezone)."""
    visible_asset(conn, user, body.generic_asset_id, write=True)
    _check_timezone(body.timezone)
    if body.event_resolution.total_seconds() < 0:
        raise ApiError(422, "INVALID_RESOLUTION", "event_resolution must not be negative", "event_resolution")
    sensor_id = cmd.register_sensor(
        commands,
        cmd.RegisterSensor(
            asset_id=body.generic_asset_id,
            name=body.name,
            unit=body.unit,
            event_resolution_s=int(body.event_resolution.total_seconds()),
            timezone=body.timezone,
            attributes=body.attributes,
        ),
    )
    return _after_write(conn, sensor_id, consistency)


def _after_write(conn: ReadConn, sensor_id: int, consistency: Consistency) -> dict:
    return sensor_json(consistency.read_back(conn, rq.sensor_by_id, sensor_id, stream_of("sensor", sensor_id)))


@router.get("/sensors/{sensor_id}", response_model=SensorOut)
def get_sensor(sensor_id: Id, user: User, conn: ReadConn) -> dict:
    """One sensor of the caller's account."""
    return sensor_json(visible_sensor(conn, user, sensor_id))


@router.patch("/sensors/{sensor_id}", response_model=SensorOut)
def patch_sensor(
    sensor_id: Id, body: SensorPatch, user: User, commands: Commands, conn: ReadConn, consistency: Consistency
) -> dict:
    """Change a sensor's name, unit, event resolution, timezone or attributes
    (its unit and resolution only while it holds no data)."""
    visible_sensor(conn, user, sensor_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    _check_timezone(changes.get("timezone"))
    if "event_resolution" in changes:  # model_dump serialises the duration to text: take the timedelta
        changes.pop("event_resolution")
        if body.event_resolution is None or body.event_resolution.total_seconds() < 0:
            raise ApiError(422, "INVALID_RESOLUTION", "event_resolution must be a duration >= 0", "event_resolution")
        changes["event_resolution_s"] = int(body.event_resolution.total_seconds())
    if not changes:
        raise ApiError(422, "UNPROCESSABLE_ENTITY", "no fields to change", "body")
    cmd.change_sensor(
        commands, cmd.ChangeSensor(sensor_id=sensor_id, changes=changes, has_data=has_data(conn, sensor_id))
    )
    return _after_write(conn, sensor_id, consistency)


@router.delete("/sensors/{sensor_id}", status_code=204)
def delete_sensor(sensor_id: Id, user: User, commands: Commands, conn: ReadConn, consistency: Consistency) -> Response:
    """Remove a sensor of the caller's account (204); its readings stay in the ledger."""
    visible_sensor(conn, user, sensor_id, write=True)
    cmd.delete_sensor(commands, cmd.DeleteSensor(sensor_id=sensor_id))
    consistency.wait_until_projected(REGISTRY, stream_id=stream_of("sensor", sensor_id))
    return Response(status_code=204)
