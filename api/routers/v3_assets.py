"""v3 assets and asset types (FlexMeasures-compatible field names and status codes).

``attributes``, ``flex_context``, ``flex_model`` and ``sensors_to_show`` are accepted as JSON
strings (as FlexMeasures and its client send them) or as objects, and returned as JSON strings.

A flex-model's ``state-of-charge`` (the device's state-of-charge sensor, whose readings trigger
schedules) is checked on write: ``{"sensor": <id>}`` of a sensor of the same account in kWh,
MWh or % (else 422 naming ``flex_model.state-of-charge``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, field_validator

from api.authorization import check_references
from api.consistency import REGISTRY
from api.deps import Commands, Consistency, ReadConn, User, require_account_access, visible_asset
from api.errors import ApiError
from api.schemas import AssetOut, AssetTypeOut
from api.validation import Id, loads_finite
from commands import registry as cmd
from domain.devices import stored_devices
from domain.registry import ASSET_TYPES, stream_of
from domain.udi import SOC_UNITS
from projections import registry_query as rq

router = APIRouter(prefix="/api/v3_0", tags=["assets"])

ASSET_TYPE_IDS = {name: index + 1 for index, name in enumerate(ASSET_TYPES)}
ASSET_TYPE_NAMES = {index: name for name, index in ASSET_TYPE_IDS.items()}
JSON_FIELDS = ("attributes", "flex_context", "flex_model", "sensors_to_show")


def _parse_json_field(value: Any, field: str) -> Any:
    if isinstance(value, str):
        try:
            return loads_finite(value) if value else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"{field} is not valid JSON: {exc}") from exc
    return value


class AssetIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    account_id: Id | None = None
    generic_asset_type_id: int
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    parent_asset_id: Id | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    flex_context: dict[str, Any] = Field(default_factory=dict)
    flex_model: dict[str, Any] | list[Any] = Field(default_factory=dict)
    sensors_to_show: list[Any] = Field(default_factory=list)

    @field_validator(*JSON_FIELDS, mode="before")
    @classmethod
    def _json(cls, value: Any, info) -> Any:
        return _parse_json_field(value, info.field_name)


class AssetPatch(BaseModel):
    """Fields to change; left out: unchanged. Only ``latitude``, ``longitude`` and
    ``parent_asset_id`` may be ``null`` (cleared); a null name or type is 422."""

    name: str = Field(default=None, min_length=1, max_length=255)  # type: ignore[assignment]
    generic_asset_type_id: int = None  # type: ignore[assignment]
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    parent_asset_id: Id | None = None
    attributes: dict[str, Any] = None  # type: ignore[assignment]
    flex_context: dict[str, Any] = None  # type: ignore[assignment]
    flex_model: dict[str, Any] | list[Any] = None  # type: ignore[assignment]
    sensors_to_show: list[Any] = None  # type: ignore[assignment]

    @field_validator(*JSON_FIELDS, mode="before")
    @classmethod
    def _json(cls, value: Any, info) -> Any:
        return _parse_json_field(value, info.field_name)


def asset_json(row: dict) -> dict:
    type_id = ASSET_TYPE_IDS.get(row["asset_type"])
    return {
        "id": row["id"],
        "name": row["name"],
        "account_id": row["account_id"],
        "generic_asset_type_id": type_id,
        "generic_asset_type": {"id": type_id, "name": row["asset_type"]},
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "parent_asset_id": row["parent_asset_id"],
        **{field: json.dumps(row[field]) for field in JSON_FIELDS},
    }


def _asset_type(type_id: int | None) -> str:
    if type_id not in ASSET_TYPE_NAMES:
        raise ApiError(422, "INVALID_ASSET_TYPE", f"unknown generic_asset_type_id {type_id}", "generic_asset_type_id")
    return ASSET_TYPE_NAMES[type_id]


@router.get("/assets/types", response_model=list[AssetTypeOut])
def list_asset_types(_user: User) -> list[dict]:
    """The generic asset types an asset can have (id, name, description)."""
    return [{"id": ASSET_TYPE_IDS[n], "name": n, "description": d} for n, d in ASSET_TYPES.items()]


@router.get("/assets", response_model=list[AssetOut])
def list_assets(
    user: User, conn: ReadConn, account_id: Id | None = None, all_accessible: bool = False, sort_dir: str = "asc"
) -> list[dict]:
    """Assets of the caller's account (or ``account_id``; admins/auditors with ``all_accessible``: all)."""
    if account_id is None and not (all_accessible and user.can_read_all):
        account_id = user.account_id
    if account_id is not None:
        require_account_access(user, account_id)
    return [asset_json(r) for r in rq.list_assets(conn, account_id, descending=sort_dir == "desc")]


