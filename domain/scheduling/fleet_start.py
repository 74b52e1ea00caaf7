"""Start columns of the fleet solver (:mod:`.fleet`): a greedy start and the continuous relaxation.

Each EV starts with the empty profile and the cheapest block at the consumption prices within
the capacity left by the EVs placed before it (:func:`greedy_columns`, least laxity first:
site-feasible, built before any LP, so that a solve whose time runs out still has a feasible
schedule). The relaxation (an LP without minimum power or no-pauses) then gives site prices (its
balance duals) and, per EV, the span where it charges, taken as a block (:func:`span_column`,
the EV's fallback: the dispatch LP repairs its overloads). :func:`continuous_bound` is the
proven bound of a solve with no LP solved in time.

Units: power kW (consumption positive), energy grid kWh, prices EUR/MWh, costs milli-EUR.
"""

from __future__ import annotations

import numpy as np

from domain.scheduling.deadline import Deadline
from domain.scheduling.fleet_lp import Site, solve_dispatch
from domain.scheduling.fleet_model import FleetArrays, FleetEV
from domain.scheduling.fleet_pool import Pool
from domain.scheduling.fleet_pricing import Column
from domain.scheduling.greedy import fill

RELAX_SHARE = 0.45
"""Share of the time limit the relaxation may use (its optimum is the LP bound: at 0.3, 5,000 EVs
with a 5 s limit on a loaded machine were cut before it and reported no gap)."""
GREEDY_CHUNK = 250
"""EVs of the greedy start between two looks at the clock (5,000 EVs: 0.2-0.3 s in all)."""
LP_BUILD_S_PER_EV = 40e-6
"""Time to build (and load into HiGHS) an LP of the fleet, per EV: measured 0.18 s for the
relaxation of 5,000 EVs on a loaded machine (building is Python and NumPy: not interruptible)."""


