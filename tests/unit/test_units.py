"""Units (domain/units.py): parsing, conversions, power <-> energy, errors with INVALID_UNIT.

Conversions only scale: consumption stays positive, production negative.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.units import (
    UnitError,
    conversion_factor,
    convert_values,
    is_energy_unit,
    is_known_unit,
    is_power_unit,
    parse_quantity,
    quantity_in,
)


@pytest.mark.parametrize(
    ("source", "target", "factor"),
    [
        ("W", "kW", 1e-3), ("kW", "W", 1e3), ("MW", "kW", 1e3), ("kW", "MW", 1e-3), ("MW", "W", 1e6),
        ("Wh", "kWh", 1e-3), ("kWh", "Wh", 1e3), ("MWh", "kWh", 1e3), ("kWh", "MWh", 1e-3),
        ("EUR/MWh", "EUR/kWh", 1e-3), ("EUR/kWh", "EUR/MWh", 1e3), ("€/MWh", "EUR/kWh", 1e-3),
        ("%", "", 0.01), ("", "%", 100.0), ("kW", "kW", 1.0),
    ],
)
def test_conversion_factor(source, target, factor):
    assert conversion_factor(source, target) == pytest.approx(factor)


def test_convert_values_scales_and_keeps_none_and_signs():
    assert convert_values([1.5, None, -2.0], "MW", "kW") == pytest.approx([1500.0, None, -2000.0])
    assert convert_values([120.0, -40.0], "EUR/MWh", "EUR/kWh") == pytest.approx([0.12, -0.04])
    assert convert_values([50.0], "%", "dimensionless") == pytest.approx([0.5])
    same = [1.0, None]
    assert convert_values(same, "kW", "kW") == same


@pytest.mark.parametrize(
    ("values", "source", "target", "resolution", "expected"),
    [
        ([4.0, -8.0], "kW", "kWh", timedelta(minutes=15), [1.0, -2.0]),
        ([1.0], "kWh", "kW", timedelta(minutes=15), [4.0]),
        ([1.0], "kW", "MWh", timedelta(hours=2), [0.002]),
        ([2.0], "MWh", "W", timedelta(hours=4), [500_000.0]),
        ([3.0], "W", "Wh", timedelta(minutes=20), [1.0]),
        ([2.0], "kW", "W", timedelta(minutes=15), [2000.0]),  # same dimension: the resolution is irrelevant
    ],
)
def test_power_and_energy_convert_with_a_resolution(values, source, target, resolution, expected):
    assert convert_values(values, source, target, resolution=resolution) == pytest.approx(expected)


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: conversion_factor("kW", "kWh"),  # power -> energy needs a resolution
        lambda: convert_values([1.0], "kW", "kWh"),
        lambda: convert_values([1.0], "kW", "EUR/MWh", resolution=timedelta(hours=1)),
        lambda: conversion_factor("bogus", "kW"),
        lambda: conversion_factor("kW", "%"),
        lambda: parse_quantity("eleven kW"),
        lambda: parse_quantity("5 bananas"),
        lambda: parse_quantity(None),
        lambda: quantity_in("3 kWh", "kW"),
    ],
)
def test_errors_carry_the_invalid_unit_code(attempt):
    with pytest.raises(UnitError) as caught:
        attempt()
    assert caught.value.code == "INVALID_UNIT"
    assert isinstance(caught.value, ValueError)


def test_unit_kinds():
    assert is_power_unit("W") and is_power_unit("MW") and not is_power_unit("kWh")
    assert is_energy_unit("Wh") and is_energy_unit("MWh") and not is_energy_unit("kW")
    assert is_known_unit("EUR/MWh") and is_known_unit("%") and is_known_unit("") and not is_known_unit("bogus")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("25 kWh", (25.0, "kWh")), ("-11kW", (-11.0, "kW")), ("95%", (95.0, "%")), (" 1e3 W ", (1000.0, "W")),
     (".5 MW", (0.5, "MW")), ("7", (7.0, ""))],
)
def test_parse_quantity(text, parsed):
    assert parse_quantity(text) == parsed


def test_quantity_in():
    assert quantity_in("95%", "") == pytest.approx(0.95)
    assert quantity_in("1 MWh", "kWh") == pytest.approx(1000.0)
    assert quantity_in("-11 kW", "W") == pytest.approx(-11000.0)
