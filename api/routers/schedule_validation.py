"""Validate a v3 schedule trigger before anything is appended (422 with a stable code and field).

Checks, in order: every flex-model entry names a power ``sensor`` the user may write, on the
asset or one of its descendants, all with the same resolution; ``start`` lies on the sensors'
grid; the horizon is a whole number of steps, at most :data:`MAX_STEPS`; the effective
flex-model and flex-context parse with the pure core (sensor references must exist and be
readable by the user; their data is not read here). The horizon is extended to the last
``soc-targets`` datetime, as FlexMeasures does.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from api.auth import CurrentUser
from api.authorization import check_references, require_account_access
from api.errors import ApiError
from api.validation import id_from_text
from commands.scheduling import TriggerSchedule
from domain import schedule_overrides as so  # issue 14
from domain.devices import (
    DeviceError,
    check_schedulable,
    effective_flex_context,
    is_descendant,
    stored_device_flex_model,
)
from domain.scheduling import FlexModelError, TimeSeries, parse_flex_context, parse_flex_model
from projections import registry_query as rq
from projections.myems_tariffs import with_tariff_prices  # issue 14

DEFAULT_HORIZON = timedelta(hours=48)
MAX_STEPS = 2520
"""FlexMeasures' default maximum planning horizon, in steps of the sensors' resolution."""


def _invalid(code: str, message: str, field: str) -> ApiError:
    return ApiError(422, code, message, field)


def _device_sensor(conn: sa.Connection, user: CurrentUser, asset: dict, entry: Any, path: str) -> dict:
    if not isinstance(entry, dict):
        raise _invalid("INVALID_FLEX_MODEL", "each flex-model entry must be an object naming its sensor", path)
    sensor_id = entry.get("sensor")
    if isinstance(sensor_id, bool) or not isinstance(sensor_id, int):
        raise _invalid("MISSING_FIELD", "each device must name its power sensor (an id)", f"{path}.sensor")
    sensor = rq.sensor_by_id(conn, sensor_id) if id_from_text(sensor_id) is not None else None
    if sensor is None:
        raise _invalid("UNRECOGNIZED_SENSOR", f"no sensor with id {sensor_id}", f"{path}.sensor")
    require_account_access(user, sensor["account_id"], write=True)
    if not is_descendant(rq.ReadModelRegistry(conn), sensor["asset_id"], asset["id"]):
        message = f"sensor {sensor_id} is not on asset {asset['id']} or one of its descendants"
        raise _invalid("INVALID_FLEX_MODEL", message, f"{path}.sensor")
    try:
        check_schedulable(rq.sensor_state(sensor), f"{path}.sensor")
    except DeviceError as exc:
        raise _invalid(exc.code, str(exc), exc.field) from exc
    return sensor


def _devices(conn: sa.Connection, user: CurrentUser, asset: dict, entries: list) -> tuple[list[dict], list[dict]]:
    """(sensor rows, merged flex-model entries) of the requested devices."""
    if not entries:
        raise _invalid(
            "INVALID_FLEX_MODEL", "the flex-model names no devices (a list of {sensor: id, ...})", "flex-model"
        )
    sensors, merged, seen = [], [], set()
    for i, entry in enumerate(entries):
        path = f"flex-model[{i}]"
        sensor = _device_sensor(conn, user, asset, entry, path)
        if sensor["id"] in seen:
            raise _invalid("INVALID_FLEX_MODEL", f"sensor {sensor['id']} appears twice", f"{path}.sensor")
        seen.add(sensor["id"])
        device_asset = rq.ReadModelRegistry(conn).asset(sensor["asset_id"])
        stored = stored_device_flex_model(device_asset, sensor["id"]) if device_asset is not None else {}
        sensors.append(sensor)
        merged.append({**stored, **entry})
    resolution = sensors[0]["event_resolution_s"]
    for i, sensor in enumerate(sensors):
        if sensor["event_resolution_s"] != resolution:
            message = f"all devices need the same resolution; sensor {sensor['id']} differs from the first"
            raise _invalid("INVALID_RESOLUTION", message, f"flex-model[{i}].sensor")
    return sensors, merged


def _validation_resolver(conn: sa.Connection, user: CurrentUser, start: datetime):
    def resolve(sensor_ref: int | str) -> TimeSeries:
        sensor_id = id_from_text(sensor_ref)
        row = None if sensor_id is None else rq.sensor_by_id(conn, sensor_id)
        if row is None:
            raise LookupError(f"sensor {sensor_ref!r}")
        require_account_access(user, row["account_id"])
        step = timedelta(seconds=row["event_resolution_s"] or 3600)
        return TimeSeries(start, step, np.array([np.nan]), row["unit"])

    return resolve


def _horizon(models, start: datetime, horizon: timedelta, resolution: timedelta) -> timedelta:
    """The horizon, extended to cover every soc-target; at most MAX_STEPS steps."""
    for model in models:
        for target in model.soc_targets_kwh:
            needed = math.ceil((target.end - start) / resolution) * resolution
            if needed > horizon:
                horizon = needed
    if horizon % resolution:
        raise _invalid("INVALID_DURATION", f"duration must be a multiple of the resolution {resolution}", "duration")
    if horizon / resolution > MAX_STEPS:
        message = f"the schedule would have {int(horizon / resolution)} steps; at most {MAX_STEPS} are allowed"
        raise _invalid("INVALID_DURATION", message, "duration")
    return horizon


def validated_trigger(
    conn: sa.Connection,
    user: CurrentUser,
    asset: dict,
    entries: list,
    flex_context: dict | None,
    start: datetime,
    horizon: timedelta,
    prior: datetime | None,
) -> TriggerSchedule:
    """The :class:`TriggerSchedule` of a request, or :class:`ApiError` (422) naming the field."""
    sent = {"flex-model": entries, "flex-context": flex_context}
    check_references(conn, user, asset["account_id"], sent, unknown_ok=True)
    sensors, merged = _devices(conn, user, asset, entries)
    resolution = timedelta(seconds=sensors[0]["event_resolution_s"])
    for i, sensor in enumerate(sensors):
        try:
            check_schedulable(rq.sensor_state(sensor), f"flex-model[{i}].sensor", resolution, start)
        except DeviceError as exc:
            raise _invalid(exc.code, str(exc), exc.field) from exc
    context = {**effective_flex_context(rq.ReadModelRegistry(conn), asset["id"]), **(flex_context or {})}
    # what the schedule will read, stored (the devices' assets, the asset's ancestors) or sent
    check_references(conn, user, asset["account_id"], {"flex-model": merged, "flex-context": context}, unknown_ok=True)
    resolver = _validation_resolver(conn, user, start)
    try:
        models = parse_flex_model(merged, resolver)
        parse_flex_context(with_tariff_prices(  # issue 14: a flex-context may name a tariff as its prices
            conn, asset["id"], context, start, start + horizon, resolution), resolver)
    except FlexModelError as exc:
        raise _invalid(exc.code, exc.message, exc.field) from exc
    return TriggerSchedule(
        asset_id=asset["id"],
        start=start,
        duration=_horizon(models, start, horizon, resolution),
        resolution=resolution,
        flex_model=merged,
        flex_context=context,
        prior=prior,
        operator_schedules=_operator_schedules(conn, sensors),  # issue 14
    )


def _operator_schedules(conn: sa.Connection, sensors: list[dict]) -> dict[str, Any]:
    """Issue 14: the MyEMS operator overrides of the scheduled batteries' owners (see
    :mod:`streams.schedule_overrides`), by owner asset id, for the request hash."""
    found: dict[str, Any] = {}
    for sensor in sensors:
        asset = rq.asset_by_id(conn, sensor["asset_id"])
        if asset is None or asset["asset_type"] not in so.STORAGE_ASSET_TYPES or asset["parent_asset_id"] is None:
            continue
        owner = rq.asset_by_id(conn, asset["parent_asset_id"])
        rows = so.owner_overrides(owner["attributes"]) if owner is not None else []
        if rows:
            found[str(owner["id"])] = [row.model_dump() for row in rows]
    return found
