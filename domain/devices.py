"""Devices in the asset tree: the rules every reader of the registry shares.

A *device* is a battery or EVSE asset (:data:`domain.udi.DEVICE_ASSET_TYPES`); its *power
sensor* is where its schedule is written (kW, consumption positive, production negative); its
*stored flex-model* is the FlexMeasures flex-model kept on the asset (a dict, or a list with one
entry per device sensor). Assets form trees by ``parent_asset_id``; the root of a tree is the
*site*, and the flex-context of an asset is its ancestors' flex-contexts completed by its own.

Everything here reads through a :class:`~domain.ports.registry.RegistryView`, so the API (the
read model now) and the scheduler (the registry as of a trigger's position) decide the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.grid import on_grid
from domain.ports.registry import RegistryView
from domain.registry import AssetRegistered, SensorRegistered
from domain.udi import DEVICE_ASSET_TYPES, UdiEventPosted
from domain.units import is_power_unit_or_false

UDI_PLANNING_HORIZON = timedelta(hours=48)
"""FlexMeasures' default planning horizon (FLEXMEASURES_PLANNING_HORIZON) for UDI events."""
POWER_SENSOR_NAME = "power"


def _sensor_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- the stored flex-model, parsed once ----------------------------------------------------------
SOC_SENSOR_FIELD = "state-of-charge"
"""FlexMeasures' flex-model field naming a device's state-of-charge sensor (``{"sensor": <id>}``)."""


@dataclass(frozen=True)
class StoredDevice:
    """One device entry of an asset's stored flex-model: the sensors it names, and its fields.

    ``path`` names the entry in the asset (``flex_model`` or ``flex_model[i]``); ``soc_field``
    says whether a ``state-of-charge`` field is present (``soc_sensor_id`` is ``None`` when it
    does not name a sensor id).
    """

    path: str
    fields: Mapping[str, Any]
    sensor_id: int | None
    soc_sensor_id: int | None
    soc_field: bool


def soc_sensor_reference(value: object) -> int | None:
    """The sensor id of a ``state-of-charge`` field (``{"sensor": <int>}``), else ``None``."""
    if isinstance(value, Mapping):
        value = value.get("sensor")
    return _sensor_id(value)


def stored_devices(flex_model: object) -> list[StoredDevice]:
    """The device entries of a stored flex-model: a dict is one entry, a list one per dict in it."""
    listed = isinstance(flex_model, list)
    entries = flex_model if listed else [flex_model]
    return [
        StoredDevice(
            path=f"flex_model[{i}]" if listed else "flex_model", fields=entry,
            sensor_id=_sensor_id(entry.get("sensor")),
            soc_sensor_id=soc_sensor_reference(entry.get(SOC_SENSOR_FIELD)), soc_field=SOC_SENSOR_FIELD in entry,
        )  # fmt: skip
        for i, entry in enumerate(entries)
        if isinstance(entry, Mapping)
    ]


# -- the asset tree -------------------------------------------------------------------------------
def lineage(view: RegistryView, asset_id: int) -> Iterator[AssetRegistered]:
    """The asset, then its parent, up to the root (a cycle in the parents ends the walk)."""
    seen: set[int] = set()
    current = view.asset(asset_id)
    while current is not None and current.asset_id not in seen:
        seen.add(current.asset_id)
        yield current
        parent = current.parent_asset_id
        current = view.asset(parent) if parent is not None else None


def is_descendant(view: RegistryView, asset_id: int, ancestor_id: int) -> bool:
    """Whether ``asset_id`` is ``ancestor_id`` or below it."""
    return any(a.asset_id == ancestor_id for a in lineage(view, asset_id))


def site_of(view: RegistryView, asset_id: int) -> int:
    """The root of the asset's tree (the asset itself when it has no parent)."""
    root = asset_id
    for asset in lineage(view, asset_id):
        root = asset.asset_id
    return root


def effective_flex_context(view: RegistryView, asset_id: int) -> dict[str, Any]:
    """The asset's flex-context, completed by its ancestors' (the nearest asset's field wins)."""
    context: dict[str, Any] = {}
    for asset in reversed(list(lineage(view, asset_id))):
        context.update(asset.flex_context or {})
    return context


