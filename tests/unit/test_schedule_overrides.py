"""Operator overrides (issue 14): parsing MyEMS' rows, windows in local time and past midnight, the
power shared by an owner's batteries and clipped to them, and the problem's bounds narrowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from domain import schedule_overrides as so
from domain.scheduling import problem_from_flex, solve

START = datetime(2015, 6, 10, tzinfo=UTC)
STEP = timedelta(hours=1)


def _row(start: str, end: str, power: float, override_id: int = 1, **extra) -> so.ScheduleOverride:
    return so.parse_override({"start_time_of_day": start, "end_time_of_day": end, "peak_type": "offpeak",
                              "power": power, **extra}, override_id)


def _problem(capacities_kw=(30.0, 10.0), prices=None):
    models = [{"sensor": i + 1, "soc-at-start": "50 kWh", "soc-max": "100 kWh", "power-capacity": f"{kw} kW"}
              for i, kw in enumerate(capacities_kw)]
    prices = prices or [{"start": START.isoformat(), "duration": "PT24H", "value": "50 EUR/MWh"}]
    return problem_from_flex(models, {"consumption-price": prices}, start=START, end=START + 24 * STEP,
                             resolution=STEP)


def test_parse_commands_and_signs():
    assert _row("7:00:00", "09:00:00", 20, command="discharge").power == -20
    assert _row("07:00:00", "09:00:00", 0, command="idle").start_time_of_day == "07:00:00"
    for data, code in (({"power": 5, "command": "charge", "peak_type": "x"}, "API.INVALID_PEAK_TYPE"),
                       ({"power": -5, "command": "charge"}, "API.INVALID_POWER"),
                       ({"power": float("nan")}, "API.INVALID_POWER"),
                       ({"end_time_of_day": "02:00:00"}, "API.INVALID_END_TIME_OF_DAY")):
        body = {"start_time_of_day": "02:00:00", "end_time_of_day": "04:00:00", "peak_type": "offpeak", "power": 1,
                **data}
        with pytest.raises(so.OverrideError) as caught:
            so.parse_override(body, 1)
        assert caught.value.code == code


def test_windows_wrap_midnight_and_overlaps_are_refused():
    night = _row("22:00:00", "02:00:00", 5)
    seconds = so.local_seconds(START, STEP, 24, "UTC")
    assert list(np.flatnonzero(night.covers(seconds))) == [0, 1, 22, 23]
    amsterdam = so.local_seconds(START, STEP, 24, "Europe/Amsterdam")  # UTC+2 in June
    assert list(np.flatnonzero(_row("02:00:00", "04:00:00", 5).covers(amsterdam))) == [0, 1]
    with pytest.raises(so.OverrideError):
        so.check_no_overlap(_row("01:00:00", "03:00:00", 1, override_id=2), [night])
    so.check_no_overlap(_row("02:00:00", "03:00:00", 1, override_id=2), [night])


def test_power_is_shared_by_capacity_and_clipped():
    problem = _problem()
    seconds = {d.device_id: so.local_seconds(START, STEP, 24, "UTC") for d in problem.devices}
    fixed = so.fixed_power_kw([_row("02:00:00", "04:00:00", 20), _row("05:00:00", "06:00:00", -60, 2)],
                              seconds, problem)
    assert fixed["1"][2] == pytest.approx(15) and fixed["2"][2] == pytest.approx(5)  # 30:10
    assert fixed["1"][5] == pytest.approx(-30) and fixed["2"][5] == pytest.approx(-10)  # more than they can
    assert np.isnan(fixed["1"][0]) and np.isnan(fixed["2"][10])


def test_constrained_problem_is_solved_at_the_override():
    prices = [{"start": (START + i * STEP).isoformat(), "duration": "PT1H",
               "value": f"{200 if 2 <= i < 4 else 50} EUR/MWh"} for i in range(24)]
    problem = _problem((20.0,), prices)
    free = solve(problem).devices[0].power_kw
    assert free[2] == pytest.approx(-20) and free[3] == pytest.approx(-20)
    seconds = {"1": so.local_seconds(START, STEP, 24, "UTC")}
    held = so.constrain(problem, so.fixed_power_kw([_row("02:00:00", "04:00:00", 20)], seconds, problem))
    planned = solve(held).devices[0].power_kw
    assert planned[2] == pytest.approx(20) and planned[3] == pytest.approx(20)
    assert so.constrain(problem, {}) is problem


def test_an_override_beyond_the_state_of_charge_is_kept_and_the_limit_reported_unmet():
    model = {"sensor": 1, "soc-at-start": "100 kWh", "soc-max": "100 kWh", "power-capacity": "20 kW"}
    full = problem_from_flex([model], {"consumption-price": "50 EUR/MWh"}, start=START, end=START + 24 * STEP,
                             resolution=STEP)
    seconds = {"1": so.local_seconds(START, STEP, 24, "UTC")}
    held = so.constrain(full, so.fixed_power_kw([_row("00:00:00", "02:00:00", 20)], seconds, full))
    result = solve(held)
    assert list(result.devices[0].power_kw[:2]) == pytest.approx([20, 20]) and result.unmet
