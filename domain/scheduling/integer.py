"""Binary variables, added only where a device or the site needs them (vectorised per group).

* charging modes: ``up = sum_l level_l * y_l``, ``sum_l y_l <= 1`` (idle is always allowed);
* min charging power ``m``: ``m*z <= up <= ub*z``;
* no pauses: a start indicator ``st[t] >= on[t] - on[t-1]`` with ``sum(st) <= 1`` gives one
  contiguous charging block; ``on`` is ``z`` or ``sum_l y_l``;
* no simultaneous charging and discharging: ``down <= ub_down*(1 - on)`` (reusing ``on``), or a
  sign binary ``sigma`` with ``up <= ub_up*sigma`` and ``down <= ub_down*(1 - sigma)``;
* site: where the production price exceeds the consumption price, a binary keeps the site
  from consuming and producing in the same step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.formulation import Core
from domain.scheduling.layout import Flows
from domain.scheduling.lp_arrays import ModelArrays
from domain.scheduling.problem import SchedulingProblem

NO_PAUSES_MIN_FRACTION = 0.1
"""no-pauses without min-charging-power: "charging" means at least this fraction of the device's
top charging power (otherwise a trickle would count as not pausing)."""


@dataclass(frozen=True, eq=False)
class OnIndicator:
    """For devices ``dev`` (G,): columns (G, L, n) whose sum is 1 when charging at a step (-1 = none).

    ``floor`` (G,) is the minimum charging power (kW) for single-binary groups, NaN for modes.
    """

    dev: np.ndarray
    cols: np.ndarray
    floor: np.ndarray

    def subset(self, mask: np.ndarray) -> OnIndicator:
        return OnIndicator(self.dev[mask], self.cols[mask], self.floor[mask])


def _up_columns(fl: Flows, core: Core, dev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    up = fl.up_of[dev]
    return core.flow_col[up], fl.ub[up]


def _min_power(m: ModelArrays, problem: SchedulingProblem, fl: Flows, core: Core, dev: np.ndarray) -> OnIndicator:
    col, ub = _up_columns(fl, core, dev)
    minimum = np.array([problem.devices[d].min_charging_power_kw for d in dev])
    floor = np.where(minimum > 0, minimum, NO_PAUSES_MIN_FRACTION * ub.max(axis=1, initial=0.0))
    eligible = (col >= 0) & (ub > 0) & (ub >= floor[:, None] - 1e-9)
    blocked = (col >= 0) & (ub > 0) & ~eligible
    m.set_upper(col[blocked], 0.0)
    z = np.full(col.shape, -1)
    gg, tt = np.nonzero(eligible)
    z[gg, tt] = m.add_cols(len(gg), 0.0, 1.0, integer=True)
    at_least = m.add_rows(len(gg), 0.0, np.inf)
    m.add_terms(at_least, col[gg, tt], 1.0)
    m.add_terms(at_least, z[gg, tt], -floor[gg])
    at_most = m.add_rows(len(gg), -np.inf, 0.0)
    m.add_terms(at_most, col[gg, tt], 1.0)
    m.add_terms(at_most, z[gg, tt], -ub[gg, tt])
    return OnIndicator(dev, z[:, None, :], floor)


def _modes(m: ModelArrays, problem: SchedulingProblem, fl: Flows, core: Core, dev: np.ndarray) -> OnIndicator:
    col, ub = _up_columns(fl, core, dev)
    width = max(len(problem.devices[d].charging_modes_kw) for d in dev)
    levels = np.full((len(dev), width), np.nan)
    for g, d in enumerate(dev):
        modes = problem.devices[d].charging_modes_kw
        levels[g, : len(modes)] = modes
    ok = (col[:, None, :] >= 0) & (levels[:, :, None] <= ub[:, None, :] + 1e-9)
    y = np.full(ok.shape, -1)
    y[ok] = m.add_cols(int(ok.sum()), 0.0, 1.0, integer=True)
    g3, l3, t3 = np.nonzero(ok)
    gg, tt = np.nonzero(col >= 0)
    equal_rows = np.full(col.shape, -1)
    equal_rows[gg, tt] = m.add_rows(len(gg), 0.0, 0.0)
    m.add_terms(equal_rows[gg, tt], col[gg, tt], 1.0)
    m.add_terms(equal_rows[g3, t3], y[g3, l3, t3], -levels[g3, l3])
    gs, ts = np.nonzero(ok.any(axis=1))
    one_rows = np.full(col.shape, -1)
    one_rows[gs, ts] = m.add_rows(len(gs), -np.inf, 1.0)
    m.add_terms(one_rows[g3, t3], y[g3, l3, t3], 1.0)
    return OnIndicator(dev, y, np.full(len(dev), np.nan))


def _no_pauses(m: ModelArrays, on: OnIndicator) -> None:
    exists = on.cols >= 0
    pp, tt = np.nonzero(exists.any(axis=1))
    row_of = np.full((exists.shape[0], exists.shape[2]), -1)
    row_of[pp, tt] = m.add_rows(len(pp), 0.0, np.inf)
    starts = m.add_cols(len(pp), 0.0, 1.0)
    m.add_terms(row_of[pp, tt], starts, 1.0)
    p3, l3, t3 = np.nonzero(exists)
    m.add_terms(row_of[p3, t3], on.cols[p3, l3, t3], -1.0)
    n = exists.shape[2]
    nxt = t3 + 1 < n
    p3, l3, t3 = p3[nxt], l3[nxt], t3[nxt]
    follows = row_of[p3, t3 + 1] >= 0
    m.add_terms(row_of[p3[follows], t3[follows] + 1], on.cols[p3[follows], l3[follows], t3[follows]], 1.0)
    once = m.add_rows(len(on.dev), -np.inf, 1.0)
    m.add_terms(once[pp], starts, 1.0)


def charging_binaries(m: ModelArrays, problem: SchedulingProblem, fl: Flows, core: Core) -> list[OnIndicator]:
    """Modes, min charging power and no-pauses for the devices that have them."""
    devices = problem.devices
    with_modes = np.array([i for i, d in enumerate(devices) if d.charging_modes_kw], dtype=int)
    with_min = np.array([i for i, d in enumerate(devices) if not d.charging_modes_kw and d.needs_binaries], dtype=int)
    groups = []
    if len(with_modes):
        groups.append(_modes(m, problem, fl, core, with_modes))
    if len(with_min):
        groups.append(_min_power(m, problem, fl, core, with_min))
    for group in groups:
        pauses = np.array([devices[d].no_pauses for d in group.dev], dtype=bool)
        if pauses.any():
            _no_pauses(m, group.subset(pauses))
    return groups


def _sign_with_on(m: ModelArrays, fl: Flows, core: Core, on: OnIndicator) -> None:
    down = fl.down_of[on.dev]
    dcol, dub = core.flow_col[down], fl.ub[down]
    both = (dcol >= 0) & (on.cols >= 0).any(axis=1)
    gg, tt = np.nonzero(both)
    rows = np.full(dcol.shape, -1)
    rows[gg, tt] = m.add_rows(len(gg), -np.inf, dub[gg, tt])
    m.add_terms(rows[gg, tt], dcol[gg, tt], 1.0)
    g3, l3, t3 = np.nonzero((on.cols >= 0) & both[:, None, :])
    m.add_terms(rows[g3, t3], on.cols[g3, l3, t3], dub[g3, t3])


def _sign_with_sigma(m: ModelArrays, fl: Flows, core: Core, dev: np.ndarray) -> None:
    up, down = fl.up_of[dev], fl.down_of[dev]
    ucol, dcol = core.flow_col[up], core.flow_col[down]
    gg, tt = np.nonzero((ucol >= 0) & (dcol >= 0))
    sigma = m.add_cols(len(gg), 0.0, 1.0, integer=True)
    up_rows = m.add_rows(len(gg), -np.inf, 0.0)
    m.add_terms(up_rows, ucol[gg, tt], 1.0)
    m.add_terms(up_rows, sigma, -fl.ub[up][gg, tt])
    down_ub = fl.ub[down][gg, tt]
    down_rows = m.add_rows(len(gg), -np.inf, down_ub)
    m.add_terms(down_rows, dcol[gg, tt], 1.0)
    m.add_terms(down_rows, sigma, down_ub)


def sign_binaries(m: ModelArrays, fl: Flows, core: Core, devices: np.ndarray, on: list[OnIndicator]) -> None:
    """Forbid simultaneous charging and discharging for the given (split) devices."""
    wanted = np.zeros(len(fl.up_of), dtype=bool)
    wanted[devices] = True
    wanted &= fl.split
    for group in on:
        mask = wanted[group.dev]
        if mask.any():
            _sign_with_on(m, fl, core, group.subset(mask))
        wanted[group.dev] = False
    if wanted.any():
        _sign_with_sigma(m, fl, core, np.flatnonzero(wanted))


def site_sign_binaries(m: ModelArrays, problem: SchedulingProblem, fl: Flows, plus, minus) -> None:
    """Where production pays more than consumption costs, the site may not do both at once."""
    steps = np.flatnonzero(problem.production_price_eur_per_mwh > problem.consumption_price_eur_per_mwh + 1e-9)
    if not len(steps):
        return
    signed_lb, signed_ub = fl.sign[:, None] * fl.lb, fl.sign[:, None] * fl.ub
    most_in = np.maximum(signed_lb, signed_ub).clip(min=0).sum(axis=0) + problem.inflexible_kw.clip(min=0)
    most_out = (-np.minimum(signed_lb, signed_ub)).clip(min=0).sum(axis=0) + (-problem.inflexible_kw).clip(min=0)
    big_in, big_out = most_in[steps] + 1.0, most_out[steps] + 1.0
    b = m.add_cols(len(steps), 0.0, 1.0, integer=True)
    rows_in = m.add_rows(len(steps), -np.inf, 0.0)
    m.add_terms(rows_in, plus[steps], 1.0)
    m.add_terms(rows_in, b, -big_in)
    rows_out = m.add_rows(len(steps), -np.inf, big_out)
    m.add_terms(rows_out, minus[steps], 1.0)
    m.add_terms(rows_out, b, big_out)


def restriction(problem: SchedulingProblem, fl: Flows, core: Core, on: list[OnIndicator], flow_values: np.ndarray):
    """Bounds that restrict charging binaries to a neighbourhood of the LP relaxation ``flow_values``.

    Charging is kept to the steps where the relaxation charges (for no-pauses: the span from its
    first to its last charging step); with a minimum power only, steps where the relaxation
    already charges at least that power are fixed "on". Returns ``(cols, lb, ub)`` overrides.
    """
    cols, lbs, ubs = [], [], []
    for group in on:
        flow = flow_values[fl.up_of[group.dev]]
        candidate = flow > 1e-6
        pauses = np.array([problem.devices[d].no_pauses for d in group.dev], dtype=bool)
        if pauses.any():
            steps = np.arange(flow.shape[1])
            first = np.where(candidate.any(axis=1), np.argmax(candidate, axis=1), flow.shape[1])
            last = flow.shape[1] - 1 - np.argmax(candidate[:, ::-1], axis=1)
            span = (steps >= first[:, None]) & (steps <= last[:, None])
            candidate = np.where(pauses[:, None], span, candidate)
        exists = group.cols >= 0
        off = exists & ~candidate[:, None, :]
        on_fixed = exists & (flow >= group.floor[:, None] - 1e-6)[:, None, :] & ~pauses[:, None, None]
        for mask, low, high in ((off, 0.0, 0.0), (on_fixed & ~off, 1.0, 1.0)):
            cols.append(group.cols[mask])
            lbs.append(np.full(int(mask.sum()), low))
            ubs.append(np.full(int(mask.sum()), high))
    if not cols:
        return None
    return np.concatenate(cols), np.concatenate(lbs), np.concatenate(ubs)
