"""Accounts, users, assets and sensors: their events and the rules that decide them.

Each entity lives in its own stream (``account-<id>``, ``user-<id>``, ``asset-<id>``,
``sensor-<id>``). Integer ids are reserved on a sequence stream (``sequence-<kind>``) with
optimistic concurrency, so they are unique without any table outside the event store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, field_validator

from domain.events import DomainEvent, register_event, register_upcaster
from domain.personal_data import UserForgotten
from domain.private_locations import is_private, private_flag_changes

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
    "energy_storage_power_station": "A site of energy storage containers behind one grid connection.",
    "virtual_power_plant": "A portfolio of sites (microgrids) offered together to a market.",
    "gateway": "A data gateway through which data sources report their points (sensors).",
    "data_source": "A connection (protocol, address) on a gateway whose points are this asset's sensors.",
    "point_group": "A named group of points (sensors of any asset), e.g. one physical multi-value sensor.",
    "offline_meters": "Where an account's offline meters live: their readings come from uploaded files.",
}


class RegistryError(ValueError):
    """A registry command was refused; ``code`` is stable, ``field`` names the input."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field


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
class AccountChanged(DomainEvent):
    """Some of ``ACCOUNT_MUTABLE_FIELDS`` of an account changed (MyEMS renames its cost center)."""

    account_id: int
    changes: dict[str, Any]


ACCOUNT_MUTABLE_FIELDS = frozenset({"name"})


@register_event
class AccountDeleted(DomainEvent):
    """The account is gone (refused while it has users, assets or tariffs; see the MyEMS cost centers)."""

    account_id: int


@register_event
class UserRegistered(DomainEvent):
    """A user of an account. Version 2: without the password hash (see :mod:`domain.credentials`)."""

    schema_version: ClassVar[int] = 2

    user_id: int
    account_id: int
    email: str
    username: str
    roles: list[str] = Field(default_factory=list)
    timezone: str = "Europe/Amsterdam"


@register_event
class UserPasswordChanged(DomainEvent):
    """The user's password was changed by the user, or reset (by an admin). Version 2: no hash."""

    schema_version: ClassVar[int] = 2

    user_id: int
    reason: Literal["changed", "reset"] = "changed"


