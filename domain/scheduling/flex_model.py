"""Parse FlexMeasures-style flex-model and flex-context dicts into typed, frozen objects.

Field names and semantics follow FlexMeasures (``soc-at-start``, ``power-capacity``,
``consumption-price`` ...), plus EV fields ``charging-modes``, ``min-charging-power``,
``no-pauses`` and ``start-at-arrival``. Values are quantity strings (``"25 kWh"``, ``"11 kW"``, ``"95%"``), bare numbers
(power in MW, energy in ``soc-unit`` — default MWh as in FlexMeasures —, prices in EUR/MWh),
lists of time-bound entries (``{datetime, value}`` / ``{start, end, value}``), a sensor
reference ``{"sensor": id}`` resolved through the caller's ``resolve_sensor`` callback, or a
:class:`~domain.scheduling.timeseries.TimeSeries`.

Everything is converted to canonical units: kW, kWh, EUR/MWh, fractions. Sign convention
(USEF): consumption is positive, production negative; capacities are non-negative magnitudes.

Invalid input raises :class:`~domain.scheduling.errors.FlexModelError` (a ``ValueError``)
whose ``field`` is the path of the offending field, e.g. ``"flex-model[0].soc-max"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from domain.scheduling import quantities as q
from domain.scheduling.errors import INCONSISTENT, INVALID_VALUE, MISSING_FIELD, UNKNOWN_FIELD, FlexModelError
from domain.scheduling.quantities import SensorResolver, Varying
from domain.scheduling.timeseries import Segment, TimeSeries
from domain.soc_readings import SOC_SENSOR_FIELD, soc_sensor_reference

DEVICE_FIELDS = frozenset(
    {
        "sensor", "soc-at-start", "soc-unit", "soc-min", "soc-max", "soc-minima", "soc-maxima",
        "soc-targets", "power-capacity", "consumption-capacity", "production-capacity",
        "charging-efficiency", "discharging-efficiency", "roundtrip-efficiency", "storage-efficiency",
        "prefer-charging-sooner", "charging-modes", "min-charging-power", "no-pauses", "start-at-arrival",
        SOC_SENSOR_FIELD,
    }
)  # fmt: skip
CONTEXT_FIELDS = frozenset(
    {
        "consumption-price", "production-price", "consumption-price-sensor", "production-price-sensor",
        "site-power-capacity", "site-consumption-capacity", "site-production-capacity",
        "inflexible-device-sensors",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeviceFlexModel:
    """One device's flexibility, in canonical units.

    Energies in kWh, powers in kW (capacities are non-negative magnitudes: the device's power
    ``p`` satisfies ``-production_capacity_kw <= p <= consumption_capacity_kw``), efficiencies
    as fractions. ``storage_efficiency`` is the fraction of the SoC retained per schedule step.
    ``consumption_capacity_kw`` / ``production_capacity_kw`` of ``None`` fall back to
    ``power_capacity_kw``; steps a list of time-bound entries does not cover fall back the
    same way, and finally to 0 kW (device unavailable).
    """

    path: str
    sensor: int | str | None
    soc_at_start_kwh: float
    soc_min_kwh: float = 0.0
    soc_max_kwh: float = math.inf
    soc_minima_kwh: tuple[Segment, ...] = ()
    soc_maxima_kwh: tuple[Segment, ...] = ()
    soc_targets_kwh: tuple[Segment, ...] = ()
    power_capacity_kw: Varying | None = None
    consumption_capacity_kw: Varying | None = None
    production_capacity_kw: Varying | None = None
    charging_efficiency: float = 1.0
    discharging_efficiency: float = 1.0
    storage_efficiency: float = 1.0
    prefer_charging_sooner: bool = True
    charging_modes_kw: tuple[float, ...] = ()
    min_charging_power_kw: float = 0.0
    no_pauses: bool = False
    start_at_arrival: bool = False
    asset_type: str | None = None

    @property
    def device_id(self) -> str:
        return str(self.sensor) if self.sensor is not None else self.path


@dataclass(frozen=True, slots=True)
class FlexContext:
    """Site-level context: prices (EUR/MWh), site capacities (kW magnitudes), inflexible load.

    ``production_price`` defaults to the consumption price. ``inflexible_kw`` holds the power
    series (kW, consumption positive) of the inflexible devices, summed by the problem builder.
    """

    consumption_price: Varying
    production_price: Varying
    site_consumption_capacity_kw: Varying | None = None
    site_production_capacity_kw: Varying | None = None
    inflexible_kw: tuple[TimeSeries, ...] = ()


def _check_fields(data: object, path: str, allowed: frozenset[str]) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise FlexModelError(path, INVALID_VALUE, "expected an object")
    for key in data:
        if key not in allowed:
            raise FlexModelError(f"{path}.{key}", UNKNOWN_FIELD, f"unknown field {key!r}")
    return data


def _type_of(device: object, types: Mapping[int | str, str]) -> str | None:
    return types.get(device.get("sensor")) if isinstance(device, Mapping) else None  # type: ignore[arg-type]


def parse_flex_model(
    data: object,
    resolve_sensor: SensorResolver | None = None,
    asset_types: Mapping[int | str, str] | None = None,
) -> tuple[DeviceFlexModel, ...]:
    """Parse a flex-model: one device dict (paths ``flex-model.x``) or a list of them (``flex-model[i].x``).

    ``asset_types`` maps a device's ``sensor`` to its asset type (see :func:`parse_device`).
    """
    types = asset_types or {}
    if isinstance(data, Mapping):
        return (parse_device(data, "flex-model", resolve_sensor, _type_of(data, types)),)
    if not isinstance(data, list | tuple) or not data:
        raise FlexModelError("flex-model", INVALID_VALUE, "expected a device object or a non-empty list of them")
    return tuple(
        parse_device(d, f"flex-model[{i}]", resolve_sensor, _type_of(d, types)) for i, d in enumerate(data)
    )


def soc_capacity_kwh(model: Mapping[str, object]) -> float | None:
    """A device's ``soc-max`` in kWh (the base of states of charge in %), if it has a valid one."""
    if "soc-max" not in model:
        return None
    try:
        return q.to_canonical(model["soc-max"], "soc-max", _soc_kind(model, "flex-model"))
    except FlexModelError:
        return None


