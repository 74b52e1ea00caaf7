"""Benchmark the scheduling core: flex dicts -> problem -> HiGHS model -> schedule.

Run: ``.venv/bin/python bench/schedule.py [--runs 7]``. Prints the median over the runs of
each phase: ``parse`` (flex-model/flex-context dicts to SchedulingProblem, once per run),
``build`` (model assembly incl. loading into OR-Tools), ``solve`` (HiGHS wall time) and
``total`` (wall time of ``solve()``: build + solve + result extraction). Inputs are synthetic
and seeded (prices: a daily sine with noise; EVs: workplace-like arrivals), so runs compare.

EV cases come in three forms: the common EV (continuous power: a pure LP); EVs with a minimum
charging power of 1.4 kW; EVs with charging modes {0, P/2, P} that may not pause (soc-minima
at departure, since discrete levels rarely hit an exact target). The last two need binaries:
``method`` says how the result was obtained (see domain.scheduling.milp), ``gap`` is the
proven relative gap of the returned schedule. Solver time limit: ``--time-limit`` (default 10 s).
Rows marked "5%" ask for a 5% relative gap instead of 0.01%; the modes rows at 0.01% are run
once (they spend the time limit trying to close the gap).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from domain.scheduling import SchedulingProblem, TimeSeries, problem_from_flex, solve

START = datetime(2024, 5, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)


def prices(hours: int, seed: int = 1) -> TimeSeries:
    rng = np.random.default_rng(seed)
    hour = np.arange(hours)
    values = 90 + 50 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 12, hours)
    return TimeSeries(START, timedelta(hours=1), values, "EUR/MWh")


def battery_case(hours: int) -> Callable[[], SchedulingProblem]:
    flex_model = {
        "sensor": "battery",
        "soc-at-start": "250 kWh",
        "soc-min": "50 kWh",
        "soc-max": "450 kWh",
        "power-capacity": "200 kW",
        "roundtrip-efficiency": "90%",
        "storage-efficiency": 0.9999,
    }
    context = {"consumption-price": prices(hours), "site-power-capacity": "250 kW"}
    end = START + timedelta(hours=hours)
    return lambda: problem_from_flex(flex_model, context, start=START, end=end, resolution=STEP)


def ev_models(n_ev: int, kind: str, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    models = []
    for i in range(n_ev):
        arrive = int(rng.integers(24, 44))  # 06:00 .. 11:00
        depart = min(arrive + int(rng.integers(16, 44)), 96)  # stays 4 .. 11 hours
        power = float(rng.choice([7.4, 11.0]))
        energy = min(float(rng.uniform(5, 40)), power * (depart - arrive) / 4)
        model = {
            "sensor": f"ev{i}",
            "soc-at-start": "0 kWh",
            "consumption-capacity": [
                {"start": (START + arrive * STEP).isoformat(), "end": (START + depart * STEP).isoformat(),
                 "value": f"{power} kW"}
            ],
            "production-capacity": "0 kW",
            "soc-targets": [{"datetime": (START + depart * STEP).isoformat(), "value": f"{energy:.2f} kWh"}],
        }  # fmt: skip
        if kind == "min-power":
            model["min-charging-power"] = "1.4 kW"
        elif kind == "modes":
            model["charging-modes"] = ["0 kW", f"{power / 2} kW", f"{power} kW"]
            model["no-pauses"] = True
            model["soc-minima"] = model.pop("soc-targets")  # discrete levels rarely hit a target exactly
        models.append(model)
    return models


def ev_case(n_ev: int, kind: str = "plain") -> Callable[[], SchedulingProblem]:
    models = ev_models(n_ev, kind)
    context = {"consumption-price": prices(24), "site-power-capacity": f"{4.0 * n_ev} kW"}
    end = START + timedelta(hours=24)
    return lambda: problem_from_flex(models, context, start=START, end=end, resolution=STEP)


GAP = 1e-4
CASES = [
    ("1 battery, 96 steps", battery_case(24), 15, GAP),
    ("1 battery, 48 h (192 steps)", battery_case(48), 30, GAP),
    ("20 EVs, site limit", ev_case(20), 50, GAP),
    ("20 EVs, min power", ev_case(20, "min-power"), 50, GAP),
    ("20 EVs, modes+no-pauses", ev_case(20, "modes"), 50, GAP),
    ("20 EVs, modes+no-pauses 5%", ev_case(20, "modes"), 50, 0.05),
    ("200 EVs, site limit", ev_case(200), 300, GAP),
    ("200 EVs, min power", ev_case(200, "min-power"), 300, GAP),
    ("200 EVs, modes+no-pauses", ev_case(200, "modes"), 300, GAP),
    ("200 EVs, modes+no-pauses 5%", ev_case(200, "modes"), 300, 0.05),
    ("1000 EVs, site limit", ev_case(1000), 3000, GAP),
    ("1000 EVs, min power", ev_case(1000, "min-power"), 3000, GAP),
    ("1000 EVs, modes+no-pauses 5%", ev_case(1000, "modes"), 3000, 0.05),
]


def measure(make: Callable[[], SchedulingProblem], runs: int, time_limit_s: float, gap: float) -> dict[str, float]:
    samples: dict[str, list[float]] = {"parse": [], "build": [], "solve": [], "total": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        problem = make()
        t1 = time.perf_counter()
        result = solve(problem, time_limit_s=time_limit_s, relative_gap=gap)
        t2 = time.perf_counter()
        samples["parse"].append(t1 - t0)
        samples["build"].append(result.build_time_s)
        samples["solve"].append(result.solve_time_s)
        samples["total"].append(t2 - t1)
    stats = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
    stats |= {
        "vars": result.n_variables,
        "rows": result.n_constraints,
        "bins": result.n_binaries,
        "unmet": len(result.unmet),
        "status": result.status,  # type: ignore[dict-item]
        "method": result.method,  # type: ignore[dict-item]
        "gap": result.mip_gap,
    }
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args(argv)
    solve(battery_case(24)())  # warm up imports and HiGHS
    header = (
        f"{'case':28} {'vars':>6} {'rows':>5} {'bins':>5} {'parse':>7} {'build':>7} {'solve':>8} "
        f"{'total':>8} {'target':>6}      {'method':25} {'status':8} {'gap':>7} unmet"
    )
    print(f"median of {args.runs} runs, ms; total = solve() wall time (build + solve + results); bins = binaries")
    print("in the model that produced the schedule (0 when the LP commitment was accepted)")
    print(header)
    print("-" * len(header))
    for name, make, target, gap in CASES:
        runs = 1 if gap < 0.01 and "modes" in name else args.runs  # these run into the time limit
        s = measure(make, runs, args.time_limit, gap)
        verdict = "ok" if s["total"] < target else "SLOW"
        print(
            f"{name:28} {s['vars']:>6} {s['rows']:>5} {s['bins']:>5} {s['parse']:>7.1f} {s['build']:>7.1f} "
            f"{s['solve']:>8.1f} {s['total']:>8.1f} {target:>6} {verdict:>4} {s['method']:25} {s['status']:8} "
            f"{s['gap']:>7.1e} {s['unmet']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
