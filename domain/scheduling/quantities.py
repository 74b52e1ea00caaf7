"""Field-level parsers for flex-model / flex-context values (quantities, series, segments).

Each parser takes the raw JSON-ish value and the field path used in error messages, and
returns a value in the canonical unit of its kind: kW (power), kWh (energy), EUR/MWh (price),
a fraction (efficiencies). Sign convention (USEF): consumption positive, production negative.

Bare numbers use FlexMeasures' defaults: power in MW, energy in ``soc-unit`` (default MWh),
prices in EUR/MWh, efficiencies as fractions (0.95; or a string such as ``"95%"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import isodate
import numpy as np

from domain.scheduling.errors import (
    INCONSISTENT,
    INVALID_DATETIME,
    INVALID_UNIT,
    INVALID_VALUE,
    UNRESOLVED_SENSOR,
    FlexModelError,
)
from domain.scheduling.timeseries import Segment, TimeSeries, to_utc
from domain.units import UnitError, conversion_factor, parse_quantity

SensorResolver = Callable[[int | str], TimeSeries]
"""Caller-supplied lookup: sensor id -> its series (prices, power forecasts) over the horizon."""

Varying = float | tuple[Segment, ...] | TimeSeries
"""A scalar, time-bound segments or a series — always in the canonical unit of its field."""


@dataclass(frozen=True, slots=True)
class Kind:
    """A quantity kind: canonical unit, unit assumed for bare numbers, allowed sign."""

    unit: str
    number_unit: str
    non_negative: bool = False


POWER = Kind("kW", "MW", non_negative=True)
SIGNED_POWER = Kind("kW", "MW")
ENERGY = Kind("kWh", "MWh")
PRICE = Kind("EUR/MWh", "EUR/MWh")


def to_canonical(value: object, path: str, kind: Kind) -> float:
    """A quantity string or bare number in ``kind.unit``."""
    if isinstance(value, bool):
        raise FlexModelError(path, INVALID_VALUE, f"expected a quantity, got {value!r}")
    try:
        if isinstance(value, int | float):
            magnitude = float(value) * conversion_factor(kind.number_unit, kind.unit)
        elif isinstance(value, str):
            number, unit = parse_quantity(value)
            magnitude = number * conversion_factor(unit or kind.number_unit, kind.unit)
        else:
            raise FlexModelError(path, INVALID_VALUE, f"expected a quantity such as '5 {kind.unit}'")
    except UnitError as exc:
        raise FlexModelError(path, INVALID_UNIT, f"{exc} (expected a unit convertible to {kind.unit})") from exc
    if not math.isfinite(magnitude):
        raise FlexModelError(path, INVALID_VALUE, f"{value!r} is not finite")
    if kind.non_negative and magnitude < 0:
        raise FlexModelError(path, INVALID_VALUE, f"{value!r} must not be negative")
    return magnitude


def fraction(value: object, path: str, allow_zero: bool = False) -> float:
    """An efficiency: a number in (0, 1] or a string such as ``"95%"``."""
    if isinstance(value, bool):
        raise FlexModelError(path, INVALID_VALUE, f"expected a fraction, got {value!r}")
    try:
        if isinstance(value, int | float):
            result = float(value)
        elif isinstance(value, str):
            number, unit = parse_quantity(value)
            result = number * conversion_factor(unit or "dimensionless", "dimensionless")
        else:
            raise FlexModelError(path, INVALID_VALUE, "expected a fraction such as 0.95 or '95%'")
    except UnitError as exc:
        raise FlexModelError(path, INVALID_UNIT, f"{exc} (expected a fraction or %)") from exc
    low_ok = result >= 0 if allow_zero else result > 0
    if not (low_ok and result <= 1.0 + 1e-12):
        raise FlexModelError(path, INVALID_VALUE, f"{value!r} must be in (0, 1] (or up to 100%)")
    return min(result, 1.0)


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise FlexModelError(path, INVALID_VALUE, f"expected true or false, got {value!r}")
    return value


def moment(value: object, path: str) -> datetime:
    """An aware datetime (ISO 8601 string or datetime), in UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise FlexModelError(path, INVALID_DATETIME, f"not an ISO 8601 datetime: {value!r}") from exc
    if not isinstance(value, datetime):
        raise FlexModelError(path, INVALID_DATETIME, f"expected a datetime, got {value!r}")
    try:
        return to_utc(value, "datetime")
    except ValueError as exc:
        raise FlexModelError(path, INVALID_DATETIME, str(exc)) from exc


