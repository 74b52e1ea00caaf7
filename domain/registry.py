"""Accounts, users, assets and sensors: their events and the rules that decide them.

Each entity lives in its own stream (``account-<id>``, ``user-<id>``, ``asset-<id>``,
``sensor-<id>``). Integer ids are reserved on a sequence stream (``sequence-<kind>``) with
optimistic concurrency, so they are unique without any table outside the event store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from domain.events import DomainEvent, register_event

USEF_ROLES = ("Prosumer", "MDC", "Supplier", "Aggregator", "ESCo", "DSO")
USER_ROLES = ("admin", "auditor", "account-admin", *USEF_ROLES)
ASSET_TYPES = {
    "battery": "A stationary battery (can consume and produce).",
    "one-way_evse": "An EV charger that only charges.",
    "two-way_evse": "A bidirectional EV charger (V2G).",
    "building": "A building with inflexible and flexible load.",
    "solar": "A photovoltaic installation (produces: negative power).",
    "wind": "A wind turbine (produces: negative power).",
    "charge_site": "A site with several EVSEs behind one grid connection.",
    "heat_pump": "A heat pump.",
    "market": "A price zone or market (price sensors).",
    "weather_station": "A weather station (temperature, irradiance sensors).",
    # issue 14 (MyEMS microgrids): a site and the device kinds MyEMS names that the list above lacks
    "microgrid": "A site with local generation, storage and loads behind one grid connection.",
    "grid_connection": "A site's connection to the public grid (imports positive, exports negative).",
    "generator": "A dispatchable generator, e.g. diesel or CHP (produces: negative power).",
    "power_conversion_system": "An inverter/converter between a battery or PV and the site's AC bus.",
    "energy_storage_container": "A containerised storage system: batteries, PCS, grid and auxiliary loads.",
}


class RegistryError(ValueError):
    """A registry command was refused; ``code`` is stable, ``field`` names the input."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.code, self.field, self.status = code, field, status


@register_event
class IdReserved(DomainEvent):
    """An integer id of one kind (account, user, asset, sensor) was reserved."""

    kind: str
    id: int


@register_event
class AccountRegistered(DomainEvent):
    account_id: int
    name: str
    roles: list[str] = Field(default_factory=list)


@register_event
class UserRegistered(DomainEvent):
    user_id: int
    account_id: int
    email: str
    username: str
    password_hash: str
    roles: list[str] = Field(default_factory=list)
    timezone: str = "Europe/Amsterdam"


@register_event
class UserPasswordChanged(DomainEvent):
    user_id: int
    password_hash: str


@register_event
class AssetRegistered(DomainEvent):
    asset_id: int
    account_id: int
    name: str
    asset_type: str
    latitude: float | None = None
    longitude: float | None = None
    parent_asset_id: int | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    flex_context: dict[str, Any] = Field(default_factory=dict)
    flex_model: dict[str, Any] | list[Any] = Field(default_factory=dict)
    sensors_to_show: list[Any] = Field(default_factory=list)


@register_event
class AssetChanged(DomainEvent):
    asset_id: int
    changes: dict[str, Any]


@register_event
class AssetDeleted(DomainEvent):
    asset_id: int


@register_event
class SensorRegistered(DomainEvent):
    """A sensor on an asset: values in ``unit``, each covering ``event_resolution_s`` seconds."""

    sensor_id: int
    asset_id: int
    name: str
    unit: str
    event_resolution_s: int
    timezone: str = "UTC"
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_resolution_s")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("event resolution must not be negative")
        return value

    @property
    def event_resolution(self) -> timedelta:
        return timedelta(seconds=self.event_resolution_s)


@register_event
class SensorChanged(DomainEvent):
    sensor_id: int
    changes: dict[str, Any]


@register_event
class SensorDeleted(DomainEvent):
    sensor_id: int


EntityKind = Literal["account", "user", "asset", "sensor"]


def stream_of(kind: EntityKind, entity_id: int) -> str:
    """The stream id of one entity."""
    return f"{kind}-{entity_id}"


SENSOR_MUTABLE_FIELDS = frozenset({"name", "unit", "timezone", "attributes", "event_resolution_s"})
ASSET_MUTABLE_FIELDS = frozenset(
    {
        "name",
        "latitude",
        "longitude",
        "attributes",
        "parent_asset_id",
        "asset_type",
        "flex_context",
        "flex_model",
        "sensors_to_show",
    }
)


def decide_sensor_change(current: SensorRegistered, changes: dict[str, Any], has_data: bool) -> SensorChanged:
    """Validate a sensor patch. Unit and resolution are frozen once the sensor holds data."""
    unknown = set(changes) - SENSOR_MUTABLE_FIELDS
    if unknown:
        field = sorted(unknown)[0]
        raise RegistryError("INVALID_FIELD", f"field {field!r} cannot be changed", field)
    for frozen in ("unit", "event_resolution_s"):
        if frozen in changes and changes[frozen] != getattr(current, frozen) and has_data:
            raise RegistryError("FROZEN_FIELD", f"{frozen} cannot change once the sensor holds data", frozen)
    return SensorChanged(sensor_id=current.sensor_id, changes=changes)


def evolve(state: AssetRegistered | SensorRegistered | None, event: DomainEvent):
    """One step of an asset's or a sensor's state: registered, changed, or deleted (``None``).

    Fold a stream with ``functools.reduce(evolve, events, None)``.
    """
    if isinstance(event, AssetRegistered | SensorRegistered):
        return event
    if isinstance(event, AssetChanged | SensorChanged) and state is not None:
        return state.model_copy(update=event.changes)
    if isinstance(event, AssetDeleted | SensorDeleted):
        return None
    return state
