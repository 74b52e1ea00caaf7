"""MyEMS ``microgrids`` and the ``microgrid*`` device families under ``/myems`` (issue 14).

A microgrid is a site asset (type ``microgrid``; see :mod:`domain.myems_microgrids`); its devices
are child assets with a ``power`` sensor each, scheduled by the platform's scheduler through the
microgrid's flex-context (capacity, and the tariff named by ``tariff_id``). Like a site's, a
microgrid's body may add ``"private": true`` (:mod:`api.routers.myems_sites`).

* ``microgrids``: list, get, export, create, import, clone, update, delete, served by the generic
  builder (:mod:`api.routers.myems_resource`) from :data:`MICROGRIDS`
* ``GET /myems/microgrids/{id}/<batteries|evchargers|generators|grids|heatpumps|loads|photovoltaics|
  powerconversionsystems>``
* ``GET/POST /myems/microgrid<family>``, ``GET/PUT/DELETE /myems/microgrid<family>/{id}``
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.auth import CurrentUser
from api.errors import ApiError
from api.routers.myems_assets import (
    AssetKind,
    asset_family,
    children,
    merge_fields,
    myems_attrs,
    owner_item,
    ref,
    site_item,
)
from api.routers.myems_resource import resource_router
from api.routers.myems_sites import SiteData, private_flag
from api.validation import Id
from domain import myems_microgrids as mg
from projections import myems_tariffs as tq


class MicrogridData(SiteData):
    """A site's body with MyEMS' microgrid fields; ``tariff_id`` is flexledger's extension."""

    architecture_type_id: Id
    owner_type_id: Id
    is_input_counted: StrictBool = True
    is_output_counted: StrictBool = True
    tariff_id: Id | None = None


class DeviceData(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=255)
    microgrid_id: Id
    capacity: float = Field(gt=0, allow_inf_nan=False)


def visible_microgrid(conn: sa.Connection, user: CurrentUser, microgrid_id: int, write: bool = False) -> dict:
    return MICROGRIDS.visible(conn, user, microgrid_id, write)


def microgrid_item(conn: sa.Connection, asset: dict) -> dict:
    a = myems_attrs(asset)
    owner = owner_item(conn, asset, "microgrid")
    return {
        **site_item(asset),
        "architecture_type": ref(
            a.get("architecture_type_id"), mg.ARCHITECTURE_TYPES.get(a.get("architecture_type_id")), "architecturetype"
        ),
        "owner_type": ref(a.get("owner_type_id"), mg.OWNER_TYPES.get(a.get("owner_type_id")), "ownertype"),
        "is_input_counted": a.get("is_input_counted", True),
        "is_output_counted": a.get("is_output_counted", True),
        **owner,
    }


def _check_microgrid(conn: sa.Connection, user: CurrentUser, data: MicrogridData) -> None:
    if data.architecture_type_id not in mg.ARCHITECTURE_TYPES:
        raise ApiError(
            404, "API.MICROGRID_ARCHITECTURE_TYPE_NOT_FOUND", "unknown architecture type", "architecture_type_id"
        )
    if data.owner_type_id not in mg.OWNER_TYPES:
        raise ApiError(404, "API.MICROGRID_OWNER_TYPE_NOT_FOUND", "unknown owner type", "owner_type_id")
    if data.tariff_id is not None:
        tariff = tq.tariff_by_id(conn, data.tariff_id)
        if tariff is None or tariff["account_id"] != user.account_id:
            raise ApiError(404, "API.TARIFF_NOT_FOUND", f"no tariff {data.tariff_id}", "tariff_id")


def _microgrid_fields(data: MicrogridData, uid: str) -> dict:
    return {
        "name": data.name,
        "latitude": data.latitude,
        "longitude": data.longitude,
        "attributes": {
            "myems": {**data.model_dump(include=set(mg.MICROGRID_FIELDS)), "uuid": uid},
            **private_flag(data),
        },
        "flex_context": mg.microgrid_flex_context(data.capacity, data.tariff_id),
    }


def _merge(asset: dict, fields: dict, data: MicrogridData) -> dict:
    changes = merge_fields(asset, fields, data)
    if data.tariff_id is None:  # no tariff named: the microgrid's prices are no longer the tariff's
        changes["flex_context"].pop("consumption-price", None)
    return changes


MICROGRIDS = AssetKind(
    path="microgrids",
    tag="MyEMS microgrids",
    label="MICROGRID",
    asset_type="microgrid",
    model=MicrogridData,
    fields=_microgrid_fields,
    item=microgrid_item,
    check=_check_microgrid,
    merge=_merge,
    blocking_children=frozenset(f.asset_type for f in mg.FAMILIES.values()),
)
router = resource_router(asset_family(MICROGRIDS))


def devices_of(conn: sa.Connection, microgrid: dict, family: mg.DeviceFamily | None = None) -> list[dict]:
    """The microgrid's devices (of one family, or all)."""
    return children(conn, microgrid, {family.asset_type} if family else MICROGRIDS.blocking_children)
