"""The MyEMS dashboard's energy and cost rules (domain/myems_dashboard.py): no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain import myems_dashboard as md
from domain.tariffs import TariffDefinition, TimeOfUse

DAY_S = int(datetime(2015, 6, 2, tzinfo=UTC).timestamp())
TARIFF = TariffDefinition(
    name="t", tariff_type="timeofuse", unit_of_price="EUR/MWh", valid_from=datetime(2015, 6, 1),
    valid_through=datetime(2015, 6, 3),
    timeofuse=[TimeOfUse(start_time_of_day="00:00:00", end_time_of_day="11:59:59", peak_type="offpeak", price=30),
               TimeOfUse(start_time_of_day="12:00:00", end_time_of_day="23:59:59", peak_type="onpeak", price=80)])


def test_consumption_is_input_and_production_output():
    assert md.split_flows([(0, 2.0), (3600, -1.5), (7200, 0.0)]) == ([(0, 2.0)], [(3600, 1.5)])


def test_cost_at_the_first_tariff_valid_and_nothing_where_none_is():
    readings = [(DAY_S + 3600, 2.0), (DAY_S + 13 * 3600, 1.0), (DAY_S + 86_400, 5.0)]  # the last: after validity
    assert md.cost_of(readings, [TARIFF]) == [(DAY_S + 3600, pytest.approx(0.06)),
                                               (DAY_S + 13 * 3600, pytest.approx(0.08))]
    assert md.cost_of(readings, []) == []
    assert md.currency_of([TARIFF]) == "EUR" and md.currency_of([]) is None


def test_increment_rate_needs_a_positive_base():
    assert md.increment_rate(30.0, 20.0) == pytest.approx(0.5)
    assert md.increment_rate(30.0, 0.0) is None
