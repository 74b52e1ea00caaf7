"""Real data: one day of Caltech ACN charging sessions, scheduled against real day-ahead prices.

Sessions: Caltech, Tuesday 2019-10-29 (the busiest day in the set), local day in
America/Los_Angeles, 15-minute steps, each EVSE at the ACN rated 6.6 kW.

Prices: the shared data has Dutch day-ahead prices for 2021-10 .. 2023-01 only, so 2019 has
none. The prices used are a proxy from another market and year, mapped by calendar day and
hour of day: the session day 2019-MM-DD hour h (Los Angeles clock) gets the NL price of
2022-MM-DD hour h (Amsterdam clock). That keeps a realistic daily price shape.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from domain.scheduling import TimeSeries, energy_cost_eur, problem_from_flex, solve
from infra.shared_data import ACN_RATED_POWER_KW, acn_site_sessions, load_nl_day_ahead_prices, shared_data_dir

LA = ZoneInfo("America/Los_Angeles")
AMS = ZoneInfo("Europe/Amsterdam")
DAY = datetime(2019, 10, 29, tzinfo=LA)
STEP = timedelta(minutes=15)
N = 96
SITE_LIMIT_KW = 80.0


def _step_at_or_after(moment: datetime) -> int:
    return min(max(int(np.ceil((moment - DAY) / STEP)), 0), N)


def _step_at_or_before(moment: datetime) -> int:
    return min(max(int((moment - DAY) // STEP), 0), N)


def _proxy_prices(data_dir) -> TimeSeries:
    starts, prices = load_nl_day_ahead_prices(data_dir)
    by_local_hour = {}
    for start, price in zip(starts, prices, strict=True):
        local = start.astimezone(AMS)
        by_local_hour.setdefault((local.month, local.day, local.hour), price)
    hourly = [by_local_hour[(DAY.month, DAY.day, hour)] for hour in range(24)]
    return TimeSeries(DAY, timedelta(hours=1), hourly, "EUR/MWh")


def _sessions(data_dir) -> list[tuple[str, int, int, float]]:
    """(session id, first step, end step, energy kWh capped by what the EVSE can deliver)."""
    out = []
    for s in acn_site_sessions(data_dir, "caltech"):
        if s.arrival.astimezone(LA).date() != DAY.date():
            continue
        first, end = _step_at_or_after(s.arrival), _step_at_or_before(s.departure)
        feasible = ACN_RATED_POWER_KW * (end - first) * STEP.total_seconds() / 3600
        if end > first:
            out.append((s.session_id, first, end, min(s.requested_energy_kwh, feasible)))
    return out


def _flex_model(session_id: str, first: int, end: int, energy: float) -> dict:
    return {
        "sensor": session_id,
        "soc-at-start": "0 kWh",
        "consumption-capacity": [
            {"start": (DAY + first * STEP).isoformat(), "end": (DAY + end * STEP).isoformat(), "value": "6.6 kW"}
        ],
        "production-capacity": "0 kW",
        "soc-targets": [{"datetime": (DAY + end * STEP).isoformat(), "value": f"{energy} kWh"}],
    }


def _uncontrolled_kw(sessions) -> np.ndarray:
    """Full power from arrival until the (capped) energy is in: kW per session and step."""
    power = np.zeros((len(sessions), N))
    for i, (_, first, _, energy) in enumerate(sessions):
        per_step = ACN_RATED_POWER_KW * STEP.total_seconds() / 3600
        full, rest = divmod(energy, per_step)
        power[i, first : first + int(full)] = ACN_RATED_POWER_KW
        if rest > 1e-9:
            power[i, first + int(full)] = rest / per_step * ACN_RATED_POWER_KW
    return power


@pytest.mark.shared_data
def test_caltech_day_respects_sessions_and_site_limit_and_saves_money():
    data_dir = shared_data_dir()
    if data_dir is None:
        pytest.skip("../shared/data absent: set FLEXLEDGER_SHARED_DATA to the shared data folder")
    sessions = _sessions(data_dir)
    assert len(sessions) > 30
    problem = problem_from_flex(
        [_flex_model(*s) for s in sessions],
        {"consumption-price": _proxy_prices(data_dir), "site-power-capacity": f"{SITE_LIMIT_KW} kW"},
        start=DAY, end=DAY + N * STEP, resolution=STEP,
    )  # fmt: skip
    result = solve(problem)

    assert result.status == "optimal" and not result.unmet
    assert result.site_power_kw.max() <= SITE_LIMIT_KW + 1e-6
    for (session_id, first, end, energy), schedule in zip(sessions, result.devices, strict=True):
        assert schedule.device_id == session_id
        assert np.all(np.abs(schedule.power_kw[:first]) < 1e-9) and np.all(np.abs(schedule.power_kw[end:]) < 1e-9)
        assert schedule.power_kw.max() <= ACN_RATED_POWER_KW + 1e-6 and schedule.power_kw.min() >= -1e-9
        assert schedule.soc_kwh[end] == pytest.approx(energy, abs=1e-5)

    uncontrolled = _uncontrolled_kw(sessions).sum(axis=0)
    baseline = energy_cost_eur(problem, uncontrolled)
    saving = baseline - result.total_cost_eur
    print(
        f"\nCaltech {DAY.date()}: {len(sessions)} sessions, {sum(s[3] for s in sessions):.1f} kWh, "
        f"site limit {SITE_LIMIT_KW:.0f} kW (uncontrolled peak {uncontrolled.max():.1f} kW); "
        f"cost {result.total_cost_eur:.2f} EUR vs uncontrolled {baseline:.2f} EUR: "
        f"saving {saving:.2f} EUR ({saving / baseline:.1%}); "
        f"build {result.build_time_s * 1e3:.1f} ms, solve {result.solve_time_s * 1e3:.1f} ms"
    )
    assert result.total_cost_eur < baseline
