"""MyEMS microgrid device families under ``/myems`` (issue 14): ``microgridbatteries``,
``microgridevchargers``, ``microgridgenerators``, ``microgridgrids``, ``microgridheatpumps``,
``microgridloads``, ``microgridphotovoltaics``, ``microgridpowerconversionsystems``, and each
microgrid's ``/microgrids/{id}/<family>`` listing.

A device is a child asset of its microgrid with a ``power`` sensor (kW, 15 min); batteries and EV
chargers carry a flex-model (capacity: kWh for batteries, kW otherwise). A device's
``power_point`` is that sensor; its meters (``meter_id``, ``charge_meter_id``, ...) must be
meters (sensors) of the account; other MyEMS point ids are kept and echoed as ``{"id"}``.
Item: ``{"id", "name", "uuid", "microgrid", <points>, <meters>, "capacity"}``.
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
from api.routers.myems_microgrids import DeviceData, devices_of, visible_microgrid
from api.validation import Id
from commands import registry as cmd
from domain import myems_meters as mm
from domain import myems_microgrids as mg
from domain import registry as reg
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS microgrid devices"], route_class=MyEmsRoute)
REGISTRY = "projection.registry"


def _power_sensor(conn: sa.Connection, asset_id: int) -> dict | None:
    return next((s for s in rq.list_sensors(conn, asset_id=asset_id) if s["name"] == "power"), None)


def device_item(conn: sa.Connection, family: mg.DeviceFamily, asset: dict) -> dict:
    a = myems_attrs(asset)
    uid = a.get("uuid") or mm.entity_uuid("asset", asset["id"])
    microgrid = rq.asset_by_id(conn, asset["parent_asset_id"] or 0)
    item: dict[str, Any] = {
        "id": asset["id"],
        "name": asset["name"],
        "uuid": uid,
        "microgrid": None
        if microgrid is None
        else {
            "id": microgrid["id"],
            "name": microgrid["name"],
            "uuid": myems_attrs(microgrid).get("uuid") or mm.entity_uuid("asset", microgrid["id"]),
        },
    }
    power = _power_sensor(conn, asset["id"])
    for point in family.points:
        name = point.removesuffix("_id")
        if point == "power_point_id":
            item[name] = (
                None
                if power is None
                else {"id": power["id"], "name": power["name"], "uuid": mm.entity_uuid("sensor", power["id"])}
            )
        else:
            item[name] = None if a.get(point) is None else {"id": a.get(point)}
    for meter in family.meters:
        item[meter.removesuffix("_id")] = meter_ref(rq.sensor_by_id(conn, a[meter])) if a.get(meter) else None
    item["capacity"] = a.get("capacity")
    return item


def _family(name: str) -> mg.DeviceFamily:
    family = mg.FAMILIES.get(name)
    if family is None:
        raise ApiError(404, "API.NOT_FOUND", f"no family microgrid{name}", "family")
    return family


def _visible_device(
    conn: sa.Connection, user: CurrentUser, family: mg.DeviceFamily, device_id: int, write: bool = False
) -> dict:
    asset = rq.asset_by_id(conn, device_id)
    parent = rq.asset_by_id(conn, asset["parent_asset_id"] or 0) if asset else None
    if (
        asset is None
        or asset["asset_type"] != family.asset_type
        or parent is None
        or parent["asset_type"] != "microgrid"
    ):
        raise ApiError(404, f"API.MICROGRID_{family.family[:-1].upper()}_NOT_FOUND", f"no device {device_id}", "id")
    visible_microgrid(conn, user, parent["id"], write)
    return asset


def _device_fields(conn: sa.Connection, user: CurrentUser, family: mg.DeviceFamily, data: dict) -> tuple:
    device = _parse(DeviceData, data, f"MICROGRID_{family.family[:-1].upper()}_")
    microgrid = visible_microgrid(conn, user, device.microgrid_id, write=True)
    extra = device.model_extra or {}
    attrs: dict[str, Any] = {"capacity": device.capacity}
    for field in (*family.points, *family.meters):
        value = extra.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise ApiError(400, f"API.INVALID_{field.removesuffix('_id').upper()}_ID", f"{field}: a positive id", field)
        if value is not None and field in family.meters:
            visible_meter(conn, user, value, description="API.METER_NOT_FOUND")
        attrs[field] = value
    return device, microgrid, attrs


@router.get("/microgrids/{microgrid_id}/{family}")
def list_microgrid_devices(microgrid_id: Id, family: str, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """One microgrid's devices of a family (``batteries``, ``evchargers``, ``generators``, ``grids``,
    ``heatpumps``, ``loads``, ``photovoltaics``, ``powerconversionsystems``)."""
    kind = _family(family)
    return [device_item(conn, kind, a) for a in devices_of(conn, visible_microgrid(conn, user, microgrid_id), kind)]


@router.get("/microgrid{family}")
def list_devices(family: str, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The account's microgrid devices of a family (``microgridbatteries``, ``microgridevchargers``, ...)."""
    kind = _family(family)
    account = None if user.can_read_all else user.account_id
    microgrids = {a["id"] for a in rq.list_assets(conn, account) if a["asset_type"] == "microgrid"}
    return [
        device_item(conn, kind, a)
        for a in rq.list_assets(conn, account)
        if a["asset_type"] == kind.asset_type and a["parent_asset_id"] in microgrids
    ]


