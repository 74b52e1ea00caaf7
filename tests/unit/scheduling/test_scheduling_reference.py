"""Reference cases taken from FlexMeasures' own scheduler tests (facts, re-run on our MILP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from domain.scheduling import TimeSeries, problem_from_flex, soc_path, solve

AMS = ZoneInfo("Europe/Amsterdam")
QUARTER = timedelta(minutes=15)


def _day_2(roundtrip: float, storage: float):
    """FlexMeasures test_battery_solver_day_2: 8 expensive, 8 cheap, 8 expensive hours."""
    start = datetime(2015, 1, 2, tzinfo=AMS)
    prices = TimeSeries(start, timedelta(hours=1), [100.0] * 8 + [90.0] * 8 + [100.0] * 8, "EUR/MWh")
    flex_model = {
        "soc-at-start": 2.5,
        "soc-unit": "MWh",
        "soc-min": 0.5,
        "soc-max": 4.5,
        "power-capacity": "2 MW",
        "roundtrip-efficiency": roundtrip,
        "storage-efficiency": storage,
    }
    flex_context = {"consumption-price": prices, "production-price": prices, "site-power-capacity": "2 MW"}
    problem = problem_from_flex(
        flex_model, flex_context, start=start, end=start + timedelta(days=1), resolution=QUARTER
    )
    result = solve(problem)
    soc_mwh = result.devices[0].soc_kwh / 1000.0
    return result, soc_mwh


def test_day_2_efficient_battery_cycles_fully():
    result, soc = _day_2(0.99, 1.0)
    assert result.status == "optimal"
    assert soc[32] == pytest.approx(0.5, abs=1e-6)  # 08:00: sold what it began with
    assert soc[64] == pytest.approx(4.5, abs=1e-6)  # 16:00: bought what it can
    assert soc[-1] == pytest.approx(0.5, abs=1e-6)  # sold out at the end
    assert np.all(np.abs(result.devices[0].power_kw) <= 2000 + 1e-6)
    assert not result.unmet


def test_day_2_poor_roundtrip_efficiency_stays_idle_until_the_end():
    _, soc = _day_2(0.01, 1.0)
    assert soc[32] == pytest.approx(2.5, abs=1e-6)
    assert soc[64] == pytest.approx(2.5, abs=1e-6)
    assert soc[-1] == pytest.approx(0.5, abs=1e-6)


def test_day_2_poor_storage_efficiency_sells_asap():
    _, soc = _day_2(1.0, 0.5)
    assert soc[32] == pytest.approx(0.5, abs=1e-6)
    assert soc[64] == pytest.approx(0.5, abs=1e-6)
    assert soc[-1] == pytest.approx(0.5, abs=1e-6)


def test_day_2_soc_path_is_consistent_with_power():
    result, _ = _day_2(0.99, 1.0)
    power = result.devices[0].power_kw
    eta = np.sqrt(0.99)
    deltas = np.where(power > 0, power * 0.25 * eta, power * 0.25 / eta)
    np.testing.assert_allclose(soc_path(2500.0, deltas), result.devices[0].soc_kwh, atol=1e-6)


def test_battery_sells_in_last_hour_with_asymmetric_prices():
    """FlexMeasures: consumption 100 + j/23, production 90 + j/23 EUR/MWh; 0.4 MWh sold at 91."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    j = np.arange(24)
    flex_model = {"soc-at-start": 0.4, "soc-min": 0, "soc-max": 1, "power-capacity": "1 MW"}
    flex_context = {
        "consumption-price": TimeSeries(start, timedelta(hours=1), 100 + j / 23, "EUR/MWh"),
        "production-price": TimeSeries(start, timedelta(hours=1), 90 + j / 23, "EUR/MWh"),
    }
    problem = problem_from_flex(
        flex_model, flex_context, start=start, end=start + timedelta(hours=24), resolution=timedelta(hours=1)
    )
    result = solve(problem)
    power = result.devices[0].power_kw
    assert power[-1] == pytest.approx(-400.0, abs=1e-6)
    np.testing.assert_allclose(power[:-1], 0.0, atol=1e-6)
    assert result.total_cost_eur == pytest.approx(-36.4, abs=1e-6)


@pytest.mark.parametrize(
    ("start", "deltas", "expected", "efficiency"),
    [
        (1000, [100, -100, -100, 100], [1000, 1089, 979.11, 870.3189, 960.615711], 0.99),
        (2.5, [-0.5, -0.5, -0.5, -0.5], [2.5, 1.8, 1.17, 0.603, 0.0927], 0.9),
    ],
)
def test_storage_losses_soc_path(start, deltas, expected, efficiency):
    """FlexMeasures test_storage_loss_function: change first, then losses (how="left")."""
    np.testing.assert_allclose(soc_path(start, deltas, efficiency, how="left"), expected, rtol=0, atol=1e-9)


def test_soc_path_right_and_linear_timing():
    assert soc_path(100, [10], 0.9).tolist() == pytest.approx([100, 100])  # 100*0.9 + 10
    linear = soc_path(100, [10], 0.9, how="linear")[1]
    assert 90 + 9 < linear < 90 + 10  # the change decays for part of the step only
    np.testing.assert_allclose(soc_path(5, [1, -2], 1.0, how="left"), [5, 6, 4])
