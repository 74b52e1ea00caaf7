"""Fleet solver: EVs with no pauses (and a minimum power) sharing a site limit, by column generation.

The on/off-per-step MILP has a weak relaxation for "one contiguous block at >= min power that
delivers the target": fractional on/off variables let an EV trickle. Here the unit is each EV's
whole charging profile; the LP over convex combinations of every EV's feasible profiles (the
convex hull per EV, coupled only by the site balance) is the *master*. Its bound is tight.

1. Column generation (:func:`_generate`): the restricted master LP over the profiles found so
   far gives duals of the site balance (a marginal price per step). Each EV's cheapest profile at
   those prices (:func:`.fleet_pricing.best_column`, exact) enters when its reduced cost is
   negative. With exact pricing, ``master objective + sum of negative reduced costs`` is a proven
   lower bound (Lagrangian) for the whole problem, at every iteration. An EV whose prices did not
   change since it was last priced is skipped: its best profile is already in the master.
2. Primal (:func:`_primal`): each EV takes its heaviest profile (rounding); the dispatch LP then
   re-optimises powers within the chosen blocks against the site limit. If that is not within
   the gap and time is left, a small MILP picks one generated profile per EV (EVs whose choice
   was integral stay fixed), followed by the dispatch LP again. The best schedule is kept.

The whole solve, model building included, stays within ``time_limit_s``: column generation gets
at most half of it, the primal what is left (the rounding needs no solver, and the dispatch LP
is small). The gap reported is ``(objective - proven bound) / |objective|``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from domain.scheduling.fleet_lp import Site, solve_dispatch, solve_master, solve_master_mip
from domain.scheduling.fleet_model import FleetEV
from domain.scheduling.fleet_pricing import Column, best_column

CG_SHARE = 0.5
PRICE_TOL = 1e-7
RC_TOL = 1e-6
MAX_ROUNDS = 200


@dataclass
class Pool:
    """Generated columns: sparse profiles (K, n), owner EV (K,), objective cost (K,)."""

    n: int
    rows: list[np.ndarray] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)

    def add(self, ev: int, column: Column) -> None:
        self.rows.append(column.power_kw)
        self.owner.append(ev)
        self.costs.append(column.cost)

    def arrays(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        return sp.csr_matrix(np.vstack(self.rows)), np.asarray(self.owner), np.asarray(self.costs)


@dataclass
class FleetOutcome:
    """Powers (E, n) kW, shortfalls (E,) grid kWh, objective and proven bound (milli-EUR)."""

    power_kw: np.ndarray
    shortfall_kwh: np.ndarray
    objective: float
    bound: float
    method: str
    rounds: int
    solve_time_s: float
    n_columns: int


class _Deadline:
    def __init__(self, limit_s: float) -> None:
        self.start = time.perf_counter()
        self.limit_s = limit_s
        self.solver_s = 0.0

    def left(self, share: float = 1.0) -> float:
        return self.limit_s * share - (time.perf_counter() - self.start)

    def timed(self, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        self.solver_s += time.perf_counter() - t0
        return out


def objective_value(site: Site, evs: list[FleetEV], power: np.ndarray, short: np.ndarray) -> float:
    """The model objective (milli-EUR) of a schedule: energy cost, tie-break, penalties."""
    h = site.h
    net = power.sum(axis=0) + site.inflexible
    imp, exp = np.clip(net, 0, None), np.clip(-net, 0, None)
    over_c, over_p = np.clip(imp - site.cap_cons, 0, None), np.clip(exp - site.cap_prod, 0, None)
    energy = h * (site.cons @ imp - site.prod @ exp + site.slack_price * (over_c.sum() + over_p.sum()))
    tie = sum(float(ev.tie @ power[i]) for i, ev in enumerate(evs)) * h
    return float(energy + tie + sum(ev.penalty * short[i] for i, ev in enumerate(evs)))


def _generate(site: Site, evs: list[FleetEV], pool: Pool, clock: _Deadline, gap: float):
    """Column generation; returns (last master outcome, best proven bound, rounds)."""
    last_price: list[np.ndarray | None] = [None] * len(evs)
    bound, master, rounds = -np.inf, None, 0
    while rounds < MAX_ROUNDS and clock.left(CG_SHARE) > 0:
        rounds += 1
        profiles, owner, costs = pool.arrays()
        outcome = clock.timed(solve_master, site, profiles, owner, costs, len(evs), clock.left(CG_SHARE))
        if not outcome.ok:
            break
        master = outcome
        price = -outcome.duals[: site.n] / site.h
        convex = outcome.duals[site.n :]
        negative = 0.0
        added = 0
        for i, ev in enumerate(evs):
            window = ev.ub_kw > 0
            seen = last_price[i]
            if seen is not None and np.allclose(seen, price[window], rtol=PRICE_TOL, atol=PRICE_TOL):
                continue
            last_price[i] = price[window]
            column = best_column(ev, price, site.h)
            reduced = column.priced - convex[i]
            if reduced < -RC_TOL * max(1.0, abs(outcome.objective)) / len(evs):
                pool.add(i, column)
                negative += reduced
                added += 1
        bound = max(bound, outcome.objective + negative)
        if not added or outcome.objective - bound <= 0.1 * gap * abs(outcome.objective):
            break
    return master, bound, rounds


def _blocks_of(evs: list[FleetEV], columns: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Power bounds (E, n) that keep each EV within the block of its chosen profile."""
    lo = np.zeros((len(evs), n))
    hi = np.zeros((len(evs), n))
    for i, ev in enumerate(evs):
        on = np.flatnonzero(columns[i] > 1e-9)
        if not len(on):
            continue
        if not ev.no_pauses:
            hi[i] = ev.ub_kw
            continue
        first, last = on[0], on[-1]
        hi[i, first : last + 1] = ev.ub_kw[first : last + 1]
        lo[i, first:last] = np.minimum(ev.min_kw, ev.ub_kw[first:last])
    return lo, hi


