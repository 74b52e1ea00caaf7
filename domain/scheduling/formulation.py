"""The continuous core of the site model: power flows, SoC dynamics, site coupling, soft constraints.

Units inside the model: power columns in kW (mean over a step), SoC and slack columns in kWh,
objective in milli-EUR (price EUR/MWh x kWh), which keeps coefficients near 1-100.

SoC columns exist only where the SoC can change: a device without storage losses keeps its
SoC between active steps. ``inst_col[d, k]`` maps instant ``k`` to the column holding the SoC
there (-1: still the known start SoC, or a cumulative device). Devices whose SoC can only rise
(or only fall) without storage losses — EVs — get no SoC columns at all: their SoC bounds are
rows over cumulative power at the few instants where they can bind (:mod:`.cumulative`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling import cumulative
from domain.scheduling.layout import Flows, Stacked, stored_change_bounds
from domain.scheduling.lp_arrays import ModelArrays
from domain.scheduling.problem import SchedulingProblem
from domain.scheduling.storage import relax_to_reachable

TIE_BREAK_FRACTION = 1e-3
"""prefer-charging-sooner: prices rise over the horizon by this fraction of their spread (FlexMeasures)."""
PHYSICAL_BREACH_FACTOR = 10.0
"""In the all-soft fallback, breaching soc-min/max or site capacity costs this times a target breach."""


@dataclass(frozen=True, eq=False)
class Core:
    """Column indices of the continuous model: ``flow_col`` (F, n), ``inst_col`` (D, n + 1), -1 = none.

    ``cumulative`` (D,) marks devices whose SoC has no columns (see :mod:`.cumulative`).
    """

    flow_col: np.ndarray
    inst_col: np.ndarray
    cumulative: np.ndarray


def tie_break_slope(problem: SchedulingProblem) -> np.ndarray:
    """EUR/MWh added per step to the price of devices preferring to charge sooner."""
    prices = np.concatenate([problem.consumption_price_eur_per_mwh, problem.production_price_eur_per_mwh])
    spread = float(prices.max() - prices.min()) if prices.size else 0.0
    top = TIE_BREAK_FRACTION * spread if spread > 0 else TIE_BREAK_FRACTION
    return np.linspace(0.0, top, problem.n_steps)


def _flow_columns(m: ModelArrays, st: Stacked, fl: Flows, problem: SchedulingProblem, price: np.ndarray | None):
    flow_col = np.full(fl.active.shape, -1)
    jj, tt = np.nonzero(fl.active)
    obj = np.zeros(len(jj))
    if price is not None:
        obj += fl.sign[jj] * price[tt] * st.hours
    prefers = st.prefer[fl.dev[jj]]
    obj[prefers] += fl.sign[jj[prefers]] * tie_break_slope(problem)[tt[prefers]] * st.hours
    flow_col[jj, tt] = m.add_cols(len(jj), fl.lb[jj, tt], fl.ub[jj, tt], obj)
    return flow_col


def _soc_step_mask(st: Stacked, fl: Flows, stepwise: np.ndarray) -> np.ndarray:
    changes = np.zeros((len(st.soc0), st.n), dtype=bool)
    for kinds in (fl.kind != 2, fl.kind == 2):
        changes[fl.dev[kinds]] |= fl.active[kinds]
    changes |= (st.retain < 1.0)[:, None]
    return changes & stepwise[:, None]


def _soc_columns(m: ModelArrays, st: Stacked, fl: Flows, stepwise: np.ndarray, bounds) -> tuple:
    """SoC columns (one per device and step where the SoC can change) and the instant map."""
    changes = _soc_step_mask(st, fl, stepwise)
    count = int(changes.sum())
    local = np.full(changes.shape, -1)
    local[changes] = np.arange(count)
    inst_local = np.full((len(st.soc0), st.n + 1), -1)
    inst_local[:, 1:] = np.maximum.accumulate(local, axis=1) if st.n else local
    lb, ub = np.full(count, -np.inf), np.full(count, np.inf)
    if bounds is not None:
        low, high = bounds
        mapped = inst_local >= 0
        np.maximum.at(lb, inst_local[mapped], low[mapped])
        np.minimum.at(ub, inst_local[mapped], high[mapped])
    base = m.add_cols(count, lb, ub)[0] if count else m.n_cols
    inst_col = np.where(inst_local >= 0, inst_local + base, -1)
    step_col = np.where(changes, local + base, -1)
    return step_col, inst_col


def _dynamics(m: ModelArrays, st: Stacked, fl: Flows, flow_col: np.ndarray, step_col: np.ndarray, inst_col):
    """soc[k+1] - s*soc[k] - kappa*h*sum(coef*flow[k]) = 0 (soc[0] known: moved to the right-hand side)."""
    dd, kk = np.nonzero(step_col >= 0)
    prev = inst_col[dd, kk]
    rhs = np.where(prev < 0, st.retain[dd] * st.soc0[dd], 0.0)
    rows = m.add_rows(len(dd), rhs, rhs)
    row_of = np.full(step_col.shape, -1)
    row_of[dd, kk] = rows
    m.add_terms(rows, step_col[dd, kk], 1.0)
    has_prev = prev >= 0
    m.add_terms(rows[has_prev], prev[has_prev], -st.retain[dd[has_prev]])
    jj, tt = np.nonzero(flow_col >= 0)
    owner = fl.dev[jj]
    keep = row_of[owner, tt] >= 0
    jj, tt, owner = jj[keep], tt[keep], owner[keep]
    m.add_terms(row_of[owner, tt], flow_col[jj, tt], -st.kappa[owner] * st.hours * fl.coef[jj])


def _site_caps(problem: SchedulingProblem) -> tuple[np.ndarray, np.ndarray]:
    return problem.site_consumption_capacity_kw, problem.site_production_capacity_kw


def _site_rows(m: ModelArrays, problem: SchedulingProblem, fl: Flows, flow_col: np.ndarray, steps, lo, hi):
    """One row per given step: ``lo <= sum of signed device flows (kW) <= hi``. Returns the rows."""
    rows = m.add_rows(len(steps), lo, hi)
    row_of = np.full(problem.n_steps, -1)
    row_of[steps] = rows
    jj, tt = np.nonzero(flow_col >= 0)
    keep = row_of[tt] >= 0
    m.add_terms(row_of[tt[keep]], flow_col[jj[keep], tt[keep]], fl.sign[jj[keep]])
    return rows


def _site_single_price(m: ModelArrays, problem: SchedulingProblem, fl: Flows, flow_col, soft_all: bool) -> None:
    """Site limits as row bounds on the summed flows (prices are already on the flow columns)."""
    cons, prod = _site_caps(problem)
    any_flow = (flow_col >= 0).any(axis=0)
    steps = np.flatnonzero(any_flow & (np.isfinite(cons) | np.isfinite(prod)))
    if not len(steps):
        return
    lo = -prod[steps] - problem.inflexible_kw[steps]
    hi = cons[steps] - problem.inflexible_kw[steps]
    rows = _site_rows(m, problem, fl, flow_col, steps, lo, hi)
    if soft_all:
        penalty = PHYSICAL_BREACH_FACTOR * problem.breach_price_eur_per_kwh * 1e3 * problem.hours
        for sign, finite in ((-1.0, np.isfinite(hi)), (1.0, np.isfinite(lo))):
            cols = m.add_cols(int(finite.sum()), 0.0, np.inf, penalty)
            m.add_terms(rows[finite], cols, sign)


def _site_two_prices(m: ModelArrays, problem: SchedulingProblem, fl: Flows, flow_col, soft_all: bool) -> tuple:
    """Net site power split into consumption P+ and production P- (different prices)."""
    n, h = problem.n_steps, problem.hours
    cons, prod = _site_caps(problem)
    plus = m.add_cols(n, 0.0, np.inf if soft_all else cons, problem.consumption_price_eur_per_mwh * h)
    minus = m.add_cols(n, 0.0, np.inf if soft_all else prod, -problem.production_price_eur_per_mwh * h)
    rows = _site_rows(m, problem, fl, flow_col, np.arange(n), -problem.inflexible_kw, -problem.inflexible_kw)
    m.add_terms(rows, plus, -1.0)
    m.add_terms(rows, minus, 1.0)
    if soft_all:
        penalty = PHYSICAL_BREACH_FACTOR * problem.breach_price_eur_per_kwh * 1e3 * h
        for cols, cap in ((plus, cons), (minus, prod)):
            finite = np.flatnonzero(np.isfinite(cap))
            excess = m.add_cols(len(finite), 0.0, np.inf, penalty)
            breach_rows = m.add_rows(len(finite), -np.inf, cap[finite])
            m.add_terms(breach_rows, cols[finite], 1.0)
            m.add_terms(breach_rows, excess, -1.0)
    return plus, minus


def _soft_soc(m: ModelArrays, problem: SchedulingProblem, bounds: tuple, inst_col: np.ndarray, factor: float):
    """floor <= soc + under - over <= ceiling at constrained instants; slacks cost the breach price."""
    floor, ceiling = bounds
    has_floor, has_ceiling = np.isfinite(floor), np.isfinite(ceiling)
    dd, kk = np.nonzero((has_floor | has_ceiling) & (inst_col >= 0))
    lo = np.where(has_floor[dd, kk], floor[dd, kk], -np.inf)
    hi = np.where(has_ceiling[dd, kk], ceiling[dd, kk], np.inf)
    rows = m.add_rows(len(dd), lo, hi)
    m.add_terms(rows, inst_col[dd, kk], 1.0)
    price = problem.breach_price_eur_per_kwh * 1e3 * factor
    for sign, mask in ((1.0, has_floor[dd, kk]), (-1.0, has_ceiling[dd, kk])):
        cols = m.add_cols(int(mask.sum()), 0.0, np.inf, price)
        m.add_terms(rows[mask], cols, sign)


def _soc_constraints(m: ModelArrays, problem: SchedulingProblem, st: Stacked, fl: Flows, flow_col, soft_all: bool):
    """Hard SoC bounds (relaxed to what is reachable; soft in the fallback) and soft constraints,
    as SoC columns with dynamics rows, or as cumulative rows for monotone lossless devices."""
    dmin, dmax = stored_change_bounds(st, fl)
    hard = (st.soc_min, st.soc_max)
    if not soft_all:
        hard = relax_to_reachable(st.soc0, st.retain, dmin, dmax, st.soc_min, st.soc_max)
    soft = (np.where(np.isnan(st.floor), -np.inf, st.floor), np.where(np.isnan(st.ceiling), np.inf, st.ceiling))
    soft_at = np.isfinite(soft[0]) | np.isfinite(soft[1])
    soft_at[:, 0] = False
    hard_at = cumulative.binding_instants(*hard, st.soc0, cumulative.monotone_direction(st, fl))
    rows_needed = hard_at.sum(axis=1) + soft_at.sum(axis=1)
    cum = (cumulative.monotone_direction(st, fl) != 0) & (rows_needed <= cumulative.MAX_CUMULATIVE_ROWS)
    step_col, inst_col = _soc_columns(m, st, fl, ~cum, None if soft_all else hard)
    _dynamics(m, st, fl, flow_col, step_col, inst_col)
    breach = problem.breach_price_eur_per_kwh * 1e3
    _soft_soc(m, problem, (st.floor, st.ceiling), inst_col, 1.0)
    cumulative.add_rows(m, st, fl, flow_col, soft_at & cum[:, None], soft, breach)
    hard_price = PHYSICAL_BREACH_FACTOR * breach if soft_all else None
    cumulative.add_rows(m, st, fl, flow_col, hard_at & cum[:, None], hard, hard_price)
    if soft_all:
        _soft_soc(m, problem, (st.soc_min, st.soc_max), inst_col, PHYSICAL_BREACH_FACTOR)
    return inst_col, cum


def build_core(
    m: ModelArrays, problem: SchedulingProblem, st: Stacked, fl: Flows, soft_all: bool
) -> tuple[Core, tuple | None]:
    """Add flows, SoC, dynamics, site coupling and soft constraints. Returns the core and the
    site (P+, P-) columns when consumption and production prices differ (else None)."""
    two_prices = not np.array_equal(problem.consumption_price_eur_per_mwh, problem.production_price_eur_per_mwh)
    flow_col = _flow_columns(m, st, fl, problem, None if two_prices else problem.consumption_price_eur_per_mwh)
    inst_col, cum = _soc_constraints(m, problem, st, fl, flow_col, soft_all)
    site = None
    if two_prices:
        site = _site_two_prices(m, problem, fl, flow_col, soft_all)
    else:
        _site_single_price(m, problem, fl, flow_col, soft_all)
    return Core(flow_col, inst_col, cum), site
