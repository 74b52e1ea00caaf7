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
from domain.scheduling.problem import DeviceProblem, SchedulingProblem

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


def _requirement_instant(device: DeviceProblem) -> int | None:
    """The one instant with an energy requirement above the start SoC (n if none; None if several)."""
    floor = np.fmax(device.soc_minima_kwh, device.soc_targets_kwh)
    with np.errstate(invalid="ignore"):
        found = np.flatnonzero(np.isfinite(floor) & (floor > device.soc_at_start_kwh + TOL))
    if len(found) > 1:
        return None
    return int(found[0]) if len(found) else len(floor) - 1


def _ceiling_kwh(device: DeviceProblem, k: int) -> float | None:
    ceiling = np.fmin(device.soc_maxima_kwh, device.soc_targets_kwh)
    early = np.isfinite(ceiling[:k])
    if early.any():
        return None
    top = float(np.min(device.soc_max_kwh))
    return min(top, float(ceiling[k])) if np.isfinite(ceiling[k]) else top


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


def _simple(device: DeviceProblem) -> bool:
    return (
        not device.charging_modes_kw
        and device.storage_efficiency >= 1.0
        and bool(np.all(device.power_min_kw >= -TOL))
        and bool(np.all(device.soc_min_kwh <= device.soc_at_start_kwh + 1e-6))
        and (device.no_pauses or device.min_charging_power_kw <= 0)
    )


def fleet_ev(problem: SchedulingProblem, index: int, tie: np.ndarray) -> FleetEV | None:
    """The fleet form of device ``index``, or ``None`` when it is not eligible (see module doc)."""
    device = problem.devices[index]
    if not _simple(device):
        return None
    k = _requirement_instant(device)
    if k is None:
        return None
    ub = np.clip(device.power_max_kw, 0.0, None)
    if ub[k:].any():
        if not _nothing_to_gain_after(problem, k):
            return None
        ub = np.where(np.arange(len(ub)) < k, ub, 0.0)  # charging after the requirement only costs
    ceiling = _ceiling_kwh(device, k)
    if ceiling is None:
        return None
    floor = np.fmax(device.soc_minima_kwh[k], device.soc_targets_kwh[k])
    eta = device.charging_efficiency
    need = max(float(np.nan_to_num(floor, nan=device.soc_at_start_kwh)) - device.soc_at_start_kwh, 0.0) / eta
    cap = max(ceiling - device.soc_at_start_kwh, 0.0) / eta if np.isfinite(ceiling) else np.inf
    if cap < need - 1e-6:
        return None
    return FleetEV(
        index=index,
        ub_kw=ub,
        min_kw=min(device.min_charging_power_kw, float(ub.max(initial=0.0))) if device.no_pauses else 0.0,
        no_pauses=device.no_pauses,
        start_at_arrival=device.start_at_arrival,
        need_kwh=need,
        cap_kwh=cap,
        penalty=problem.breach_price_eur_per_kwh * 1e3 * eta,
        tie=tie if device.prefer_charging_sooner else np.zeros_like(tie),
    )


def fleet_evs(problem: SchedulingProblem) -> list[FleetEV] | None:
    """All devices in fleet form, or ``None`` when the fleet solver should not take the site."""
    if not problem.devices or not any(d.no_pauses for d in problem.devices):
        return None
    if np.any(problem.production_price_eur_per_mwh > problem.consumption_price_eur_per_mwh + TOL):
        return None
    tie = tie_break_slope(problem)
    evs = []
    for i in range(len(problem.devices)):
        ev = fleet_ev(problem, i, tie)
        if ev is None:
            return None
        evs.append(ev)
    return evs
