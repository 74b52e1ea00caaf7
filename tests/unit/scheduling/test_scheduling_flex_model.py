"""Parsing flex-model / flex-context: units, time-bound entries, sensors, and field-naming errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from domain.scheduling import (
    FlexModelError,
    TimeSeries,
    parse_flex_context,
    parse_flex_model,
    problem_from_flex,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
BASE = {"soc-at-start": "10 kWh", "power-capacity": "11 kW"}


def test_quantities_are_converted_to_canonical_units():
    [device] = parse_flex_model(
        {
            "sensor": 5,
            "soc-at-start": 0.02,
            "soc-unit": "MWh",
            "soc-min": "2 kWh",
            "soc-max": "60000 Wh",
            "power-capacity": 0.011,
            "production-capacity": "3.7 kW",
            "roundtrip-efficiency": "81%",
            "storage-efficiency": 0.999,
            "charging-modes": ["0 kW", "1760 W", "3.52 kW"],
            "min-charging-power": "1.76 kW",
            "no-pauses": True,
        }
    )
    assert device.device_id == "5"
    assert device.soc_at_start_kwh == pytest.approx(20.0)
    assert (device.soc_min_kwh, device.soc_max_kwh) == pytest.approx((2.0, 60.0))
    assert device.power_capacity_kw == pytest.approx(11.0)  # bare numbers are MW, as in FlexMeasures
    assert device.production_capacity_kw == pytest.approx(3.7)
    assert device.charging_efficiency == pytest.approx(0.9)
    assert device.discharging_efficiency == pytest.approx(0.9)
    assert device.charging_modes_kw == pytest.approx((0.0, 1.76, 3.52))
    assert device.no_pauses is True


def test_soc_targets_and_capacity_segments():
    [device] = parse_flex_model(
        {
            **BASE,
            "soc-targets": [{"datetime": "2024-01-01T06:00:00+01:00", "value": "40 kWh"}],
            "consumption-capacity": [{"start": "2024-01-01T00:00Z", "duration": "PT2H", "value": "7 kW"}],
        }
    )
    [target] = device.soc_targets_kwh
    assert target.start == datetime(2024, 1, 1, 5, tzinfo=UTC) and target.value == pytest.approx(40.0)
    [segment] = device.consumption_capacity_kw
    assert segment.end - segment.start == timedelta(hours=2)


def test_flex_context_prices_sensors_and_inflexible_load():
    series = {
        1: TimeSeries(START, timedelta(hours=1), np.arange(24.0), "EUR/kWh"),
        2: TimeSeries(START, timedelta(hours=1), np.ones(24), "MW"),
    }
    context = parse_flex_context(
        {
            "consumption-price": {"sensor": 1},
            "production-price": "20 EUR/MWh",
            "site-power-capacity": "100 kW",
            "site-production-capacity": "50 kW",
            "inflexible-device-sensors": [2],
        },
        resolve_sensor=series.__getitem__,
    )
    assert context.consumption_price.values[3] == pytest.approx(3000.0)  # EUR/kWh -> EUR/MWh
    assert context.production_price == pytest.approx(20.0)
    assert context.site_consumption_capacity_kw == pytest.approx(100.0)
    assert context.site_production_capacity_kw == pytest.approx(50.0)
    assert context.inflexible_kw[0].values[0] == pytest.approx(1000.0)


def test_production_price_defaults_to_consumption_price():
    context = parse_flex_context({"consumption-price": 42})
    assert context.production_price == context.consumption_price == pytest.approx(42.0)


@pytest.mark.parametrize(
    ("flex_model", "field", "code"),
    [
        ([BASE, {**BASE, "soc-max": "5 kW"}], "flex-model[1].soc-max", "INVALID_UNIT"),
        ([{**BASE, "soc-min": "20 kWh", "soc-max": "10 kWh"}], "flex-model[0].soc-max", "INCONSISTENT"),
        ([{"power-capacity": "1 kW"}], "flex-model[0].soc-at-start", "MISSING_FIELD"),
        ([{"soc-at-start": 1}], "flex-model[0].power-capacity", "MISSING_FIELD"),
        ([{**BASE, "soc-maxx": 1}], "flex-model[0].soc-maxx", "UNKNOWN_FIELD"),
        ([{**BASE, "roundtrip-efficiency": 1.5}], "flex-model[0].roundtrip-efficiency", "INVALID_VALUE"),
        ([{**BASE, "storage-efficiency": "110%"}], "flex-model[0].storage-efficiency", "INVALID_VALUE"),
        ([{**BASE, "power-capacity": "-3 kW"}], "flex-model[0].power-capacity", "INVALID_VALUE"),
        ([{**BASE, "power-capacity": "3 furlongs"}], "flex-model[0].power-capacity", "INVALID_UNIT"),
        ([{**BASE, "no-pauses": "yes"}], "flex-model[0].no-pauses", "INVALID_VALUE"),
        ([{**BASE, "charging-modes": []}], "flex-model[0].charging-modes", "INVALID_VALUE"),
        ([{**BASE, "charging-modes": ["1 kW", "2 kWh"]}], "flex-model[0].charging-modes[1]", "INVALID_UNIT"),
        (
            [{**BASE, "soc-targets": [{"datetime": "2024-01-01T06:00:00", "value": 1}]}],
            "flex-model[0].soc-targets[0].datetime",
            "INVALID_DATETIME",
        ),
        (
            [{**BASE, "soc-minima": [{"start": "2024-01-02T00:00Z", "end": "2024-01-01T00:00Z", "value": 1}]}],
            "flex-model[0].soc-minima[0].end",
            "INCONSISTENT",
        ),
        ({**BASE, "soc-unit": "Ah"}, "flex-model.soc-unit", "INVALID_VALUE"),
        ([{**BASE, "consumption-capacity": {"sensor": 9}}], "flex-model[0].consumption-capacity", "UNRESOLVED_SENSOR"),
    ],
)
def test_invalid_flex_model_names_the_field(flex_model, field, code):
    with pytest.raises(FlexModelError) as info:
        parse_flex_model(flex_model)
    assert (info.value.field, info.value.code) == (field, code)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("flex_context", "field", "code"),
    [
        ({}, "flex-context.consumption-price", "MISSING_FIELD"),
        ({"consumption-price": "10 EUR/kW"}, "flex-context.consumption-price", "INVALID_UNIT"),
        ({"consumption-price": 1, "site-power-capacity": "1 kWh"}, "flex-context.site-power-capacity", "INVALID_UNIT"),
        ({"consumption-price": 1, "inflexible-device-sensors": [3]}, "flex-context.inflexible-device-sensors[0]",
         "UNRESOLVED_SENSOR"),
        ({"consumption-price": 1, "price": 3}, "flex-context.price", "UNKNOWN_FIELD"),
    ],
)  # fmt: skip
def test_invalid_flex_context_names_the_field(flex_context, field, code):
    with pytest.raises(FlexModelError) as info:
        parse_flex_context(flex_context, resolve_sensor={}.__getitem__)
    assert (info.value.field, info.value.code) == (field, code)


def test_price_series_must_cover_the_horizon():
    short = TimeSeries(START, timedelta(hours=1), np.ones(12), "EUR/MWh")
    with pytest.raises(FlexModelError) as info:
        problem_from_flex(
            BASE, {"consumption-price": short}, start=START, end=START + timedelta(days=1),
            resolution=timedelta(minutes=15),
        )  # fmt: skip
    assert (info.value.field, info.value.code) == ("flex-context.consumption-price", "INSUFFICIENT_DATA")


def test_soc_max_defaults_to_unbounded():
    [device] = parse_flex_model(BASE)
    assert math.isinf(device.soc_max_kwh) and device.soc_min_kwh == 0.0
