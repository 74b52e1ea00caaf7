"""Device semantics: one-way EVSEs, what no-pauses means on its own, start-at-arrival, honest gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from domain.scheduling import TimeSeries, build_problem, parse_flex_context, parse_flex_model, solve
from domain.scheduling.problem import default_min_charging_power_kw

START = datetime(2024, 5, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
N = 16
PRICES = TimeSeries(START, QUARTER, np.array([50, 40, 300, 320, 310, 30, 20, 25, 280, 290, 35, 30, 60, 70, 80, 90.0]),
                    "EUR/MWh")  # fmt: skip


def at(step: int) -> str:
    return (START + QUARTER * step).isoformat()


def schedule(flex_model, asset_types=None, **context):
    devices = parse_flex_model(flex_model, asset_types=asset_types)
    ctx = parse_flex_context({"consumption-price": PRICES, **context})
    return solve(build_problem(devices, ctx, start=START, end=START + QUARTER * N, resolution=QUARTER))


def evse(**extra) -> dict:
    return {"sensor": 7, "soc-at-start": "30 kWh", "soc-max": "60 kWh", "power-capacity": "7 kW",
            "soc-targets": [{"datetime": at(N), "value": "20 kWh"}], **extra}  # fmt: skip


def test_a_one_way_evse_never_discharges_unless_its_flex_model_allows_it():
    # The target is below the start SoC and prices peak: discharging would pay, if it were allowed.
    one_way = schedule([evse()], asset_types={7: "one-way_evse"})
    assert one_way.devices[0].power_kw.min() >= 0.0
    assert [u.kind for u in one_way.unmet] == ["soc-target"]  # 30 kWh cannot come down to 20 kWh
    explicit = schedule([evse(**{"production-capacity": "7 kW"})], asset_types={7: "one-way_evse"})
    assert explicit.devices[0].power_kw.min() < -1.0  # the flex-model explicitly allows discharging
    two_way = schedule([evse()], asset_types={7: "two-way_evse"})
    assert two_way.devices[0].power_kw.min() < -1.0


def ev(target_kwh: float, power: str = "7 kW", arrive: int = 0, depart: int = N, **extra) -> dict:
    return {"sensor": "ev", "soc-at-start": "0 kWh", "production-capacity": "0 kW",
            "consumption-capacity": [{"start": at(arrive), "end": at(depart), "value": power}],
            "soc-targets": [{"datetime": at(depart), "value": f"{target_kwh} kWh"}], "no-pauses": True,
            **extra}  # fmt: skip


@pytest.mark.parametrize("power, minimum", [("7 kW", 1.38), ("11 kW", 4.14), ("1 kW", 1.0)])
def test_no_pauses_alone_never_trickles_below_the_default_minimum(power, minimum):
    assert default_min_charging_power_kw(float(power.split()[0])) == pytest.approx(minimum)
    target = 6.0 if power != "1 kW" else 3.1
    result = schedule([ev(target, power)])
    charging = result.devices[0].power_kw
    on = np.flatnonzero(charging > 1e-9)
    assert np.all(np.diff(on) == 1)  # one block
    assert np.all(charging[on[:-1]] >= minimum - 1e-6)  # only the last step may deliver less
    assert not result.unmet


def test_a_small_remaining_need_is_met_despite_the_minimum_power():
    result = schedule([ev(0.3, **{"min-charging-power": "1.38 kW"})])
    assert not result.unmet
    assert result.devices[0].soc_kwh[-1] == pytest.approx(0.3, abs=1e-6)
    assert result.devices[0].power_kw.max() == pytest.approx(1.2)  # one step, under the minimum


def test_start_at_arrival_starts_charging_when_plugged_in():
    plain = schedule([ev(5.0, arrive=2, depart=12, **{"min-charging-power": "1.38 kW"})])
    assert plain.devices[0].power_kw[2] == 0.0  # steps 2-4 are expensive: it waits
    eager = schedule([ev(5.0, arrive=2, depart=12, **{"min-charging-power": "1.38 kW", "start-at-arrival": True})])
    power = eager.devices[0].power_kw
    on = np.flatnonzero(power > 1e-9)
    assert on[0] == 2 and np.all(np.diff(on) == 1)
    assert not eager.unmet


def test_the_per_step_model_reports_the_gap_it_proved():
    battery = {"sensor": "battery", "soc-at-start": "20 kWh", "soc-max": "40 kWh", "power-capacity": "10 kW",
               "roundtrip-efficiency": "90%"}  # fmt: skip
    result = schedule([battery, ev(5.0, **{"min-charging-power": "2 kW"})], **{"site-power-capacity": "12 kW"})
    assert not result.method.startswith("fleet")  # a battery: the per-step model
    assert result.bound_eur <= result.objective_eur + 1e-9
    assert result.mip_gap == pytest.approx((result.objective_eur - result.bound_eur) / abs(result.objective_eur),
                                           abs=1e-9)  # fmt: skip
    assert (result.status == "optimal") == (result.mip_gap <= 1e-4 + 1e-9)


def test_the_per_step_model_also_lets_the_last_step_deliver_less_than_the_minimum():
    battery = {"sensor": "battery", "soc-at-start": "20 kWh", "soc-max": "40 kWh", "power-capacity": "10 kW",
               "roundtrip-efficiency": "90%"}  # fmt: skip
    result = schedule([battery, ev(0.3, **{"min-charging-power": "1.38 kW"})], **{"site-power-capacity": "12 kW"})
    assert not result.method.startswith("fleet")
    charging = result.device("ev")
    assert not [u for u in result.unmet if u.device_id == "ev"]
    assert charging.soc_kwh[-1] == pytest.approx(0.3, abs=1e-4)
    on = np.flatnonzero(charging.power_kw > 1e-6)
    assert np.all(np.diff(on) == 1) and np.all(charging.power_kw[on[:-1]] >= 1.38 - 1e-6)
