"""The LP commitment that guarantees a schedule when binaries make the MILP slow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from domain.scheduling import TimeSeries, problem_from_flex, solve
from domain.scheduling.greedy import fill

START = datetime(2024, 5, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def test_fill_takes_cheapest_steps_at_top_level_and_covers_the_need():
    price = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    power = fill(np.full(5, 7.0), price, 10.0, (3.5, 7.0), 0.0, no_pauses=False)
    np.testing.assert_allclose(power, [0, 7, 0, 3.5, 0])


def test_fill_with_no_pauses_finds_the_cheapest_block():
    price = np.array([1.0, 9.0, 9.0, 2.0, 2.0, 2.0, 9.0])
    power = fill(np.full(7, 4.0), price, 10.0, (), 1.0, no_pauses=True)
    np.testing.assert_allclose(power, [0, 0, 0, 4, 4, 2, 0])


def test_fill_respects_room_and_minimum_power():
    room = np.array([0.5, 3.0, 3.0, 0.0])
    power = fill(room, np.zeros(4), 4.0, (), 1.5, no_pauses=False)
    assert power[0] == 0 and power[3] == 0
    np.testing.assert_allclose(power, [0, 3, 1.5, 0])  # the last step at the minimum; the LP rebalances later


def _modes_fleet(n: int) -> list[dict]:
    rng = np.random.default_rng(3)
    fleet = []
    for i in range(n):
        arrive, stay = int(rng.integers(24, 40)), int(rng.integers(16, 40))
        fleet.append(
            {
                "sensor": f"ev{i}",
                "soc-at-start": "0 kWh",
                "consumption-capacity": [
                    {"start": (START + arrive * QUARTER).isoformat(), "duration": f"PT{stay * 15}M", "value": "7.4 kW"}
                ],
                "production-capacity": "0 kW",
                "soc-minima": [{"datetime": (START + (arrive + stay) * QUARTER).isoformat(), "value": "12 kWh"}],
                "charging-modes": ["3.7 kW", "7.4 kW"],
                "no-pauses": True,
            }
        )
    return fleet


def test_hard_milp_still_returns_a_valid_schedule_within_a_short_time_limit():
    hour = np.arange(24)
    prices = TimeSeries(START, timedelta(hours=1), 90 + 50 * np.sin(2 * np.pi * (hour - 9) / 24), "EUR/MWh")
    problem = problem_from_flex(
        _modes_fleet(30), {"consumption-price": prices, "site-power-capacity": "90 kW"},
        start=START, end=START + timedelta(days=1), resolution=QUARTER,
    )  # fmt: skip
    result = solve(problem, time_limit_s=1.0)
    assert result.status in ("optimal", "feasible") and result.mip_gap < 0.2
    assert result.site_power_kw.max() <= 90 + 1e-6
    for schedule in result.devices:
        power = schedule.power_kw
        assert np.all(np.min(np.abs(power[:, None] - np.array([0.0, 3.7, 7.4])), axis=1) < 1e-6)
        on = (power > 1e-6).astype(int)
        assert np.sum(np.diff(np.concatenate([[0], on])) == 1) == 1  # one block
    assert not result.unmet
