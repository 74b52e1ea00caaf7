"""Fleet solver: EVs with no pauses (and a minimum power) sharing a site limit, by column generation.

The on/off-per-step MILP has a weak relaxation for "one contiguous block at >= min power that
delivers the target": fractional on/off variables let an EV trickle. Here the unit is each EV's
whole charging profile; the LP over convex combinations of every EV's feasible profiles (the
convex hull per EV, coupled only by the site balance) is the *master*. Its bound is tight.

0. Start columns (:mod:`.fleet_start`): the empty profile, a site-feasible greedy start (built
   before any LP: the schedule of a solve whose time runs out first), and the span where the
   continuous relaxation charges; the relaxation's balance duals are the first prices.
1. Column generation (:class:`Generation`): the restricted master LP over the profiles found so
   far (one HiGHS instance: new columns warm-start the simplex) gives duals of the site balance
   (a marginal price per step). Each EV's best ``PER_EV`` profiles at those prices
   (:func:`.fleet_pricing.best_columns`, exact, vectorised) enter when their reduced cost is
   negative. The Lagrangian of the site balance at those duals is a proven lower bound for the
   whole problem, at every iteration (:func:`lagrangian_bound`). An EV whose prices did not
   change since it was last priced is not priced again: its best profiles are the same.
2. Primal (:mod:`.fleet_primal`): each EV takes its heaviest profile (rounding); the dispatch LP
   re-optimises powers within the chosen blocks against the site limit.

Column generation first runs until the master is within half the requested gap of the bound
(the rounding usually loses far less than the other half); if the rounded schedule is not within
the gap, it runs on to a tenth of it and rounds again, and then, time permitting, a block MILP
chooses among candidate blocks. The best schedule is kept.

The whole solve, model building included, runs under the solve's deadline (:mod:`.deadline`: a
HiGHS stage still running at its hard end is abandoned; no LP is built, nor are the blocks
enumerated, unless that is likely to end before the hard end (:func:`.fleet_start.lp_fits`,
:data:`BLOCKS_S_PER_EV`: building is not interruptible); the greedy start and pricing look at the
clock every few hundred / :data:`PRICING_CHUNK` EVs): column generation gets about half of it
(the relaxation up to 45 %, and not waited for past that: it gives the proven bound, measured
1-2.5 s at 5,000 EVs on a loaded machine), the primal what is left. The gap reported is
``(objective - proven bound) / |objective|``; with no LP solved in time, the bound is the
Lagrangian at the consumption prices (:func:`.fleet_start.continuous_bound`, or the exact
:func:`price_bound` with half the limit left). Of the schedules found, one within the site limit
is preferred to one over it (a dispatch LP cut short keeps its profiles, which may overload it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.deadline import Deadline, Stage
from domain.scheduling.fleet_lp import LPOutcome, Master, Site
from domain.scheduling.fleet_model import FleetArrays, FleetEV
from domain.scheduling.fleet_pool import Pool
from domain.scheduling.fleet_pricing import Blocks, best_columns, enumerate_blocks
from domain.scheduling.fleet_primal import Schedule, block_milp, dispatch, objective_value, rounded, within
from domain.scheduling.fleet_start import continuous_bound, lp_fits, seed

CG_SHARE = 0.5
FIRST_MASTER_SHARE = 0.7
PRICE_TOL = 1e-7
RC_TOL = 1e-6
MAX_ROUNDS = 200
PER_EV = 1
"""Columns per EV and pricing round (its best distinct blocks). Measured on the ACN fleets of
``bench/fleet_data.py``: 2 or 3 take as many rounds as 1, with a larger (slower) master."""
BLOCKS_S_PER_EV = 80e-6
"""Time to enumerate the blocks (:func:`.fleet_pricing.enumerate_blocks`, not interruptible), per
EV: measured 0.14-0.44 s at 5,000 EVs on a loaded machine."""
PRICING_CHUNK = 500
"""EVs priced between two looks at the clock (pricing 5,000 EVs took 0.5-1 s on a loaded machine)."""
PRICE_BOUND_SHARE = 0.5
"""With no LP solved, the exact Lagrangian at the consumption prices (:func:`price_bound`: every
EV's blocks enumerated and priced, about 1 s at 5,000 EVs) only with this share of the limit left."""
MIP_MIN_SHARE = 0.25
"""The block MILP runs only with at least this share of the time limit left."""
LOOSE, TIGHT = 0.8, 0.1
"""Column generation stops when the master is within this share of the requested gap of the bound."""


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
    time_limit_reached: bool
    stages: tuple[Stage, ...] = ()


def lagrangian_bound(site: Site, duals: np.ndarray, ev_values: np.ndarray) -> float:
    """A proven lower bound (milli-EUR) from any balance duals ``duals`` (n,): the Lagrangian of
    the site balance, with each EV's best value ``ev_values`` (E,) at the prices those duals give."""
    reduced = site.objective() - np.tile(duals, 4) * np.repeat([-1.0, 1.0, -1.0, 1.0], site.n)
    lb, ub = site.bounds()
    with np.errstate(invalid="ignore"):
        site_part = np.where(reduced < 0, reduced * ub, reduced * lb)
    site_part = np.where((reduced == 0) | (lb == ub), 0.0, site_part)
    return float(duals @ -site.inflexible + ev_values.sum() + site_part.sum())


class Generation:
    """Column generation, resumable with a tighter tolerance (see the module docstring)."""

    def __init__(self, site: Site, evs: list[FleetEV], fleet: FleetArrays, pool: Pool, clock: Deadline) -> None:
        self.site, self.evs, self.fleet, self.pool, self.clock = site, evs, fleet, pool, clock
        self._blocks: Blocks | None = None
        self.master: LPOutcome | None = None
        self.bound = -np.inf
        self.rounds = 0
        self.converged = False
        self._priced = np.full(len(evs), -np.inf)
        self._seen = np.full(fleet.ub_kw.shape, np.nan)
        self._last_round_s = 0.0

    def blocks_fit(self) -> bool:
        """Whether the blocks are enumerated, or likely to be before the hard end (:data:`BLOCKS_S_PER_EV`)."""
        return self._blocks is not None or self.clock.hard_left() > BLOCKS_S_PER_EV * len(self.evs)

    @property
    def blocks(self) -> Blocks:
        """Every EV's feasible blocks (enumerated when first needed: 0.14-0.44 s at 5,000 EVs)."""
        if self._blocks is None:
            self._blocks = enumerate_blocks(self.evs, self.site.h)
        return self._blocks

    def _changed(self, price: np.ndarray) -> np.ndarray:
        """EVs whose prices over their window changed since they were last priced (all, at first)."""
        with np.errstate(invalid="ignore"):
            same = np.abs(self._seen - price) <= PRICE_TOL * (1.0 + np.abs(price))
        return np.flatnonzero((~same & self.fleet.window).any(axis=1) | np.isnan(self._seen[:, 0]))

    def _price(self, price: np.ndarray, below: np.ndarray) -> tuple[dict, bool]:
        """Price the EVs whose prices changed, :data:`PRICING_CHUNK` at a time while the deadline's
        hard end is ahead; returns (new columns per EV, whether every such EV was priced)."""
        columns: dict = {}
        if not self.blocks_fit():
            self.clock.reached = True
            return columns, False
        changed = self._changed(price)
        for start in range(0, len(changed), PRICING_CHUNK):
            if self.clock.hard_left() <= 0:
                self.clock.reached = True
                return columns, False
            chunk = changed[start : start + PRICING_CHUNK]
            values, found = best_columns(self.evs, chunk, self.blocks, price, self.site.h, below, PER_EV)
            columns.update(found)
            self._priced[chunk] = values[chunk]
            self._seen[chunk] = price
        return columns, True

    def _time_for_a_round(self) -> bool:
        if self.master is None:
            return lp_fits(self.clock, len(self.evs))
        return self.clock.left(CG_SHARE) > self._last_round_s

    def run(self, tolerance: float) -> None:
        """Generate until the master is within ``tolerance`` (relative) of the bound, no column
        prices out, or the time is up."""
        site, pool, clock = self.site, self.pool, self.clock
        while not self.converged and self.rounds < MAX_ROUNDS:
            if self.master is not None and self.master.objective - self.bound <= tolerance * abs(self.master.objective):
                return
            if not self._time_for_a_round():
                self.clock.reached = True
                return
            self.rounds += 1
            started = clock.clock()
            pool.flush()
            outcome = pool.master.solve(clock, clock.left(CG_SHARE if self.master else FIRST_MASTER_SHARE))
            clock.reached |= outcome.time_limit_reached
            if not outcome.ok:
                return
            self.master = outcome
            price = -outcome.duals[: site.n] / site.h
            threshold = RC_TOL * max(1.0, abs(outcome.objective)) / len(self.evs)
            below = outcome.duals[site.n :] - threshold
            columns, complete = self._price(price, below)
            for i, found in columns.items():
                for column in found:
                    pool.add(i, column)
            if not complete:  # the time is up: a bound needs every EV priced at these prices
                return
            self.bound = max(self.bound, lagrangian_bound(site, outcome.duals[: site.n], self._priced))
            self.converged = not columns
            self._last_round_s = clock.clock() - started


def _greedy_schedule(site: Site, fleet: FleetArrays, pool: Pool) -> Schedule:
    """The best site-feasible greedy start (:func:`.fleet_start.greedy_columns`) as it is: no LP."""
    schedules = []
    for start in pool.starts:
        power = pool.dense()[start]
        short = np.maximum(fleet.need_kwh - power.sum(axis=1) * site.h, 0.0)
        schedules.append(Schedule(power, short, objective_value(site, fleet, power, short), "greedy"))
    return min(schedules, key=lambda s: s.objective)


def _start_schedule(site, evs, fleet, pool: Pool, clock: Deadline) -> Schedule | None:
    if not lp_fits(clock, len(evs)):
        clock.reached = True
        return None
    _, fallback = rounded(pool, len(evs), None)
    return dispatch(site, evs, fleet, pool.dense()[fallback], clock, "start")


def _rounded_schedule(site, evs, fleet, gen: Generation, clock: Deadline) -> Schedule | None:
    if gen.master is None:
        return None
    if not lp_fits(clock, len(evs)):
        clock.reached = True
        return None
    gen.pool.flush()
    _, heaviest = rounded(gen.pool, len(evs), gen.master.x)
    return dispatch(site, evs, fleet, gen.pool.dense()[heaviest], clock, "round")


def _overloaded(site: Site, schedule: Schedule) -> bool:
    """Whether the EVs' power takes the site's import above its limit (at a step it was not already)."""
    net = schedule.power_kw.sum(axis=0) + site.inflexible
    return bool(np.any(net > np.maximum(site.cap_cons, site.inflexible) + 1e-6))


def _better(site: Site, best: Schedule | None, found: Schedule | None) -> Schedule | None:
    """The better schedule: one within the site limit before one over it, then the lower objective."""
    if found is None:
        return best
    if best is None:
        return found
    key_found, key_best = (_overloaded(site, found), found.objective), (_overloaded(site, best), best.objective)
    return found if key_found < (key_best[0], key_best[1] - 1e-9) else best


def price_bound(site: Site, evs: list[FleetEV], blocks: Blocks, price: np.ndarray) -> float:
    """A proven lower bound (milli-EUR) without any LP: the Lagrangian of the site balance at
    ``price`` (EUR/MWh per step, e.g. the consumption prices), each EV priced exactly."""
    values, _ = best_columns(evs, np.arange(len(evs)), blocks, price, site.h)
    return lagrangian_bound(site, -price * site.h, values)


def solve_fleet(site: Site, evs: list[FleetEV], clock: Deadline, gap: float) -> FleetOutcome:
    """Schedule the fleet (see the module docstring) under ``clock``; ``gap``: the relative gap to stop at."""
    fleet = FleetArrays.of(evs)
    pool = Pool(Master(site, len(evs)))
    relaxation_bound = seed(site, evs, fleet, pool, clock)
    gen = Generation(site, evs, fleet, pool, clock)
    # without the relaxation, a proven bound all the same (a few array operations)
    gen.bound = relaxation_bound if np.isfinite(relaxation_bound) else continuous_bound(site, fleet, site.cons)
    gen.run(LOOSE * gap)
    if gen.master is None and clock.left() > PRICE_BOUND_SHARE * clock.limit_s:  # no LP: the exact pricing
        gen.bound = max(gen.bound, price_bound(site, evs, gen.blocks, site.cons))
    best = _better(site, _greedy_schedule(site, fleet, pool), _rounded_schedule(site, evs, fleet, gen, clock))
    if gen.master is None or not (gen.converged or within(gen.master.objective, gen.bound, gap)):
        best = _better(site, best, _start_schedule(site, evs, fleet, pool, clock))  # stopped early: the start too
    if not within(best.objective, gen.bound, gap) and not gen.converged:
        rounds = gen.rounds
        gen.run(TIGHT * gap)
        if gen.rounds > rounds:
            best = _better(site, best, _rounded_schedule(site, evs, fleet, gen, clock))
    bound = gen.bound
    mip_fits = clock.left() > MIP_MIN_SHARE * clock.limit_s and gen.blocks_fit() and lp_fits(clock, len(evs))
    if not within(best.objective, bound, gap) and not mip_fits:
        clock.reached = True  # no time for the block MILP
    elif not within(best.objective, bound, gap):
        weights, heaviest = rounded(pool, len(evs), None if gen.master is None else gen.master.x)
        use = weights > 1e-6
        use[heaviest] = True
        found = block_milp(site, evs, fleet, pool, gen.blocks, use, clock, gap)
        if found is not None:
            schedule, mip_bound, exact = found
            bound = max(bound, mip_bound) if exact else bound  # every block a candidate: a global bound
            best = _better(site, best, schedule)
    return FleetOutcome(best.power_kw, best.shortfall_kwh, best.objective, bound, f"fleet-cg+{best.method}",
                        gen.rounds, clock.solver_s, len(pool.costs), clock.reached, tuple(clock.stages))  # fmt: skip
