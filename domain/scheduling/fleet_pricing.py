"""Exact pricing of EV charging: each EV's cheapest profile at given per-step prices, vectorised.

Given a price per grid kWh for every step (EUR/MWh = milli-EUR/kWh: the energy price or, in
column generation, the site balance dual; plus each EV's tie-break), find per EV the profile
minimising ``sum_t c_t * p_t * h + penalty * shortfall`` over its options (:mod:`.fleet_model`):
one contiguous block ``[a, e)`` of available steps, every step but the last at ``>= min_kw``
(continuous EVs: one block, the whole window, ``min_kw = 0``), the rest filled cheapest first.

For a block and a threshold ``k`` (the ``k`` cheapest steps of the window are "cheap"), the
energy at "cheap steps full, other steps at the minimum, the last step 0 unless cheap" is a
difference of prefix sums in a per-EV table ``E[k, j]``; it rises with ``k``. The optimal fill
of a block is found by a binary search on ``k`` for the delivered energy ``T``, plus a partial
step. All blocks of all EVs are searched together (EVs grouped by window width), so a pricing
round costs a few hundred numpy calls however many EVs there are.

``T`` = the need when the need is worth buying (prices under the penalty), more only where
prices are negative (up to the cap), never less than the block's forced minimum. The empty
profile is always an option. Powers in kW (consumption positive), energies in grid kWh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.fleet_model import FleetEV

TOL = 1e-9
GROUP = 64
"""EVs per vectorised group (sorted by window width, so padding stays small)."""


@dataclass(frozen=True, eq=False)
class Column:
    """A profile ``power_kw`` (n,) with its objective ``cost`` (milli-EUR: tie-break and penalty,
    not the energy price) and ``priced`` value (milli-EUR at the pricing prices, incl. penalty)."""

    power_kw: np.ndarray
    cost: float
    priced: float
    shortfall_kwh: float


@dataclass(frozen=True, eq=False)
class Blocks:
    """Static per-EV data: window ``w0`` (E,), width ``width`` (E,), and every feasible block as
    flat arrays ``ev`` (B,), start ``a`` and end ``e`` (window positions, ``[a, e)``)."""

    w0: np.ndarray
    width: np.ndarray
    ev: np.ndarray
    a: np.ndarray
    e: np.ndarray
    short: np.ndarray
    overlong: np.ndarray

    offsets: np.ndarray
    """(E + 1,) the blocks of EV i are ``offsets[i]:offsets[i + 1]`` (blocks are grouped by EV)."""


def _windows(evs: list[FleetEV]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w0, width, ub within the window (E, n), zero-padded)."""
    ub = np.vstack([ev.ub_kw for ev in evs])
    n = ub.shape[1]
    avail = ub > TOL
    has = avail.any(axis=1)
    w0 = np.where(has, np.argmax(avail, axis=1), 0)
    width = np.where(has, n - np.argmax(avail[:, ::-1], axis=1) - w0, 0)
    cols = w0[:, None] + np.arange(n)[None, :]
    shifted = np.take_along_axis(np.hstack([ub, np.zeros_like(ub)]), cols, axis=1)
    return w0, width, np.where(np.arange(n)[None, :] < width[:, None], shifted, 0.0)


