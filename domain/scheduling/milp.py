"""Solve a site's scheduling problem as one MILP (one LP when no binaries are needed).

All devices of a site share one model: the site capacity couples them. The objective is the
energy cost of the site's net power (consumption price for consumption, production price for
production), plus a tiny time-increasing price for devices that prefer charging sooner
(FlexMeasures' tie-break), plus breach penalties for soft SoC constraints (soc-targets,
soc-minima, soc-maxima). Unreachable targets therefore give a best-effort schedule whose
:attr:`ScheduleResult.unmet` lists every breach; the result is never an all-zero fallback.

Binaries are added only where needed (see :mod:`domain.scheduling.integer`). "No simultaneous
charging and discharging" is enforced lazily for plain lossy storage: solve the LP, and only if
some device charges and discharges in the same step, add sign binaries for it and re-solve.
If hard limits (soc-min/max, site capacity) make the problem infeasible, they are softened
(at 10x the breach price) and the breach is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from domain.scheduling.errors import ScheduleError
from domain.scheduling.formulation import Core, build_core
from domain.scheduling.integer import (
    OnIndicator,
    charging_binaries,
    restriction,
    sign_binaries,
    site_sign_binaries,
)
from domain.scheduling.layout import DOWN, Flows, Stacked, flows, stack
from domain.scheduling.lp_arrays import ModelArrays, SolveOutcome, run_highs
from domain.scheduling.problem import SchedulingProblem
from domain.scheduling.result import DeviceSchedule, ScheduleResult, energy_cost_eur, find_unmet

SIMULTANEOUS_TOL_KW = 1e-6


@dataclass(frozen=True, eq=False)
class _Built:
    arrays: ModelArrays
    core: Core
    on: list[OnIndicator]


@dataclass
class _Clock:
    """Accumulated model-build and solver time (s) against the solver time limit."""

    limit_s: float
    build_s: float = 0.0
    solve_s: float = 0.0

    @property
    def left_s(self) -> float:
        return self.limit_s - self.solve_s

    def helper(self, arrays: ModelArrays, **kwargs):
        t0 = time.perf_counter()
        helper = arrays.to_helper(**kwargs)
        self.build_s += time.perf_counter() - t0
        return helper

    def run(self, helper, relative_gap: float) -> SolveOutcome:
        outcome = run_highs(helper, self.left_s, relative_gap)
        self.solve_s += outcome.solve_time_s
        return outcome


def _assemble(problem: SchedulingProblem, st: Stacked, fl: Flows, sign_devices: np.ndarray, soft_all: bool) -> _Built:
    m = ModelArrays()
    core, site = build_core(m, problem, st, fl, soft_all)
    on = charging_binaries(m, problem, fl, core)
    if sign_devices.any():
        sign_binaries(m, fl, core, np.flatnonzero(sign_devices), on)
    if site is not None:
        site_sign_binaries(m, problem, fl, *site)
    return _Built(m, core, on)


def _within_gap(objective: float, bound: float, relative_gap: float) -> bool:
    return objective - bound <= relative_gap * max(abs(objective), abs(bound)) + 1e-6


def _solve_model(problem: SchedulingProblem, fl: Flows, built: _Built, clock: _Clock, gap: float) -> SolveOutcome:
    """LP directly; with charging binaries: LP relaxation, then a MILP restricted to its
    neighbourhood (accepted when within ``gap`` of the relaxation bound), else the full MILP."""
    if not built.on:
        return clock.run(clock.helper(built.arrays), gap)
    relaxed = clock.run(clock.helper(built.arrays, relax=True), gap)
    if not relaxed.has_solution:
        return relaxed
    fix = restriction(problem, fl, built.core, built.on, _flow_values(built, relaxed.values))
    restricted = clock.run(clock.helper(built.arrays, fix=fix), gap)
    if restricted.has_solution and _within_gap(restricted.objective, relaxed.objective, gap):
        return SolveOutcome("optimal", restricted.values, restricted.objective, restricted.solve_time_s)
    full = clock.run(clock.helper(built.arrays), gap) if clock.left_s > 0 else restricted
    candidates = [o for o in (full, restricted) if o.has_solution]
    if not candidates:
        return full
    best = min(candidates, key=lambda o: o.objective)
    status = "optimal" if best is full and full.status == "optimal" else "feasible"
    return SolveOutcome(status, best.values, best.objective, best.solve_time_s)


def _flow_values(built: _Built, values: np.ndarray) -> np.ndarray:
    cols = built.core.flow_col
    return np.where(cols >= 0, values[np.maximum(cols, 0)], 0.0)


def _simultaneous(fl: Flows, flow_values: np.ndarray) -> np.ndarray:
    """Devices that charge and discharge in the same step."""
    offenders = np.zeros(len(fl.up_of), dtype=bool)
    downs = np.flatnonzero(fl.kind == DOWN)
    if len(downs):
        devs = fl.dev[downs]
        both = (flow_values[fl.up_of[devs]] > SIMULTANEOUS_TOL_KW) & (flow_values[downs] > SIMULTANEOUS_TOL_KW)
        offenders[devs] = both.any(axis=1)
    return offenders


def _result(problem, st, fl, built, outcome, timings, rounds, soft_all) -> ScheduleResult:
    flow_values = _flow_values(built, outcome.values)
    power = np.zeros((len(problem.devices), problem.n_steps))
    for kinds in (fl.kind != DOWN, fl.kind == DOWN):
        power[fl.dev[kinds]] += fl.sign[kinds, None] * flow_values[kinds]
    inst = built.core.inst_col
    soc = np.where(inst >= 0, outcome.values[np.maximum(inst, 0)], st.soc0[:, None])
    site_power = power.sum(axis=0) + problem.inflexible_kw
    return ScheduleResult(
        start=problem.start,
        resolution=problem.resolution,
        n_steps=problem.n_steps,
        devices=tuple(DeviceSchedule(d.device_id, power[i], soc[i]) for i, d in enumerate(problem.devices)),
        site_power_kw=site_power,
        total_cost_eur=energy_cost_eur(problem, site_power),
        status=outcome.status,
        build_time_s=timings[0],
        solve_time_s=timings[1],
        unmet=find_unmet(problem, soc, site_power),
        n_variables=built.arrays.n_cols,
        n_constraints=built.arrays.n_rows,
        n_binaries=built.arrays.n_integer,
        soft_fallback=soft_all,
        rounds=rounds,
    )


def solve(problem: SchedulingProblem, *, time_limit_s: float = 30.0, relative_gap: float = 1e-4) -> ScheduleResult:
    """Schedule all devices of ``problem`` with HiGHS; powers in kW (consumption positive), SoC in kWh.

    ``time_limit_s`` bounds the total solver wall time over all solves; ``relative_gap`` is the
    MIP gap at which to stop (ignored for pure LPs). Raises :class:`ScheduleError` when no
    solution is found at all (e.g. the time limit hits before a first incumbent).
    """
    started = time.perf_counter()
    st = stack(problem)
    fl = flows(st)
    clock = _Clock(time_limit_s, build_s=time.perf_counter() - started)
    sign_devices = fl.split & st.needs_binaries
    soft_all = False
    for rounds in range(1, 5):
        t0 = time.perf_counter()
        built = _assemble(problem, st, fl, sign_devices, soft_all)
        clock.build_s += time.perf_counter() - t0
        outcome = _solve_model(problem, fl, built, clock, relative_gap)
        if outcome.status in ("infeasible", "unbounded") and not soft_all:
            soft_all = True
            continue
        if not outcome.has_solution:
            raise ScheduleError(outcome.status, "the solver found no schedule")
        offenders = _simultaneous(fl, _flow_values(built, outcome.values)) & ~sign_devices
        if not offenders.any() or clock.left_s <= 0:
            break
        sign_devices = sign_devices | (offenders if rounds < 3 else fl.split)
    return _result(problem, st, fl, built, outcome, (clock.build_s, clock.solve_s), rounds, soft_all)