@router.get("/microgrid{family}/{device_id}")
def get_device(family: str, device_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """One microgrid device by id."""
    kind = _family(family)
    return device_item(conn, kind, _visible_device(conn, user, kind, device_id))


@router.post("/microgrid{family}", status_code=201)
def create_device(
    family: str, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Create a microgrid device: a child asset of its microgrid with a ``power`` sensor (kW, 15 min);
    batteries and EV chargers get a flex-model from ``capacity``. 201 with ``Location``."""
    kind = _family(family)
    device, microgrid, attrs = _device_fields(conn, user, kind, body.data)
    asset_id = cmd.register_asset(
        commands,
        cmd.RegisterAsset(
            account_id=microgrid["account_id"],
            name=device.name,
            asset_type=kind.asset_type,
            parent_asset_id=microgrid["id"],
            attributes={"myems": {**attrs, "uuid": str(uuid.uuid4())}},
            flex_model=mg.device_flex_model(kind, device.capacity),
        ),
    )
    sensor_id = cmd.register_sensor(
        commands, cmd.RegisterSensor(asset_id=asset_id, name="power", unit="kW", event_resolution_s=900)
    )
    wait(REGISTRY, reg.stream_of("sensor", sensor_id))
    return created(f"microgrid{kind.family}", asset_id)


@router.put("/microgrid{family}/{device_id}")
def update_device(
    family: str,
    device_id: Id,
    body: Envelope,
    user: MyEmsUser,
    commands: MyEmsCommands,
    conn: ReadConn,
    wait: WaitProjected,
) -> Response:
    """Change a microgrid device (the same body as create)."""
    kind = _family(family)
    asset = _visible_device(conn, user, kind, device_id, write=True)
    device, microgrid, attrs = _device_fields(conn, user, kind, body.data)
    uid = myems_attrs(asset).get("uuid") or mm.entity_uuid("asset", device_id)
    changes = {
        "name": device.name,
        "parent_asset_id": microgrid["id"],
        "attributes": {**asset["attributes"], "myems": {**attrs, "uuid": uid}},
        "flex_model": {
            **(asset["flex_model"] if isinstance(asset["flex_model"], dict) else {}),
            **mg.device_flex_model(kind, device.capacity),
        },
    }
    cmd.change_asset(commands, cmd.ChangeAsset(asset_id=device_id, changes=changes))
    wait(REGISTRY, reg.stream_of("asset", device_id))
    return Response(status_code=200)


@router.delete("/microgrid{family}/{device_id}", status_code=204)
def delete_device(
    family: str, device_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Delete a microgrid device (its asset); 204."""
    kind = _family(family)
    _visible_device(conn, user, kind, device_id, write=True)
    cmd.delete_asset(commands, cmd.DeleteAsset(asset_id=device_id))
    wait(REGISTRY, reg.stream_of("asset", device_id))
    return Response(status_code=204)
