"""Exact pricing of one EV's charging: the cheapest profile at given per-step prices.

Given a price per grid kWh for every step (EUR/MWh = milli-EUR/kWh: energy price or, in column
generation, the site balance dual, plus the EV's tie-break), find the profile that minimises
``sum_t c_t * p_t * h + penalty * shortfall`` over the EV's options (see :mod:`.fleet_model`):

* continuous: fill the available steps cheapest first (a fractional knapsack);
* no pauses: every contiguous block ``[a, a + L)`` of available steps. In a block every step but
  the last carries at least ``min_kw``; what remains is filled cheapest first. Every block is
  evaluated at once, vectorised: rows are blocks, columns the window's steps in price order.

Energy is filled while it is worth it: below the need while the price is under the penalty,
above it (up to the cap) only at negative prices. The empty profile (no charging) is always an
option. Powers in kW (consumption positive), energies in grid kWh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.fleet_model import FleetEV

TOL = 1e-9


@dataclass(frozen=True, eq=False)
class Column:
    """A profile ``power_kw`` (n,) with its objective ``cost`` (milli-EUR: tie-break and penalty,
    not the energy price) and ``priced`` value (milli-EUR at the pricing prices, incl. penalty)."""

    power_kw: np.ndarray
    cost: float
    priced: float
    shortfall_kwh: float


def _blocks(ev: FleetEV, ub: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) in window positions of the feasible no-pause blocks."""
    width = len(ub)
    m = ev.min_kw
    longest = width if m <= TOL or not np.isfinite(ev.cap_kwh) else int(ev.cap_kwh / (m * h) + 1e-9) + 1
    longest = max(min(longest, width), 1)
    starts = np.array([0]) if ev.start_at_arrival else np.arange(width)
    a = np.repeat(starts, longest)
    e = a + np.tile(np.arange(1, longest + 1), len(starts))
    keep = e <= width
    a, e = a[keep], e[keep]
    bad = np.concatenate([[0], np.cumsum(ub < m - 1e-9)])
    ok = (bad[e - 1] - bad[a] == 0) & (ub[e - 1] > TOL)
    return a[ok], e[ok]


def _fill(ev: FleetEV, c: np.ndarray, ub: np.ndarray, a: np.ndarray, e: np.ndarray, h: float):
    """Per block: base energy/cost at min power, then the cheapest-first fill. Returns the arrays."""
    m = ev.min_kw
    order = np.argsort(c, kind="stable")
    cs, us = c[order], ub[order]
    inside = (order >= a[:, None]) & (order < e[:, None])
    last = order == (e - 1)[:, None]
    room = np.where(inside, np.where(last, us, us - m), 0.0) * h
    base_e = m * h * (e - a - 1)
    csum = np.concatenate([[0.0], np.cumsum(c)])
    base_cost = m * h * (csum[e - 1] - csum[a])
    need_x = np.maximum(ev.need_kwh - base_e, 0.0)
    cap_x = ev.cap_kwh - base_e
    limit = np.where(cs < 0, cap_x[:, None], np.where(cs < ev.penalty, need_x[:, None], 0.0))
    cum = np.cumsum(room, axis=1)
    take = np.clip(np.minimum(limit, cum) - (cum - room), 0.0, room)
    extra = take.sum(axis=1)
    short = np.maximum(ev.need_kwh - base_e - extra, 0.0)
    value = base_cost + take @ cs + ev.penalty * short
    return order, take, short, value


def best_column(ev: FleetEV, price: np.ndarray, h: float) -> Column:
    """The cheapest profile of ``ev`` at ``price`` (EUR/MWh per step, before the tie-break)."""
    n = len(price)
    empty = Column(np.zeros(n), ev.penalty * ev.need_kwh, ev.penalty * ev.need_kwh, ev.need_kwh)
    avail = np.flatnonzero(ev.ub_kw > TOL)
    if not len(avail):
        return empty
    w0, w1 = int(avail[0]), int(avail[-1]) + 1
    c = (price + ev.tie)[w0:w1]
    ub = ev.ub_kw[w0:w1]
    if ev.no_pauses:
        a, e = _blocks(ev, ub, h)
    else:
        a, e = np.array([0]), np.array([w1 - w0])
    if not len(a):
        return empty
    order, take, short, value = _fill(ev, c, ub, a, e, h)
    best = int(np.argmin(value))
    if value[best] >= empty.priced - 1e-9:
        return empty
    power = np.zeros(w1 - w0)
    power[order] = take[best] / h
    if ev.no_pauses:
        power[a[best] : e[best] - 1] += ev.min_kw
    full = np.zeros(n)
    full[w0:w1] = power
    cost = float(ev.tie @ full) * h + ev.penalty * float(short[best])
    return Column(full, cost, float(value[best]), float(short[best]))
