"""Fleet solver: EVs with no pauses (and a minimum power) sharing a site limit, by column generation.

The on/off-per-step MILP has a weak relaxation for "one contiguous block at >= min power that
delivers the target": fractional on/off variables let an EV trickle. Here the unit is each EV's
whole charging profile; the LP over convex combinations of every EV's feasible profiles (the
convex hull per EV, coupled only by the site balance) is the *master*. Its bound is tight.

0. Start columns: the continuous relaxation (an LP without minimum power or no-pauses) gives
   site prices (its balance duals) and, per EV, the span where it charges: each EV gets that span
   as a block (:func:`_span_column`) and the cheapest block at those prices within the capacity
   left by EVs departing earlier (:func:`_greedy_columns`), besides the empty profile.
1. Column generation (:func:`_generate`): the restricted master LP over the profiles found so
   far gives duals of the site balance (a marginal price per step). Each EV's cheapest profile at
   those prices (:func:`.fleet_pricing.best_columns`, exact) enters when its reduced cost is
   negative. The Lagrangian of the site balance at those duals is a proven lower bound for the
   whole problem, at every iteration (:func:`lagrangian_bound`). An EV whose prices did not
   change since it was last priced is not priced again: its best profile is the same.
2. Primal (:func:`_primal`): each EV takes its heaviest profile (rounding); the dispatch LP then
   re-optimises powers within the chosen blocks against the site limit. If that is not within
   the gap, the start profiles are dispatched the same way, and, time permitting, a small MILP
   chooses among candidate blocks (those with weight in the master; every block when there are
   few: then the MILP is exact and its bound is global). The best schedule is kept.

The whole solve, model building included, stays within ``time_limit_s``: column generation gets
about half of it (the relaxation 15 %), the primal what is left. The gap reported is
``(objective - proven bound) / |objective|``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from domain.scheduling.fleet_lp import Candidates, Master, Site, solve_block_mip, solve_dispatch
from domain.scheduling.fleet_model import FleetEV
from domain.scheduling.fleet_pricing import Blocks, Column, best_columns, enumerate_blocks
from domain.scheduling.greedy import fill

CG_SHARE = 0.5
PRICE_TOL = 1e-7
RC_TOL = 1e-6
MAX_ROUNDS = 200
MIP_SHARE = 0.25
RELAX_SHARE = 0.15
FIRST_MASTER_SHARE = 0.7
EXACT_BLOCKS = 3000
"""Up to this many blocks in all, the block MILP takes every block: exact, with a global bound."""


class Pool:
    """Generated columns, mirrored into the master LP: profiles (K, n) kW, owner EV (K,), cost (K,)."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self.rows: list[np.ndarray] = []
        self.owner: list[int] = []
        self.costs: list[float] = []
        self._pending = 0
        self.fallback: dict[int, int] = {}
        """Per EV, the column to take when the master LP has no solution (the site-feasible start)."""

    def add(self, ev: int, column: Column) -> None:
        self.rows.append(column.power_kw)
        self.owner.append(ev)
        self.costs.append(column.cost)
        self._pending += 1

    def flush(self) -> None:
        """Send the columns added since the last flush to the master."""
        if self._pending:
            new = slice(len(self.costs) - self._pending, len(self.costs))
            self.master.add(np.vstack(self.rows[new]), np.asarray(self.owner[new]), np.asarray(self.costs[new]))
            self._pending = 0

    def dense(self) -> np.ndarray:
        return np.vstack(self.rows)


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


def _changed(evs: list[FleetEV], last_price: list, price: np.ndarray) -> np.ndarray:
    """EVs whose prices over their window changed since they were last priced."""
    out = []
    for i, ev in enumerate(evs):
        window = price[ev.ub_kw > 0]
        seen = last_price[i]
        if seen is None or not np.allclose(seen, window, rtol=PRICE_TOL, atol=PRICE_TOL):
            last_price[i] = window
            out.append(i)
    return np.asarray(out, dtype=int)


def lagrangian_bound(site: Site, duals: np.ndarray, ev_values: np.ndarray) -> float:
    """A proven lower bound (milli-EUR) from any balance duals ``duals`` (n,): the Lagrangian of
    the site balance, with each EV's best value ``ev_values`` (E,) at the prices those duals give."""
    reduced = site.objective() - np.tile(duals, 4) * np.repeat([-1.0, 1.0, -1.0, 1.0], site.n)
    lb, ub = site.bounds()
    with np.errstate(invalid="ignore"):
        site_part = np.where(reduced < 0, reduced * ub, reduced * lb)
    site_part = np.where((reduced == 0) | (lb == ub), 0.0, site_part)
    return float(duals @ -site.inflexible + ev_values.sum() + site_part.sum())