def _duration(value: object, path: str) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        parsed = isodate.parse_duration(value) if isinstance(value, str) else None
    except (isodate.ISO8601Error, ValueError) as exc:
        raise FlexModelError(path, INVALID_VALUE, f"not an ISO 8601 duration: {value!r}") from exc
    if not isinstance(parsed, timedelta):
        raise FlexModelError(path, INVALID_VALUE, f"expected an ISO 8601 duration such as 'PT2H', got {value!r}")
    return parsed


def segment(entry: object, path: str, kind: Kind) -> Segment:
    """One time-bound entry: ``{datetime, value}``, ``{start, end, value}`` or ``{start, duration, value}``."""
    if not isinstance(entry, dict) or "value" not in entry:
        raise FlexModelError(path, INVALID_VALUE, "expected {datetime, value} or {start, end, value}")
    unknown = set(entry) - {"value", "datetime", "start", "end", "duration"}
    if unknown:
        raise FlexModelError(f"{path}.{sorted(unknown)[0]}", INVALID_VALUE, "unknown key in time-bound entry")
    value = to_canonical(entry["value"], f"{path}.value", kind)
    if "datetime" in entry:
        at = moment(entry["datetime"], f"{path}.datetime")
        return Segment(at, at, value)
    if "start" not in entry:
        raise FlexModelError(f"{path}.start", INVALID_VALUE, "a time-bound entry needs datetime or start")
    start = moment(entry["start"], f"{path}.start")
    if "end" in entry:
        end = moment(entry["end"], f"{path}.end")
    elif "duration" in entry:
        end = start + _duration(entry["duration"], f"{path}.duration")
    else:
        raise FlexModelError(f"{path}.end", INVALID_VALUE, "a time-bound entry with start needs end or duration")
    if end < start:
        raise FlexModelError(f"{path}.end", INCONSISTENT, "end is before start")
    return Segment(start, end, value)


def segments(value: object, path: str, kind: Kind) -> tuple[Segment, ...]:
    if not isinstance(value, list | tuple):
        raise FlexModelError(path, INVALID_VALUE, "expected a list of time-bound entries")
    return tuple(segment(entry, f"{path}[{i}]", kind) for i, entry in enumerate(value))


def series_in(series: TimeSeries, path: str, kind: Kind) -> TimeSeries:
    """The caller's series converted to the canonical unit."""
    try:
        factor = conversion_factor(series.unit or kind.number_unit, kind.unit)
    except UnitError as exc:
        raise FlexModelError(path, INVALID_UNIT, f"series unit: {exc}") from exc
    values = series.values * factor
    if kind.non_negative and np.any(values < 0):
        raise FlexModelError(path, INVALID_VALUE, "series has negative values")
    return TimeSeries(series.start, series.resolution, values, kind.unit)


def resolve(sensor: object, path: str, resolver: SensorResolver | None) -> TimeSeries:
    if resolver is None:
        raise FlexModelError(path, UNRESOLVED_SENSOR, f"sensor {sensor!r} given but no sensor resolver supplied")
    try:
        series = resolver(sensor)  # type: ignore[arg-type]
    except (KeyError, LookupError) as exc:
        raise FlexModelError(path, UNRESOLVED_SENSOR, f"sensor {sensor!r} not found") from exc
    if not isinstance(series, TimeSeries):
        raise FlexModelError(path, UNRESOLVED_SENSOR, f"resolver returned {type(series).__name__}, not TimeSeries")
    return series


def varying(value: object, path: str, kind: Kind, resolver: SensorResolver | None) -> Varying:
    """A fixed quantity, a list of time-bound entries, ``{"sensor": id}`` or a :class:`TimeSeries`."""
    if isinstance(value, TimeSeries):
        return series_in(value, path, kind)
    if isinstance(value, dict) and "sensor" in value:
        if set(value) != {"sensor"}:
            raise FlexModelError(path, INVALID_VALUE, 'a sensor reference is {"sensor": id} only')
        return series_in(resolve(value["sensor"], path, resolver), path, kind)
    if isinstance(value, list | tuple):
        return segments(value, path, kind)
    return to_canonical(value, path, kind)