def enumerate_blocks(evs: list[FleetEV], h: float) -> Blocks:
    """Every EV's feasible blocks (independent of prices: computed once per solve), vectorised.

    Flags dominated blocks: ``short`` (even at full power it cannot deliver the need, and the
    block one step longer is feasible: cheaper whenever every price is under the penalty) and
    ``overlong`` (its forced minimum meets the need without its last two steps: the block one
    step shorter is cheaper whenever every price is positive).
    """
    w0, width, ub = _windows(evs)
    n = ub.shape[1]
    m = np.array([ev.min_kw for ev in evs])
    need = np.array([ev.need_kwh for ev in evs])
    cap = np.array([ev.cap_kwh for ev in evs])
    pauses = np.array([ev.no_pauses for ev in evs], dtype=bool)
    first_only = np.array([ev.start_at_arrival for ev in evs], dtype=bool) | ~pauses
    with np.errstate(divide="ignore", invalid="ignore"):
        longest = np.where((m > TOL) & np.isfinite(cap), np.floor(cap / (m * h) + 1e-9) + 1, width)
    longest = np.where(pauses, np.clip(longest, 1, np.maximum(width, 1)), 1).astype(int)
    counts = np.where(width > 0, np.where(first_only, 1, width) * longest, 0)
    ev = np.repeat(np.arange(len(evs)), counts)
    j = np.arange(len(ev)) - np.repeat(np.cumsum(counts) - counts, counts)
    a = j // longest[ev]
    e = np.where(pauses[ev], a + j % longest[ev] + 1, width[ev])
    keep = e <= width[ev]
    ev, a, e = ev[keep], a[keep], e[keep]
    bad = np.hstack([np.zeros((len(evs), 1), dtype=int), np.cumsum(ub < m[:, None] - 1e-9, axis=1)])
    ok = ~pauses[ev] | ((bad[ev, e - 1] - bad[ev, a] == 0) & (ub[ev, e - 1] > TOL))
    ev, a, e = ev[ok], a[ok], e[ok]
    full = np.hstack([np.zeros((len(evs), 1)), np.cumsum(ub, axis=1)]) * h
    nxt = np.minimum(e, n - 1)
    longer_ok = (e < width[ev]) & (bad[ev, e] - bad[ev, a] == 0) & (ub[ev, nxt] > TOL)
    short = pauses[ev] & (full[ev, e] - full[ev, a] < need[ev] - 1e-9) & longer_ok
    overlong = pauses[ev] & (e - a >= 2) & (m[ev] * h * (e - a - 2) >= need[ev] - 1e-9)
    return Blocks(w0, width, ev, a, e, short, overlong, np.searchsorted(ev, np.arange(len(evs) + 1)))


@dataclass(frozen=True, eq=False)
class _Group:
    """Padded per-group arrays: ``c``, ``ub`` (G, W) window prices and powers, ``order`` (G, W)
    steps by price, ``rank`` (G, W), ``m``/``need``/``cap``/``pen`` (G,), tables ``E``/``C``
    (G, W + 1, W + 1): energy / cost of non-last steps before position j at threshold k."""

    c: np.ndarray
    ub: np.ndarray
    order: np.ndarray
    rank: np.ndarray
    m: np.ndarray
    need: np.ndarray
    cap: np.ndarray
    pen: np.ndarray
    width: np.ndarray
    energy: np.ndarray
    cost: np.ndarray

    @property
    def rank_flat(self) -> np.ndarray:
        return self.rank.reshape(-1)

    @property
    def ub_flat(self) -> np.ndarray:
        return self.ub.reshape(-1)


def _group(evs: list[FleetEV], members: np.ndarray, blocks: Blocks, price: np.ndarray, h: float) -> _Group:
    width = int(blocks.width[members].max())
    g = len(members)
    c = np.full((g, width), np.inf)
    ub = np.zeros((g, width))
    for r, i in enumerate(members):
        lo, w = blocks.w0[i], blocks.width[i]
        c[r, :w] = price[lo : lo + w] + evs[i].tie[lo : lo + w]
        ub[r, :w] = evs[i].ub_kw[lo : lo + w]
    order = np.argsort(c, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(width)[None, :].repeat(g, axis=0), axis=1)
    m = np.array([evs[i].min_kw for i in members])
    cheap = rank[:, None, :] < np.arange(width + 1)[None, :, None]
    step_e = (m[:, None, None] + cheap * (ub - m[:, None])[:, None, :]) * h
    step_e = np.where(np.isfinite(c)[:, None, :], step_e, 0.0)
    energy = np.concatenate([np.zeros((g, width + 1, 1)), np.cumsum(step_e, axis=2)], axis=2)
    finite_c = np.where(np.isfinite(c), c, 0.0)
    cost = np.concatenate([np.zeros((g, width + 1, 1)), np.cumsum(step_e * finite_c[:, None, :], axis=2)], axis=2)
    return _Group(
        c=finite_c, ub=ub, order=order, rank=rank, m=m,
        need=np.array([evs[i].need_kwh for i in members]), cap=np.array([evs[i].cap_kwh for i in members]),
        pen=np.array([evs[i].penalty for i in members]), width=blocks.width[members], energy=energy, cost=cost,
    )  # fmt: skip


