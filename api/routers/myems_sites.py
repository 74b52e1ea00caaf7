"""MyEMS sites under ``/myems`` (issue 14), served by the generic family builder:

* ``photovoltaicpowerstations``: a platform ``solar`` asset (MyEMS fields in ``attributes.myems``)
  with a ``power`` sensor (kW, production negative) and a flex-model producing up to ``capacity``
* ``windfarms``: a ``wind`` asset, likewise (the seed imports with ``POST /windfarms/{id}``)
* ``energystoragepowerstations``: a site asset (type ``energy_storage_power_station``) that groups
  ``energy_storage_container`` assets (their ids in ``attributes.myems.container_ids``), with
  ``capacity`` (kW) as the site power capacity of its flex-context; ``.../{id}/containers`` and
  ``.../{id}/users`` bind and unbind (:mod:`api.routers.myems_portfolios`)

Every family: list, get, export, create, import, clone, update, delete. Item: ``{"id", "name",
"uuid", "address", "postal_code", "latitude", "longitude", "capacity", "contact", "cost_center",
"svg", "description", "qrcode"}`` (capacity in kW). A body may add ``"private": true`` (not a
MyEMS field): the site is a household's, its location is personal data, sealed with the
account's key (:mod:`domain.private_locations`); an update never clears the flag.
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from api.routers.myems_assets import AssetKind, asset_family, owner_item, site_item
from api.routers.myems_carbon import check_station_sensor
from api.routers.myems_resource import resource_router
from api.validation import Id

SITE_FIELDS = ("address", "postal_code", "capacity", "contact_id", "svg", "description")


class SiteData(BaseModel):
    """The body MyEMS' sites share (capacity in kW)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    address: str = Field(min_length=1, max_length=255)
    postal_code: str = Field(min_length=1, max_length=32)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    capacity: float = Field(gt=0, allow_inf_nan=False)
    contact_id: Id
    cost_center_id: Id
    svg: str | None = Field(default=None, max_length=100_000)
    description: str | None = Field(default=None, max_length=1024)
    private: bool = Field(
        default=False, description="A household's site: its location (address, coordinates) is personal data."
    )


def private_flag(site: SiteData) -> dict:
    """``{"private": true}`` for a household's site, else nothing (attributes; domain.private_locations)."""
    return {"private": True} if site.private else {}


class StationData(SiteData):
    """A storage power station's body; ``carbon_intensity_sensor_id`` (flexledger's extension) names a
    carbon-intensity sensor of the account for the station's carbon figures (:mod:`api.routers.myems_carbon`)."""

    carbon_intensity_sensor_id: Id | None = None


def site_fields(site: SiteData, uid: str) -> dict:
    return {
        "name": site.name,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "attributes": {
            "myems": {**site.model_dump(include=set(SITE_FIELDS)), "uuid": uid},
            **private_flag(site),
        },
    }


def _generator_fields(site: SiteData, uid: str) -> dict:
    """A generating site: produces up to ``capacity`` kW (production negative), consumes nothing."""
    return {
        **site_fields(site, uid),
        "flex_model": {"production-capacity": f"{site.capacity} kW", "consumption-capacity": "0 kW"},
    }


def _storage_station_fields(site: StationData, uid: str) -> dict:
    fields = site_fields(site, uid)
    fields["attributes"]["myems"]["carbon_intensity_sensor_id"] = site.carbon_intensity_sensor_id
    return {**fields, "flex_context": {"site-power-capacity": f"{site.capacity} kW"}}


def _item(qrcode: str):
    def item(conn: sa.Connection, asset: dict) -> dict:
        return {**site_item(asset), **owner_item(conn, asset, qrcode)}

    return item


PV_STATIONS = AssetKind(
    path="photovoltaicpowerstations",
    tag="MyEMS photovoltaic power stations",
    label="PHOTOVOLTAIC_POWER_STATION",
    asset_type="solar",
    model=SiteData,
    fields=_generator_fields,
    item=_item("photovoltaicpowerstation"),
    power_sensor=True,
    marked=True,
)
WIND_FARMS = AssetKind(
    path="windfarms",
    tag="MyEMS wind farms",
    label="WIND_FARM",
    asset_type="wind",
    model=SiteData,
    fields=_generator_fields,
    item=_item("windfarm"),
    power_sensor=True,
    marked=True,
    import_paths=("/{entity_id}/import", "/{entity_id}"),
)
STORAGE_STATIONS = AssetKind(
    path="energystoragepowerstations",
    tag="MyEMS energy storage power stations",
    label="ENERGY_STORAGE_POWER_STATION",
    asset_type="energy_storage_power_station",
    model=StationData,
    fields=_storage_station_fields,
    check=check_station_sensor,
    item=_item("energystoragepowerstation"),
    bindings=("container_ids",),
)

pv_router = resource_router(asset_family(PV_STATIONS))
wind_router = resource_router(asset_family(WIND_FARMS))
storage_station_router = resource_router(asset_family(STORAGE_STATIONS))
