"""Which sites the fleet solver (:mod:`.fleet`) takes, and each EV's data in the form it needs.

An EV is *fleet-eligible* when it only charges (power >= 0 at every step), keeps its energy
(storage efficiency 1), has no charging modes, and its SoC constraints reduce to one energy
requirement at one instant ``K`` (a target or minimum: the "departure"), with nothing available
to charge from ``K`` on (or, when it is, nothing to gain from charging then: no negative price,
no export above the site's production capacity; such an EV is not charged after ``K``), and an
upper bound that is a soc-max and/or a ceiling at ``K``. Its charging is then one of:

* continuous (no binaries): any power in ``[0, ub_t]``;
* no pauses: one contiguous block of steps, at least ``min_kw`` in every step of the block but
  the last (the last may deliver less, so that small remaining energies are reachable).

Minimum power without no-pauses is not taken (the on/off MILP handles it). A site is taken when
every device is eligible, at least one has no-pauses, and no step has a production price above
the consumption price (the site's net power then has a convex cost).

Units: power kW (consumption positive), energy kWh. ``need_kwh`` / ``cap_kwh`` are *grid*
energies (kWh drawn from the site): the SoC rises by ``eta_c`` per grid kWh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.formulation import tie_break_slope
from domain.scheduling.problem import SchedulingProblem

TOL = 1e-9


@dataclass(frozen=True, eq=False)
class FleetEV:
    """One eligible EV. ``ub_kw`` (n,): top power per step (0 = unavailable); ``min_kw``: the
    minimum power of a no-pauses block (0 when continuous); ``need_kwh``: grid energy that meets
    the requirement; ``cap_kwh``: most grid energy allowed; ``penalty``: milli-EUR per grid kWh
    short (the breach price times eta_c); ``tie`` (n,): tie-break, EUR/MWh added to the price."""

    index: int
    ub_kw: np.ndarray
    min_kw: float
    no_pauses: bool
    start_at_arrival: bool
    need_kwh: float
    cap_kwh: float
    penalty: float
    tie: np.ndarray


@dataclass(frozen=True, eq=False)
class FleetArrays:
    """The fleet's per-EV data stacked: ``ub_kw`` / ``tie`` (E, n), ``need_kwh`` / ``cap_kwh`` /
    ``penalty`` / ``min_kw`` (E,), ``window`` (E, n) where each EV may charge (units as :class:`FleetEV`)."""

    ub_kw: np.ndarray
    tie: np.ndarray
    need_kwh: np.ndarray
    cap_kwh: np.ndarray
    penalty: np.ndarray
    min_kw: np.ndarray
    window: np.ndarray

    @classmethod
    def of(cls, evs: list[FleetEV]) -> FleetArrays:
        ub = np.vstack([ev.ub_kw for ev in evs])
        return cls(
            ub_kw=ub,
            tie=np.vstack([ev.tie for ev in evs]),
            need_kwh=np.array([ev.need_kwh for ev in evs]),
            cap_kwh=np.array([ev.cap_kwh for ev in evs]),
            penalty=np.array([ev.penalty for ev in evs]),
            min_kw=np.array([ev.min_kw for ev in evs]),
            window=ub > 0,
        )


def _nothing_to_gain_after(problem: SchedulingProblem, k: int) -> bool:
    """Whether charging in steps ``k`` on can only cost (so an optimal schedule of a device with
    nothing required after ``k`` need not charge then): no negative price there (the production
    price is the lower one, what extra consumption saves when the site exports) and no export
    above the site's production capacity for consumption to relieve."""
    export_kw = -problem.inflexible_kw[k:]
    return bool(
        np.all(problem.production_price_eur_per_mwh[k:] >= 0.0)
        and np.all(problem.consumption_price_eur_per_mwh[k:] >= 0.0)
        and np.all(export_kw <= problem.site_production_capacity_kw[k:] + TOL)
    )


def _stacked(problem: SchedulingProblem, name: str) -> np.ndarray:
    return np.vstack([getattr(d, name) for d in problem.devices])


