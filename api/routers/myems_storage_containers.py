"""MyEMS ``energystoragecontainers`` under ``/myems`` (issue 14): a container is a site asset (type
``energy_storage_container``) whose batteries, grids, loads and power conversion systems are child
assets with a ``power`` sensor each; batteries carry a flex-model (``rated_capacity`` kWh,
``rated_power`` kW), so the platform schedules them under the container's flex-context
(site power capacity: the container's ``rated_power``).

* ``energystoragecontainers``: list, get, export, create, import, clone, update, delete (the
  generic builder, :mod:`api.routers.myems_resource`, from :data:`CONTAINERS`)
* devices: :mod:`api.routers.myems_storage_container_devices`
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.routers.myems_assets import AssetKind, asset_family, asset_uuid, children, myems_attrs, owner_item
from api.routers.myems_resource import resource_router

PATH = "energystoragecontainers"
KIND = "energy_storage_container"
FAMILIES = {  # family -> (asset type, point fields, meter fields)
    "batteries": (
        "battery",
        ("battery_state_point_id", "soc_point_id", "power_point_id"),
        ("charge_meter_id", "discharge_meter_id"),
    ),
    "grids": ("grid_connection", ("power_point_id",), ("buy_meter_id", "sell_meter_id")),
    "loads": ("building", ("power_point_id",), ("meter_id",)),
    "powerconversionsystems": (
        "power_conversion_system",
        (
            "run_state_point_id",
            "today_charge_energy_point_id",
            "today_discharge_energy_point_id",
            "total_charge_energy_point_id",
            "total_discharge_energy_point_id",
        ),
        (),
    ),
}
NUMBERS = ("rated_capacity", "rated_power", "nominal_voltage", "capacity", "rated_input_power", "rated_output_power")


class ContainerData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    rated_capacity: float = Field(gt=0, allow_inf_nan=False)
    rated_power: float = Field(gt=0, allow_inf_nan=False)
    contact_id: int
    cost_center_id: int
    svg_id: int | str | None = None
    description: str | None = Field(default=None, max_length=1024)


class DeviceData(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=255)


def container_item(conn: sa.Connection, asset: dict) -> dict:
    a = myems_attrs(asset)
    owner = owner_item(conn, asset, "energystoragecontainer")
    owner["svg"] = None if a.get("svg_id") is None else {"id": a["svg_id"]}
    return {
        "id": asset["id"],
        "name": asset["name"],
        "uuid": asset_uuid(asset),
        "rated_capacity": a.get("rated_capacity"),
        "rated_power": a.get("rated_power"),
        **owner,
    }


def _fields(container: ContainerData, uid: str) -> dict:
    myems = {
        **container.model_dump(include={"rated_capacity", "rated_power", "contact_id", "svg_id", "description"}),
        "uuid": uid,
    }
    return {
        "name": container.name,
        "attributes": {"myems": myems},
        "flex_context": {"site-power-capacity": f"{container.rated_power} kW"},
    }


CONTAINERS = AssetKind(
    path=PATH,
    tag="MyEMS energy storage containers",
    label="ENERGY_STORAGE_CONTAINER",
    asset_type=KIND,
    model=ContainerData,
    fields=_fields,
    item=container_item,
    blocking_children=frozenset(t for t, _, _ in FAMILIES.values()),
)
router = resource_router(asset_family(CONTAINERS))


def _visible(conn: sa.Connection, user: CurrentUser, container_id: int, write: bool = False) -> dict:
    return CONTAINERS.visible(conn, user, container_id, write)


def _children(conn: sa.Connection, container: dict, asset_type: str | None = None) -> list[dict]:
    return children(conn, container, {asset_type} if asset_type else CONTAINERS.blocking_children)
