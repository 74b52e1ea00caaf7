"""Schedules from the fleet solver's columns (:mod:`.fleet`): rounding, dispatch, block MILP.

* Rounding (:func:`rounded`): each EV takes its heaviest profile in the master LP's solution;
  the dispatch LP (:func:`dispatch`) then re-optimises the powers within the chosen blocks
  against the site limit. When column generation stopped early, the start profiles are
  dispatched the same way too; the better schedule is kept.
* Block MILP (:func:`block_milp`): one binary per candidate block and EV (those with weight in
  the master, or every block when there are few: then the MILP is exact and its bound global).

Units: power kW (consumption positive), energy grid kWh, objective milli-EUR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.deadline import Deadline
from domain.scheduling.fleet_lp import Candidates, LPOutcome, Site, solve_block_mip, solve_dispatch
from domain.scheduling.fleet_model import FleetArrays, FleetEV
from domain.scheduling.fleet_pool import Pool
from domain.scheduling.fleet_pricing import Blocks

MIP_SHARE = 0.25
"""Most of the time limit the block MILP may use (HiGHS may overrun a little: keep a margin)."""
EXACT_BLOCKS = 3000
"""Up to this many blocks in all, the block MILP takes every block: exact, with a global bound."""


@dataclass(frozen=True, eq=False)
class Schedule:
    """Powers (E, n) kW, shortfalls (E,) grid kWh, model objective milli-EUR, how it was found."""

    power_kw: np.ndarray
    shortfall_kwh: np.ndarray
    objective: float
    method: str


def objective_value(site: Site, fleet: FleetArrays, power: np.ndarray, short: np.ndarray) -> float:
    """The model objective (milli-EUR) of a schedule: energy cost, tie-break, penalties."""
    h = site.h
    net = power.sum(axis=0) + site.inflexible
    imp, exp = np.clip(net, 0, None), np.clip(-net, 0, None)
    over_c, over_p = np.clip(imp - site.cap_cons, 0, None), np.clip(exp - site.cap_prod, 0, None)
    energy = h * (site.cons @ imp - site.prod @ exp + site.slack_price * (over_c.sum() + over_p.sum()))
    tie = float(np.einsum("ij,ij->", fleet.tie, power)) * h
    return float(energy + tie + fleet.penalty @ short)


def within(objective: float, bound: float, gap: float) -> bool:
    return objective - bound <= gap * max(abs(objective), 1e-9) + 1e-6


def _blocks_of(evs: list[FleetEV], fleet: FleetArrays, profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power bounds (E, n) that keep each EV within the block of its chosen profile."""
    on = profiles > 1e-9
    n = profiles.shape[1]
    steps = np.arange(n)
    first = np.where(on.any(axis=1), np.argmax(on, axis=1), n)
    last = np.where(on.any(axis=1), n - 1 - np.argmax(on[:, ::-1], axis=1), -1)
    pauses = np.array([ev.no_pauses for ev in evs], dtype=bool)
    inside = (steps >= first[:, None]) & (steps <= last[:, None])
    inside = np.where(pauses[:, None], inside, on.any(axis=1)[:, None])
    hi = np.where(inside, fleet.ub_kw, 0.0)
    before_last = inside & (steps < last[:, None]) & pauses[:, None]
    lo = np.where(before_last, np.minimum(fleet.min_kw[:, None], fleet.ub_kw), 0.0)
    return lo, hi


def dispatch(site: Site, evs: list[FleetEV], fleet: FleetArrays, profiles: np.ndarray, clock: Deadline, method: str):
    """The best powers within the blocks of ``profiles`` (E, n) kW, as a :class:`Schedule`."""
    lo, hi = _blocks_of(evs, fleet, profiles)
    ok = False
    if clock.hard_left() > 0:  # else not even the LP's building: the time is up
        outcome: LPOutcome
        outcome, power, short = solve_dispatch(site, lo, hi, fleet.tie, fleet.need_kwh, fleet.cap_kwh, fleet.penalty,
                                               clock, clock.left(), f"dispatch-{method}")  # fmt: skip
        clock.reached |= outcome.time_limit_reached
        ok = outcome.ok
    else:
        clock.reached = True
    if not ok:  # keep the profiles themselves
        power = profiles
        short = np.maximum(fleet.need_kwh - profiles.sum(axis=1) * site.h, 0.0)
    power = np.clip(power, 0.0, None)
    return Schedule(power, short, objective_value(site, fleet, power, short), method)


def rounded(pool: Pool, n_ev: int, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(column weights (K,), each EV's heaviest column (E,)); without master weights, the fallbacks
    (the start columns; EVs without one: their first, empty, column)."""
    owner = np.asarray(pool.owner)
    w = np.zeros(len(pool.costs))
    if weights is not None:
        w[: len(weights)] = weights
    else:
        w[list(pool.fallback.values())] = 1.0
    order = np.lexsort((-w, owner))  # per EV, heaviest first (ties: the earliest column)
    first = order[np.concatenate([[True], owner[order][1:] != owner[order][:-1]])]
    heaviest = np.full(n_ev, -1)
    heaviest[owner[first]] = first
    return w, heaviest


def _candidates(evs: list[FleetEV], dense: np.ndarray, owner: np.ndarray, use: np.ndarray) -> Candidates:
    """The distinct blocks (first..last charging step) of the columns in ``use``, per EV."""
    seen: set[tuple[int, int, int]] = set()
    ev_l, first_l, last_l, min_l = [], [], [], []
    for k in np.flatnonzero(use):
        on = np.flatnonzero(dense[k] > 1e-9)
        d = int(owner[k])
        if not len(on):
            continue
        ev = evs[d]
        avail = np.flatnonzero(ev.ub_kw > 0)
        span = (d, int(on[0]), int(on[-1])) if ev.no_pauses else (d, int(avail[0]), int(avail[-1]))
        if span not in seen:
            seen.add(span)
            ev_l.append(d)
            first_l.append(span[1])
            last_l.append(span[2])
            min_l.append(ev.min_kw)
    return Candidates(np.asarray(ev_l, int), np.asarray(first_l, int), np.asarray(last_l, int), np.asarray(min_l))


def _all_blocks(fleet: FleetArrays, blocks: Blocks) -> Candidates:
    first = blocks.w0[blocks.ev] + blocks.a
    return Candidates(blocks.ev, first, blocks.w0[blocks.ev] + blocks.e - 1, fleet.min_kw[blocks.ev])


def block_milp(site, evs, fleet: FleetArrays, pool: Pool, blocks: Blocks, use: np.ndarray, clock: Deadline,
               gap: float) -> tuple[Schedule, float, bool] | None:  # fmt: skip
    """The block MILP over the candidate blocks: (schedule, its proven bound milli-EUR, whether
    every block was a candidate, so that the bound holds for the whole problem) or None."""
    exact = len(blocks.ev) <= EXACT_BLOCKS
    cand = _all_blocks(fleet, blocks) if exact else _candidates(evs, pool.dense(), np.asarray(pool.owner), use)
    time_s = min(0.5 * clock.left(), MIP_SHARE * clock.limit_s)
    found, reached = solve_block_mip(site, fleet.ub_kw, fleet.tie, fleet.need_kwh, fleet.cap_kwh, fleet.penalty,
                                     cand, clock, time_s, gap)  # fmt: skip
    clock.reached |= reached
    if found is None:
        return None
    power, short, bound = found
    return Schedule(power, short, objective_value(site, fleet, power, short), "milp"), bound, exact
