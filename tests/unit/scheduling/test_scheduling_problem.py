"""Problem building on the UTC grid (DST, resampling, time-bound constraints) and solver edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from domain.scheduling import FlexModelError, Grid, Segment, TimeSeries, problem_from_flex, solve
from domain.scheduling.timeseries import instants_from_segments, resample, steps_from_segments

AMS = ZoneInfo("Europe/Amsterdam")
QUARTER = timedelta(minutes=15)
BATTERY = {"soc-at-start": "50 kWh", "soc-max": "100 kWh", "power-capacity": "20 kW"}


@pytest.mark.parametrize(("day", "hours"), [(datetime(2023, 3, 26), 23), (datetime(2023, 10, 29), 25)])
def test_dst_day_has_23_or_25_hours_of_quarter_hours(day, hours):
    start = day.replace(tzinfo=AMS)
    end = (day + timedelta(days=1)).replace(tzinfo=AMS)
    prices = TimeSeries(start, timedelta(hours=1), np.arange(hours, dtype=float), "EUR/MWh")
    problem = problem_from_flex(BATTERY, {"consumption-price": prices}, start=start, end=end, resolution=QUARTER)
    assert problem.n_steps == hours * 4
    assert problem.start == start.astimezone(UTC)
    np.testing.assert_allclose(problem.consumption_price_eur_per_mwh, np.repeat(np.arange(hours), 4))
    result = solve(problem)
    assert len(result.devices[0].power_kw) == hours * 4
    assert result.devices[0].soc_kwh.shape == (hours * 4 + 1,)


def test_local_soc_target_on_dst_day_lands_on_the_right_step():
    start = datetime(2023, 3, 26, tzinfo=AMS)
    end = datetime(2023, 3, 27, tzinfo=AMS)
    target_at = datetime(2023, 3, 26, 4, 0, tzinfo=AMS)  # 02:00 UTC: 2 hours after 23:00 UTC
    model = {**BATTERY, "soc-targets": [{"datetime": target_at.isoformat(), "value": "80 kWh"}]}
    problem = problem_from_flex(model, {"consumption-price": 30}, start=start, end=end, resolution=QUARTER)
    assert np.flatnonzero(~np.isnan(problem.devices[0].soc_targets_kwh)).tolist() == [12]
    assert solve(problem).devices[0].soc_kwh[12] == pytest.approx(80.0, abs=1e-6)


def test_prices_are_upsampled_and_downsampled():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    grid = Grid(start, QUARTER, 8)
    hourly = TimeSeries(start, timedelta(hours=1), [10.0, 20.0], "EUR/MWh")
    np.testing.assert_allclose(resample(hourly, grid), [10] * 4 + [20] * 4)
    five_min = TimeSeries(start, timedelta(minutes=5), np.arange(24.0), "EUR/MWh")
    np.testing.assert_allclose(resample(five_min, grid), np.arange(24.0).reshape(8, 3).mean(axis=1))
    offset = TimeSeries(start + QUARTER, timedelta(hours=1), [7.0], "EUR/MWh")
    out = resample(offset, grid)
    assert np.isnan(out[0]) and np.all(out[1:5] == 7.0) and np.all(np.isnan(out[5:]))


def test_segments_on_the_grid():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    grid = Grid(start, QUARTER, 8)
    segs = [Segment(start + QUARTER, start + 3 * QUARTER, 5.0), Segment(start, start + 8 * QUARTER, 1.0)]
    np.testing.assert_allclose(steps_from_segments(segs, grid), [1, 5, 5, 1, 1, 1, 1, 1])  # first wins
    instants = instants_from_segments(
        [Segment(start + timedelta(minutes=40), start + timedelta(minutes=40), 3.0)], grid
    )
    assert np.flatnonzero(~np.isnan(instants)).tolist() == [2]  # floored to 00:30


def test_start_below_soc_min_is_reported_not_infeasible():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    model = {"soc-at-start": "0 kWh", "soc-min": "30 kWh", "soc-max": "100 kWh", "power-capacity": "20 kW"}
    problem = problem_from_flex(model, {"consumption-price": 50}, start=start, end=start + timedelta(hours=4),
                                resolution=QUARTER)  # fmt: skip
    result = solve(problem)
    soc = result.devices[0].soc_kwh
    np.testing.assert_allclose(soc[:7], [0, 5, 10, 15, 20, 25, 30], atol=1e-6)  # climbs as fast as it can
    kinds = {(u.kind, u.datetime) for u in result.unmet}
    assert ("soc-min", start) in kinds and all(k == "soc-min" for k, _ in kinds)
    assert not result.soft_fallback


def test_inflexible_load_above_site_capacity_falls_back_to_soft_limits():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    load = TimeSeries(start, timedelta(hours=1), [50.0, 150.0, 50.0, 50.0], "kW")
    problem = problem_from_flex(
        BATTERY,
        {"consumption-price": 50, "site-power-capacity": "100 kW", "inflexible-device-sensors": [1]},
        start=start, end=start + timedelta(hours=4), resolution=QUARTER, resolve_sensor={1: load}.__getitem__,
    )  # fmt: skip
    result = solve(problem)
    assert result.soft_fallback
    site = [u for u in result.unmet if u.kind == "site-consumption-capacity"]
    assert len(site) == 4  # the 4 quarter-hours of the 150 kW hour, minus what the battery covers
    np.testing.assert_allclose(result.devices[0].power_kw[4:8], -20.0, atol=1e-6)
    assert sum(u.unmet_kwh for u in site) == pytest.approx(30.0, abs=1e-6)


def test_lossy_battery_never_charges_and_discharges_at_once():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    prices = TimeSeries(start, timedelta(hours=1), [-50.0] * 8 + [100.0] * 16, "EUR/MWh")
    model = {"soc-at-start": "100 kWh", "soc-max": "100 kWh", "power-capacity": "100 kW", "roundtrip-efficiency": 0.81}
    problem = problem_from_flex(model, {"consumption-price": prices}, start=start, end=start + timedelta(days=1),
                                resolution=timedelta(hours=1))  # fmt: skip
    result = solve(problem)
    power, soc = result.devices[0].power_kw, result.devices[0].soc_kwh
    # burning energy through losses happens across steps (as in FlexMeasures), never within one
    deltas = np.where(power > 0, power * 0.9, power / 0.9)
    np.testing.assert_allclose(np.diff(soc), deltas, atol=1e-6)
    assert result.rounds >= 2 and result.n_binaries > 0


def test_production_price_above_consumption_price_is_no_money_pump():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    model = {"soc-at-start": "0 kWh", "soc-max": "0 kWh", "power-capacity": "10 kW"}
    problem = problem_from_flex(model, {"consumption-price": 10, "production-price": 50}, start=start,
                                end=start + timedelta(hours=2), resolution=QUARTER)  # fmt: skip
    result = solve(problem)
    assert result.status == "optimal"
    assert result.total_cost_eur == pytest.approx(0.0, abs=1e-9)


def test_naive_start_is_rejected():
    with pytest.raises(FlexModelError, match="timezone-aware") as info:
        problem_from_flex(BATTERY, {"consumption-price": 1}, start=datetime(2024, 1, 1),
                          end=datetime(2024, 1, 2, tzinfo=UTC), resolution=QUARTER)  # fmt: skip
    assert (info.value.field, info.value.code) == ("start", "INVALID_DATETIME")


def test_horizon_must_be_a_whole_number_of_steps():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(FlexModelError) as info:
        problem_from_flex(BATTERY, {"consumption-price": 1}, start=start, end=start + timedelta(minutes=50),
                          resolution=QUARTER)  # fmt: skip
    assert info.value.field == "end"


def test_charge_only_device_below_soc_min_climbs_and_reports():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    model = {
        "soc-at-start": "0 kWh",
        "soc-min": "30 kWh",
        "soc-max": "40 kWh",
        "consumption-capacity": "20 kW",
        "production-capacity": "0 kW",
        "soc-maxima": [{"datetime": (start + timedelta(hours=3)).isoformat(), "value": "35 kWh"}],
    }
    prices = TimeSeries(start, timedelta(hours=1), [50.0, 40.0, 30.0, -10.0], "EUR/MWh")
    problem = problem_from_flex(model, {"consumption-price": prices}, start=start, end=start + timedelta(hours=4),
                                resolution=QUARTER)  # fmt: skip
    result = solve(problem)
    soc = result.devices[0].soc_kwh
    np.testing.assert_allclose(soc[:7], [0, 5, 10, 15, 20, 25, 30], atol=1e-6)
    assert soc[12] <= 35 + 1e-6 and soc[-1] == pytest.approx(40.0, abs=1e-6)  # negative price: fill up at the end
    assert np.all(np.diff(soc) >= -1e-9)
    assert [u.kind for u in result.unmet] == ["soc-min"] * 6
