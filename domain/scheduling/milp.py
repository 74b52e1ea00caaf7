"""Solve a site's scheduling problem as one MILP (one LP when no binaries are needed).

All devices of a site share one model: the site capacity couples them. The objective is the
energy cost of the site's net power (consumption price for consumption, production price for
production), plus a tiny time-increasing price for devices that prefer charging sooner
(FlexMeasures' tie-break), plus breach penalties for soft SoC constraints (soc-targets,
soc-minima, soc-maxima). Unreachable targets therefore give a best-effort schedule whose
:attr:`ScheduleResult.unmet` lists every breach; the result is never an all-zero fallback.

Binaries only where needed:

* "No simultaneous charging and discharging" (:mod:`.signs`) is enforced lazily for plain lossy
  storage: solve the LP, and only if some device charges and discharges in the same step, add
  sign binaries for it and re-solve. The site gets a sign binary only in steps where the
  production price exceeds the consumption price.
* Charging modes, min charging power and no-pauses (:mod:`.charging`) are solved in stages:
  the relaxation without them (an LP: the lower bound); a commitment built from it
  (:mod:`.greedy`, an LP); binaries on the relaxation's charging steps only; the full MILP.
  The first stage within ``relative_gap`` of the bound wins, else the best within the time
  limit (a MIP stopped at its limit keeps its incumbent with the ``highs`` backend, which loads
  the model into HiGHS directly, :mod:`.highs_model`; OR-Tools, used for ``scip``, may drop it;
  a stage still running at the deadline's hard end is abandoned, :mod:`.deadline`: the LP
  commitment is what guarantees a schedule).

If hard limits (soc-min/max, site capacity) make the problem infeasible, they are softened
(at 10x the breach price) and the breach is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from domain.scheduling import cumulative
from domain.scheduling.charging import BinaryPlan, OnIndicator, charging_binaries
from domain.scheduling.deadline import Deadline
from domain.scheduling.errors import ScheduleError
from domain.scheduling.fleet_model import fleet_evs
from domain.scheduling.fleet_result import FLEET_READOUT_S_PER_EV, fleet_result
from domain.scheduling.formulation import Core, build_core, tie_break_slope
from domain.scheduling.greedy import commit
from domain.scheduling.highs_model import load_arrays, solve_loaded
from domain.scheduling.layout import DOWN, Flows, Stacked, flows, stack
from domain.scheduling.lp_arrays import SOLVER_BACKENDS, ModelArrays, SolveOutcome, run_solver
from domain.scheduling.problem import SchedulingProblem
from domain.scheduling.result import DeviceSchedule, ScheduleResult, energy_cost_eur, find_unmet
from domain.scheduling.signs import sign_binaries, site_sign_binaries

SIMULTANEOUS_TOL_KW = 1e-6
FORMULATIONS = ("auto", "per-step")


@dataclass(frozen=True, eq=False)
class _Built:
    arrays: ModelArrays
    core: Core
    on: list[OnIndicator]


@dataclass
class _Clock:
    """Model-build and solver time (s) of one solve, under its :class:`.deadline.Deadline` (the
    wall-clock limit of the whole solve, model building included: ``left_s`` is what remains)."""

    deadline: Deadline
    backend: str = "highs"
    build_s: float = 0.0
    solve_s: float = 0.0
    overrun_s: float = 0.0
    """How far a MIP stage may run past its own limit (HiGHS' presolve and first heuristics do not
    check it): at first as long as the relaxation took (measured: about the first MIP's overrun,
    loaded machine or not), then the most a MIP stage overran so far. Stages get that much less,
    and start only with that much more left; a stage still running at the deadline's hard end is
    abandoned (:meth:`.deadline.Deadline.run`)."""

    @property
    def limit_s(self) -> float:
        return self.deadline.limit_s

    @property
    def left_s(self) -> float:
        return self.deadline.left()

    @property
    def limit_reached(self) -> bool:
        """A solver stopped at its time limit, or a stage was skipped or abandoned for want of time."""
        return self.deadline.reached

    @limit_reached.setter
    def limit_reached(self, value: bool) -> None:
        self.deadline.reached = value

    def model(self, arrays: ModelArrays, relax: bool = False):
        """The model loaded into the backend (``relax``: without integrality)."""
        t0 = time.perf_counter()
        model = load_arrays(arrays, relax) if self.backend == "highs" else arrays.to_helper(relax=relax)
        self.build_s += time.perf_counter() - t0
        return model

    def run(self, model, relative_gap: float, is_mip: bool, stage: str, share: float = 1.0) -> SolveOutcome:
        """Solve within ``share`` of the time left, less the read-out reserve and the expected overrun."""
        budget = (self.deadline.hard_left() - self.overrun_s) * share
        if self.backend == "highs":
            outcome = solve_loaded(model, budget, relative_gap, is_mip, self.deadline, stage)
        else:  # OR-Tools: its own time limit only (not guarded by the deadline)
            outcome = run_solver(model, max(budget, 0.01), relative_gap, self.backend)
        self.solve_s += outcome.solve_time_s
        self.limit_reached |= outcome.time_limit_reached
        if is_mip:
            self.overrun_s = max(self.overrun_s, outcome.solve_time_s - max(budget, 0.0))
        return outcome

    def time_for_a_stage(self) -> bool:
        return self.left_s > MIN_STAGE_SHARE * self.limit_s + self.overrun_s


@dataclass(frozen=True, eq=False)
class _Setup:
    """What stays fixed between solver rounds."""

    problem: SchedulingProblem
    st: Stacked
    fl: Flows
    soft_all: bool
    sign_devices: np.ndarray


def _assemble(setup: _Setup, plan: BinaryPlan) -> _Built:
    problem, fl = setup.problem, setup.fl
    m = ModelArrays()
    core, site = build_core(m, problem, setup.st, fl, setup.soft_all)
    on = charging_binaries(m, problem, fl, core, plan)
    sign_devices = setup.sign_devices & ~plan.relax
    if plan.commit is not None:  # committed devices charge only where they cannot discharge
        sign_devices = sign_devices & ~setup.st.needs_binaries
    if sign_devices.any():
        sign_binaries(m, fl, core, np.flatnonzero(sign_devices), on)
    if site is not None:
        site_sign_binaries(m, problem, fl, *site)
    return _Built(m, core, on)


def _within_gap(objective: float, bound: float, relative_gap: float) -> bool:
    return objective - bound <= relative_gap * max(abs(objective), abs(bound)) + 1e-6


_PLANS = ("commit", "neighbourhood", "full")
STAGE_SHARE = {"commit": 1.0, "neighbourhood": 0.4, "full": 0.5}
"""Share of the remaining solver time a stage may use. HiGHS may run a MIP well past its limit
(presolve and root-node work, more so on a loaded machine: measured up to 3x on 200 EVs), so the
last stage keeps half of what is left in hand."""
MIN_STAGE_SHARE = 0.1
"""A MIP stage starts only with at least this share of the time limit left (its presolve alone
may take that long on a large site)."""


def _plan(name: str, setup: _Setup, around: np.ndarray) -> BinaryPlan:
    if name == "full":
        return BinaryPlan()
    if name == "neighbourhood":
        return BinaryPlan(around=around)
    prices = setup.problem.consumption_price_eur_per_mwh + tie_break_slope(setup.problem)
    return BinaryPlan(commit=commit(setup.problem, setup.st, setup.fl, around, prices))


def _solve_model(setup: _Setup, clock: _Clock, gap: float) -> tuple[_Built, SolveOutcome, str]:
    """Solve; returns the model, the outcome (``bound``: a lower bound on the objective) and the method.

    Without charging binaries: one LP (or a MILP with sign binaries). With them: the relaxation
    (no charging binaries) gives the bound; then candidates around its solution — all its
    charging steps committed "on" (an LP unless charging modes are present), then binaries on
    its charging steps only — and finally the full MILP, stopping as soon as the best candidate
    is within ``gap`` of the bound (or the time is up).
    """
    if not setup.st.needs_binaries.any():
        built = _timed_assemble(setup, BinaryPlan(), clock)
        method = "milp" if built.arrays.n_integer else "lp"
        outcome = clock.run(clock.model(built.arrays), gap, built.arrays.n_integer > 0, method)
        return built, outcome, method
    relaxed_model = _timed_assemble(setup, BinaryPlan(relax=True), clock)
    relaxed = clock.run(clock.model(relaxed_model.arrays, relax=True), gap, False, "relaxation")
    clock.overrun_s = max(clock.overrun_s, relaxed.solve_time_s)  # a MIP's presolve may take as long
    if not relaxed.has_solution:
        return relaxed_model, relaxed, "relaxation"
    around = _flow_values(relaxed_model, relaxed.values)
    bound = relaxed.objective
    best: tuple[_Built, SolveOutcome, str] | None = None
    for name in _PLANS:
        if best is not None and _within_gap(best[1].objective, bound, gap):
            break
        if (best is not None and not clock.time_for_a_stage()) or clock.deadline.hard_left() <= 0:
            clock.limit_reached = True  # the later stages are skipped: not enough time left
            break
        built = _timed_assemble(setup, _plan(name, setup, around), clock)
        outcome = clock.run(clock.model(built.arrays), gap, built.arrays.n_integer > 0, name, STAGE_SHARE[name])
        if name == "full" and np.isfinite(outcome.bound):
            bound = max(bound, outcome.bound)  # the bound HiGHS proved, not the gap requested
        if outcome.has_solution and (best is None or outcome.objective < best[1].objective):
            best = (built, outcome, f"relaxation+{name}")
    if best is None:
        return built, outcome, "relaxation+full"
    built, outcome, method = best
    status = "optimal" if _within_gap(outcome.objective, bound, gap) else "feasible"
    return built, SolveOutcome(status, outcome.values, outcome.objective, outcome.solve_time_s, bound), method


def _timed_assemble(setup: _Setup, plan: BinaryPlan, clock: _Clock) -> _Built:
    t0 = time.perf_counter()
    built = _assemble(setup, plan)
    clock.build_s += time.perf_counter() - t0
    return built


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


def _gap(outcome: SolveOutcome) -> float:
    if not np.isfinite(outcome.bound):
        return float("nan")
    return max(outcome.objective - outcome.bound, 0.0) / max(abs(outcome.objective), 1e-9)


def _result(problem, st, fl, built, outcome, timings, how, soft_all) -> ScheduleResult:
    flow_values = _flow_values(built, outcome.values)
    power = np.zeros((len(problem.devices), problem.n_steps))
    for kinds in (fl.kind != DOWN, fl.kind == DOWN):
        power[fl.dev[kinds]] += fl.sign[kinds, None] * flow_values[kinds]
    inst = built.core.inst_col
    soc = np.where(inst >= 0, outcome.values[np.maximum(inst, 0)], st.soc0[:, None])
    cum = np.flatnonzero(built.core.cumulative)
    soc[cum] = cumulative.soc_paths(st, fl, flow_values, cum)
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
        rounds=how[0],
        method=how[1],
        mip_gap=_gap(outcome),
        objective_eur=outcome.objective / 1e3,
        bound_eur=outcome.bound / 1e3,
        time_limit_reached=timings[2],
        stages=timings[3],
    )


def _start_at_arrival(problem: SchedulingProblem) -> SchedulingProblem:
    """Per-step model: a start-at-arrival device must charge (at its minimum power, or what it can)
    in its first available step; no-pauses then keeps it charging."""
    devices = []
    for d in problem.devices:
        avail = np.flatnonzero(d.power_max_kw > 0)
        if d.start_at_arrival and len(avail):
            power_min = d.power_min_kw.copy()
            first = avail[0]
            power_min[first] = max(power_min[first], min(d.min_charging_power_kw or 1e-3, d.power_max_kw[first]))
            d = replace(d, power_min_kw=power_min)
        devices.append(d)
    return replace(problem, devices=tuple(devices))


def _rounds(setup: _Setup, clock: _Clock, gap: float):
    """Solve, adding sign binaries for devices that charge and discharge at once and softening hard
    limits if infeasible; returns (setup, model, outcome, method, rounds). Raises ScheduleError."""
    fl = setup.fl
    for rounds in range(1, 5):
        built, outcome, method = _solve_model(setup, clock, gap)
        if outcome.status in ("infeasible", "unbounded") and not setup.soft_all:
            setup = replace(setup, soft_all=True)
            continue
        if not outcome.has_solution:
            raise ScheduleError(outcome.status, _no_schedule(outcome, clock))
        offenders = _simultaneous(fl, _flow_values(built, outcome.values)) & ~setup.sign_devices
        if not offenders.any():
            break
        if not clock.time_for_a_stage():
            clock.limit_reached = True
            break
        more = offenders if rounds < 3 else fl.split
        setup = replace(setup, sign_devices=setup.sign_devices | more)
    if not outcome.has_solution:
        raise ScheduleError(outcome.status, _no_schedule(outcome, clock))
    return setup, built, outcome, method, rounds


def _no_schedule(outcome: SolveOutcome, clock: _Clock) -> str:
    """Why there is no schedule. Out of time before the first LP, the per-step model has no
    fallback (a device may need to charge, or discharge, for its constraints to hold: an all-zero
    schedule may break them), so the solve fails, saying how long it ran: a time limit that can
    succeed is above that."""
    if outcome.time_limit_reached:
        deadline = clock.deadline
        return (f"the time limit of {deadline.limit_s:g} s is too short for this problem: it ran out before the "
                f"first LP (the relaxation) was solved (model building {clock.build_s:.2f} s, solver "
                f"{clock.solve_s:.2f} s; {deadline.elapsed_s:.2f} s in all did not suffice); raise the time limit "
                f"above {deadline.elapsed_s:.2f} s")  # fmt: skip
    return "the solver found no schedule"


def solve(
    problem: SchedulingProblem,
    *,
    time_limit_s: float = 30.0,
    relative_gap: float = 1e-4,
    backend: str = "highs",
    formulation: str = "auto",
) -> ScheduleResult:
    """Schedule all devices of ``problem``; powers in kW (consumption positive), SoC in kWh.

    ``time_limit_s`` bounds the wall time of the whole solve (model building and every solver
    stage, on every path: one :class:`.deadline.Deadline`; a HiGHS stage still running at its
    hard end is abandoned, the earlier stage's schedule kept; Python work between stages is not
    interrupted); ``relative_gap`` is the
    MIP gap at which to stop (ignored for pure LPs); ``backend`` is one of
    :data:`SOLVER_BACKENDS` (``highs`` or ``scip``). Raises :class:`ScheduleError` when no
    solution is found at all (e.g. the time limit hits before a first incumbent), ``ValueError``
    for an unknown backend or a non-positive limit or gap.

    ``formulation``: ``auto`` solves fleets of EVs with no pauses by column generation
    (:mod:`.fleet`) when every device qualifies (:func:`.fleet_model.fleet_evs`), everything else
    with the per-step model; ``per-step`` forces the per-step (on/off) model.
    """
    if backend not in SOLVER_BACKENDS:
        raise ValueError(f"unknown solver backend {backend!r}; choose one of {', '.join(SOLVER_BACKENDS)}")
    if not time_limit_s > 0 or not relative_gap >= 0:
        raise ValueError(f"time_limit_s must be > 0 and relative_gap >= 0, got {time_limit_s} and {relative_gap}")
    started = time.perf_counter()
    if formulation not in FORMULATIONS:
        raise ValueError(f"unknown formulation {formulation!r}; choose one of {', '.join(FORMULATIONS)}")
    evs = fleet_evs(problem) if formulation == "auto" else None
    if evs is not None:
        deadline = Deadline(time_limit_s, started, readout_s=FLEET_READOUT_S_PER_EV * len(evs))
        return fleet_result(problem, evs, deadline, relative_gap)
    problem = _start_at_arrival(problem)
    st = stack(problem)
    fl = flows(st)
    clock = _Clock(Deadline(time_limit_s, started), backend, build_s=time.perf_counter() - started)
    setup = _Setup(problem, st, fl, False, fl.split & st.needs_binaries)
    setup, built, outcome, method, rounds = _rounds(setup, clock, relative_gap)
    timings = (clock.build_s, clock.solve_s, clock.limit_reached, tuple(clock.deadline.stages))
    return _result(problem, st, fl, built, outcome, timings, (rounds, method), setup.soft_all)
