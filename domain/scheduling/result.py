"""Schedule results: per-device power and SoC, cost, and every constraint left unmet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from domain.scheduling.deadline import Stage
from domain.scheduling.problem import SchedulingProblem


@dataclass(frozen=True, slots=True)
class UnmetConstraint:
    """A constraint the schedule could not meet.

    kind: ``soc-target``, ``soc-minima``, ``soc-maxima``, ``soc-min``, ``soc-max`` (at the instant
    ``datetime``, UTC) or ``site-consumption-capacity`` / ``site-production-capacity`` (for the
    step starting at ``datetime``). ``required_kwh`` is the bound (for site kinds: capacity x
    step length), ``achieved_kwh`` what the schedule reaches, ``unmet_kwh`` the breach (>= 0).
    ``device_id`` is ``None`` for site constraints.
    """

    device_id: str | None
    kind: str
    datetime: datetime
    required_kwh: float
    achieved_kwh: float
    unmet_kwh: float


@dataclass(frozen=True, eq=False)
class DeviceSchedule:
    """power_kw (n_steps,): mean power per step, consumption positive.
    soc_kwh (n_steps + 1,): SoC at each instant, ``soc_kwh[0]`` = soc-at-start."""

    device_id: str
    power_kw: np.ndarray
    soc_kwh: np.ndarray


@dataclass(frozen=True, eq=False)
class ScheduleResult:
    """The solved schedule of one site.

    site_power_kw (n_steps,): net site power incl. inflexible load, consumption positive.
    total_cost_eur: energy cost of the net site power at the consumption/production prices
        (negative = revenue); excludes the tie-break and breach penalties.
    status: ``optimal`` (within the requested relative gap of a proven bound) or ``feasible``
        (a solution whose gap is larger, e.g. when the time limit hit).
    mip_gap: relative gap between the model objective (incl. tie-break and penalties) and the
        best proven lower bound (the one achieved, not the one requested); 0 for LPs, NaN when
        no bound was proven.
    objective_eur / bound_eur: that model objective and its proven lower bound, EUR (NaN when
        not known).
    method: ``lp``, ``milp`` or, with charging binaries, ``relaxation+commit`` /
        ``relaxation+neighbourhood`` / ``relaxation+full`` (see :func:`milp.solve`).
    n_variables / n_constraints / n_binaries: size of the model that gave the solution.
    rounds: solver rounds (lazy sign binaries, soft fallback).
    soft_fallback: True when hard limits (soc-min/max, site capacity) had to be softened.
    build_time_s / solve_time_s: model assembly (all rounds) / HiGHS wall time (all rounds).
    time_limit_reached: the time limit cut the solve short (a solver stopped at it, or a later
        stage was skipped or abandoned): the schedule is the best found by then, with the gap
        proven by then.
    stages: every HiGHS call of the solve, in order, with its start, budget and how long the
        solve was prepared to wait for it (:class:`.deadline.Stage`; empty for OR-Tools' SCIP).
    """

    start: datetime
    resolution: timedelta
    n_steps: int
    devices: tuple[DeviceSchedule, ...]
    site_power_kw: np.ndarray
    total_cost_eur: float
    status: str
    build_time_s: float
    solve_time_s: float
    unmet: tuple[UnmetConstraint, ...]
    n_variables: int
    n_constraints: int
    n_binaries: int
    soft_fallback: bool = False
    rounds: int = 1
    method: str = "lp"
    mip_gap: float = 0.0
    objective_eur: float = float("nan")
    bound_eur: float = float("nan")
    time_limit_reached: bool = False
    stages: tuple[Stage, ...] = ()

    def device(self, device_id: str) -> DeviceSchedule:
        for schedule in self.devices:
            if schedule.device_id == device_id:
                return schedule
        raise KeyError(device_id)


def energy_cost_eur(problem: SchedulingProblem, site_power_kw: np.ndarray) -> float:
    """Cost (EUR) of a net site power profile: consumption at the consumption price, production
    earning the production price."""
    h = problem.hours
    consumed = np.clip(site_power_kw, 0.0, None) * h / 1e3
    produced = np.clip(-site_power_kw, 0.0, None) * h / 1e3
    return float(consumed @ problem.consumption_price_eur_per_mwh - produced @ problem.production_price_eur_per_mwh)


def _tolerance(required: np.ndarray) -> np.ndarray:
    return 1e-4 + 1e-6 * np.abs(required)


_SOC_KINDS = (
    ("soc-target", "soc_targets_kwh", 1.0),
    ("soc-target", "soc_targets_kwh", -1.0),
    ("soc-minima", "soc_minima_kwh", 1.0),
    ("soc-maxima", "soc_maxima_kwh", -1.0),
    ("soc-min", "soc_min_kwh", 1.0),
    ("soc-max", "soc_max_kwh", -1.0),
)


def _soc_unmet(problem: SchedulingProblem, soc: np.ndarray) -> list[UnmetConstraint]:
    found = []
    for kind, attr, direction in _SOC_KINDS:
        required = np.vstack([getattr(d, attr) for d in problem.devices])
        with np.errstate(invalid="ignore"):
            gap = direction * (required - soc)
            breach = np.isfinite(required) & (gap > _tolerance(required))
        for d, k in zip(*np.nonzero(breach), strict=True):
            found.append(
                UnmetConstraint(
                    problem.devices[d].device_id,
                    kind,
                    problem.grid.instant(int(k)),
                    float(required[d, k]),
                    float(soc[d, k]),
                    float(gap[d, k]),
                )
            )
    return found


def _site_unmet(problem: SchedulingProblem, site_power_kw: np.ndarray) -> list[UnmetConstraint]:
    found = []
    h = problem.hours
    for kind, cap, direction in (
        ("site-consumption-capacity", problem.site_consumption_capacity_kw, 1.0),
        ("site-production-capacity", problem.site_production_capacity_kw, -1.0),
    ):
        excess = (direction * site_power_kw - cap) * h
        for t in np.flatnonzero(np.isfinite(cap) & (excess > _tolerance(cap * h))):
            found.append(
                UnmetConstraint(
                    None, kind, problem.grid.instant(int(t)), float(cap[t] * h), float(site_power_kw[t] * h),
                    float(excess[t]),
                )
            )  # fmt: skip
    return found


def find_unmet(problem: SchedulingProblem, soc: np.ndarray, site_power_kw: np.ndarray) -> tuple[UnmetConstraint, ...]:
    """Every SoC and site constraint breached by the schedule, sorted by time."""
    found = (_soc_unmet(problem, soc) if problem.devices else []) + _site_unmet(problem, site_power_kw)
    return tuple(sorted(found, key=lambda u: (u.datetime, u.device_id or "", u.kind)))
