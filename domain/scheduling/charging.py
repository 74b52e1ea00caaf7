"""Charging binaries: charging modes, minimum charging power, no pauses (vectorised per group).

* charging modes: ``up = sum_l level_l * y_l``, ``sum_l y_l <= 1`` (idle is always allowed);
* min charging power ``m``: ``m*z <= up <= ub*z`` (with no pauses, ``m*(z - e) <= up``: ``e``
  marks the block's last step, which may deliver less, so small remaining energies are reachable);
* no pauses: a start indicator ``st[t] >= on[t] - on[t-1]`` with ``sum(st) <= 1`` gives one
  contiguous charging block; ``on`` is ``z`` or ``sum_l y_l``.

A :class:`BinaryPlan` says how to add them: ``relax`` adds no binaries, only the bounds they
imply (a valid relaxation: modes cap the power at the top level, steps below the minimum power
are closed); ``around`` restricts binaries to the neighbourhood of a relaxed solution: charging
only where it charged (for no-pauses: within its first..last charging step), and with a
minimum power only, steps already charging at least that power are fixed "on" without a binary;
``commit`` fixes every decision from a :class:`~domain.scheduling.greedy.Commitment` (the
model is then an LP).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.formulation import Core
from domain.scheduling.greedy import Commitment, charging_floor
from domain.scheduling.layout import Flows
from domain.scheduling.lp_arrays import ModelArrays
from domain.scheduling.problem import SchedulingProblem

CHARGING_TOL_KW = 1e-6


@dataclass(frozen=True, eq=False)
class BinaryPlan:
    """How to add charging binaries: all (default), none (``relax``), only ``around`` relaxed
    flows (F, n), or none with every decision fixed by a ``commit``ment."""

    relax: bool = False
    around: np.ndarray | None = None
    commit: Commitment | None = None


@dataclass(frozen=True, eq=False)
class OnIndicator:
    """For devices ``dev`` (G,): columns (G, L, n) whose sum is 1 when charging at a step (-1 = none)."""

    dev: np.ndarray
    cols: np.ndarray

    def subset(self, mask: np.ndarray) -> OnIndicator:
        return OnIndicator(self.dev[mask], self.cols[mask])


def _pauses(problem: SchedulingProblem, dev: np.ndarray) -> np.ndarray:
    return np.array([problem.devices[d].no_pauses for d in dev], dtype=bool)


def _neighbourhood(problem, fl: Flows, dev, floor, plan: BinaryPlan) -> tuple[np.ndarray, np.ndarray]:
    """(allowed, fixed_on) masks (G, n) for restricting binaries around ``plan.around``."""
    n = fl.ub.shape[1]
    if plan.around is None:
        return np.ones((len(dev), n), dtype=bool), np.zeros((len(dev), n), dtype=bool)
    flow = plan.around[fl.up_of[dev]]
    support = flow > CHARGING_TOL_KW
    pauses = _pauses(problem, dev)
    steps = np.arange(n)
    first = np.where(support.any(axis=1), np.argmax(support, axis=1), n)
    last = n - 1 - np.argmax(support[:, ::-1], axis=1)
    span = (steps >= first[:, None]) & (steps <= last[:, None])
    allowed = np.where(pauses[:, None], span, support)
    with np.errstate(invalid="ignore"):
        fixed_on = support & ~pauses[:, None] & (flow >= floor[:, None] - CHARGING_TOL_KW)
    return allowed, fixed_on


def _up(fl: Flows, core: Core, dev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    up = fl.up_of[dev]
    return core.flow_col[up], fl.ub[up], fl.lb[up]


def _charging_for_sure(m: ModelArrays, fl: Flows, core: Core, dev: np.ndarray, mask: np.ndarray) -> None:
    """Close the discharge flow where a device is committed to charge."""
    gg, tt = np.nonzero(mask)
    down = fl.down_of[dev[gg]]
    has_down = down >= 0
    cols = core.flow_col[down[has_down], tt[has_down]]
    m.set_upper(cols[cols >= 0], 0.0)


def _min_power(m: ModelArrays, problem, fl: Flows, core: Core, dev: np.ndarray, plan: BinaryPlan):
    col, ub, lb = _up(fl, core, dev)
    floor = charging_floor(problem, fl)[dev]
    eligible = (col >= 0) & (ub > 0) & (ub >= floor[:, None] - 1e-9)
    m.set_upper(col[(col >= 0) & (ub > 0) & ~eligible], 0.0)
    if plan.relax:
        return None
    if plan.commit is not None:
        allowed = fixed_on = plan.commit.on[dev] & eligible
    else:
        allowed, fixed_on = _neighbourhood(problem, fl, dev, floor, plan)
        fixed_on &= eligible
    m.set_upper(col[eligible & ~allowed & ~fixed_on], 0.0)
    ff, ft = np.nonzero(fixed_on)
    m.set_lower(col[ff, ft], np.maximum(floor[ff], lb[ff, ft]))
    _last_committed_step_free(m, problem, dev, col, lb, fixed_on)
    _charging_for_sure(m, fl, core, dev, fixed_on)
    free = eligible & allowed & ~fixed_on
    z = np.full(col.shape, -1)
    gg, tt = np.nonzero(free)
    z[gg, tt] = m.add_cols(len(gg), 0.0, 1.0, integer=True)
    at_least = m.add_rows(len(gg), 0.0, np.inf)
    m.add_terms(at_least, col[gg, tt], 1.0)
    m.add_terms(at_least, z[gg, tt], -floor[gg])
    at_most = m.add_rows(len(gg), -np.inf, 0.0)
    m.add_terms(at_most, col[gg, tt], 1.0)
    m.add_terms(at_most, z[gg, tt], -ub[gg, tt])
    _last_step_below_minimum(m, _pauses(problem, dev), z, gg, tt, at_least, floor)
    return OnIndicator(dev, z[:, None, :])


def _last_committed_step_free(m: ModelArrays, problem, dev, col, lb, fixed_on) -> None:
    """No pauses: the last step of a committed block may deliver less than the minimum."""
    pauses = _pauses(problem, dev) & fixed_on.any(axis=1)
    n = fixed_on.shape[1]
    last = n - 1 - np.argmax(fixed_on[:, ::-1], axis=1)
    gg = np.flatnonzero(pauses)
    m.set_lower(col[gg, last[gg]], lb[gg, last[gg]])


def _last_step_below_minimum(m: ModelArrays, pauses, z, gg, tt, at_least, floor) -> None:
    """No pauses: an end indicator ``e_t >= z_t - z_{t+1}``, ``e_t <= z_t``, ``sum e <= 1`` marks the
    block's last step, where the minimum is lifted (``p_t >= floor (z_t - e_t)``). With binary
    ``z`` the indicator is integral by itself (a continuous column)."""
    pick = np.flatnonzero(pauses[gg])
    if not len(pick):
        return
    g, t = gg[pick], tt[pick]
    e = m.add_cols(len(pick), 0.0, 1.0)
    m.add_terms(at_least[pick], e, floor[g])
    below_on = m.add_rows(len(pick), -np.inf, 0.0)
    m.add_terms(below_on, e, 1.0)
    m.add_terms(below_on, z[g, t], -1.0)
    ends = m.add_rows(len(pick), 0.0, np.inf)
    m.add_terms(ends, e, 1.0)
    m.add_terms(ends, z[g, t], -1.0)
    nxt = np.where(t + 1 < z.shape[1], z[g, np.minimum(t + 1, z.shape[1] - 1)], -1)
    has_next = nxt >= 0
    m.add_terms(ends[has_next], nxt[has_next], 1.0)
    groups = np.unique(g)
    once = m.add_rows(len(groups), -np.inf, 1.0)
    m.add_terms(once[np.searchsorted(groups, g)], e, 1.0)


def _levels(problem: SchedulingProblem, dev: np.ndarray) -> np.ndarray:
    width = max(len(problem.devices[d].charging_modes_kw) for d in dev)
    levels = np.full((len(dev), width), np.nan)
    for g, d in enumerate(dev):
        modes = problem.devices[d].charging_modes_kw
        levels[g, : len(modes)] = modes
    return levels


def _modes(m: ModelArrays, problem, fl: Flows, core: Core, dev: np.ndarray, plan: BinaryPlan):
    col, ub, _ = _up(fl, core, dev)
    levels = _levels(problem, dev)
    ok = (col[:, None, :] >= 0) & (levels[:, :, None] <= ub[:, None, :] + 1e-9)
    if plan.relax:
        top = np.where(ok, levels[:, :, None], 0.0).max(axis=1)
        m.set_upper(col[col >= 0], top[col >= 0])
        return None
    if plan.commit is not None:
        level = np.nan_to_num(plan.commit.level[dev])
        m.set_lower(col[col >= 0], level[col >= 0])
        m.set_upper(col[col >= 0], level[col >= 0])
        _charging_for_sure(m, fl, core, dev, (col >= 0) & (level > 0))
        return None
    ok &= _neighbourhood(problem, fl, dev, np.full(len(dev), np.nan), plan)[0][:, None, :]
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
    return OnIndicator(dev, y)


def _no_pauses(m: ModelArrays, on: OnIndicator) -> None:
    exists = on.cols >= 0
    pp, tt = np.nonzero(exists.any(axis=1))
    row_of = np.full((exists.shape[0], exists.shape[2]), -1)
    row_of[pp, tt] = m.add_rows(len(pp), 0.0, np.inf)
    starts = m.add_cols(len(pp), 0.0, 1.0)
    m.add_terms(row_of[pp, tt], starts, 1.0)
    p3, l3, t3 = np.nonzero(exists)
    m.add_terms(row_of[p3, t3], on.cols[p3, l3, t3], -1.0)
    nxt = t3 + 1 < exists.shape[2]
    p3, l3, t3 = p3[nxt], l3[nxt], t3[nxt]
    follows = row_of[p3, t3 + 1] >= 0
    m.add_terms(row_of[p3[follows], t3[follows] + 1], on.cols[p3[follows], l3[follows], t3[follows]], 1.0)
    once = m.add_rows(len(on.dev), -np.inf, 1.0)
    m.add_terms(once[pp], starts, 1.0)


def charging_binaries(
    m: ModelArrays, problem: SchedulingProblem, fl: Flows, core: Core, plan: BinaryPlan
) -> list[OnIndicator]:
    """Modes, min charging power and no-pauses for the devices that have them."""
    devices = problem.devices
    with_modes = np.array([i for i, d in enumerate(devices) if d.charging_modes_kw], dtype=int)
    with_min = np.array([i for i, d in enumerate(devices) if not d.charging_modes_kw and d.needs_binaries], dtype=int)
    groups = []
    if len(with_modes):
        groups.append(_modes(m, problem, fl, core, with_modes, plan))
    if len(with_min):
        groups.append(_min_power(m, problem, fl, core, with_min, plan))
    groups = [g for g in groups if g is not None]
    for group in groups:
        pauses = _pauses(problem, group.dev)
        if pauses.any():
            _no_pauses(m, group.subset(pauses))
    return groups