def _dispatch(site: Site, evs: list[FleetEV], columns: np.ndarray, clock: _Deadline):
    lo, hi = _blocks_of(evs, columns, site.n)
    tie = np.vstack([ev.tie for ev in evs])
    need = np.array([ev.need_kwh for ev in evs])
    cap = np.array([ev.cap_kwh for ev in evs])
    penalty = np.array([ev.penalty for ev in evs])
    outcome, power, short = clock.timed(
        solve_dispatch, site, lo, hi, tie, need, cap, penalty, max(clock.left(), 0.05)
    )  # fmt: skip
    if not outcome.ok:  # keep the profiles themselves
        power = columns
        short = np.maximum(need - columns.sum(axis=1) * site.h, 0.0)
    power = np.clip(power, 0.0, None)
    return power, short, objective_value(site, evs, power, short)


def _within(objective: float, bound: float, gap: float) -> bool:
    return objective - bound <= gap * max(abs(objective), 1e-9) + 1e-6


def _primal(site, evs, pool: Pool, master, bound: float, clock: _Deadline, gap: float):
    profiles, owner, costs = pool.arrays()
    dense = profiles.toarray()
    weights = master.x[: len(costs)] if master is not None else np.zeros(len(costs))
    heaviest = np.full(len(evs), -1)
    best_w = np.full(len(evs), -1.0)
    for k in np.argsort(-weights, kind="stable"):
        if weights[k] > best_w[owner[k]] + 1e-12 or heaviest[owner[k]] < 0:
            best_w[owner[k]], heaviest[owner[k]] = weights[k], k
    power, short, objective = _dispatch(site, evs, dense[heaviest], clock)
    method = "round"
    if not _within(objective, bound, gap) and clock.left() > 0.1 * clock.limit_s:
        fixed = np.zeros(len(costs), dtype=bool)
        integral = best_w > 1 - 1e-6
        fixed[heaviest[integral]] = True
        chosen = clock.timed(
            solve_master_mip, site, profiles, owner, costs, len(evs), fixed, 0.8 * clock.left(), gap
        )  # fmt: skip
        if chosen is not None and (chosen >= 0).all():
            p2, s2, o2 = _dispatch(site, evs, dense[chosen], clock)
            if o2 < objective:
                power, short, objective, method = p2, s2, o2, "milp"
    return power, short, objective, method


def solve_fleet(site: Site, evs: list[FleetEV], time_limit_s: float, gap: float) -> FleetOutcome:
    """Schedule the fleet (see the module docstring); ``gap`` is the relative gap to stop at."""
    clock = _Deadline(time_limit_s)
    pool = Pool(site.n)
    for i, ev in enumerate(evs):
        pool.add(i, Column(np.zeros(site.n), ev.penalty * ev.need_kwh, 0.0, ev.need_kwh))
        selfish = best_column(ev, site.cons, site.h)
        if selfish.power_kw.any():
            pool.add(i, selfish)
    master, bound, rounds = _generate(site, evs, pool, clock, gap)
    power, short, objective, method = _primal(site, evs, pool, master, bound, clock, gap)
    return FleetOutcome(power, short, objective, bound, f"fleet-cg+{method}", rounds, clock.solver_s, len(pool.costs))