def _energy_at(gr: _Group, r, a, e, k, h: float) -> np.ndarray:
    last = e - 1
    side = gr.energy.shape[1]
    row = (r * side + k) * side
    flat = gr.energy.reshape(-1)
    cheap_last = gr.rank_flat[r * (side - 1) + last] < k
    return flat[row + last] - flat[row + a] + cheap_last * gr.ub_flat[r * (side - 1) + last] * h


def _search(gr: _Group, r, a, e, target, width_r, h: float) -> np.ndarray:
    """Largest threshold k in [0, width] whose energy is <= target."""
    lo = np.zeros(len(r), dtype=int)
    hi = width_r + 1
    while (hi - lo > 1).any():
        mid = (lo + hi) // 2
        fits = _energy_at(gr, r, a, e, np.minimum(mid, width_r), h) <= target + 1e-9
        move = hi - lo > 1
        lo = np.where(move & fits, mid, lo)
        hi = np.where(move & ~fits, mid, hi)
    return lo


@dataclass(frozen=True, eq=False)
class _Fill:
    k: np.ndarray
    extra: np.ndarray
    star: np.ndarray
    delivered: np.ndarray
    value: np.ndarray


def _fill(gr: _Group, r, a, e, width_r, h: float) -> _Fill:
    need, cap, pen = gr.need[r], gr.cap[r], gr.pen[r]
    real = gr.rank < gr.width[:, None]
    k_neg = ((gr.c < 0) & real).sum(axis=1)[r]
    k_pen = ((gr.c < gr.pen[:, None]) & real).sum(axis=1)[r]
    e_neg = _energy_at(gr, r, a, e, np.minimum(k_neg, width_r), h)
    e_pen = _energy_at(gr, r, a, e, np.minimum(k_pen, width_r), h)
    forced = _energy_at(gr, r, a, e, np.zeros(len(r), dtype=int), h)
    target = np.where(e_neg >= need, np.minimum(cap, e_neg), np.minimum(need, e_pen))
    target = np.maximum(target, forced)
    k = _search(gr, r, a, e, target, width_r, h)
    base = _energy_at(gr, r, a, e, k, h)
    star = gr.order[r, np.minimum(k, gr.order.shape[1] - 1)]
    inside = (k < width_r) & (star >= a) & (star < e)
    room = np.where(star == e - 1, gr.ub[r, star], gr.ub[r, star] - gr.m[r]) * h
    extra = np.where(inside, np.clip(target - base, 0.0, room), 0.0)
    last = e - 1
    cost = gr.cost[r, k, last] - gr.cost[r, k, a] + (gr.rank[r, last] < k) * gr.ub[r, last] * h * gr.c[r, last]
    delivered = base + extra
    value = cost + extra * gr.c[r, star] + pen * np.maximum(need - delivered, 0.0)
    return _Fill(k, extra, star, delivered, value)


def _column(ev: FleetEV, gr: _Group, r: int, a: int, e: int, fill: _Fill, j: int, w0: int, n: int, h: float) -> Column:
    k = int(fill.k[j])
    ub = gr.ub[r]
    steps = np.arange(a, e)
    cheap = gr.rank[r, steps] < k
    power = np.where(cheap, ub[steps], gr.m[r])
    power[-1] = ub[e - 1] if cheap[-1] else 0.0
    star = int(fill.star[j])
    if a <= star < e:
        power[star - a] += fill.extra[j] / h
    full = np.zeros(n)
    full[w0 + a : w0 + e] = power
    short = max(ev.need_kwh - float(fill.delivered[j]), 0.0)
    return Column(full, float(ev.tie @ full) * h + ev.penalty * short, float(fill.value[j]), short)