def _soc_kind(data: Mapping[str, object], path: str) -> q.Kind:
    unit = data.get("soc-unit", "MWh")
    if unit not in ("kWh", "MWh", "Wh"):
        raise FlexModelError(f"{path}.soc-unit", INVALID_VALUE, f"soc-unit must be 'kWh' or 'MWh', got {unit!r}")
    return q.Kind("kWh", str(unit))


def _efficiencies(data: Mapping[str, object], path: str) -> tuple[float, float, float]:
    roundtrip = q.fraction(data.get("roundtrip-efficiency", 1.0), f"{path}.roundtrip-efficiency")
    one_way = math.sqrt(roundtrip)
    charging = q.fraction(data.get("charging-efficiency", one_way), f"{path}.charging-efficiency")
    discharging = q.fraction(data.get("discharging-efficiency", one_way), f"{path}.discharging-efficiency")
    storage = q.fraction(data.get("storage-efficiency", 1.0), f"{path}.storage-efficiency")
    return charging, discharging, storage


def _soc_fields(data: Mapping[str, object], path: str) -> dict[str, object]:
    kind = _soc_kind(data, path)
    if "soc-at-start" not in data:
        raise FlexModelError(f"{path}.soc-at-start", MISSING_FIELD, "soc-at-start is required")
    fields: dict[str, object] = {"soc_at_start_kwh": q.to_canonical(data["soc-at-start"], f"{path}.soc-at-start", kind)}
    soc_min = q.to_canonical(data.get("soc-min", 0.0), f"{path}.soc-min", kind)
    soc_max = q.to_canonical(data["soc-max"], f"{path}.soc-max", kind) if "soc-max" in data else math.inf
    if soc_max < soc_min:
        raise FlexModelError(f"{path}.soc-max", INCONSISTENT, f"soc-max ({soc_max} kWh) < soc-min ({soc_min} kWh)")
    fields |= {"soc_min_kwh": soc_min, "soc_max_kwh": soc_max}
    for name in ("soc-minima", "soc-maxima", "soc-targets"):
        if name in data:
            attr = name.replace("-", "_") + "_kwh"
            fields[attr] = q.segments(data[name], f"{path}.{name}", kind)
    return fields


def _capacity_fields(data: Mapping[str, object], path: str, resolver: SensorResolver | None) -> dict[str, object]:
    fields: dict[str, object] = {}
    for name in ("power-capacity", "consumption-capacity", "production-capacity"):
        if name in data:
            fields[name.replace("-", "_") + "_kw"] = q.varying(data[name], f"{path}.{name}", q.POWER, resolver)
    if "power_capacity_kw" not in fields and "consumption_capacity_kw" not in fields:
        raise FlexModelError(
            f"{path}.power-capacity", MISSING_FIELD, "power-capacity or consumption-capacity is required"
        )
    return fields


def _ev_fields(data: Mapping[str, object], path: str) -> dict[str, object]:
    fields: dict[str, object] = {}
    if "charging-modes" in data:
        modes = data["charging-modes"]
        if not isinstance(modes, list | tuple) or not modes:
            raise FlexModelError(f"{path}.charging-modes", INVALID_VALUE, "expected a non-empty list of powers")
        levels = [q.to_canonical(m, f"{path}.charging-modes[{i}]", q.POWER) for i, m in enumerate(modes)]
        fields["charging_modes_kw"] = tuple(sorted(set(levels)))
    if "min-charging-power" in data:
        path_m = f"{path}.min-charging-power"
        fields["min_charging_power_kw"] = q.to_canonical(data["min-charging-power"], path_m, q.POWER)
    for name in ("no-pauses", "start-at-arrival"):
        if name in data:
            fields[name.replace("-", "_")] = q.boolean(data[name], f"{path}.{name}")
    return fields