def _scalars(problem: SchedulingProblem, name: str) -> np.ndarray:
    return np.array([getattr(d, name) for d in problem.devices], dtype=float)


def _eligible(problem: SchedulingProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every device at once (see the module docstring; vectorised: 5,000 EVs one by one took
    0.3-0.6 s): (top power (E, n) kW, requirement instant (E,), need and cap (E,) grid kWh,
    eligible (E,))."""
    start = _scalars(problem, "soc_at_start_kwh")
    eta = _scalars(problem, "charging_efficiency")
    ok = np.array([not d.charging_modes_kw and d.storage_efficiency >= 1.0
                   and (d.no_pauses or d.min_charging_power_kw <= 0) for d in problem.devices], dtype=bool)  # fmt: skip
    ok &= np.all(_stacked(problem, "power_min_kw") >= -TOL, axis=1)
    ok &= np.all(_stacked(problem, "soc_min_kwh") <= start[:, None] + 1e-6, axis=1)
    targets = _stacked(problem, "soc_targets_kwh")
    floor = np.fmax(_stacked(problem, "soc_minima_kwh"), targets)
    with np.errstate(invalid="ignore"):
        required = np.isfinite(floor) & (floor > start[:, None] + TOL)
    ok &= required.sum(axis=1) <= 1
    n1 = floor.shape[1]
    k = np.where(required.any(axis=1), np.argmax(required, axis=1), n1 - 1)
    ub = np.clip(_stacked(problem, "power_max_kw"), 0.0, None)
    after = np.arange(n1 - 1)[None, :] >= k[:, None]
    late = (ub * after).any(axis=1)
    for kk in np.unique(k[late & ok]):
        ok[late & (k == kk)] &= _nothing_to_gain_after(problem, int(kk))
    ub = np.where(after, 0.0, ub)  # charging after the requirement only costs
    ceiling = np.fmin(_stacked(problem, "soc_maxima_kwh"), targets)
    ok &= ~(np.isfinite(ceiling) & (np.arange(n1)[None, :] < k[:, None])).any(axis=1)
    rows = np.arange(len(k))
    top = _stacked(problem, "soc_max_kwh").min(axis=1)
    at_k = ceiling[rows, k]
    ceiling_k = np.where(np.isfinite(at_k), np.minimum(top, at_k), top)
    need = np.maximum(np.where(np.isnan(floor[rows, k]), start, floor[rows, k]) - start, 0.0) / eta
    with np.errstate(invalid="ignore"):
        cap = np.where(np.isfinite(ceiling_k), np.maximum(ceiling_k - start, 0.0) / eta, np.inf)
    ok &= ~(cap < need - 1e-6)
    return ub, k, need, cap, ok


def fleet_evs(problem: SchedulingProblem) -> list[FleetEV] | None:
    """All devices in fleet form, or ``None`` when the fleet solver should not take the site
    (see the module docstring)."""
    if not problem.devices or not any(d.no_pauses for d in problem.devices):
        return None
    if np.any(problem.production_price_eur_per_mwh > problem.consumption_price_eur_per_mwh + TOL):
        return None
    ub, _, need, cap, ok = _eligible(problem)
    if not ok.all():
        return None
    tie = tie_break_slope(problem)
    zeros = np.zeros_like(tie)
    penalty = problem.breach_price_eur_per_kwh * 1e3
    return [
        FleetEV(
            index=i,
            ub_kw=ub[i],
            min_kw=min(d.min_charging_power_kw, float(ub[i].max(initial=0.0))) if d.no_pauses else 0.0,
            no_pauses=d.no_pauses,
            start_at_arrival=d.start_at_arrival,
            need_kwh=float(need[i]),
            cap_kwh=float(cap[i]),
            penalty=penalty * d.charging_efficiency,
            tie=tie if d.prefer_charging_sooner else zeros,
        )
        for i, d in enumerate(problem.devices)
    ]
