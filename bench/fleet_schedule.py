"""Benchmark EV fleets with a minimum charging power and no pauses, sharing a binding site limit.

Run: ``PYTHONPATH=. .venv/bin/python bench/fleet_schedule.py [--sizes 20 200 1000 5000] [--runs 5]
[--time-limit 10] [--limits 1 2 5]``. Needs ../shared/data (ACN sessions, NL prices); the
fleets are built by ``bench/fleet_data.py`` (the same as the fleet-solver tests use).

Prints, per fleet size, medians over ``--runs`` of ``solve()``: wall time, CPU time of this
process (the machine is shared: the wall time includes waiting for a core, the CPU time does
not), the proven gap (objective vs proven bound), cost (EUR, energy only), model objective and
proven bound (EUR: energy, tie-break, 100 EUR/kWh per kWh short), targets met, unmet kWh, site
limit breaches; status, method and time-limit flag of the last run; and whether the goals
(200 EVs < 0.5 s, 1,000 EVs < 2 s, gap <= 0.1 %, every target met; 5,000 EVs within the time
limit with a reported gap) hold for the median wall time and for the median CPU time (CPU of
every thread of the process: HiGHS' workers, and a stage abandoned at the deadline that ends in
the background).

Then the time limit of the whole solve (``--limits``, s): one solve each of the 200- and
1,000-EV fleets with the per-step (on/off) model (``formulation="per-step"``, whose MIP stages
overran their own limits before the solve's deadline abandoned them; after one warm-up solve:
the first MIP of a process costs more) and of the 5,000-EV fleet with the fleet solver, printing
the wall time against the limit, whether the result says the limit cut it short, and the stages
it abandoned. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fleet_data import acn_fleet_problem  # noqa: E402
from domain.scheduling import ScheduleError, solve  # noqa: E402
from infra.shared_data import shared_data_dir  # noqa: E402

GOALS_S = {200: 0.5, 1000: 2.0}
LIMIT_RUNS = ((200, "per-step"), (1000, "per-step"), (5000, "auto"))
GOAL_GAP = 1e-3


def figures(problem, time_limit_s: float, formulation: str = "auto") -> dict:
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = solve(problem, time_limit_s=time_limit_s, formulation=formulation)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    targets = [u for u in result.unmet if u.kind == "soc-target"]
    return {
        "time_s": wall, "cpu_s": cpu, "gap": result.mip_gap, "cost_eur": result.total_cost_eur,
        "objective_eur": result.objective_eur, "bound_eur": result.bound_eur,
        "met": len(problem.devices) - len({u.device_id for u in targets}),
        "unmet_kwh": sum(u.unmet_kwh for u in targets), "site_unmet": sum(u.device_id is None for u in result.unmet),
        "method": result.method, "status": result.status, "limit": result.time_limit_reached,
        "abandoned": sum(not s.finished for s in result.stages),
    }  # fmt: skip


def _verdict(n_ev: int, med: dict, time_limit_s: float) -> str:
    goal = GOALS_S.get(n_ev)
    if goal is None:
        within = med["time_s"] <= time_limit_s and math.isfinite(med["gap"])
        return f"goal within the {time_limit_s:g} s limit with a gap: {'met' if within else 'NOT met'}"
    quality = med["gap"] <= GOAL_GAP and med["met"] == n_ev
    wall = "met" if med["time_s"] < goal and quality else "NOT met"
    cpu = "met" if med["cpu_s"] < goal and quality else "NOT met"
    return f"goal < {goal} s: wall {wall}, cpu {cpu}"


def _row(n_ev: int, runs: list[dict], time_limit_s: float) -> str:
    keys = ("time_s", "cpu_s", "gap", "cost_eur", "objective_eur", "bound_eur", "met", "unmet_kwh", "site_unmet")
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    last = runs[-1]
    return (
        f"{n_ev:>5} {med['time_s']:>7.2f} {med['cpu_s']:>6.2f} {med['gap']:>9.1e} {med['cost_eur']:>9.2f} "
        f"{med['objective_eur']:>9.2f} {med['bound_eur']:>9.2f} {med['met']:>5.0f}/{n_ev:<5} {med['unmet_kwh']:>6.2f} "
        f"{med['site_unmet']:>4.0f} {last['status']:8} {str(last['limit']):5} {last['method']:15} "
        f"{_verdict(n_ev, med, time_limit_s)}"
    )


def _limit_row(problem, n_ev: int, limit: float, formulation: str) -> None:
    try:
        r = figures(problem, limit, formulation)
    except ScheduleError as exc:  # not even the relaxation was solved within the limit
        print(f"  {n_ev:>5} EVs {formulation:8}, limit {limit:>4.1f} s: no schedule ({exc})", flush=True)
        return
    print(f"  {n_ev:>5} EVs {formulation:8}, limit {limit:>4.1f} s: wall {r['time_s']:>5.2f} s "
          f"({r['time_s'] / limit:.2f}x), cpu {r['cpu_s']:>5.2f} s, limit reached {r['limit']}, "
          f"{r['abandoned']} stage(s) abandoned, {r['status']}, gap {r['gap']:.1e}, targets met {r['met']}/{n_ev}, "
          f"load {_load()}", flush=True)  # fmt: skip


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200, 1000, 5000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--limits", type=float, nargs="*", default=[1.0, 2.0, 5.0])
    args = parser.parse_args(argv)
    data_dir = shared_data_dir()
    if data_dir is None:
        print("../shared/data absent: set FLEXLEDGER_SHARED_DATA")
        return 1
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{started}; {os.cpu_count()} cores; load average {_load()}; time limit {args.time_limit} s; "
          f"medians of {args.runs} runs")  # fmt: skip
    print(f"{'EVs':>5} {'wall s':>7} {'cpu s':>6} {'gap':>9} {'cost EUR':>9} {'obj EUR':>9} {'bound EUR':>9} "
          f"{'targets met':>11} {'unmet':>6} site status   limit method")  # fmt: skip
    sizes = set(args.sizes) | ({n for n, _ in LIMIT_RUNS} if args.limits else set())
    problems = {n: acn_fleet_problem(data_dir, n)[0] for n in sorted(sizes)}
    solve(problems[min(problems)], time_limit_s=args.time_limit)  # warm up imports and HiGHS
    for n_ev in args.sizes:
        runs = [figures(problems[n_ev], args.time_limit) for _ in range(args.runs)]
        print(_row(n_ev, runs, args.time_limit), flush=True)
    if args.limits:
        print("the time limit of the whole solve, one run each: wall time against the limit")
        solve(problems[min(problems)], time_limit_s=1.0, formulation="per-step")  # warm up HiGHS' MIP solver
    for limit in args.limits:
        for n_ev, formulation in LIMIT_RUNS:
            _limit_row(problems[n_ev], n_ev, limit, formulation)
    print(f"load average at the end {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