# -- a device's sensors and flex-model ------------------------------------------------------------
class DeviceError(ValueError):
    """A device cannot be scheduled as asked: ``code`` is stable, ``field`` names the input."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field


def check_schedulable(
    sensor: SensorRegistered, path: str, resolution: timedelta | None = None, start: datetime | None = None
) -> None:
    """A schedule can be written to ``sensor`` (else :class:`DeviceError`): its unit is a unit of
    power and it has an event resolution; with ``resolution``, the schedule's steps are whole
    multiples of the sensor's; with ``start`` too, the schedule starts on the sensor's grid.
    ``path`` names the device's sensor in the request (e.g. ``flex-model[0].sensor``)."""
    if not is_power_unit_or_false(sensor.unit):
        raise DeviceError("INVALID_UNIT", f"sensor {sensor.sensor_id} has unit {sensor.unit!r}, not power", path)
    if sensor.event_resolution_s <= 0:
        raise DeviceError("INVALID_RESOLUTION", f"sensor {sensor.sensor_id} has no event resolution", path)
    if resolution is None:
        return
    if resolution % sensor.event_resolution:
        message = f"the schedule resolution {resolution} is not a multiple of sensor {sensor.sensor_id}'s"
        raise DeviceError("INVALID_RESOLUTION", f"{message} {sensor.event_resolution}", path)
    if start is not None and not on_grid(start, resolution, sensor.timezone):
        raise DeviceError(
            "INVALID_START", f"start {start.isoformat()} is not on sensor {sensor.sensor_id}'s grid", "start"
        )



def named_power_sensor(sensors: list[SensorRegistered]) -> SensorRegistered | None:
    """Among sensors with a unit of power: the one named ``power`` (case-insensitive; the lowest
    id if several), else the only one; ``None`` otherwise."""
    power = sorted((s for s in sensors if is_power_unit_or_false(s.unit)), key=lambda s: s.sensor_id)
    named = [s for s in power if s.name.strip().lower() == POWER_SENSOR_NAME]
    if named:
        return named[0]
    return power[0] if len(power) == 1 else None


def device_power_sensor(view: RegistryView, asset: AssetRegistered) -> SensorRegistered | None:
    """The device's power sensor: the ``sensor`` its stored (dict) flex-model names, when that
    sensor exists on the asset; else :func:`named_power_sensor` of the asset's sensors."""
    single = stored_devices(asset.flex_model) if isinstance(asset.flex_model, dict) else []
    named_id = single[0].sensor_id if single else None
    named = view.sensor(named_id) if named_id is not None else None
    if named is not None and named.asset_id == asset.asset_id:
        return named
    return named_power_sensor(view.sensors_of_asset(asset.asset_id))


def site_devices(view: RegistryView, asset: AssetRegistered) -> list[AssetRegistered]:
    """The other devices (batteries, EVSEs) in the same asset tree (the site), by id."""
    site = site_of(view, asset.asset_id)
    return [
        a
        for a in view.assets_of_account(asset.account_id)
        if a.asset_type in DEVICE_ASSET_TYPES and a.asset_id != asset.asset_id and site_of(view, a.asset_id) == site
    ]


def sibling_device_sensors(view: RegistryView, asset: AssetRegistered, own_sensor_id: int) -> list[int]:
    """The :func:`device_power_sensor` of each other device of the site. Their latest beliefs
    (measurements, or the schedules computed for them) enter the site balance as inflexible load."""
    found = [device_power_sensor(view, device) for device in site_devices(view, asset)]
    return [s.sensor_id for s in found if s is not None and s.sensor_id != own_sensor_id]


def stored_device_flex_model(asset: AssetRegistered, sensor_id: int) -> dict[str, Any]:
    """The flex-model stored on a device asset: a dict, or the list entry naming ``sensor_id``.

    Without a power capacity, the legacy attribute ``capacity_in_mw`` becomes ``power-capacity``.
    """
    devices = stored_devices(asset.flex_model or {})
    if isinstance(asset.flex_model, list):
        devices = [d for d in devices if d.sensor_id == sensor_id]
    model = dict(devices[0].fields) if devices else {}
    if "power-capacity" not in model and "consumption-capacity" not in model:
        capacity_mw = (asset.attributes or {}).get("capacity_in_mw")
        if isinstance(capacity_mw, int | float) and not isinstance(capacity_mw, bool):
            model["power-capacity"] = f"{capacity_mw} MW"
    return model


def udi_flex_model(asset: AssetRegistered, event: UdiEventPosted) -> dict[str, Any]:
    """The device's stored flex-model with the UDI event's state of charge, targets and overrides
    (energies in kWh)."""
    model = stored_device_flex_model(asset, event.sensor_id)
    model["sensor"] = event.sensor_id
    model["soc-at-start"] = f"{event.soc_kwh} kWh"
    if event.targets:
        model["soc-targets"] = [
            {"datetime": t.datetime.isoformat(), "value": f"{t.value_kwh} kWh"} for t in event.targets
        ]
    if event.soc_min_kwh is not None:
        model["soc-min"] = f"{event.soc_min_kwh} kWh"
    if event.soc_max_kwh is not None:
        model["soc-max"] = f"{event.soc_max_kwh} kWh"
    if event.roundtrip_efficiency is not None:
        model["roundtrip-efficiency"] = event.roundtrip_efficiency
    return model
