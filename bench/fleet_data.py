"""EV fleets from real data, shared by the fleet benchmark (``bench/fleet_schedule.py``) and the
fleet-solver tests (``tests/unit/scheduling/test_scheduling_fleet.py``).

Fleet: ``n`` real sessions drawn (seeded) from the Caltech and JPL ACN data (May-Dec 2019), put
on one day by their local arrival time (15-minute steps, 96 steps; departures after midnight cut
at the end of the day); 6.6 kW EVSEs; requested energy capped at what the EVSE delivers alone in
the stay (so every target is reachable on its own); minimum charging power 4.14 kW for every
third EV, 1.38 kW for the others; ``no-pauses``. Prices: NL day-ahead of 2022-11-15 (hourly).
Site limit: 60 % of the uncontrolled peak (every EV at full power from arrival), so it binds.
Needs ../shared/data (``infra.shared_data.shared_data_dir``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from domain.scheduling import SchedulingProblem, TimeSeries, problem_from_flex
from infra.shared_data import ACN_RATED_POWER_KW, acn_site_sessions, load_nl_day_ahead_prices

LA = ZoneInfo("America/Los_Angeles")
AMS = ZoneInfo("Europe/Amsterdam")
DAY = datetime(2019, 10, 29, tzinfo=LA)
STEP = timedelta(minutes=15)
N = 96
PRICE_DAY = (2022, 11, 15)
SITE_SHARE = 0.6


def day_ahead_prices(data_dir: Path) -> TimeSeries:
    """NL day-ahead prices of ``PRICE_DAY`` (EUR/MWh, hourly), put on ``DAY``."""
    starts, prices = load_nl_day_ahead_prices(data_dir)
    hourly: dict[int, float] = {}
    for start, price in zip(starts, prices, strict=True):
        local = start.astimezone(AMS)
        if (local.year, local.month, local.day) == PRICE_DAY:
            hourly.setdefault(local.hour, float(price))
    return TimeSeries(DAY, timedelta(hours=1), [hourly[h] for h in range(24)], "EUR/MWh")


def acn_sessions(data_dir: Path) -> list[tuple[int, int, float]]:
    """Every usable session as (first step, end step (exclusive), energy kWh) on the day's grid."""
    out = []
    for site in ("caltech", "jpl"):
        for s in acn_site_sessions(data_dir, site):
            arrival = s.arrival.astimezone(LA)
            first = int(np.ceil((arrival.hour * 60 + arrival.minute + arrival.second / 60) / 15))
            end = min(first + int((s.departure - s.arrival) / STEP), N)
            energy = min(s.requested_energy_kwh, ACN_RATED_POWER_KW * (end - first) * 0.25)
            if end - first >= 2 and energy > 0.1:
                out.append((first, end, round(energy, 2)))
    return out


def fleet_models(sessions: list[tuple[int, int, float]], n_ev: int, seed: int = 3) -> tuple[list[dict], float]:
    """(flex-models of ``n_ev`` sessions drawn with ``seed``, their uncontrolled peak kW)."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(sessions), size=n_ev, replace=len(sessions) < n_ev)
    models, load = [], np.zeros(N)
    for i, j in enumerate(picked):
        first, end, energy = sessions[j]
        models.append({
            "sensor": f"ev{i}", "soc-at-start": "0 kWh", "production-capacity": "0 kW",
            "consumption-capacity": [{"start": (DAY + first * STEP).isoformat(), "end": (DAY + end * STEP).isoformat(),
                                      "value": f"{ACN_RATED_POWER_KW} kW"}],
            "soc-targets": [{"datetime": (DAY + end * STEP).isoformat(), "value": f"{energy} kWh"}],
            "min-charging-power": "4.14 kW" if i % 3 == 0 else "1.38 kW", "no-pauses": True,
        })  # fmt: skip
        load[first : first + int(np.ceil(energy / (ACN_RATED_POWER_KW * 0.25)))] += ACN_RATED_POWER_KW
    return models, float(load.max())


def acn_fleet_problem(data_dir: Path, n_ev: int, seed: int = 3) -> tuple[SchedulingProblem, float]:
    """(the fleet's scheduling problem, its uncontrolled peak kW)."""
    models, peak = fleet_models(acn_sessions(data_dir), n_ev, seed)
    context = {"consumption-price": day_ahead_prices(data_dir), "site-power-capacity": f"{SITE_SHARE * peak:.1f} kW"}
    return problem_from_flex(models, context, start=DAY, end=DAY + N * STEP, resolution=STEP), peak