def _generate(site: Site, evs: list[FleetEV], pool: Pool, blocks: Blocks, clock: _Deadline, gap: float):
    """Column generation; returns (last master outcome, best proven bound, rounds)."""
    last_price: list[np.ndarray | None] = [None] * len(evs)
    priced = np.full(len(evs), -np.inf)
    bound, master, rounds, last_round_s = -np.inf, None, 0, 0.0
    while rounds < MAX_ROUNDS and (master is None or clock.left(CG_SHARE) > last_round_s):
        rounds += 1
        round_started = time.perf_counter()
        pool.flush()
        outcome = clock.timed(pool.master.solve, clock.left(CG_SHARE if master is not None else FIRST_MASTER_SHARE))
        if not outcome.ok:
            break
        master = outcome
        price = -outcome.duals[: site.n] / site.h
        convex = outcome.duals[site.n :]
        threshold = RC_TOL * max(1.0, abs(outcome.objective)) / len(evs)
        which = _changed(evs, last_price, price)
        values, columns = best_columns(evs, which, blocks, price, site.h, below=convex - threshold)
        for i, column in columns.items():
            pool.add(i, column)
        priced = np.where(np.isnan(values), priced, values)
        bound = max(bound, lagrangian_bound(site, outcome.duals[: site.n], priced))
        last_round_s = time.perf_counter() - round_started
        if not columns or outcome.objective - bound <= 0.1 * gap * abs(outcome.objective):
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


def _relaxed(site: Site, evs: list[FleetEV], clock: _Deadline) -> tuple[np.ndarray, np.ndarray] | None:
    """The continuous relaxation (no minimum power, pauses allowed): (site prices EUR/MWh from its
    balance duals, its powers (E, n) kW), a warm start for column generation; None if not solved."""
    ub = np.vstack([ev.ub_kw for ev in evs])
    tie = np.vstack([ev.tie for ev in evs])
    need = np.array([ev.need_kwh for ev in evs])
    cap = np.array([ev.cap_kwh for ev in evs])
    penalty = np.array([ev.penalty for ev in evs])
    outcome, power, _ = clock.timed(solve_dispatch, site, np.zeros_like(ub), ub, tie, need, cap, penalty,
                                    max(clock.left(RELAX_SHARE), 0.05))  # fmt: skip
    return (-outcome.duals[: site.n] / site.h, power) if outcome.ok else None


def _span_column(ev: FleetEV, relaxed_kw: np.ndarray, h: float) -> Column | None:
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
    short = max(ev.need_kwh - power.sum() * h, 0.0)
    cost = float(ev.tie @ power) * h + ev.penalty * short
    return Column(power, cost, cost, short)


def _greedy_columns(site: Site, evs: list[FleetEV], price: np.ndarray) -> dict[int, Column]:
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
        short = max(ev.need_kwh - power.sum() * site.h, 0.0)
        cost = float(ev.tie @ power) * site.h + ev.penalty * short
        out[int(i)] = Column(power, cost, cost, short)
        remaining = remaining - power
    return out


def _within(objective: float, bound: float, gap: float) -> bool:
    return objective - bound <= gap * max(abs(objective), 1e-9) + 1e-6


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
        span = (d, int(on[0]), int(on[-1])) if ev.no_pauses else (d, int(np.flatnonzero(ev.ub_kw > 0)[0]),
                                                                   int(np.flatnonzero(ev.ub_kw > 0)[-1]))  # fmt: skip
        if span not in seen:
            seen.add(span)
            ev_l.append(d)
            first_l.append(span[1])
            last_l.append(span[2])
            min_l.append(ev.min_kw)
    return Candidates(np.asarray(ev_l, int), np.asarray(first_l, int), np.asarray(last_l, int), np.asarray(min_l))


def _all_blocks(evs: list[FleetEV], blocks: Blocks) -> Candidates:
    first = blocks.w0[blocks.ev] + blocks.a
    minimum = np.array([e.min_kw for e in evs])[blocks.ev]
    return Candidates(blocks.ev, first, blocks.w0[blocks.ev] + blocks.e - 1, minimum)


def _block_mip(site, evs, pool: Pool, blocks: Blocks, use: np.ndarray, clock: _Deadline, gap: float):
    """The block MILP over the candidate blocks; returns (powers, shortfalls, bound, exact) or None."""
    exact = len(blocks.ev) <= EXACT_BLOCKS
    cand = _all_blocks(evs, blocks) if exact else _candidates(evs, pool.dense(), np.asarray(pool.owner), use)
    ub = np.vstack([ev.ub_kw for ev in evs])
    tie = np.vstack([ev.tie for ev in evs])
    args = (np.array([ev.need_kwh for ev in evs]), np.array([ev.cap_kwh for ev in evs]),
            np.array([ev.penalty for ev in evs]))  # fmt: skip
    time_s = min(0.5 * clock.left(), MIP_SHARE * clock.limit_s)  # HiGHS may overrun: keep a margin
    found = clock.timed(solve_block_mip, site, ub, tie, *args, cand, time_s, gap)
    return None if found is None else (*found, exact)