ONE_WAY_ASSET_TYPES = frozenset({"one-way_evse"})
"""Asset types that only consume: never scheduled to discharge unless the flex-model says so."""


def _one_way(data: Mapping[str, object], asset_type: str | None) -> dict[str, object]:
    """A one-way device without an explicit ``production-capacity`` gets 0 kW of it."""
    if asset_type in ONE_WAY_ASSET_TYPES and "production-capacity" not in data:
        return {"production_capacity_kw": 0.0}
    return {}


def parse_device(
    data: object, path: str, resolve_sensor: SensorResolver | None = None, asset_type: str | None = None
) -> DeviceFlexModel:
    """Parse one device's flex-model dict; ``path`` prefixes field names in errors.

    ``asset_type`` (the device's asset type, e.g. ``one-way_evse``): a device in
    :data:`ONE_WAY_ASSET_TYPES` never discharges unless its flex-model explicitly gives a
    ``production-capacity`` (FlexMeasures would otherwise let ``power-capacity`` apply both ways).
    ``start-at-arrival``: the charging block starts at the first step the device can charge.
    """
    data = _check_fields(data, path, DEVICE_FIELDS)
    sensor = data.get("sensor")
    if sensor is not None and (isinstance(sensor, bool) or not isinstance(sensor, int | str)):
        raise FlexModelError(f"{path}.sensor", INVALID_VALUE, "sensor must be an id (int or str)")
    if SOC_SENSOR_FIELD in data and soc_sensor_reference(data[SOC_SENSOR_FIELD]) is None:
        raise FlexModelError(
            f"{path}.{SOC_SENSOR_FIELD}", INVALID_VALUE, 'state-of-charge must name a sensor: {"sensor": <id>}'
        )
    charging, discharging, storage = _efficiencies(data, path)
    prefer = q.boolean(data.get("prefer-charging-sooner", True), f"{path}.prefer-charging-sooner")
    capacities = _capacity_fields(data, path, resolve_sensor) | _one_way(data, asset_type)
    return DeviceFlexModel(
        path=path,
        sensor=sensor,  # type: ignore[arg-type]
        charging_efficiency=charging,
        discharging_efficiency=discharging,
        storage_efficiency=storage,
        prefer_charging_sooner=prefer,
        **_soc_fields(data, path),  # type: ignore[arg-type]
        **capacities,  # type: ignore[arg-type]
        **_ev_fields(data, path),  # type: ignore[arg-type]
        asset_type=asset_type,
    )


def _price(data: Mapping[str, object], name: str, resolver: SensorResolver | None) -> Varying | None:
    path = f"flex-context.{name}"
    if name in data:
        return q.varying(data[name], path, q.PRICE, resolver)
    legacy = f"{name}-sensor"
    if legacy in data:
        return q.series_in(q.resolve(data[legacy], f"flex-context.{legacy}", resolver), path, q.PRICE)
    return None


def _site_capacities(data: Mapping[str, object], resolver: SensorResolver | None) -> dict[str, Varying | None]:
    def get(name: str) -> Varying | None:
        return q.varying(data[name], f"flex-context.{name}", q.POWER, resolver) if name in data else None

    both = get("site-power-capacity")
    consumption, production = get("site-consumption-capacity"), get("site-production-capacity")
    return {
        "site_consumption_capacity_kw": consumption if consumption is not None else both,
        "site_production_capacity_kw": production if production is not None else both,
    }


def _inflexible(data: Mapping[str, object], resolver: SensorResolver | None) -> tuple[TimeSeries, ...]:
    path = "flex-context.inflexible-device-sensors"
    sensors = data.get("inflexible-device-sensors", [])
    if not isinstance(sensors, list | tuple):
        raise FlexModelError(path, INVALID_VALUE, "expected a list of sensor ids")
    return tuple(
        q.series_in(q.resolve(s, f"{path}[{i}]", resolver), f"{path}[{i}]", q.SIGNED_POWER)
        for i, s in enumerate(sensors)
    )


def parse_flex_context(data: object, resolve_sensor: SensorResolver | None = None) -> FlexContext:
    """Parse a flex-context dict. ``consumption-price`` (or the legacy ``consumption-price-sensor``) is required."""
    data = _check_fields(data if data is not None else {}, "flex-context", CONTEXT_FIELDS)
    consumption = _price(data, "consumption-price", resolve_sensor)
    if consumption is None:
        raise FlexModelError("flex-context.consumption-price", MISSING_FIELD, "consumption-price is required")
    production = _price(data, "production-price", resolve_sensor)
    return FlexContext(
        consumption_price=consumption,
        production_price=production if production is not None else consumption,
        inflexible_kw=_inflexible(data, resolve_sensor),
        **_site_capacities(data, resolve_sensor),
    )