def relaxed(site: Site, fleet: FleetArrays, clock: Deadline) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The continuous relaxation: (site prices EUR/MWh from its balance duals (n,), its powers
    (E, n) kW, its objective milli-EUR: a proven lower bound), or None when it was not solved in
    time (not waited for past its share of the limit: the schedule still needs the time after it)."""
    outcome, power, _ = solve_dispatch(site, np.zeros_like(fleet.ub_kw), fleet.ub_kw, fleet.tie, fleet.need_kwh,
                                       fleet.cap_kwh, fleet.penalty, clock, max(clock.left(RELAX_SHARE), 0.05),
                                       "relaxation", patient=False)  # fmt: skip
    clock.reached |= outcome.time_limit_reached
    if not outcome.ok:
        return None
    return -outcome.duals[: site.n] / site.h, power, outcome.objective if outcome.optimal else -np.inf


def _column(ev: FleetEV, power: np.ndarray, h: float) -> Column:
    short = max(ev.need_kwh - power.sum() * h, 0.0)
    cost = float(ev.tie @ power) * h + ev.penalty * short
    return Column(power, cost, cost, short)


def span_column(ev: FleetEV, relaxed_kw: np.ndarray, h: float) -> Column | None:
    """A block around where the relaxation charged: its first to last charging step (cut around
    the energy's centre when the minimum would force more than the cap), at least ``min_kw``."""
    on = np.flatnonzero(relaxed_kw > 1e-6)
    if not len(on):
        return None
    first, last = int(on[0]), int(on[-1])
    if ev.start_at_arrival:
        first = int(np.flatnonzero(ev.ub_kw > 0)[0])
    longest = int(ev.cap_kwh / (ev.min_kw * h) + 1e-9) + 1 if ev.min_kw > 0 and np.isfinite(ev.cap_kwh) else last + 1
    if last - first + 1 > longest:
        centre = int(round(float(np.arange(len(relaxed_kw)) @ relaxed_kw) / float(relaxed_kw.sum())))
        first = first if ev.start_at_arrival else max(first, min(centre - longest // 2, last + 1 - longest))
        last = first + longest - 1
    power = np.zeros_like(relaxed_kw)
    span = slice(first, last + 1)
    power[span] = np.minimum(np.maximum(relaxed_kw[span], ev.min_kw), ev.ub_kw[span])
    power[last] = min(relaxed_kw[last], ev.ub_kw[last])
    if np.any(ev.ub_kw[first:last] < ev.min_kw - 1e-9) or ev.ub_kw[last] <= 0:
        return None
    excess = power.sum() * h - ev.cap_kwh
    if excess > 1e-9:  # take it back from the power above the minimum (the last step: all of it)
        above = power - np.where(np.arange(len(power)) < last, np.minimum(ev.min_kw, power), 0.0)
        power -= above * min(excess / (above.sum() * h), 1.0)
    return _column(ev, power, h)


def greedy_columns(site: Site, evs: list[FleetEV], fleet: FleetArrays, price: np.ndarray,
                   clock: Deadline) -> tuple[dict[int, Column], bool]:  # fmt: skip
    """A site-feasible start: least laxity first (the energy an EV's window could deliver beyond
    its need, kWh), each EV's cheapest block (:func:`.greedy.fill`, full power but the last step)
    within the capacity the EVs before it left, at ``price`` less a congestion term (the mean
    absolute price times the share of the site limit still free: steps with room are preferred).

    Measured on the ACN fleets of ``bench/fleet_data.py`` (binding site limit): 5,000 EVs, every
    target met, 0.2 % above the optimum; earliest departure first at the bare prices left 509
    short. Returns (the columns, by EV; whether every EV was reached): the clock is read every
    :data:`GREEDY_CHUNK` EVs, and EVs not reached by the hard end get no column (they charge
    nothing: still site-feasible, their shortfall reported)."""
    remaining = site.cap_cons - site.inflexible
    limited = np.isfinite(site.cap_cons) & (site.cap_cons > 0)  # steps without a limit: no congestion term
    congestion = float(np.mean(np.abs(price))) / np.where(limited, site.cap_cons, 1.0)  # EUR/MWh per kW of room
    arrival = np.argmax(fleet.window, axis=1)
    laxity_kwh = fleet.ub_kw.sum(axis=1) * site.h - fleet.need_kwh
    out: dict[int, Column] = {}
    for rank, i in enumerate(np.argsort(laxity_kwh, kind="stable")):
        if rank % GREEDY_CHUNK == 0 and clock.hard_left() <= 0:
            clock.reached = True
            return out, False
        ev = evs[i]
        room = np.minimum(ev.ub_kw, np.clip(remaining, 0.0, None))
        steering = price + ev.tie - np.where(limited, congestion * np.clip(remaining, 0.0, None), 0.0)
        power = fill(room, steering, ev.need_kwh / site.h, (), ev.min_kw, ev.no_pauses)
        on = np.flatnonzero(power > 0)
        if not len(on) or (ev.start_at_arrival and on[0] != arrival[i]):
            continue  # nothing, or not a block this EV may take
        excess = power.sum() * site.h - ev.cap_kwh
        if excess > 0:  # the last step may deliver less than the minimum
            power[on[-1]] = max(power[on[-1]] - excess / site.h, 0.0)
        out[int(i)] = _column(ev, power, site.h)
        remaining = remaining - power
    return out, True


def continuous_bound(site: Site, fleet: FleetArrays, price: np.ndarray) -> float:
    """A proven lower bound (milli-EUR) in a few array operations, for a solve whose time ran out
    before any LP: the Lagrangian of the site balance at ``price`` (EUR/MWh per step), each EV's
    value relaxed to its continuous charging (no minimum power, no block: each EV's cheapest
    steps, which can only be cheaper than its best block, so the bound stays proven)."""
    from domain.scheduling.fleet import lagrangian_bound  # the fleet module imports this one

    cost = np.where(fleet.window, price + fleet.tie, np.inf)  # milli-EUR per grid kWh, per EV and step
    order = np.argsort(cost, axis=1, kind="stable")
    cost = np.take_along_axis(cost, order, axis=1)
    energy = np.take_along_axis(fleet.ub_kw, order, axis=1) * site.h
    need, cap, penalty = fleet.need_kwh[:, None], fleet.cap_kwh[:, None], fleet.penalty[:, None]
    limit = np.where(cost < 0, cap, np.where(cost < penalty, need, 0.0))  # non-increasing along a row
    taken = np.maximum.accumulate(np.minimum(np.cumsum(energy, axis=1), limit), axis=1)
    step = np.diff(taken, axis=1, prepend=0.0)
    with np.errstate(invalid="ignore"):
        values = np.where(step > 0, cost * step, 0.0).sum(axis=1)
    values += fleet.penalty * np.maximum(fleet.need_kwh - taken[:, -1], 0.0)
    return lagrangian_bound(site, -price * site.h, values)


def seed(site: Site, evs: list[FleetEV], fleet: FleetArrays, pool: Pool, clock: Deadline) -> float:
    """Put the start columns into ``pool`` (its site-feasible starts and fallbacks); returns the
    relaxation's optimum (milli-EUR, a proven lower bound on the fleet's objective; -inf when it
    was not solved).

    The greedy start at the consumption prices comes first, before any LP: a site-feasible
    schedule however short the time. The relaxation runs when its model is likely to be built
    within its share of the limit (:func:`lp_fits`)."""
    for i, ev in enumerate(evs):
        pool.add(i, Column(np.zeros(site.n), ev.penalty * ev.need_kwh, 0.0, ev.need_kwh))
    _add_start(pool, evs, *greedy_columns(site, evs, fleet, site.cons, clock))
    if not lp_fits(clock, len(evs), RELAX_SHARE):
        clock.reached = True
        return -np.inf
    found = relaxed(site, fleet, clock)
    if found is None:
        return -np.inf
    _, power, bound = found
    for i, ev in enumerate(evs):
        column = span_column(ev, power[i], site.h)
        if column is not None:  # a better start than the greedy one: the dispatch LP repairs its overloads
            pool.fallback[i] = len(pool.costs)
            pool.add(i, column)
    return bound


def _add_start(pool: Pool, evs: list[FleetEV], columns: dict[int, Column], complete: bool) -> None:
    """Add a greedy start's columns; a complete one is also a site-feasible start (one column per
    EV: the greedy's, else the empty one, EV ``i``'s column ``i``)."""
    start = np.arange(len(evs))
    for i, column in columns.items():
        start[i] = pool.fallback[i] = len(pool.costs)
        pool.add(i, column)
    if complete or not pool.starts:
        pool.starts.append(start)


def lp_fits(clock: Deadline, n_ev: int, share: float = 1.0) -> bool:
    """Whether an LP over ``n_ev`` EVs is likely to be built within ``share`` of the limit and leave
    its solver some time (its building is not interrupted: :data:`LP_BUILD_S_PER_EV`)."""
    return clock.left(share) > 2 * LP_BUILD_S_PER_EV * n_ev and clock.hard_left() > LP_BUILD_S_PER_EV * n_ev
