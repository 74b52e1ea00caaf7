"""Devices of MyEMS energy storage containers under ``/myems`` (issue 14): ``GET/POST
/myems/energystoragecontainers/{id}/<batteries|grids|loads|powerconversionsystems>`` and
``GET/PUT/DELETE .../{id}/<family>/{device id}``. A device is a child asset with a ``power`` sensor;
batteries carry a flex-model from ``rated_capacity`` (kWh) and ``rated_power`` (kW). Meters named by
``*_meter_id`` must be the account's meters; other point ids are kept and echoed as ``{"id"}``.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response

from api.auth import CurrentUser
from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_assets import myems_attrs
from api.routers.myems_assets import parse as _parse
from api.routers.myems_common import Envelope, WaitProjected, created
from api.routers.myems_meter_fields import meter_ref, visible_meter
from api.routers.myems_storage_containers import FAMILIES, NUMBERS, PATH, DeviceData, _children, _visible
from api.validation import Id
from commands import registry as cmd
from domain import myems_meters as mm
from domain import registry as reg
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS energy storage containers"], route_class=MyEmsRoute)
REGISTRY = "projection.registry"


def _family(name: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    if name not in FAMILIES:
        raise ApiError(404, "API.NOT_FOUND", f"no device family {name}", "family")
    return FAMILIES[name]


def device_item(conn: sa.Connection, family: str, asset: dict) -> dict:
    _, points, meters = FAMILIES[family]
    a = myems_attrs(asset)
    item: dict[str, Any] = {
        "id": asset["id"],
        "name": asset["name"],
        "uuid": a.get("uuid") or mm.entity_uuid("asset", asset["id"]),
    }
    power = next((s for s in rq.list_sensors(conn, asset_id=asset["id"]) if s["name"] == "power"), None)
    for point in points:
        if point == "power_point_id" and power is not None:
            item["power_point"] = {"id": power["id"], "name": "power", "uuid": mm.entity_uuid("sensor", power["id"])}
        else:
            item[point.removesuffix("_id")] = None if a.get(point) is None else {"id": a[point]}
    for meter in meters:
        item[meter.removesuffix("_id")] = meter_ref(rq.sensor_by_id(conn, a[meter])) if a.get(meter) else None
    item.update({name: a[name] for name in NUMBERS if name in a})
    return item


def _attrs(conn: sa.Connection, user: CurrentUser, family: str, data: dict) -> tuple[DeviceData, dict]:
    _, points, meters = _family(family)
    device = _parse(DeviceData, data, "ENERGY_STORAGE_CONTAINER_DEVICE_")
    extra, attrs = device.model_extra or {}, {}
    for field in (*points, *meters):
        value = extra.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise ApiError(400, f"API.INVALID_{field.removesuffix('_id').upper()}_ID", f"{field}: a positive id", field)
        if value is not None and field in meters:
            visible_meter(conn, user, value)
        attrs[field] = value
    for name in NUMBERS:
        value = extra.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ApiError(400, f"API.INVALID_{name.upper()}_VALUE", f"{name}: a positive number", name)
            attrs[name] = float(value)
    return device, attrs


def _flex_model(asset_type: str, attrs: dict) -> dict:
    if asset_type != "battery" or "rated_capacity" not in attrs:
        return {}
    power = attrs.get("rated_power", attrs["rated_capacity"])
    return {"soc-min": "0 kWh", "soc-max": f"{attrs['rated_capacity']} kWh", "power-capacity": f"{power} kW"}


def _device(conn: sa.Connection, user: CurrentUser, container: dict, family: str, device_id: int) -> dict:
    asset_type, _, _ = _family(family)
    for child in _children(conn, container, asset_type):
        if child["id"] == device_id:
            return child
    raise ApiError(
        404, f"API.ENERGY_STORAGE_CONTAINER_{family[:-1].upper()}_NOT_FOUND", f"no {family} {device_id}", "id"
    )


@router.get(f"/{PATH}/{{container_id}}/{{family}}")
def list_devices(container_id: Id, family: str, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """A storage container's devices of a family (``batteries``, ``grids``, ``loads``, ``powerconversionsystems``)."""
    asset_type, _, _ = _family(family)
    return [device_item(conn, family, a) for a in _children(conn, _visible(conn, user, container_id), asset_type)]


@router.get(f"/{PATH}/{{container_id}}/{{family}}/{{device_id}}")
def get_device(container_id: Id, family: str, device_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """One device of a storage container."""
    return device_item(conn, family, _device(conn, user, _visible(conn, user, container_id), family, device_id))


@router.post(f"/{PATH}/{{container_id}}/{{family}}", status_code=201)
def create_device(
    container_id: Id,
    family: str,
    body: Envelope,
    user: MyEmsUser,
    commands: MyEmsCommands,
    conn: ReadConn,
    wait: WaitProjected,
) -> Response:
    """Create a storage container device: a child asset with a ``power`` sensor; batteries get a
    flex-model from ``rated_capacity`` (kWh) and ``rated_power`` (kW). 201 with ``Location``."""
    container = _visible(conn, user, container_id, write=True)
    asset_type, _, _ = _family(family)
    device, attrs = _attrs(conn, user, family, body.data)
    asset_id = cmd.register_asset(
        commands,
        cmd.RegisterAsset(
            account_id=container["account_id"],
            name=device.name,
            asset_type=asset_type,
            parent_asset_id=container_id,
            attributes={"myems": {**attrs, "uuid": str(uuid.uuid4())}},
            flex_model=_flex_model(asset_type, attrs),
        ),
    )
    sensor_id = cmd.register_sensor(
        commands, cmd.RegisterSensor(asset_id=asset_id, name="power", unit="kW", event_resolution_s=900)
    )
    wait(REGISTRY, reg.stream_of("sensor", sensor_id))
    return created(f"{PATH}/{container_id}/{family}", asset_id)


@router.put(f"/{PATH}/{{container_id}}/{{family}}/{{device_id}}")
def update_device(
    container_id: Id,
    family: str,
    device_id: Id,
    body: Envelope,
    user: MyEmsUser,
    commands: MyEmsCommands,
    conn: ReadConn,
    wait: WaitProjected,
) -> Response:
    """Change a storage container device (the same body as create)."""
    asset = _device(conn, user, _visible(conn, user, container_id, write=True), family, device_id)
    device, attrs = _attrs(conn, user, family, body.data)
    uid = myems_attrs(asset).get("uuid") or mm.entity_uuid("asset", device_id)
    changes = {
        "name": device.name,
        "attributes": {**asset["attributes"], "myems": {**attrs, "uuid": uid}},
        "flex_model": _flex_model(asset["asset_type"], attrs) or asset["flex_model"],
    }
    cmd.change_asset(commands, cmd.ChangeAsset(asset_id=device_id, changes=changes))
    wait(REGISTRY, reg.stream_of("asset", device_id))
    return Response(status_code=200)


@router.delete(f"/{PATH}/{{container_id}}/{{family}}/{{device_id}}", status_code=204)
def delete_device(
    container_id: Id,
    family: str,
    device_id: Id,
    user: MyEmsUser,
    commands: MyEmsCommands,
    conn: ReadConn,
    wait: WaitProjected,
) -> Response:
    """Delete a storage container device (its asset); 204."""
    _device(conn, user, _visible(conn, user, container_id, write=True), family, device_id)
    cmd.delete_asset(commands, cmd.DeleteAsset(asset_id=device_id))
    wait(REGISTRY, reg.stream_of("asset", device_id))
    return Response(status_code=204)
