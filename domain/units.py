"""Units: parsing quantity strings and converting time series between compatible units.

Built on pint. Power units (W, kW, MW), energy units (Wh, kWh, MWh), price units
(EUR/MWh, EUR/kWh, ...) and ``%`` are supported; anything pint parses and can convert works.
Consumption is positive, production negative (USEF): conversions only scale, they never flip
signs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache

import pint

_REGISTRY = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
_REGISTRY.define("EUR = [currency]")
_REGISTRY.define("percent = 0.01 = %")

_QUANTITY_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


class UnitError(ValueError):
    """A unit is unknown, or two units are not convertible. ``code`` is the stable API code."""

    code = "INVALID_UNIT"


def _normalise(unit: str) -> str:
    unit = unit.strip()
    if unit in ("", "dimensionless"):
        return "dimensionless"
    return unit.replace("€", "EUR")


MAX_UNIT_LENGTH = 64
"""Longest unit string accepted (real units are a few characters; pint's parser is not linear)."""


@lru_cache(maxsize=512)
def parse_unit(unit: str) -> pint.Unit:
    """Parse a unit string (``"kW"``, ``"EUR/MWh"``, ``"%"``); raises :class:`UnitError`.

    Every failure of pint's parser is a :class:`UnitError` (pint raises tokenizer errors,
    ``ZeroDivisionError`` for ``1/0``, ``AssertionError`` for ``?``, ``TypeError`` for
    ``kW**kW`` ...), so a hostile unit string is a client error, never a server error.
    """
    if not isinstance(unit, str) or len(unit) > MAX_UNIT_LENGTH:
        raise UnitError(f"unknown unit {str(unit)[:MAX_UNIT_LENGTH]!r} (at most {MAX_UNIT_LENGTH} characters)")
    try:
        return _REGISTRY.Unit(_normalise(unit))
    except Exception as exc:  # noqa: BLE001 - pint's parser raises many kinds (TokenError for "kW(", ZeroDivisionError for "1/0")
        raise UnitError(f"unknown unit {unit!r}") from exc


def is_known_unit(unit: str) -> bool:
    """True when ``unit`` parses."""
    try:
        parse_unit(unit)
    except UnitError:
        return False
    return True


@lru_cache(maxsize=512)
def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Multiplier that turns values in ``from_unit`` into ``to_unit``; raises :class:`UnitError`."""
    source, target = parse_unit(from_unit), parse_unit(to_unit)
    try:
        factor = float(_REGISTRY.Quantity(1.0, source).to(target).magnitude)
    except (pint.DimensionalityError, ArithmeticError) as exc:
        raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}") from exc
    if not math.isfinite(factor) or factor == 0.0:
        raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r} (factor {factor})")
    return factor


def is_power_unit(unit: str) -> bool:
    """True for units of power (W, kW, MW ...)."""
    return parse_unit(unit).dimensionality == _REGISTRY.W.dimensionality


def is_power_unit_or_false(unit: str) -> bool:
    """Like :func:`is_power_unit`, but ``False`` (instead of :class:`UnitError`) for unknown units."""
    try:
        return is_power_unit(unit)
    except UnitError:
        return False


def is_energy_unit(unit: str) -> bool:
    """True for units of energy (Wh, kWh, MWh ...)."""
    return parse_unit(unit).dimensionality == _REGISTRY.Wh.dimensionality


def convert_values(
    values: Sequence[float | None],
    from_unit: str,
    to_unit: str,
    resolution: timedelta | None = None,
) -> list[float | None]:
    """Convert a series from ``from_unit`` to ``to_unit``; ``None`` stays ``None``.

    Power and energy convert into each other when ``resolution`` (the duration each value
    covers) is given: energy_kwh = power_kw * hours.
    """
    factor = _factor_with_resolution(from_unit, to_unit, resolution)
    if factor == 1.0:
        return list(values)
    return [None if v is None else v * factor for v in values]


def _factor_with_resolution(from_unit: str, to_unit: str, resolution: timedelta | None) -> float:
    if from_unit == to_unit:
        return 1.0
    if resolution is not None:
        hours = resolution.total_seconds() / 3600.0
        if is_power_unit(from_unit) and is_energy_unit(to_unit):
            return conversion_factor(from_unit, "kW") * hours * conversion_factor("kWh", to_unit)
        if is_energy_unit(from_unit) and is_power_unit(to_unit):
            return conversion_factor(from_unit, "kWh") / hours * conversion_factor("kW", to_unit)
    return conversion_factor(from_unit, to_unit)


def parse_quantity(text: str) -> tuple[float, str]:
    """Split a quantity string such as ``"25 kWh"``, ``"-11kW"`` or ``"95%"`` into (magnitude, unit).

    The unit must parse (``""`` means dimensionless); raises :class:`UnitError` otherwise.
    """
    match = _QUANTITY_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise UnitError(f"not a quantity: {text!r}")
    magnitude, unit = float(match.group(1)), match.group(2)
    parse_unit(unit)
    return magnitude, unit


def quantity_in(text: str, to_unit: str) -> float:
    """Parse a quantity string and return its magnitude in ``to_unit``."""
    magnitude, unit = parse_quantity(text)
    return magnitude * conversion_factor(unit or "dimensionless", to_unit)