@router.post("/assets", status_code=201, response_model=AssetOut)
def create_asset(body: AssetIn, user: User, commands: Commands, conn: ReadConn, consistency: Consistency) -> dict:
    """Register an asset (site or device) in the caller's account; answers the stored asset (201)."""
    account_id = body.account_id if body.account_id is not None else user.account_id
    require_account_access(user, account_id, write=True)
    check_references(conn, user, account_id, _references(body.model_dump()), body.parent_asset_id)
    check_soc_sensors(conn, account_id, body.flex_model)
    fields = body.model_dump(exclude={"generic_asset_type_id", "account_id"})
    asset_id = cmd.register_asset(
        commands, cmd.RegisterAsset(account_id=account_id, asset_type=_asset_type(body.generic_asset_type_id), **fields)
    )
    return _after_write(conn, asset_id, consistency)


def _references(fields: dict) -> dict:
    """The fields of an asset that name other objects' ids (checked by ``check_references``)."""
    return {name: fields[name] for name in ("flex_context", "flex_model") if fields.get(name) is not None}


def check_soc_sensors(conn: ReadConn, account_id: int, flex_model: dict | list) -> None:
    """422 unless each ``state-of-charge`` names a sensor of the account in kWh, MWh or %."""
    for device in stored_devices(flex_model):
        if not device.soc_field:
            continue
        path = f"{device.path}.state-of-charge"
        sensor_id = device.soc_sensor_id
        if sensor_id is None:
            raise ApiError(422, "INVALID_FLEX_MODEL", 'state-of-charge must name a sensor: {"sensor": <id>}', path)
        sensor = rq.sensor_by_id(conn, sensor_id)
        if sensor is None or sensor["account_id"] != account_id:
            raise ApiError(422, "UNRECOGNIZED_SENSOR", f"no sensor {sensor_id} in the asset's account", path)
        if sensor["unit"] not in SOC_UNITS:
            message = f"sensor {sensor_id} is in {sensor['unit']!r}; a state of charge is in {', '.join(SOC_UNITS)}"
            raise ApiError(422, "INVALID_UNIT", message, path)


def _after_write(conn: ReadConn, asset_id: int, consistency: Consistency) -> dict:
    return asset_json(consistency.read_back(conn, rq.asset_by_id, asset_id, stream_of("asset", asset_id)))


@router.get("/assets/{asset_id}", response_model=AssetOut)
def get_asset(asset_id: Id, user: User, conn: ReadConn) -> dict:
    """One asset of the caller's account, with its flex-context and flex-model."""
    return asset_json(visible_asset(conn, user, asset_id))


@router.patch("/assets/{asset_id}", response_model=AssetOut)
def patch_asset(
    asset_id: Id, body: AssetPatch, user: User, commands: Commands, conn: ReadConn, consistency: Consistency
) -> dict:
    """Change an asset's fields (name, location, parent, flex-context, flex-model, attributes)."""
    asset = visible_asset(conn, user, asset_id, write=True)
    changes = body.model_dump(exclude_unset=True)
    check_references(conn, user, asset["account_id"], _references(changes), changes.get("parent_asset_id"))
    if changes.get("flex_model") is not None:
        check_soc_sensors(conn, asset["account_id"], changes["flex_model"])
    if "generic_asset_type_id" in changes:
        changes["asset_type"] = _asset_type(changes.pop("generic_asset_type_id"))
    if not changes:
        raise ApiError(422, "UNPROCESSABLE_ENTITY", "no fields to change", "body")
    cmd.change_asset(commands, cmd.ChangeAsset(asset_id=asset_id, changes=changes))
    return _after_write(conn, asset_id, consistency)


@router.delete("/assets/{asset_id}", status_code=204)
def delete_asset(asset_id: Id, user: User, commands: Commands, conn: ReadConn, consistency: Consistency) -> Response:
    """Remove an asset of the caller's account (204); its events stay in the ledger."""
    visible_asset(conn, user, asset_id, write=True)
    cmd.delete_asset(commands, cmd.DeleteAsset(asset_id=asset_id))
    consistency.wait_until_projected(REGISTRY, stream_id=stream_of("asset", asset_id))
    return Response(status_code=204)
