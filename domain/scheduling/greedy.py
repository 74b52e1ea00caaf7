"""A constructive commitment for devices with charging binaries, guided by the LP relaxation.

A MIP that stops at its time limit may have no incumbent yet (and through OR-Tools 9.15, used
for SCIP, an incumbent may be dropped: google/or-tools#5016, #5372), so the scheduler first
builds a schedule that needs no binaries at all and solves it as an LP:

* min-power devices (no pauses, no modes) charge exactly where the relaxation charged, at
  least at their minimum power (the LP still chooses the power);
* no-pauses devices get the cheapest contiguous block that delivers what the relaxation did;
* charging-mode devices get fixed levels: cheapest steps first (or the best block), top level,
  the last step at the level closest to what is still needed.

Devices are committed earliest-departure first against the site capacity the relaxation
leaves, so the LP stays feasible. Vectorised per device (a few numpy calls each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.layout import Flows, Stacked
from domain.scheduling.problem import SchedulingProblem

NO_PAUSES_MIN_FRACTION = 0.1
"""no-pauses without min-charging-power: "charging" means at least this fraction of the device's
top charging power (otherwise a trickle would count as not pausing)."""
TOL = 1e-6


@dataclass(frozen=True, eq=False)
class Commitment:
    """on (D, n): min-power / no-pauses devices charge exactly at these steps (power >= floor);
    level (D, n): charging-mode devices charge exactly this power (kW); NaN where not fixed."""

    on: np.ndarray
    level: np.ndarray


def charging_floor(problem: SchedulingProblem, fl: Flows) -> np.ndarray:
    """(D,) the minimum power (kW) that counts as charging: min-charging-power, or a fraction
    of the top charging power for no-pauses devices; 0 otherwise."""
    top = fl.ub[fl.up_of].max(axis=1, initial=0.0)
    minimum = np.array([d.min_charging_power_kw for d in problem.devices])
    pauses = np.array([d.no_pauses for d in problem.devices], dtype=bool)
    return np.where(minimum > 0, minimum, np.where(pauses, NO_PAUSES_MIN_FRACTION * top, 0.0))


def _tops(room: np.ndarray, levels: tuple[float, ...], floor: float) -> np.ndarray:
    """Highest allowed charging power per step within ``room`` (0 where none fits)."""
    if levels:
        lv = np.asarray(levels)
        idx = np.searchsorted(lv, room + 1e-9, side="right") - 1
        return np.where(idx >= 0, lv[np.maximum(idx, 0)], 0.0)
    return np.where((room > TOL) & (room >= floor - 1e-9), room, 0.0)


def _best_block(top: np.ndarray, price: np.ndarray, need: float) -> np.ndarray:
    """Steps of the cheapest contiguous block reaching ``need`` (else the one with most energy)."""
    n = len(top)
    cum = np.concatenate([[0.0], np.cumsum(top)])
    cost = np.concatenate([[0.0], np.cumsum(top * price)])
    starts = np.flatnonzero(top > 0)
    zeros = np.flatnonzero(top <= 0)
    segment_end = np.append(zeros, n)[np.searchsorted(zeros, starts)]
    ends = np.minimum(np.searchsorted(cum, cum[starts] + need - TOL, side="left"), segment_end)
    energy = cum[ends] - cum[starts]
    reach = energy >= need - TOL
    pick = np.argmin(np.where(reach, cost[ends] - cost[starts], np.inf)) if reach.any() else np.argmax(energy)
    return np.arange(starts[pick], ends[pick])


def _cheapest(top: np.ndarray, price: np.ndarray, need: float) -> np.ndarray:
    order = np.flatnonzero(top > 0)
    order = order[np.argsort(price[order], kind="stable")]
    k = np.searchsorted(np.cumsum(top[order]), need - TOL, side="left")
    return order[: k + 1]


def _last_step(want: float, top: float, levels: tuple[float, ...], floor: float) -> float:
    """The last step's power: the lowest allowed level covering ``want`` (never short)."""
    if levels:
        options = [lv for lv in levels if want - TOL <= lv <= top + 1e-9]
        return min(options) if options else top
    return min(max(want, floor), top)


def fill(room, price, need: float, levels: tuple[float, ...], floor: float, no_pauses: bool) -> np.ndarray:
    """Charging power per step (kW) delivering about ``need`` (kW x steps) within ``room``."""
    power = np.zeros(len(room))
    top = _tops(room, levels, floor)
    if need <= TOL or not top.any():
        return power
    steps = _best_block(top, price, need) if no_pauses else _cheapest(top, price, need)
    if not len(steps):
        return power
    power[steps] = top[steps]
    excess = power.sum() - need
    if excess > TOL:
        last = steps[-1]
        power[last] = _last_step(power[last] - excess, top[last], levels, floor)
    return power


def commit(problem: SchedulingProblem, st: Stacked, fl: Flows, flow_values: np.ndarray, price) -> Commitment:
    """Commit the devices with charging binaries, given the relaxation's flows (F, n) (kW)."""
    devices = problem.devices
    n_dev, n = len(devices), problem.n_steps
    charge = np.clip(flow_values[fl.up_of], 0.0, None)
    power = np.zeros((n_dev, n))
    np.add.at(power, fl.dev, fl.sign[:, None] * flow_values)
    floor = charging_floor(problem, fl)
    modes = np.array([bool(d.charging_modes_kw) for d in devices], dtype=bool)
    pauses = np.array([d.no_pauses for d in devices], dtype=bool)
    support_only = st.needs_binaries & ~modes & ~pauses
    on = np.zeros((n_dev, n), dtype=bool)
    on[support_only] = charge[support_only] > TOL
    level = np.full((n_dev, n), np.nan)
    use = power + np.where(on, np.maximum(charge, floor[:, None]) - charge, 0.0)
    greedy = np.flatnonzero(st.needs_binaries & (modes | pauses))
    use[greedy] -= charge[greedy]
    remaining = problem.site_consumption_capacity_kw - problem.inflexible_kw - use.sum(axis=0)
    last_step = np.where(fl.ub[fl.up_of] > 0, np.arange(n), -1).max(axis=1)
    for d in greedy[np.argsort(last_step[greedy], kind="stable")]:
        room = np.minimum(fl.ub[fl.up_of[d]], np.clip(remaining, 0.0, None))
        chosen = fill(room, price, charge[d].sum(), devices[d].charging_modes_kw, floor[d], pauses[d])
        if modes[d]:
            level[d] = chosen
        else:
            on[d] = chosen > TOL
            chosen = np.where(on[d], np.maximum(chosen, floor[d]), 0.0)
        remaining = remaining - chosen
    return Commitment(on, level)
