"""Start columns of the fleet solver (:mod:`.fleet`), from the continuous relaxation.

The relaxation (an LP without minimum power or no-pauses) gives site prices (its balance duals)
and, per EV, the span where it charges. Each EV starts with the empty profile, that span as a
block (:func:`span_column`, the EV's fallback: the dispatch LP repairs its overloads) and the
cheapest block at the relaxation's prices (the consumption prices if it was not solved) within
the capacity left by EVs departing earlier (:func:`greedy_columns`, site-feasible).

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


def relaxed(site: Site, fleet: FleetArrays, clock: Deadline) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The continuous relaxation: (site prices EUR/MWh from its balance duals (n,), its powers
    (E, n) kW, its objective milli-EUR: a proven lower bound), or None when it was not solved in time."""
    outcome, power, _ = solve_dispatch(site, np.zeros_like(fleet.ub_kw), fleet.ub_kw, fleet.tie, fleet.need_kwh,
                                       fleet.cap_kwh, fleet.penalty, clock, max(clock.left(RELAX_SHARE), 0.05),
                                       "relaxation")  # fmt: skip
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


def greedy_columns(site: Site, evs: list[FleetEV], price: np.ndarray) -> dict[int, Column]:
    """A site-feasible start: earliest departure first, each EV's cheapest block at ``price``
    within the capacity the EVs before it left (:func:`.greedy.fill`), full power but the last step."""
    remaining = site.cap_cons - site.inflexible
    departure = [int(np.flatnonzero(ev.ub_kw > 0)[-1]) if ev.ub_kw.any() else 0 for ev in evs]
    out: dict[int, Column] = {}
    for i in np.argsort(departure, kind="stable"):
        ev = evs[i]
        room = np.minimum(ev.ub_kw, np.clip(remaining, 0.0, None))
        power = fill(room, price + ev.tie, ev.need_kwh / site.h, (), ev.min_kw, ev.no_pauses)
        on = np.flatnonzero(power > 0)
        if ev.start_at_arrival and len(on) and on[0] != np.flatnonzero(ev.ub_kw > 0)[0]:
            continue  # not a block this EV may take
        excess = power.sum() * site.h - ev.cap_kwh
        if len(on) and excess > 0:  # the last step may deliver less than the minimum
            power[on[-1]] = max(power[on[-1]] - excess / site.h, 0.0)
        if not power.any():
            continue
        out[int(i)] = _column(ev, power, site.h)
        remaining = remaining - power
    return out


def seed(site: Site, evs: list[FleetEV], fleet: FleetArrays, pool: Pool, clock: Deadline) -> float:
    """Put the start columns into ``pool`` (and its fallbacks); returns the relaxation's optimum
    (milli-EUR, a proven lower bound on the fleet's objective; -inf when it was not solved)."""
    for i, ev in enumerate(evs):
        pool.add(i, Column(np.zeros(site.n), ev.penalty * ev.need_kwh, 0.0, ev.need_kwh))
    found = relaxed(site, fleet, clock)
    for i, column in greedy_columns(site, evs, site.cons if found is None else found[0]).items():
        pool.fallback[i] = len(pool.costs)
        pool.add(i, column)
    if found is None:
        return -np.inf
    _, power, bound = found
    for i, ev in enumerate(evs):
        column = span_column(ev, power[i], site.h)
        if column is not None:  # a better start than the greedy one: the dispatch LP repairs its overloads
            pool.fallback[i] = len(pool.costs)
            pool.add(i, column)
    return bound