def _by_ev_then_value(r: np.ndarray, value: np.ndarray, per_ev: int) -> np.ndarray:
    """Indices sorted by EV row ``r`` (non-decreasing already), then by value; with ``per_ev`` 1,
    only each EV's first entry is in order (its best: all that is used), without a full sort."""
    if per_ev > 1:
        return np.lexsort((value, r))
    starts = np.flatnonzero(np.concatenate([[True], r[1:] != r[:-1]]))
    lowest = np.minimum.reduceat(value, starts)
    at_min = np.flatnonzero(value == np.repeat(lowest, np.diff(np.append(starts, len(r)))))
    first_min = at_min[np.concatenate([[True], r[at_min][1:] != r[at_min][:-1]])]
    order = np.arange(len(r))
    order[starts] = first_min  # each EV's best first; the rest follow (unused), then ties move
    order[first_min[first_min != starts]] = starts[first_min != starts]
    return order


def _best_in_group(
    evs, members, blocks: Blocks, price, h, values: np.ndarray, below: np.ndarray, out: dict, per_ev: int
) -> None:
    gr = _group(evs, members, blocks, price, h)
    local = np.full(len(evs), -1)
    local[members] = np.arange(len(members))
    real = gr.rank < gr.width[:, None]
    under_penalty = np.where(real, gr.c, -np.inf).max(axis=1) < gr.pen
    positive = np.where(real, gr.c, np.inf).min(axis=1) > 0
    offsets = blocks.offsets
    lo, hi = offsets[members], offsets[members + 1]
    pick = np.concatenate([np.arange(x, y) for x, y in zip(lo, hi, strict=True)])
    row = local[blocks.ev[pick]]
    drop = (blocks.short[pick] & under_penalty[row]) | (blocks.overlong[pick] & positive[row])
    pick = pick[~drop]
    if not len(pick):
        return
    r = local[blocks.ev[pick]]
    a, e = blocks.a[pick], blocks.e[pick]
    fill = _fill(gr, r, a, e, blocks.width[members][r], h)
    order = _by_ev_then_value(r, fill.value, per_ev)
    sorted_r = r[order]
    rank_in_ev = np.arange(len(order)) - np.searchsorted(sorted_r, sorted_r)
    best = order[rank_in_ev == 0]
    better = fill.value[best] < values[members[r[best]]] - 1e-9
    values[members[r[best[better]]]] = fill.value[best[better]]
    chosen = order[(rank_in_ev < per_ev) & (fill.value[order] < below[members[sorted_r]])]
    for j in chosen:  # best first per EV (``order`` sorts by value within each EV)
        i = int(members[r[j]])
        column = _column(evs[i], gr, int(r[j]), int(a[j]), int(e[j]), fill, int(j), int(blocks.w0[i]), len(price), h)
        out.setdefault(i, []).append(column)


def best_columns(
    evs: list[FleetEV],
    which: np.ndarray,
    blocks: Blocks,
    price: np.ndarray,
    h: float,
    below: np.ndarray | None = None,
    per_ev: int = 1,
) -> tuple[np.ndarray, dict[int, list[Column]]]:
    """Price the EVs in ``which`` at ``price`` (EUR/MWh per step, before each EV's tie-break).

    Returns (best value per EV (E,), NaN where not priced; per EV whose best value is under
    ``below`` (E,), default: every EV priced, its up to ``per_ev`` best columns under ``below``,
    best first: distinct blocks, or the empty profile when that is the best).
    """
    n = len(price)
    below = np.full(len(evs), np.inf) if below is None else below
    values = np.full(len(evs), np.nan)
    out: dict[int, list[Column]] = {}
    which = np.asarray(which, dtype=int)
    for i in which:
        values[i] = evs[i].penalty * evs[i].need_kwh
    empty = values.copy()
    with_blocks = which[blocks.width[which] > 0]
    with_blocks = with_blocks[np.argsort(blocks.width[with_blocks], kind="stable")]
    for start in range(0, len(with_blocks), GROUP):
        _best_in_group(evs, with_blocks[start : start + GROUP], blocks, price, h, values, below, out, per_ev)
    for i in which[(empty[which] <= values[which] + 1e-9) & (empty[which] < below[which])]:
        column = Column(np.zeros(n), empty[i], empty[i], evs[i].need_kwh)  # the empty profile is the best
        out[int(i)] = [column, *out.get(int(i), [])][:per_ev]
    return values, out