def _start_profiles(evs: list[FleetEV], pool: Pool, dense: np.ndarray) -> np.ndarray | None:
    """The greedy start's profile per EV (zero where it has none), or None without a start."""
    if not pool.fallback:
        return None
    profiles = np.zeros((len(evs), dense.shape[1]))
    for i, k in pool.fallback.items():
        profiles[i] = dense[k]
    return profiles


def _rounding(evs, pool: Pool, master) -> tuple[np.ndarray, np.ndarray]:
    """(column weights (K,), each EV's heaviest column (E,)); without a master, the start columns."""
    owner = np.asarray(pool.owner)
    weights = np.zeros(len(pool.costs))
    if master is not None:
        weights[: len(master.x)] = master.x
    else:
        weights[list(pool.fallback.values())] = 1.0
    heaviest = np.full(len(evs), -1)
    best_w = np.full(len(evs), -1.0)
    for k in np.argsort(-weights, kind="stable"):
        if weights[k] > best_w[owner[k]] + 1e-12 or heaviest[owner[k]] < 0:
            best_w[owner[k]], heaviest[owner[k]] = weights[k], k
    return weights, heaviest


def _first_schedule(site, evs, pool: Pool, dense, heaviest, converged: bool, clock: _Deadline):
    """(powers, shortfalls, objective, method) from the rounding and/or the start profiles."""
    start = _start_profiles(evs, pool, dense)
    candidates = [(dense[heaviest], "round")]
    if start is not None and not converged:  # column generation stopped early: the start first
        candidates.insert(0, (start, "start"))
    best = None
    for profiles, method in candidates:
        if best is not None and clock.left() <= 0.1 * clock.limit_s:
            break
        power, short, objective = _dispatch(site, evs, profiles, clock)
        if best is None or objective < best[2] - 1e-9:
            best = (power, short, objective, method)
    return best


def _primal(site, evs, pool: Pool, blocks: Blocks, master, bound: float, clock: _Deadline, gap: float):
    """(powers, shortfalls, objective, method, bound): rounding + dispatch, then the block MILP."""
    pool.flush()
    dense = pool.dense()
    weights, heaviest = _rounding(evs, pool, master)
    converged = master is not None and _within(master.objective, bound, gap)
    power, short, objective, method = _first_schedule(site, evs, pool, dense, heaviest, converged, clock)
    if not _within(objective, bound, gap) and clock.left() > 0.25 * clock.limit_s:
        use = weights > 1e-6
        use[heaviest] = True
        found = _block_mip(site, evs, pool, blocks, use, clock, gap)
        if found is not None:
            o2 = objective_value(site, evs, found[0], found[1])
            if found[3]:  # every block was a candidate: the MILP bound holds for the whole problem
                bound = max(bound, found[2])
            if o2 < objective - 1e-9:
                power, short, objective, method = found[0], found[1], o2, "milp"
    return power, short, objective, method, bound


def solve_fleet(site: Site, evs: list[FleetEV], time_limit_s: float, gap: float) -> FleetOutcome:
    """Schedule the fleet (see the module docstring); ``gap`` is the relative gap to stop at."""
    clock = _Deadline(time_limit_s)
    pool = Pool(Master(site, len(evs)))
    blocks = enumerate_blocks(evs, site.h)
    for i, ev in enumerate(evs):
        pool.add(i, Column(np.zeros(site.n), ev.penalty * ev.need_kwh, 0.0, ev.need_kwh))
    relaxed = _relaxed(site, evs, clock)
    for i, column in _greedy_columns(site, evs, site.cons if relaxed is None else relaxed[0]).items():
        pool.fallback[i] = len(pool.costs)
        pool.add(i, column)
    for i, ev in enumerate(evs if relaxed is not None else []):
        column = _span_column(ev, relaxed[1][i], site.h)
        if column is not None:  # a better start than the greedy one: the dispatch LP repairs its overloads
            pool.fallback[i] = len(pool.costs)
            pool.add(i, column)
    master, bound, rounds = _generate(site, evs, pool, blocks, clock, gap)
    power, short, objective, method, bound = _primal(site, evs, pool, blocks, master, bound, clock, gap)
    return FleetOutcome(power, short, objective, bound, f"fleet-cg+{method}", rounds, clock.solver_s, len(pool.costs))
