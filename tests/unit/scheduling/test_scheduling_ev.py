"""EV charging: modes, minimum power, no pauses, shared site capacity, unreachable targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from domain.scheduling import TimeSeries, problem_from_flex, solve

START = datetime(2024, 5, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
N = 96


def at(step: int) -> str:
    return (START + QUARTER * step).isoformat()


def ev(sensor: str, arrive: int, depart: int, target_kwh: float, power: str = "7 kW", **extra) -> dict:
    """An EV present from step ``arrive`` to ``depart`` (exclusive), needing ``target_kwh`` by then."""
    return {
        "sensor": sensor,
        "soc-at-start": 0,
        "soc-unit": "kWh",
        "consumption-capacity": [{"start": at(arrive), "end": at(depart), "value": power}],
        "production-capacity": "0 kW",
        "soc-targets": [{"datetime": at(depart), "value": target_kwh}],
        **extra,
    }


def wave_prices() -> TimeSeries:
    """Hourly prices with two cheap valleys (02-05h and 14-17h) and an expensive noon."""
    hour = np.arange(24)
    prices = 100 + 40 * np.cos(2 * np.pi * (hour - 3.5) / 12) * -1
    return TimeSeries(START, timedelta(hours=1), prices, "EUR/MWh")


def run(flex_model, prices=None, **context):
    flex_context = {"consumption-price": prices if prices is not None else wave_prices(), **context}
    problem = problem_from_flex(flex_model, flex_context, start=START, end=START + QUARTER * N, resolution=QUARTER)
    return solve(problem)


def blocks(power: np.ndarray) -> int:
    on = (power > 1e-6).astype(int)
    return int(np.sum(np.diff(np.concatenate([[0], on])) == 1))


def test_charging_modes_only_take_allowed_levels():
    result = run([ev("a", 0, 96, 4.4, **{"charging-modes": ["0 kW", "1.76 kW", "3.52 kW"]})])
    power = result.devices[0].power_kw
    allowed = np.array([0.0, 1.76, 3.52])
    assert np.all(np.min(np.abs(power[:, None] - allowed[None, :]), axis=1) < 1e-6)
    assert result.devices[0].soc_kwh[-1] == pytest.approx(4.4, abs=1e-6)
    assert not result.unmet
    assert result.method.startswith("relaxation+") and result.status == "optimal"


def test_min_charging_power_is_respected():
    result = run([ev("a", 8, 80, 10.0, power="11 kW", **{"min-charging-power": "4 kW"})])
    power = result.devices[0].power_kw
    charging = power[power > 1e-6]
    assert charging.size and np.all(charging >= 4 - 1e-6)
    assert result.devices[0].soc_kwh[80] == pytest.approx(10.0, abs=1e-6)


def test_no_pauses_charges_in_one_block():
    target = 20.0  # needs about 3 hours at 7 kW: more than one valley's cheapest stretch
    free = run([ev("a", 0, 96, target, **{"prefer-charging-sooner": False})])
    assert blocks(free.devices[0].power_kw) > 1  # the test is meaningful: without the flag it pauses
    result = run([ev("a", 0, 96, target, **{"no-pauses": True})])
    power = result.devices[0].power_kw
    assert blocks(power) == 1
    assert result.devices[0].soc_kwh[-1] == pytest.approx(target, abs=1e-6)
    assert result.total_cost_eur >= free.total_cost_eur - 1e-9


def test_site_capacity_couples_several_evs():
    evs = [ev(f"ev{i}", 0, 64, 20.0, power="11 kW") for i in range(3)]
    uncoupled = run(evs)
    assert uncoupled.site_power_kw.max() > 15  # all would charge together in the valley
    result = run(evs, **{"site-power-capacity": "15 kW"})
    assert result.site_power_kw.max() <= 15 + 1e-6
    for schedule in result.devices:
        assert schedule.soc_kwh[64] == pytest.approx(20.0, abs=1e-6)
        assert np.all(schedule.power_kw[64:] == 0)
    assert result.total_cost_eur > uncoupled.total_cost_eur - 1e-9
    assert not result.unmet


def test_unreachable_target_gives_best_effort_and_reports_the_gap():
    result = run([ev("a", 40, 48, 30.0)])  # 2 hours at 7 kW = 14 kWh at most
    schedule = result.devices[0]
    assert result.status == "optimal"
    np.testing.assert_allclose(schedule.power_kw[40:48], 7.0, atol=1e-6)
    assert schedule.soc_kwh[48] == pytest.approx(14.0, abs=1e-6)
    [unmet] = result.unmet
    assert (unmet.device_id, unmet.kind) == ("a", "soc-target")
    assert unmet.datetime == START + QUARTER * 48
    assert unmet.unmet_kwh == pytest.approx(16.0, abs=1e-6)
    assert unmet.required_kwh == pytest.approx(30.0)


def test_jointly_unreachable_targets_are_shared_and_reported():
    evs = [ev(f"ev{i}", 0, 8, 10.0) for i in range(2)]  # 2 h, 7 kW each, but the site allows 5 kW
    result = run(evs, **{"site-power-capacity": "5 kW"})
    delivered = sum(s.soc_kwh[8] for s in result.devices)
    assert delivered == pytest.approx(10.0, abs=1e-6)
    assert sum(u.unmet_kwh for u in result.unmet) == pytest.approx(10.0, abs=1e-6)


def test_prefer_charging_sooner_on_flat_prices():
    flat = TimeSeries(START, timedelta(hours=24), [50.0], "EUR/MWh")
    result = run([ev("a", 0, 96, 7.0)], prices=flat)
    np.testing.assert_allclose(result.devices[0].power_kw[:4], 7.0, atol=1e-6)
    np.testing.assert_allclose(result.devices[0].power_kw[4:], 0.0, atol=1e-6)


def test_soc_minima_and_maxima():
    model = ev("a", 0, 96, 10.0)
    model["soc-minima"] = [{"datetime": at(20), "value": 5.0}]
    model["soc-maxima"] = [{"start": at(40), "end": at(60), "value": 6.0}]
    result = run([model])
    soc = result.devices[0].soc_kwh
    assert soc[20] >= 5.0 - 1e-6
    assert np.all(soc[40:61] <= 6.0 + 1e-6)
    assert soc[96] == pytest.approx(10.0, abs=1e-6)


def test_modes_with_no_pauses_give_one_block_of_allowed_levels():
    model = ev("a", 0, 96, 8.8, **{"charging-modes": ["1.76 kW", "3.52 kW"], "no-pauses": True})
    result = run([model])
    power = result.devices[0].power_kw
    assert blocks(power) == 1
    assert np.all(np.min(np.abs(power[:, None] - np.array([0.0, 1.76, 3.52])), axis=1) < 1e-6)
    assert result.devices[0].soc_kwh[-1] == pytest.approx(8.8, abs=1e-6)


def test_min_power_schedules_are_proven_within_the_gap():
    evs = [ev(f"ev{i}", 4 * i, 60 + i, 12.3 + i, **{"min-charging-power": "3 kW"}) for i in range(8)]
    result = run(evs, **{"site-power-capacity": "20 kW"})
    assert result.status == "optimal" and result.mip_gap <= 1e-4
    power = np.array([s.power_kw for s in result.devices])
    assert np.all((power < 1e-6) | (power >= 3 - 1e-6))
    assert result.site_power_kw.max() <= 20 + 1e-6
    assert not result.unmet


def test_min_power_can_make_a_small_target_unreachable():
    result = run([ev("a", 0, 96, 0.1, **{"min-charging-power": "4 kW"})])  # 1 kWh per step at least
    np.testing.assert_allclose(result.devices[0].power_kw, 0.0, atol=1e-6)  # 0.1 short beats 0.9 over
    [unmet] = result.unmet
    assert unmet.kind == "soc-target" and unmet.unmet_kwh == pytest.approx(0.1, abs=1e-6)
    assert result.status == "optimal"


def test_bidirectional_ev_with_min_power_never_charges_and_discharges_at_once():
    model = {
        "sensor": "v2g",
        "soc-at-start": "30 kWh",
        "soc-max": "60 kWh",
        "soc-unit": "kWh",
        "power-capacity": "11 kW",
        "roundtrip-efficiency": 0.9,
        "min-charging-power": "5 kW",
        "soc-targets": [{"datetime": at(96), "value": 40}],
    }
    result = run([model])
    power, soc = result.devices[0].power_kw, result.devices[0].soc_kwh
    assert np.all((power <= 1e-6) | (power >= 5 - 1e-6))
    assert power.min() < -1  # it does discharge when prices are high
    eta = np.sqrt(0.9)
    np.testing.assert_allclose(np.diff(soc), np.where(power > 0, power * 0.25 * eta, power * 0.25 / eta), atol=1e-6)
    assert soc[-1] == pytest.approx(40.0, abs=1e-6)