@register_upcaster("UserRegistered", 1)
@register_upcaster("UserPasswordChanged", 1)
def _drop_password_hash(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 carried the bcrypt hash; readers of the user's events never see it."""
    return {k: v for k, v in data.items() if k != "password_hash"}


@register_event
class UserChanged(DomainEvent):
    """Some of ``USER_MUTABLE_FIELDS`` of a user changed (``active: false`` deactivates)."""

    user_id: int
    changes: dict[str, Any]


USER_MUTABLE_FIELDS = frozenset({"username", "timezone", "roles", "active"})


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
    """Some of ``ASSET_MUTABLE_FIELDS`` of an asset changed.

    ``private_account_id``: the owning account when the asset is private after the change
    (:mod:`domain.private_locations`): its key seals the location fields in ``changes``."""

    asset_id: int
    changes: dict[str, Any]
    private_account_id: int | None = None

    def to_data(self) -> dict[str, Any]:
        """The stored data; ``private_account_id`` only when set (a non-private change reads as before)."""
        data = super().to_data()
        if data["private_account_id"] is None:
            del data["private_account_id"]
        return data


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
    check_sensor(_validated(SensorRegistered, current, changes))
    return SensorChanged(sensor_id=current.sensor_id, changes=changes)


NAME_MAX_LENGTH = 255
"""Longest name of an account, user, asset or sensor (the read models store at most this)."""


def _validated(cls, state, changes: dict[str, Any]):
    """``state`` with ``changes`` applied, validated as a whole ``cls`` event (422 naming the field)."""
    try:
        return cls.model_validate({**state.model_dump(), **changes})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        raise RegistryError("INVALID_FIELD", f"{field}: {error['msg']}", field) from exc


def check_name(name: Any, field: str = "name") -> None:
    """422 unless ``name`` is a non-blank string of at most :data:`NAME_MAX_LENGTH` characters."""
    if not isinstance(name, str) or not name.strip():
        raise RegistryError("INVALID_FIELD", f"{field} must be a non-empty string", field)
    if len(name) > NAME_MAX_LENGTH:
        raise RegistryError("INVALID_FIELD", f"{field} is longer than {NAME_MAX_LENGTH} characters", field)


def check_asset(state: AssetRegistered, asset_of: Callable[[int], AssetRegistered | None]) -> None:
    """The rules every asset state obeys, after registration and after each change.

    Name non-blank, a known type, and a parent (``asset_of(id)`` gives an existing asset or
    ``None``) that exists, is not the asset itself and does not have the asset as an ancestor.
    """
    check_name(state.name)
    if state.asset_type not in ASSET_TYPES:
        raise RegistryError("INVALID_ASSET_TYPE", f"unknown asset type {state.asset_type!r}", "generic_asset_type_id")
    parent_id, seen = state.parent_asset_id, {state.asset_id}
    while parent_id is not None:
        if parent_id in seen:
            what = "the asset itself" if parent_id == state.asset_id else f"asset {parent_id}, which descends from it"
            raise RegistryError("INVALID_PARENT", f"parent_asset_id would make a cycle: {what}", "parent_asset_id")
        parent = asset_of(parent_id)
        if parent is None:
            raise RegistryError("UNRECOGNIZED_ASSET", f"no asset {parent_id}", "parent_asset_id")
        seen.add(parent_id)
        parent_id = parent.parent_asset_id


def decide_asset_change(
    current: AssetRegistered, changes: dict[str, Any], asset_of: Callable[[int], AssetRegistered | None]
) -> AssetChanged:
    """Validate an asset patch against the state it produces (same rules as registration).

    A private asset's flag sticks unless cleared explicitly (:func:`private_flag_changes`)."""
    unknown = set(changes) - ASSET_MUTABLE_FIELDS
    if unknown:
        field = sorted(unknown)[0]
        raise RegistryError("INVALID_FIELD", f"field {field!r} cannot be changed", field)
    coordinates = {"latitude": current.latitude, "longitude": current.longitude}
    changes = private_flag_changes(current.attributes, coordinates, changes)
    after = _validated(AssetRegistered, current, changes)
    check_asset(after, asset_of)
    private_account_id = current.account_id if is_private(after.attributes) else None
    return AssetChanged(asset_id=current.asset_id, changes=changes, private_account_id=private_account_id)


def check_sensor(state: SensorRegistered) -> None:
    """The rules every sensor state obeys (whether pint knows the unit is checked by the command)."""
    check_name(state.name)
    for field in ("unit", "timezone"):
        if not getattr(state, field).strip():
            raise RegistryError("INVALID_FIELD", f"{field} must be a non-empty string", field)


class UserState(UserRegistered):
    """A user as its stream folds: the registration plus later changes."""

    active: bool = True


def evolve_account(state: AccountRegistered | None, event: DomainEvent) -> AccountRegistered | None:
    """An account's current state after ``event`` (``None``: not registered, or deleted)."""
    if isinstance(event, AccountRegistered):
        return event
    if isinstance(event, AccountChanged) and state is not None:
        return state.model_copy(update=event.changes)
    if isinstance(event, AccountDeleted):
        return None
    return state


def decide_account_change(current: AccountRegistered, changes: dict[str, Any]) -> AccountChanged:
    """Validate an account change: known fields, a non-blank name."""
    unknown = set(changes) - ACCOUNT_MUTABLE_FIELDS
    if unknown:
        field = sorted(unknown)[0]
        raise RegistryError("INVALID_FIELD", f"field {field!r} cannot be changed", field)
    check_name(changes.get("name", current.name))
    return AccountChanged(account_id=current.account_id, changes=changes)


def decide_user_change(current: UserState, changes: dict[str, Any]) -> UserChanged:
    """Validate a user patch: known fields, a non-blank username and timezone, known roles."""
    unknown = set(changes) - USER_MUTABLE_FIELDS
    if unknown:
        field = sorted(unknown)[0]
        raise RegistryError("INVALID_FIELD", f"field {field!r} cannot be changed", field)
    state = _validated(UserState, current, changes)
    check_name(state.username, "username")
    check_name(state.timezone, "timezone")
    for role in state.roles:
        if role not in USER_ROLES:
            raise RegistryError("INVALID_ROLE", f"unknown role {role!r}; known: {', '.join(USER_ROLES)}", "roles")
    return UserChanged(user_id=current.user_id, changes=changes)


def evolve_user(state: UserState | None, event: DomainEvent) -> UserState | None:
    """One step of a user's state; fold with ``functools.reduce(evolve_user, events, None)``."""
    if isinstance(event, UserRegistered):
        return UserState(**event.model_dump())
    if isinstance(event, UserChanged) and state is not None:
        return state.model_copy(update=event.changes)
    if isinstance(event, UserForgotten):  # crypto-shredded: the user is gone
        return None
    return state


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
