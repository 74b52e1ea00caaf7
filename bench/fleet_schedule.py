"""Benchmark EV fleets with a minimum charging power and no pauses, sharing a binding site limit.

Run: ``PYTHONPATH=. .venv/bin/python bench/fleet_schedule.py [--sizes 20 200 1000] [--runs 5]
[--compare-per-step] [--time-limit 10]``. Needs ../shared/data (ACN sessions, NL prices).

Fleet: ``n`` real sessions drawn (seeded) from the Caltech and JPL ACN data, May-Dec 2019, put
on one day by their local arrival time (15-minute steps, 96 steps, departures after midnight
cut at the end of the day); 6.6 kW EVSEs; requested energy capped at what the EVSE can deliver
alone in the stay (so every target is reachable on its own); minimum charging power 4.14 kW for
every third EV, 1.38 kW for the others; ``no-pauses``. Prices: NL day-ahead of 2022-11-15
(hourly). Site limit: 60 % of the uncontrolled peak (binding).

Prints, per fleet size, medians over ``--runs`` (and the slowest run): wall time of ``solve()``,
proven gap (objective vs proven bound), cost (EUR, energy only), objective and proven bound (EUR,
model objective: energy, tie-break, 100 EUR/kWh per kWh short), targets met, unmet kWh, site
limit breaches; status and method of the last run. ``--compare-per-step`` also solves the
per-step on/off MILP once (same time limit) and prints its figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.scheduling import TimeSeries, problem_from_flex, solve  # noqa: E402
from infra.shared_data import (  # noqa: E402
    ACN_RATED_POWER_KW,
    acn_site_sessions,
    load_nl_day_ahead_prices,
    shared_data_dir,
)

LA = ZoneInfo("America/Los_Angeles")
AMS = ZoneInfo("Europe/Amsterdam")
DAY = datetime(2019, 10, 29, tzinfo=LA)
STEP = timedelta(minutes=15)
N = 96
PRICE_DAY = (2022, 11, 15)
SITE_SHARE = 0.6


def _prices(data_dir: Path) -> TimeSeries:
    starts, prices = load_nl_day_ahead_prices(data_dir)
    hourly = {}
    for start, price in zip(starts, prices, strict=True):
        local = start.astimezone(AMS)
        if (local.year, local.month, local.day) == PRICE_DAY:
            hourly.setdefault(local.hour, float(price))
    return TimeSeries(DAY, timedelta(hours=1), [hourly[h] for h in range(24)], "EUR/MWh")


def _sessions(data_dir: Path) -> list[tuple[int, int, float]]:
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


def fleet_models(sessions, n_ev: int, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(sessions), size=n_ev, replace=len(sessions) < n_ev)
    models = []
    for i, j in enumerate(picked):
        first, end, energy = sessions[j]
        models.append({
            "sensor": f"ev{i}", "soc-at-start": "0 kWh", "production-capacity": "0 kW",
            "consumption-capacity": [{"start": (DAY + first * STEP).isoformat(), "end": (DAY + end * STEP).isoformat(),
                                      "value": f"{ACN_RATED_POWER_KW} kW"}],
            "soc-targets": [{"datetime": (DAY + end * STEP).isoformat(), "value": f"{energy} kWh"}],
            "min-charging-power": "4.14 kW" if i % 3 == 0 else "1.38 kW", "no-pauses": True,
        })  # fmt: skip
    return models


def uncontrolled_peak_kw(models: list[dict]) -> float:
    load = np.zeros(N)
    for m in models:
        first = int((datetime.fromisoformat(m["consumption-capacity"][0]["start"]) - DAY) / STEP)
        energy = float(m["soc-targets"][0]["value"].split()[0])
        steps = int(np.ceil(energy / (ACN_RATED_POWER_KW * 0.25)))
        load[first : first + steps] += ACN_RATED_POWER_KW
    return float(load.max())


def fleet_problem(data_dir: Path, n_ev: int, seed: int = 3):
    models = fleet_models(_sessions(data_dir), n_ev, seed)
    limit = SITE_SHARE * uncontrolled_peak_kw(models)
    context = {"consumption-price": _prices(data_dir), "site-power-capacity": f"{limit:.1f} kW"}
    return problem_from_flex(models, context, start=DAY, end=DAY + N * STEP, resolution=STEP)


def figures(problem, time_limit_s: float, formulation: str) -> dict[str, float]:
    t0 = time.perf_counter()
    result = solve(problem, time_limit_s=time_limit_s, formulation=formulation)
    wall = time.perf_counter() - t0
    targets = [u for u in result.unmet if u.kind == "soc-target"]
    return {
        "time_s": wall, "gap": result.mip_gap, "cost_eur": result.total_cost_eur, "objective_eur": result.objective_eur,
        "bound_eur": result.bound_eur, "met": len(problem.devices) - len({u.device_id for u in targets}),
        "unmet_kwh": sum(u.unmet_kwh for u in targets), "site_unmet": sum(u.device_id is None for u in result.unmet),
        "method": result.method, "status": result.status,
    }  # fmt: skip


def _row(name: str, n_ev: int, runs: list[dict]) -> str:
    keys = ("time_s", "gap", "cost_eur", "objective_eur", "bound_eur", "met", "unmet_kwh", "site_unmet")
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    worst = max(r["time_s"] for r in runs)
    last = runs[-1]
    return (
        f"{name:9} {n_ev:>5} {med['time_s']:>8.2f} {worst:>6.2f} {med['gap']:>9.1e} {med['cost_eur']:>10.2f} "
        f"{med['objective_eur']:>10.2f} {med['bound_eur']:>10.2f} {med['met']:>7.0f}/{n_ev:<5} "
        f"{med['unmet_kwh']:>8.2f} "
        f"{med['site_unmet']:>4.0f} {last['status']:9} {last['method']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200, 1000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--compare-per-step", action="store_true")
    args = parser.parse_args(argv)
    data_dir = shared_data_dir()
    if data_dir is None:
        print("../shared/data absent: set FLEXLEDGER_SHARED_DATA")
        return 1
    print(f"{started():s}; time limit {args.time_limit} s; medians of {args.runs} runs (per-step: 1 run)")
    print(f"{'solver':9} {'EVs':>5} {'time s':>8} {'max s':>6} {'gap':>9} {'cost EUR':>10} {'obj EUR':>10} "
          f"{'bound EUR':>10} {'targets met':>13} {'unmet kWh':>8} site status    method")  # fmt: skip
    for n_ev in args.sizes:
        problem = fleet_problem(data_dir, n_ev)
        print(_row("fleet", n_ev, [figures(problem, args.time_limit, "auto") for _ in range(args.runs)]), flush=True)
        if args.compare_per_step:
            print(_row("per-step", n_ev, [figures(problem, args.time_limit, "per-step")]), flush=True)
    return 0


def started() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


if __name__ == "__main__":
    sys.exit(main())
