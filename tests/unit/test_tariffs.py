"""Tariff expansion onto a schedule's grid (domain.tariffs): local time of day with the end second
inclusive, validity bounds, units, block tariffs refused by the scheduler, references replaced."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import numpy as np
import pytest
from tariff_support import tou_tariff

from domain import tariffs as tf
from domain.scheduling import FlexModelError
from domain.scheduling.timeseries import TimeSeries


def test_expansion_follows_local_time_across_the_dst_change():
    # 2024-03-31: Amsterdam moves from UTC+1 to UTC+2; 07:00 local is 06:00 UTC on the 30th, 05:00 UTC on the 31st
    series = tf.expand(
        tou_tariff(), datetime(2024, 3, 30, 0, tzinfo=UTC), datetime(2024, 4, 1, 0, tzinfo=UTC), timedelta(hours=1)
    )
    assert isinstance(series, TimeSeries) and series.unit == "EUR/kWh" and len(series.values) == 48
    assert series.values[5] == 0.1 and series.values[6] == 0.3  # 30th, 06:00 UTC = 07:00 CET
    assert series.values[24 + 4] == 0.1 and series.values[24 + 5] == 0.3  # 31st, 05:00 UTC = 07:00 CEST
    assert tf.peak_type_at(tou_tariff(), datetime(2024, 3, 30, 6, tzinfo=UTC)) == "onpeak"


def test_validity_units_and_block_tariffs_are_refused_with_the_field():
    start = datetime(2024, 4, 1, 20, tzinfo=UTC)
    with pytest.raises(FlexModelError) as outside:
        tf.expand(tou_tariff(), start, start + timedelta(hours=6), timedelta(minutes=15))
    assert outside.value.field == "flex-context.consumption-price"
    with pytest.raises(FlexModelError) as unit:
        tf.expand(tou_tariff(unit_of_price="元/千瓦时"), start - timedelta(hours=6), start, timedelta(hours=1))
    assert unit.value.code == "INVALID_UNIT"
    block = tf.TariffDefinition.model_validate(
        {
            "name": "b",
            "tariff_type": "block",
            "unit_of_price": "EUR/kWh",
            "valid_from": "2024-01-01T00:00:00",
            "valid_through": "2025-01-01T00:00:00",
            "block": [{"start_amount": 0, "end_amount": 100, "price": 0.2}],
        }
    )
    with pytest.raises(FlexModelError, match="block tariff"):
        tf.expand(block, start, start + timedelta(hours=1), timedelta(hours=1))


def test_definitions_must_cover_the_day():
    assert tf.check_definition(tou_tariff()) is None
    gap = tou_tariff(
        timeofuse=[
            {"start_time_of_day": time(0), "end_time_of_day": time(6, 59, 59), "peak_type": "offpeak", "price": 0.1}
        ]
    )
    assert "cover the day" in tf.check_definition(gap)
    assert "after valid_from" in tf.check_definition(tou_tariff(valid_through="2024-03-29T00:00:00"))


def test_references_are_replaced_and_others_kept():
    start, end = datetime(2024, 3, 30, 0, tzinfo=UTC), datetime(2024, 3, 30, 12, tzinfo=UTC)
    context = {"consumption-price": {"tariff": 7}, "production-price": {"sensor": 3}, "site-power-capacity": "1 MW"}
    expanded = tf.expand_tariff_references(context, {7: tou_tariff()}.get, start, end, timedelta(minutes=15))
    assert expanded["production-price"] == {"sensor": 3} and expanded["site-power-capacity"] == "1 MW"
    assert np.allclose(expanded["consumption-price"].values[:24], 0.1)
    with pytest.raises(FlexModelError) as unknown:
        tf.expand_tariff_references(
            {"consumption-price": {"tariff": 8}}, {7: tou_tariff()}.get, start, end, timedelta(hours=1)
        )
    assert unknown.value.code == "UNRESOLVED_SENSOR"
    with pytest.raises(FlexModelError):
        tf.expand_tariff_references(
            {"consumption-price": {"tariff": 7, "x": 1}}, {7: tou_tariff()}.get, start, end, timedelta(hours=1)
        )


def test_steps_outside_the_named_tariff_take_the_tariff_valid_then():
    # the named tariff ends 2024-04-02 00:00 local; the next one (EUR/MWh) prices on, converted to EUR/kWh
    later = tou_tariff(
        name="later",
        unit_of_price="EUR/MWh",
        valid_from="2024-04-02T00:00:00",
        valid_through="2024-05-01T00:00:00",
        timeofuse=[
            {"start_time_of_day": "00:00:00", "end_time_of_day": "23:59:59", "peak_type": "midpeak", "price": 200.0}
        ],
    )
    unusable = tou_tariff(
        name="yuan", unit_of_price="元/千瓦时", valid_from="2024-04-01T00:00:00", valid_through="2024-05-01T00:00:00"
    )  # cannot convert: never used, never an error
    gas = tou_tariff(
        name="gas", energy_category_id=2, valid_from="2024-04-02T00:00:00", valid_through="2024-05-01T00:00:00"
    )
    start = datetime(2024, 4, 1, 20, tzinfo=UTC)  # 22:00 CEST: 2 h of the named tariff, then the later one
    series = tf.expand(
        tou_tariff(), start, start + timedelta(hours=4), timedelta(hours=1), others=[gas, unusable, later]
    )
    assert series.unit == "EUR/kWh" and list(series.values) == pytest.approx([0.3, 0.3, 0.2, 0.2])
    with pytest.raises(FlexModelError, match="no other time-of-use tariff"):
        tf.expand(tou_tariff(), start, start + timedelta(hours=4), timedelta(hours=1), others=[gas, unusable])
    assert tf.successors(tou_tariff(), [tou_tariff(), later, gas]) == [later]  # itself and other categories left out
